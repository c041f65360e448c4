"""The command line of `python -m tools.maintenance` (see the package docstring)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from components.renderers.gc import ALB_DRAIN_SECONDS
from tools.maintenance.cache import flush_cache
from tools.maintenance.freeze import DRAIN_TIMEOUT_SECONDS
from tools.maintenance.gc import collect_garbage
from tools.maintenance.promote import add_promote_parser, run_promote
from tools.maintenance.recovery import backup_command, recovery_parsers, restore_command
from tools.maintenance.retention import RegistryApi, apply_retention
from tools.maintenance.site import site_of
from tools.maintenance.storage import RegistryStore
from tools.maintenance.target import MaintenanceError, load_target, stack_outputs, tls_context


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        target = load_target(stack=args.stack, outputs=args.outputs, sandbox=args.sandbox)
    except (MaintenanceError, OSError, ValueError, KeyError) as err:
        print(f"maintenance: cannot find what to act on: {err}", file=sys.stderr)
        return 2
    try:
        lines, ok = _run(args, target)
        _record(args, target, lines)
    except MaintenanceError as err:
        print(f"maintenance: {err}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0 if ok else 1


RECORDED = ("gc", "retention", "backup", "restore")  # what tools.status shows as the last run


def _record(args: argparse.Namespace, target: dict[str, Any], lines: list[str]) -> None:
    """Keep the report of a run that changed something (tools.status reads it back). Not on aws: the
    bucket's key lets only the stack's roles write there, and aws has CloudWatch for this."""
    if args.command in RECORDED and not getattr(args, "dry_run", False) and target["target"] != "aws":
        RegistryStore(site_of(target).storage()).record_run(args.command, lines)


def _run(args: argparse.Namespace, target: dict[str, Any]) -> tuple[list[str], bool]:
    """The command's report, and whether everything it checked held."""
    if args.command == "flush-cache":
        return [flush_cache(target)], True
    if args.command == "retention":
        api = registry_api(target, args.stack)  # credentials first: nothing is read before they are there
        store = RegistryStore(site_of(target).storage())
        return apply_retention(target, store, api, dry_run=args.dry_run), True
    if args.command == "backup":
        return backup_command(target, args.to), True
    if args.command == "promote":
        return run_promote(target, args), True
    if args.command == "restore":
        # credentials first, as for retention: pulling every tag back needs a user who may pull everything
        return restore_command(target, args, None if args.dry_run else registry_api(target, args.stack))
    report = collect_garbage(target, site_of(target), dry_run=args.dry_run, drain_timeout=args.drain_timeout)
    return report.lines(), True


def _parser() -> argparse.ArgumentParser:
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
        help=(
            "local and sandbox: the longest wait for requests begun before the freeze (default "
            f"{DRAIN_TIMEOUT_SECONDS:.0f}s); aws: the wait after the load balancer refuses writes "
            f"(default {ALB_DRAIN_SECONDS:.0f}s)"
        ),
    )
    retention = commands.add_parser("retention", help="delete what registry:retention does not keep")
    retention.add_argument("--dry-run", action="store_true", help="print the plan; delete nothing")
    add_promote_parser(commands)  # a stack's regions: it adds --stack and --outputs itself (no sandbox)
    for command in (flush, gc, retention, *recovery_parsers(commands)):
        where = command.add_mutually_exclusive_group(required=True)
        where.add_argument("--stack", help="a deployed stack (reads its outputs with the Pulumi CLI)")
        where.add_argument("--outputs", type=Path, help="saved `pulumi stack output --json` (- for stdin)")
        where.add_argument("--sandbox", type=Path, help="the JSON line testbench.sandbox printed (- for stdin)")
    return parser


def registry_api(target: Mapping[str, Any], stack: str | None = None) -> RegistryApi:
    """The sandbox's first registry directly; a stack's edge as a user who may delete everywhere (the
    maintenance principal, registry:users access admin): REGISTRY_USERNAME and REGISTRY_PASSWORD, or
    with --stack the stack's first admin and its password (read with `pulumi stack output
    --show-secrets`, never printed)."""
    if target["target"] == "sandbox":
        return RegistryApi(str(target["registryUrl"]))
    user, password = os.environ.get("REGISTRY_USERNAME"), os.environ.get("REGISTRY_PASSWORD")
    if not (user and password) and stack is not None:
        user, password = _stack_admin(stack)
    if not (user and password):
        raise MaintenanceError(
            "retention (it deletes) and restore (it pulls every tag back) run as an admin (registry:users "
            "access admin): set REGISTRY_USERNAME and REGISTRY_PASSWORD (REGISTRY_PASSWORD=$(pulumi stack output --show-secrets passwords | jq -r .<user>)), "
            "or use --stack"
        )
    return RegistryApi(str(target["registryUrl"]), auth=(user, password), verify=tls_context(target))


def _stack_admin(stack: str) -> tuple[str, str]:
    outputs = stack_outputs(stack, show_secrets=True)
    admins = [u["name"] for u in outputs.get("users", []) if u.get("access") == "admin"]
    if not admins:
        raise MaintenanceError(
            f"stack {stack} has no user with access admin: retention deletes images, which only an admin may "
            "everywhere; add one to registry:users (access admin) and run pulumi up"
        )
    return admins[0], str(outputs["passwords"][admins[0]])
