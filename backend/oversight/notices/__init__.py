"""Rectification notices (整改通知): a regulator's findings on a site, the enterprise's answers,
the regulator's verification."""
