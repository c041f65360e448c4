"""Backup, restore and point-in-time restore speed on the sandbox (`make bench`; not a test).

A sandbox gets `--mib` MiB of images (8 MiB layers, pushed straight to one registry) plus many
small images (where a request's latency, not bandwidth, dominates); then `backup` to a directory,
`restore` into a fresh sandbox (including reading the whole copy back first and pulling every tag
afterwards), and a point-in-time restore that brings back a deleted half of the small images.
The figures are what the README's "Disaster recovery" gives as RPO and RTO inputs: seconds per
GiB, and how long writes were refused. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import datetime
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from testbench.sandbox import Sandbox, local_settings
from tools.maintenance.backup import Directory, Outcome, restore_backup, take_backup
from tools.maintenance.point_in_time import apply_plan, plan_point_in_time
from tools.maintenance.recovery import pull_back
from tools.maintenance.retention import RegistryApi
from tools.maintenance.site import site_of
from tools.maintenance.storage import RegistryStore
from tools.oci_image import MANIFEST_TYPE, build_image
from tools.verify import push_image, upload_monolithic

LAYER_MIB = 8
SMALL_IMAGES = 200
PUSH_THREADS = 8


def fill(sandbox: Sandbox, mib: int) -> list[tuple[str, str]]:
    """`mib` MiB in large layers and SMALL_IMAGES small images; the small ones' (repository, digest)."""

    def push_large(index: int) -> None:
        """Each blob in one PUT (push_image's chunked layer goes up 64 KiB at a time: slow at 8 MiB)."""
        image = build_image([LAYER_MIB * 2**20])
        with httpx.Client(base_url=sandbox.registry_urls[0], timeout=300) as client:
            for blob in image.blobs:
                upload_monolithic(client, "bench/large", blob)
            headers = {"Content-Type": MANIFEST_TYPE}
            client.put(
                f"/v2/bench/large/manifests/v{index}", content=image.manifest, headers=headers
            ).raise_for_status()

    def push_small(index: int) -> tuple[str, str]:
        image = build_image([1024])
        with httpx.Client(base_url=sandbox.registry_urls[0], timeout=60) as client:
            push_image(client, f"bench/small{index % 10}", f"v{index}", image)
        return f"bench/small{index % 10}", image.manifest_digest

    with ThreadPoolExecutor(PUSH_THREADS) as pool:
        list(pool.map(push_large, range(max(1, mib // LAYER_MIB))))
        return list(pool.map(push_small, range(SMALL_IMAGES)))


def measure(mib: int, workdir: Path) -> list[tuple[str, str]]:
    rows = []
    with Sandbox(local_settings(replicas=1)) as source:
        small = fill(source, mib)
        target = source.maintenance()
        site = site_of(target)
        store = RegistryStore(site.storage())
        backup = take_backup(target, site, store, Directory(workdir / "backup"))
        rows.append(("backup", _row(backup)))
        with Sandbox(local_settings(replicas=1)) as fresh:
            into = fresh.maintenance()
            into_site = site_of(into)
            into_store = RegistryStore(into_site.storage())
            restored = restore_backup(into, into_site, into_store, Directory(workdir / "backup"))
            started = time.monotonic()
            lines, ok = pull_back([], into_store, RegistryApi(str(into["registryUrl"])))
            rows.append(("restore (read back, write, flush)", _row(restored)))
            rows.append(("pull every tag back after restore", f"{time.monotonic() - started:.2f}s; {lines[-1]}"))
            assert ok, lines
        rows.append(("point in time (100 deleted images back)", _point_in_time(source, target, store, small)))
    return rows


def _point_in_time(
    source: Sandbox, target: dict[str, object], store: RegistryStore, small: list[tuple[str, str]]
) -> str:
    time.sleep(1.1)
    instant = datetime.datetime.now(datetime.UTC)
    time.sleep(1.1)
    with httpx.Client(base_url=source.registry_urls[0], timeout=60) as client:
        for repository, digest in small[::2]:
            client.delete(f"/v2/{repository}/manifests/{digest}").raise_for_status()
    started = time.monotonic()
    plan = plan_point_in_time(store.versions(), instant)
    planned = time.monotonic() - started
    frozen = apply_plan(target, site_of(target), store, plan)
    return f"{len(plan.changes)} objects; planned in {planned:.2f}s, applied in {frozen:.2f}s (writes frozen)"


def _row(outcome: Outcome) -> str:
    per_gib = outcome.seconds / max(outcome.bytes / 2**30, 1e-9)
    return (
        f"{outcome.objects} objects, {outcome.rate()}, {per_gib:.0f} s/GiB; writes frozen {outcome.frozen_seconds:.2f}s"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.recovery", description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=1024, help="MiB of large layers in the store (default 1024)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as workdir:
        rows = measure(args.mib, Path(workdir))
    print(f"| step ({args.mib} MiB + {SMALL_IMAGES} small images) | figures |")
    print("|---|---|")
    for step, figures in rows:
        print(f"| {step} | {figures} |")


if __name__ == "__main__":
    main()
