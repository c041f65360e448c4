"""The `backup` and `restore` commands: backup.py and point_in_time.py, then every tag pulled back."""

from __future__ import annotations

import argparse
import datetime
from collections.abc import Mapping
from typing import Any

from tools.maintenance.backup import location, read_backup, restore_backup, take_backup
from tools.maintenance.point_in_time import apply_plan, check_window, describe, parse_instant, plan_point_in_time
from tools.maintenance.retention import RegistryApi
from tools.maintenance.site import site_of
from tools.maintenance.storage import RegistryStore
from tools.maintenance.target import MaintenanceError
from tools.verify import check_every_tag


def recovery_parsers(commands: Any) -> list[argparse.ArgumentParser]:
    """The subcommands' parsers (the caller adds where they act)."""
    backup = commands.add_parser(
        "backup", help="copy every image to DIR or s3://BUCKET/PREFIX (writes frozen only while listing)"
    )
    backup.add_argument("--to", required=True, metavar="DIR|s3://BUCKET/PREFIX", help="an empty place of its own")
    restore = commands.add_parser(
        "restore", help="bring the store back from a backup (--from) or to an instant (--at), then pull every tag"
    )
    source = restore.add_mutually_exclusive_group(required=True)
    source.add_argument("--from", dest="source", metavar="DIR|s3://BUCKET/PREFIX", help="a backup to restore")
    source.add_argument("--at", metavar="INSTANT", help="ISO 8601 with a zone, within storage.noncurrentVersionDays")
    restore.add_argument("--overwrite", action="store_true", help="--from: into a store that holds images")
    restore.add_argument("--keep-newer", action="store_true", help="--at: keep what was pushed after the instant")
    restore.add_argument("--dry-run", action="store_true", help="verify the backup, or print the plan; change nothing")
    return [backup, restore]


def backup_command(target: Mapping[str, Any], to: str) -> list[str]:
    site = site_of(target)
    store = RegistryStore(site.storage())
    destination = location(to)
    done = take_backup(target, site, store, destination)
    return [
        f"backed up {done.objects} objects to {destination}: {done.rate()}; "
        f"writes were frozen for {done.frozen_seconds:.2f}s"
    ]


def restore_command(
    target: Mapping[str, Any], args: argparse.Namespace, api: RegistryApi | None
) -> tuple[list[str], bool]:
    """`api`: the registry as a user who may pull everything (None for a dry run)."""
    site = site_of(target)
    store = RegistryStore(site.storage())
    if args.at is None and args.keep_newer:
        raise MaintenanceError("--keep-newer goes with --at: a restore --from keeps newer objects anyway")
    if args.source is not None and args.dry_run:
        entries = read_backup(location(args.source))
        held = len(store.current_objects())
        return [
            f"dry run: the backup verifies ({len(entries)} objects, {sum(e.size for e in entries)} bytes); "
            f"the store holds {held} objects{'' if not held else ': restore needs --overwrite'}; nothing was written"
        ], True
    if args.source is not None:
        assert api is not None
        done = restore_backup(target, site, store, location(args.source), overwrite=args.overwrite)
        lines = [
            f"restored {done.objects} objects: {done.rate()}; writes were frozen for {done.frozen_seconds:.2f}s; "
            "flushed the blob-descriptor cache"
        ]
        return pull_back(lines, store, api)
    return _point_in_time(target, args, store, api)


def _point_in_time(
    target: Mapping[str, Any], args: argparse.Namespace, store: RegistryStore, api: RegistryApi | None
) -> tuple[list[str], bool]:
    at = parse_instant(args.at)
    if not store.versioned():
        raise MaintenanceError(
            f"bucket {store.bucket} is not versioned: restore --at needs registry:storage.versioning true; "
            "restore from a backup (--from) instead"
        )
    started = datetime.datetime.now(datetime.UTC)
    versions = store.versions()
    check_window(at, versions, store.noncurrent_days(), started)
    plan = plan_point_in_time(versions, at, keep_newer=args.keep_newer)
    lines = describe(plan, store)
    if args.dry_run or not plan.changes:
        return [*lines, *(["dry run: nothing changed"] if args.dry_run and plan.changes else [])], True
    assert api is not None
    frozen = apply_plan(target, site_of(target), store, plan)
    undo = started.replace(microsecond=0) - datetime.timedelta(seconds=1)
    lines.append(
        f"done: writes were frozen for {frozen:.2f}s; flushed the blob-descriptor cache; "
        f"to undo: restore --at {undo:%Y-%m-%dT%H:%M:%SZ}"
    )
    return pull_back(lines, store, api)


def pull_back(lines: list[str], store: RegistryStore, api: RegistryApi) -> tuple[list[str], bool]:
    """Every tag the store now holds pulled through the registry, each digest checked."""
    tags, _ = store.manifests()
    check = check_every_tag(api.client, {(t.repository, t.name): t.digest for t in tags})
    return [*lines, *check.lines()], not check.failures
