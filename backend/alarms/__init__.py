"""Alarms: indicator libraries, the rule engine and the alarm lifecycle (analyse, warn,
respond)."""
