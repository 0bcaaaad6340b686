"""The demo: its world (``world.py``, the seed data), seeding it into a store (``seed.py``),
and the sensor simulator that brings it to life (``walks.py``, ``simulator.py``, ``live.py``).
"""
