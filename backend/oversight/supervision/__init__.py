"""Supervision (督办) of alarms: a regulator asks the enterprise for a handling report on an
alarm by a deadline, the enterprise reports, the regulator accepts or returns it."""
