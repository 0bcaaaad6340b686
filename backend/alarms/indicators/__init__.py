"""The indicator library data files (JSON), read by backend.alarms.library.

A package so that setuptools ships the files (package-data "*.json").
"""
