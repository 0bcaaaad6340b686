"""Response (处置): work orders raised from alarms and incidents, and shift handovers."""
