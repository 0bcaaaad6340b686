"""The base layer: settings, errors, the relational store. Imports no other Anjian package."""
