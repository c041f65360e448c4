"""restore --at: the store brought back to what it held at an instant, from the bucket's versions.

A versioned bucket keeps every overwritten or deleted object as a noncurrent version (and a
delete marker) until the lifecycle rule expires it `storage.noncurrentVersionDays` later. For
each image object the version current at the instant is known from the versions' LastModified
(whole seconds: the store comes back as it was at the end of that second). Where it differs from
now, the object is brought back (a server-side copy of that version onto the key) or, if it did
not exist then, removed (a delete marker). Nothing is destroyed either way: what is current now
stays as a noncurrent version, so a restore is undone by restoring `--at` the instant before it.
With `keep_newer` objects written after the instant stay: only what was deleted or overwritten
comes back. Uploads under way (`_uploads/`) are never touched.
"""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from tools.maintenance.site import MaintenanceSite
from tools.maintenance.storage import BLOB_DATA, REVISION_LINK, TAG_LINK, RegistryStore, StoredVersion
from tools.maintenance.target import MaintenanceError


@dataclass(frozen=True)
class Change:
    key: str
    then: StoredVersion | None  # the version to make current again; None: the key goes
    now: StoredVersion | None


@dataclass(frozen=True)
class Plan:
    at: datetime.datetime
    changes: tuple[Change, ...]


def parse_instant(text: str) -> datetime.datetime:
    """ISO 8601 with a zone (2026-12-04T12:00:00Z); a time without one would depend on this host."""
    try:
        instant = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise MaintenanceError(f"--at {text!r} is not an ISO 8601 instant like 2026-12-04T12:00:00Z") from None
    if instant.tzinfo is None:
        raise MaintenanceError(f"--at {text!r} has no time zone; add one (2026-12-04T12:00:00Z for UTC)")
    return instant.astimezone(datetime.UTC)


def check_window(
    at: datetime.datetime, versions: Iterable[StoredVersion], noncurrent_days: int | None, now: datetime.datetime
) -> None:
    """Refuse an instant the bucket's versions cannot reconstruct, naming the window."""
    if at >= now:
        raise MaintenanceError(f"--at {at:%Y-%m-%dT%H:%M:%SZ} is not in the past (now is {now:%Y-%m-%dT%H:%M:%SZ})")
    if noncurrent_days is not None and at < now - datetime.timedelta(days=noncurrent_days):
        earliest = now - datetime.timedelta(days=noncurrent_days)
        raise MaintenanceError(
            f"--at {at:%Y-%m-%dT%H:%M:%SZ} is outside the versioning window: noncurrent versions expire after "
            f"{noncurrent_days} days (registry:storage.noncurrentVersionDays), so the store can go back to "
            f"{earliest:%Y-%m-%dT%H:%M:%SZ} at the earliest; restore from a backup (restore --from) instead"
        )
    oldest = min((v.modified for v in versions), default=None)
    if oldest is None or at < oldest:
        raise MaintenanceError(
            f"--at {at:%Y-%m-%dT%H:%M:%SZ}: the store held no image then (its oldest object is from "
            f"{oldest:%Y-%m-%dT%H:%M:%SZ}); pick a later instant"
            if oldest
            else "the store holds no image objects at all: nothing to restore"
        )


def plan_point_in_time(versions: Iterable[StoredVersion], at: datetime.datetime, *, keep_newer: bool = False) -> Plan:
    """What differs between the instant and now, key by key (`versions`: each key's newest first)."""
    changes = []
    for key, group in groupby(versions, key=lambda v: v.key):
        history = list(group)
        now = next((v for v in history if v.latest), history[0])
        then = next((v for v in history if v.modified <= at), None)
        now_present = None if now.deleted else now
        then_present = None if then is None or then.deleted else then
        if _version_id(now_present) == _version_id(then_present):
            continue
        if then_present is None and keep_newer:
            continue
        changes.append(Change(key, then_present, now_present))
    return Plan(at, tuple(changes))


def _version_id(version: StoredVersion | None) -> str | None:
    return None if version is None else version.version_id


def apply_plan(target: Mapping[str, Any], site: MaintenanceSite, store: RegistryStore, plan: Plan) -> float:
    """Carry the plan out with writes frozen, tag links going first and coming back last, then
    flush the blob-descriptor cache; the seconds writes were frozen."""
    back = sorted((c for c in plan.changes if c.then), key=lambda c: _rank(c.key))
    gone = sorted((c for c in plan.changes if not c.then), key=lambda c: -_rank(c.key))
    site.lift_stale()
    with site.write_freeze(target, None) as freeze:
        try:
            for change in [c for c in gone if TAG_LINK.match(c.key)]:
                store.remove(change.key)
            for change in back:
                assert change.then is not None and change.then.version_id is not None
                store.bring_back(change.key, change.then.version_id)
            for change in [c for c in gone if not TAG_LINK.match(c.key)]:
                store.remove(change.key)
        finally:
            site.flush(target)
    return float(freeze.seconds)


def _rank(key: str) -> int:
    return 0 if BLOB_DATA.search(key) else 2 if TAG_LINK.match(key) else 1


def describe(plan: Plan, store: RegistryStore) -> list[str]:
    """The plan in a person's terms: each tag that moves, comes back or goes, then the counts."""
    when = f"{plan.at:%Y-%m-%dT%H:%M:%SZ}"
    if not plan.changes:
        return [f"the store already holds what it held at {when}: nothing to change"]
    lines = [f"back to {when}:"]
    for change in plan.changes:
        tag = TAG_LINK.match(change.key)
        if tag:
            lines.append(f"  {tag.group(1)}:{tag.group(2)} {_tag_move(change, store)}")
    counts: Counter[str] = Counter()
    for change in plan.changes:
        kind = "blob" if BLOB_DATA.search(change.key) else "manifest" if REVISION_LINK.match(change.key) else "link"
        counts[f"{kind}s {'back' if change.then else 'gone'}"] += 1
    size = sum(c.then.size for c in plan.changes if c.then and BLOB_DATA.search(c.key))
    lines.append("  " + ", ".join(f"{n} {what}" for what, n in sorted(counts.items())) + f"; {size} blob bytes back")
    return lines


def _tag_move(change: Change, store: RegistryStore) -> str:
    def digest(version: StoredVersion) -> str:
        return store.link(version.key, version.version_id)

    if change.then is None:
        return f"goes (pushed after the instant; now {digest(change.now)})" if change.now else "goes"
    if change.now is None:
        return f"comes back at {digest(change.then)}"
    return f"moves back from {digest(change.now)} to {digest(change.then)}"
