"""The links that mails carry: absolute, on the configured public address, never on a request's.

A mail is read away from the request that caused it, so its link must be absolute; and it is
built on ``ANJIAN_PUBLIC_URL`` (``Settings.link_base``), never on the ``Host`` (or
``X-Forwarded-Host``) header of that request: whoever asks for a password reset chooses those
headers, and a link to their own site would hand them the victim's token when it is opened.

Each portal (``/app/`` for enterprises, ``/gov/`` for regulators) has the pages the mails link
to (``reset-password``, ``accept-invitation``, both reachable without a session).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal
from urllib.parse import urlencode

Portal = Literal["app", "gov"]
Page = Literal["reset-password", "accept-invitation"]


def portal_for_domain(domain: str) -> Portal:
    """The portal where a role in ``domain`` is used: ``gov`` for a regulator's division."""
    return "gov" if domain.startswith("gov:") else "app"


def portal_for_account(domains: Iterable[str]) -> Portal:
    """The portal an account signs in to: the government one only for an account that holds
    government roles and no enterprise one."""
    held = list(domains)
    if any(d.startswith("gov:") for d in held) and not any(d.startswith("tenant:") for d in held):
        return "gov"
    return "app"


def portal_link(public_url: str, portal: Portal, page: Page, token: str) -> str:
    """``<public url>/<portal>/<page>?token=…``, the token escaped for a query string."""
    return f"{public_url.rstrip('/')}/{portal}/{page}?{urlencode({'token': token})}"
