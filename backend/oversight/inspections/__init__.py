"""Inspections (检查记录): what regulators found on a site visit, and the rectification notice
issued from it."""
