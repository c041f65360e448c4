"""Day-2 operations on a deployed registry, beside Pulumi.

    python -m tools.maintenance flush-cache (--stack NAME | --outputs FILE | --sandbox FILE)
    python -m tools.maintenance gc [--dry-run] [--drain-timeout S] (--stack NAME | --outputs FILE | --sandbox FILE)

flush-cache empties the blob-descriptor cache (cache.py says when that is needed); gc collects
unreferenced blobs with writes frozen at the edge (gc.py, freeze.py). Where to: `--stack` reads
the stack's `maintenance` output with the Pulumi CLI, `--outputs` the saved JSON of
`pulumi stack output --json`, `--sandbox` the JSON line `python -m testbench.sandbox` printed. Exit
status 0 when done (or when there was nothing to do), 1 when the operation failed (writes are
open again), 2 when it could not run.
"""

from tools.maintenance.cache import flush_cache, run_task_request
from tools.maintenance.cli import main
from tools.maintenance.target import MaintenanceError, load_target

__all__ = ["MaintenanceError", "flush_cache", "load_target", "main", "run_task_request"]
