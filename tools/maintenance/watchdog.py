"""The freeze's watchdog (tools/maintenance/freeze.py start_watchdog): a detached process that
waits for the process that set a write freeze to exit, then lifts its freeze if it left one.

    python -m tools.maintenance.watchdog '<maintenance target JSON>' <owner pid>
"""

from __future__ import annotations

import json
import signal
import sys
import time
from collections.abc import Mapping
from typing import Any

from tools.maintenance.freeze import alive
from tools.maintenance.site import site_of

POLL_SECONDS = 0.5


def watch(target: Mapping[str, Any], owner: int) -> None:
    """Until `owner` exits; then lift its freeze if it left one."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # the owner lifted it itself
    while alive(owner):
        time.sleep(POLL_SECONDS)
    site_of(target).lift_owned(owner)


if __name__ == "__main__":
    watch(json.loads(sys.argv[1]), int(sys.argv[2]))
