"""When a user's login stops working, as nginx can tell: a regex over `$msec`.

nginx has no time comparison, but `$msec` (seconds since the epoch with milliseconds, e.g.
"1733571028.123"; ngx_http_variables.c ngx_http_variable_msec) is a decimal string of fixed width
until 2286, so "now >= expiry" is a regex: equal digits up to some position, a greater digit there,
any digits after. It does not depend on the server's time zone, as `$time_iso8601` would.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from components.config.base import User

EPOCH_DIGITS = 10  # seconds since 1970 have 10 digits from 2001 to 2286


def epoch_seconds(instant: datetime.datetime) -> int:
    if instant.tzinfo is None:
        raise ValueError("an expiry instant needs a time zone")
    return int(instant.timestamp())


def at_or_after(seconds: int) -> str:
    """A regex (no anchors) matching the integer part of every `$msec` at or after `seconds`."""
    digits = str(seconds)
    if len(digits) != EPOCH_DIGITS:
        raise ValueError(f"{seconds} is not a time between 2001 and 2286")
    alternatives = [digits]  # this very second
    for i, digit in enumerate(digits):
        if digit != "9":
            higher = f"[{int(digit) + 1}-9]" if digit != "8" else "9"
            alternatives.append(digits[:i] + higher + "[0-9]" * (EPOCH_DIGITS - i - 1))
    return "(?:" + "|".join(alternatives) + ")"


def login_expiries(users: Iterable[User]) -> dict[str, int]:
    """{user: the epoch second its login stops working} for the users with `expiresAt`."""
    return {u.name: epoch_seconds(u.expires_at) for u in users if u.expires_at is not None}
