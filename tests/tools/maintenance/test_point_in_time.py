"""restore --at: which version of each key the instant wants, and which instants are refused."""

from __future__ import annotations

import datetime

import pytest

from tools.maintenance.point_in_time import check_window, parse_instant, plan_point_in_time
from tools.maintenance.storage import StoredVersion
from tools.maintenance.target import MaintenanceError

T0 = datetime.datetime(2026, 12, 4, 12, 0, 0, tzinfo=datetime.UTC)
TAG = "repositories/app/_manifests/tags/v1/current/link"
BLOB = "blobs/sha256/ab/" + "ab" * 32 + "/data"


def at(minutes: int) -> datetime.datetime:
    return T0 + datetime.timedelta(minutes=minutes)


def version(key: str, vid: str, minutes: int, *, latest: bool = False, deleted: bool = False) -> StoredVersion:
    return StoredVersion(key, vid, at(minutes), 0 if deleted else 71, deleted, latest)


def history(*entries: StoredVersion) -> list[StoredVersion]:
    """As RegistryStore.versions orders them: by key, newest first."""
    return sorted(entries, key=lambda v: (v.key, -v.modified.timestamp(), not v.latest))


def test_a_deleted_tag_comes_back_with_the_version_it_had() -> None:
    versions = history(version(TAG, "a", 0), version(TAG, "marker", 10, latest=True, deleted=True))
    [change] = plan_point_in_time(versions, at(5)).changes
    assert (change.key, change.then and change.then.version_id, change.now) == (TAG, "a", None)


def test_a_moved_tag_goes_back_to_its_earlier_version() -> None:
    versions = history(version(TAG, "a", 0), version(TAG, "b", 10, latest=True))
    [change] = plan_point_in_time(versions, at(5)).changes
    assert change.then is not None and change.then.version_id == "a"
    assert change.now is not None and change.now.version_id == "b"


def test_what_did_not_change_since_the_instant_is_left_alone() -> None:
    versions = history(version(TAG, "a", 0, latest=True), version(BLOB, "x", 1, latest=True))
    assert plan_point_in_time(versions, at(5)).changes == ()


def test_an_object_written_after_the_instant_goes_unless_newer_ones_are_kept() -> None:
    versions = history(version(TAG, "a", 10, latest=True))
    [change] = plan_point_in_time(versions, at(5)).changes
    assert change.then is None and change.now is not None
    assert plan_point_in_time(versions, at(5), keep_newer=True).changes == ()


def test_keep_newer_still_reverts_what_was_overwritten() -> None:
    versions = history(version(TAG, "a", 0), version(TAG, "b", 10, latest=True))
    [change] = plan_point_in_time(versions, at(5), keep_newer=True).changes
    assert change.then is not None and change.then.version_id == "a"


def test_a_key_deleted_before_the_instant_and_still_deleted_is_no_change() -> None:
    versions = history(version(TAG, "a", 0), version(TAG, "m", 2, latest=True, deleted=True))
    assert plan_point_in_time(versions, at(5)).changes == ()


def test_a_key_deleted_before_the_instant_and_pushed_again_since_goes() -> None:
    versions = history(version(TAG, "a", 0), version(TAG, "m", 2, deleted=True), version(TAG, "b", 10, latest=True))
    [change] = plan_point_in_time(versions, at(5)).changes
    assert change.then is None and change.now is not None and change.now.version_id == "b"


def test_the_instant_includes_its_own_second() -> None:
    versions = history(version(TAG, "a", 0), version(TAG, "b", 5), version(TAG, "c", 10, latest=True))
    [change] = plan_point_in_time(versions, at(5)).changes
    assert change.then is not None and change.then.version_id == "b"


def test_an_instant_outside_the_window_is_refused_naming_it() -> None:
    now = at(0) + datetime.timedelta(days=30)
    versions = [version(TAG, "a", 0, latest=True)]
    with pytest.raises(MaintenanceError, match=r"noncurrent versions expire after 7 days .* 2026-12-27T12:00:00Z"):
        check_window(at(0) + datetime.timedelta(days=22), versions, 7, now)
    check_window(at(0) + datetime.timedelta(days=24), versions, 7, now)  # inside: no error
    check_window(at(1), versions, None, now)  # no expiry rule: every version is kept


def test_an_instant_before_the_first_object_or_in_the_future_is_refused() -> None:
    versions = [version(TAG, "a", 10, latest=True)]
    with pytest.raises(MaintenanceError, match="held no image then"):
        check_window(at(5), versions, None, at(60))
    with pytest.raises(MaintenanceError, match="not in the past"):
        check_window(at(61), versions, None, at(60))
    with pytest.raises(MaintenanceError, match="no image objects at all"):
        check_window(at(5), [], None, at(60))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-04T12:00:00Z", T0),
        ("2026-12-04T13:00:00+01:00", T0),
    ],
)
def test_instants_carry_a_zone(text: str, expected: datetime.datetime) -> None:
    assert parse_instant(text) == expected


@pytest.mark.parametrize(("text", "message"), [("2026-12-04T12:00:00", "no time zone"), ("yesterday", "ISO 8601")])
def test_an_instant_without_a_zone_or_not_iso_is_refused(text: str, message: str) -> None:
    with pytest.raises(MaintenanceError, match=message):
        parse_instant(text)
