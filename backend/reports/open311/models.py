"""Open311 clients (city apps, 12345 hotline systems) and the reports they sent.

An API key is shown once, when the platform administrator issues it; only its SHA-256 is
stored (256 random bits need no slow hash to be unguessable), with a short prefix that lets
the administrator tell keys apart. A revoked key stays, so the requests it sent keep their
client. Which client sent a report is a table of its own, beside the report: a report from
the public portal has no row here.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import Base, IdMixin

MAX_KEY_NAME = 100


class Open311Key(IdMixin, Base):
    """An API key of one Open311 client."""

    __tablename__ = "open311_keys"

    name: Mapped[str] = mapped_column(String(MAX_KEY_NAME))
    key_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    # The key's first characters, for telling keys apart in a list.
    prefix: Mapped[str] = mapped_column(String(16))
    revoked_at: Mapped[datetime | None]


class Open311Request(Base):
    """A report sent through Open311: the client that sent it, and the token its POST
    answered with (``GET /open311/v2/tokens/{token}.json``)."""

    __tablename__ = "open311_requests"

    report_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("hazard_reports.id", ondelete="CASCADE"), primary_key=True
    )
    key_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("open311_keys.id", ondelete="CASCADE"), index=True
    )
    token: Mapped[str] = mapped_column(String(64), unique=True)
