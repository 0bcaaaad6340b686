"""Where a camera snapshot is read, and who may read it: shared by the REST route that serves
it (faces pixelated per role) and by the records that link to it (an event alarm's frame)."""

from __future__ import annotations

# The route serving a snapshot by its object key to a signed-in user (backend/api).
SNAPSHOT_READ_PATH = "/api/v1/snapshots"
# Whoever may read a site's telemetry may see its camera snapshots, faces pixelated.
SNAPSHOT_PERMISSION = ("telemetry", "read")


def snapshot_url(key: str) -> str:
    """The address of the snapshot stored under ``key`` (``snapshots/<tenant>/<site>/…``)."""
    return f"{SNAPSHOT_READ_PATH}/{key}"
