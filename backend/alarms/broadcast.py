"""In-process fan-out of alarm events to the GraphQL subscriptions of this server."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

log = logging.getLogger("anjian.relay")
SUBSCRIBER_BUFFER = 1000


class AlarmBroadcaster:
    """Fans alarm events out to the subscriptions of this process."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[dict[str, Any]]] = set()

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(SUBSCRIBER_BUFFER)
        self._queues.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self._queues.discard(queue)

    def publish(self, event: dict[str, Any]) -> None:
        for queue in list(self._queues):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:  # a subscriber that stopped reading is cut off
                log.warning("dropping a subscription that fell %d events behind", SUBSCRIBER_BUFFER)
                self._queues.discard(queue)
