"""The secret parts of a link: its access token and portal address."""

from __future__ import annotations

import secrets

PORTAL_BASE_URL = "https://portal.example.com/l/"


def new_credentials() -> dict[str, str]:
    """A fresh access token (256 bits from the OS CSPRNG) and a fresh portal URL."""
    return {
        "access_token": secrets.token_urlsafe(32),
        "url": PORTAL_BASE_URL + secrets.token_urlsafe(12),
    }
