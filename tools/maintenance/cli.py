"""The command line of `python -m tools.maintenance` (see the package docstring)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tools.maintenance.cache import flush_cache
from tools.maintenance.freeze import DRAIN_TIMEOUT_SECONDS
from tools.maintenance.gc import collect_garbage
from tools.maintenance.site import site_of
from tools.maintenance.target import MaintenanceError, load_target


def main(argv: list[str] | None = None) -> int:
    from tools import maintenance

    parser = argparse.ArgumentParser(
        prog="python -m tools.maintenance", description=(maintenance.__doc__ or "").split("\n\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    flush = commands.add_parser("flush-cache", help="empty the blob-descriptor cache (after objects were lost)")
    gc = commands.add_parser("gc", help="garbage-collect unreferenced blobs, writes frozen at the edge meanwhile")
    gc.add_argument("--dry-run", action="store_true", help="report what would be deleted; freezes nothing")
    gc.add_argument(
        "--drain-timeout",
        type=float,
        default=DRAIN_TIMEOUT_SECONDS,
        help=f"seconds to wait for requests that started before the freeze (default {DRAIN_TIMEOUT_SECONDS:.0f})",
    )
    for command in (flush, gc):
        where = command.add_mutually_exclusive_group(required=True)
        where.add_argument("--stack", help="a deployed stack (reads its outputs with the Pulumi CLI)")
        where.add_argument("--outputs", type=Path, help="saved `pulumi stack output --json` (- for stdin)")
        where.add_argument("--sandbox", type=Path, help="the JSON line tools.sandbox printed (- for stdin)")
    args = parser.parse_args(argv)
    try:
        target = load_target(stack=args.stack, outputs=args.outputs, sandbox=args.sandbox)
    except (MaintenanceError, OSError, ValueError, KeyError) as err:
        print(f"maintenance: cannot find what to act on: {err}", file=sys.stderr)
        return 2
    try:
        if args.command == "flush-cache":
            print(flush_cache(target))
        else:
            report = collect_garbage(target, site_of(target), dry_run=args.dry_run, drain_timeout=args.drain_timeout)
            print("\n".join(report.lines()))
    except MaintenanceError as err:
        print(f"maintenance: {err}", file=sys.stderr)
        return 1
    return 0
