"""The development mailbox, read as an invitee would: the .eml files under the mail dir.

Mail leaves through the transactional outbox and the job broker; the app's embedded worker
(started by the ``api`` fixture's lifespan) writes the files. ``deliver`` hands on whatever
waits and waits for the worker, so a test reads its mail as soon as it was sent.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
from email.message import EmailMessage
from pathlib import Path

from backend.auth.mail_outbox import unscoped_relay_mail
from backend.runtime import Runtime

_TOKEN = re.compile(r"Invitation token: (\S+)")
JOIN_MS = 30_000


def read(path: Path) -> EmailMessage:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def body_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]


async def deliver(rt: Runtime) -> None:
    """Everything queued so far is in the mailbox (needs the app's worker: the ``api``
    fixture)."""
    await unscoped_relay_mail(sessions=rt.sessions, deliver_mail=rt.jobs.deliver_mail)
    await asyncio.to_thread(rt.jobs.broker.join, "mail", timeout=JOIN_MS, fail_fast=True)


async def messages_to(rt: Runtime, address: str) -> list[EmailMessage]:
    """The mail delivered to ``address``, oldest first."""
    await deliver(rt)
    folder = rt.settings.mail_dir
    found = []
    for path in folder.glob("*.eml") if folder.exists() else []:
        message = read(path)
        if str(message["To"]).lower() == address.lower():
            found.append((path.stat().st_mtime_ns, message))
    return [m for _, m in sorted(found, key=lambda pair: pair[0])]


async def invitation_tokens(rt: Runtime, address: str) -> list[str]:
    """Every invitation token mailed to ``address``, oldest first."""
    tokens = []
    for message in await messages_to(rt, address):
        match = _TOKEN.search(body_of(message))
        if match:
            tokens.append(match.group(1))
    return tokens


async def invitation_token(rt: Runtime, address: str) -> str:
    """The newest invitation token mailed to ``address``."""
    tokens = await invitation_tokens(rt, address)
    assert tokens, f"no invitation mailed to {address}"
    return tokens[-1]
