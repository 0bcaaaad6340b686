"""The ways out besides webhooks: SMS providers and e-mail over SMTP."""

from __future__ import annotations

import hashlib
import json
import os
import smtplib
import threading
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from backend.core.errors import ConfigurationError
from backend.core.files import open_private
from backend.core.mail import Message


class SmsProvider(Protocol):
    def send(self, phone: str, text: str, idempotency_key: str) -> None: ...


class LogSmsProvider:
    """Development provider: one JSON line per message in ``<data_dir>/sms.log``; a key
    already in the log is not written again."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def messages(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def send(self, phone: str, text: str, idempotency_key: str) -> None:
        with self._lock:
            if any(m.get("idempotency_key") == idempotency_key for m in self.messages()):
                return
            line = {"to": phone, "text": text, "idempotency_key": idempotency_key}
            fd = open_private(self.path, os.O_WRONLY | os.O_APPEND)  # phone numbers: 0600
            with os.fdopen(fd, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(line, ensure_ascii=False) + "\n")


class SmtpMailer:
    """``smtp://user:pass@host:25``, ``smtps://…:465`` or ``smtp://…:587?starttls=true``;
    ``?from=`` sets the sender. The Message-ID derives from the idempotency key, so a
    receiving system can drop a repeat."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ConfigurationError(
                f"ANJIAN_SMTP_URL must be smtp:// or smtps://host, got {url!r}"
            )
        query = parse_qs(parts.query)
        self.ssl = parts.scheme == "smtps"
        self.host = parts.hostname
        self.port = parts.port or (465 if self.ssl else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.starttls = query.get("starttls", ["false"])[0].lower() in ("1", "true", "yes")
        self.sender = query.get("from", ["noreply@anjian.local"])[0]
        self.timeout = timeout

    def send(self, message: Message) -> None:
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = message.to
        email["Subject"] = message.subject
        email["Date"] = formatdate(usegmt=True)
        digest = hashlib.sha256(message.idempotency_key.encode()).hexdigest()[:32]
        email["Message-ID"] = f"<{digest}@anjian.local>"
        email["X-Idempotency-Key"] = message.idempotency_key
        email.set_content(message.body)
        smtp_class = smtplib.SMTP_SSL if self.ssl else smtplib.SMTP
        with smtp_class(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(email)
