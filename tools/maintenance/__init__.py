"""Day-2 operations on a deployed registry, beside Pulumi.

    python -m tools.maintenance flush-cache (--stack NAME | --outputs FILE | --sandbox FILE)
    python -m tools.maintenance gc [--dry-run] [--drain-timeout S] (--stack NAME | --outputs FILE | --sandbox FILE)
    python -m tools.maintenance retention [--dry-run] (--stack NAME | --outputs FILE | --sandbox FILE)
    python -m tools.maintenance backup --to DIR|s3://BUCKET/PREFIX (--stack NAME | ...)
    python -m tools.maintenance restore (--from DIR|s3://BUCKET/PREFIX [--overwrite] | --at INSTANT [--keep-newer])
        [--dry-run] (--stack NAME | ...)
    python -m tools.maintenance promote --region R [--force] [--dry-run] (--stack NAME | --outputs FILE)

flush-cache empties the blob-descriptor cache (cache.py says when that is needed); gc collects
unreferenced blobs with writes frozen at the edge (gc.py, freeze.py); retention deletes what
registry:retention does not keep (retention.py). backup copies every image with writes frozen
only while it lists them; restore brings the store back from a backup or, from the bucket's
versions, to an instant, then pulls every tag back (backup.py, point_in_time.py, recovery.py).
promote makes a read-only secondary region writable and moves the push name to it while the
primary is down (promote.py). Where to: `--stack` reads
the stack's `maintenance` output with the Pulumi CLI, `--outputs` the saved JSON of
`pulumi stack output --json`, `--sandbox` the JSON line `python -m testbench.sandbox` printed. Exit
status 0 when done (or when there was nothing to do), 1 when the operation failed (writes are
open again), 2 when it could not run.
"""

from tools.maintenance.cache import flush_cache, run_task_request
from tools.maintenance.cli import main
from tools.maintenance.target import MaintenanceError, load_target

__all__ = ["MaintenanceError", "flush_cache", "load_target", "main", "run_task_request"]
