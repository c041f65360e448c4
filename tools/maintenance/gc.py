"""gc: distribution's garbage collection without losing a pushed image.

The procedure: lift a freeze a dead run left; freeze writes at the edge (freeze.py) or, on aws, at
the load balancer (alb.py) and wait until the writes already under way have finished; list the blobs; run `garbage-collect` with the
registry's own config; flush the blob-descriptor cache (cache.py: otherwise the cache still
answers for the blobs just deleted, a re-push skips them and the next pull fails:
distribution#2945, #4269); lift the freeze, also when a step fails or the run is interrupted.
With a versioned bucket a deleted blob's data stays as a noncurrent version until the bucket's
lifecycle rule expires it, so the report gives both figures.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tools.maintenance.site import MaintenanceSite
from tools.maintenance.storage import RegistryStore

# what `garbage-collect --dry-run` prints per blob it would delete (registry/storage/garbagecollect.go)
ELIGIBLE = re.compile(r"blob eligible for deletion: (sha256:[0-9a-f]{64})")


@dataclass(frozen=True)
class GcReport:
    dry_run: bool
    blobs_before: int
    blobs_freed: int
    bytes_freed: int  # current bytes deleted at once
    noncurrent_bytes: int  # freed bytes kept as noncurrent versions until the lifecycle expires them
    noncurrent_days: int | None  # None: the bucket has no noncurrent-version expiry
    frozen_seconds: float
    drain_seconds: float
    collect_seconds: float  # garbage-collect itself, mark and sweep
    stale_freeze_lifted: bool

    def lines(self) -> list[str]:
        if self.dry_run:
            return [
                f"dry run: {self.blobs_freed} of {self.blobs_before} blobs ({self.bytes_freed} bytes) would be deleted; "
                "writes were not frozen"
            ]
        lines = (
            ["lifted a freeze left by a run that died (writes were refused until now)"]
            if self.stale_freeze_lifted
            else []
        )
        lines.append(
            f"freed {self.blobs_freed} of {self.blobs_before} blobs, {self.bytes_freed} bytes; "
            f"writes were frozen for {self.frozen_seconds:.2f}s ({self.drain_seconds:.2f}s draining, "
            f"{self.collect_seconds:.2f}s collecting)"
        )
        if self.noncurrent_bytes:
            expiry = (
                f"the bucket's lifecycle expires them after {self.noncurrent_days} days"
                if self.noncurrent_days is not None
                else "the bucket has no rule that expires them: they stay until deleted by hand"
            )
            lines.append(f"{self.noncurrent_bytes} of those bytes remain as noncurrent versions; {expiry}")
        lines.append("flushed the blob-descriptor cache")
        return lines


def collect_garbage(
    target: Mapping[str, Any], site: MaintenanceSite, *, dry_run: bool = False, drain_timeout: float | None = None
) -> GcReport:
    """Run the procedure; raises MaintenanceError (with writes open again) when a step fails.
    `drain_timeout` None: the site's own (the edge's longest wait, the ALB's fixed wait)."""
    store = RegistryStore(site.storage())
    if dry_run:
        before = store.blob_sizes()
        eligible = set(ELIGIBLE.findall(site.garbage_collect(dry_run=True))) & before.keys()
        return GcReport(
            True, len(before), len(eligible), sum(before[d] for d in eligible), 0, None, 0.0, 0.0, 0.0, False
        )
    stale = site.lift_stale()
    with site.write_freeze(target, drain_timeout) as freeze:
        try:
            before = store.blob_sizes()
            started = time.monotonic()
            site.garbage_collect(dry_run=False)
            collect_seconds = time.monotonic() - started
            after = store.blob_sizes()
        finally:
            site.flush(target)  # also after a failed sweep: some blobs may be gone
    freed = before.keys() - after.keys()
    return GcReport(
        dry_run=False,
        blobs_before=len(before),
        blobs_freed=len(freed),
        bytes_freed=sum(before[d] for d in freed),
        noncurrent_bytes=store.noncurrent_bytes(freed),
        noncurrent_days=store.noncurrent_days(),
        frozen_seconds=freeze.seconds,
        drain_seconds=freeze.drain_seconds,
        collect_seconds=collect_seconds,
        stale_freeze_lifted=stale,
    )
