"""Outgoing mail moved to ``backend/core/mail.py``: every layer that sends mail (the sign-in
and invitation flows, the alarm notifier, the mail actor) depends on it, so it sits below them.
These names stay importable from here for code not yet pointed at the new home."""

from backend.core.mail import FileMailer, Mailer, Message

__all__ = ["FileMailer", "Mailer", "Message"]
