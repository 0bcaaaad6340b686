"""Outgoing mail. The development mailer writes RFC 5322 files under the data dir.

Delivery is idempotent by key: a retried job finds its message already written. The files
carry live invitation and sign-in tokens: the folder is 0700 and each message 0600.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Protocol

from backend.core.files import open_private, private_dir


@dataclass(frozen=True)
class Message:
    to: str
    subject: str
    body: str
    idempotency_key: str


class Mailer(Protocol):
    def send(self, message: Message) -> None: ...


class FileMailer:
    def __init__(self, folder: Path, sender: str = "noreply@anjian.local") -> None:
        self.folder = folder
        self.sender = sender

    def path_for(self, key: str) -> Path:
        return self.folder / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.eml"

    def send(self, message: Message) -> None:
        target = self.path_for(message.idempotency_key)
        if target.exists():
            return
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = message.to
        email["Subject"] = message.subject
        email["Date"] = formatdate(usegmt=True)
        email["Message-ID"] = make_msgid(domain="anjian.local")
        email["X-Idempotency-Key"] = message.idempotency_key
        email.set_content(message.body)
        private_dir(self.folder)
        tmp = target.with_suffix(".tmp")
        with os.fdopen(open_private(tmp, os.O_WRONLY | os.O_TRUNC), "wb") as handle:
            handle.write(bytes(email))
        os.replace(tmp, target)
