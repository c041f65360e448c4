"""The expiry regex says "now >= expiry" exactly, for any expiry and any now."""

from __future__ import annotations

import datetime
import random
import re

import pytest

from components.renderers.expiry import at_or_after, epoch_seconds


def expired(expiry: int, now_msec: str) -> bool:
    return re.fullmatch(at_or_after(expiry) + r"\.[0-9]{3}", now_msec) is not None


@pytest.mark.parametrize("expiry", [1_800_000_000, 1_799_999_999, 1_999_999_990, 1_000_000_000, 9_999_999_999])
def test_it_matches_from_the_expiry_second_on_and_never_before(expiry: int) -> None:
    assert expired(expiry, f"{expiry}.000")
    assert not expired(expiry, f"{expiry - 1}.999")
    if expiry < 9_999_999_999:
        assert expired(expiry, f"{expiry + 1}.000")


def test_it_agrees_with_integer_comparison_everywhere() -> None:
    chance = random.Random(21)
    for _ in range(3000):
        expiry = chance.randrange(1_000_000_000, 9_999_999_999)
        now = chance.choice([expiry + chance.randrange(-50, 50), chance.randrange(1_000_000_000, 9_999_999_999)])
        now = min(max(now, 1_000_000_000), 9_999_999_999)
        assert expired(expiry, f"{now}.{chance.randrange(1000):03d}") == (now >= expiry), (expiry, now)


def test_instants_need_a_time_zone_and_a_ten_digit_epoch() -> None:
    assert epoch_seconds(datetime.datetime(2027, 1, 31, tzinfo=datetime.UTC)) == 1_801_353_600
    with pytest.raises(ValueError, match="time zone"):
        epoch_seconds(datetime.datetime(2027, 1, 31))
    with pytest.raises(ValueError, match="between 2001 and 2286"):
        at_or_after(999_999_999)
