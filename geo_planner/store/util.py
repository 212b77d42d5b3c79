"""Small helpers of the store: timestamps and ids."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta


def now(offset_s: float = 0.0) -> str:
    """UTC time (plus ``offset_s`` seconds) as ISO 8601 to the second; such strings sort as times do."""
    return (datetime.now(UTC) + timedelta(seconds=offset_s)).isoformat(timespec="seconds")


def new_id(prefix: str) -> str:
    """A new record id: ``<prefix>_<yyyymmdd>_<8 hex digits>``."""
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    return f"{prefix}_{stamp}_{secrets.token_hex(4)}"
