"""GC and write-freeze duration as the store grows (`make bench`; not part of the test suite).

For each store size a fresh sandbox gets that many blobs (images of 10 small layers and a
config, pushed straight to one registry), half of them unreferenced (their manifests deleted);
then `tools.maintenance gc` runs once and its own report gives how long writes were frozen,
how much of that was draining and how much mark and sweep. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from testbench.sandbox import Sandbox, local_settings
from tools.maintenance.gc import GcReport, collect_garbage
from tools.maintenance.site import site_of
from tools.oci_image import build_image
from tools.verify import push_image

STORE_BLOBS = (100, 1000, 5000)
LAYERS_PER_IMAGE = 10
PUSH_THREADS = 8


def fill(sandbox: Sandbox, blobs: int) -> None:
    """About `blobs` blobs in the store, every other image's manifest deleted again."""
    images = max(1, blobs // (LAYERS_PER_IMAGE + 1))

    def push(index: int) -> None:
        image = build_image([512 + index % 7] * LAYERS_PER_IMAGE)
        with httpx.Client(base_url=sandbox.registry_urls[0], timeout=60) as client:
            push_image(client, f"bench/gc{index % 20}", f"v{index}", image)
            if index % 2:
                client.delete(f"/v2/bench/gc{index % 20}/manifests/{image.manifest_digest}").raise_for_status()

    with ThreadPoolExecutor(PUSH_THREADS) as pool:
        list(pool.map(push, range(images)))


def measure(blobs: int) -> tuple[float, GcReport]:
    with Sandbox(local_settings(replicas=2)) as sandbox:
        started = time.monotonic()
        fill(sandbox, blobs)
        fill_seconds = time.monotonic() - started
        target = sandbox.maintenance()
        return fill_seconds, collect_garbage(target, site_of(target))


def report(results: dict[int, tuple[float, GcReport]]) -> str:
    lines = [
        "| blobs in store | freed | writes frozen | of which draining | of which mark and sweep | fill time |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for _, (fill_seconds, gc) in sorted(results.items()):
        lines.append(
            f"| {gc.blobs_before} | {gc.blobs_freed} | {gc.frozen_seconds:.2f} s | {gc.drain_seconds:.2f} s "
            f"| {gc.collect_seconds:.2f} s | {fill_seconds:.0f} s |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--blobs", type=int, nargs="*", default=list(STORE_BLOBS))
    args = parser.parse_args()
    print(report({blobs: measure(blobs) for blobs in args.blobs}))


if __name__ == "__main__":
    main()
