"""Benchmarks run by ``anjian bench …``: real processes, real HTTP, figures as JSON."""
