"""skopeo copies to and from a registry: through a TLS edge with basic auth, or plain HTTP.

The data-plane tests and the benchmark push and pull real images with the client users run.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

COPY_TIMEOUT = 600  # seconds; a 200 MiB image takes a few here


class SkopeoMissing(RuntimeError):
    def __init__(self) -> None:
        super().__init__("skopeo is missing: install it with `apt-get install -y skopeo` (or `make system-deps`)")


class SkopeoFailed(RuntimeError):
    """A copy failed; the message has skopeo's stderr but not the command line (it holds passwords)."""


class Skopeo:
    def __init__(self, cert_dir: Path, ca_file: Path):
        """skopeo wants a directory holding `ca.crt`, not a CA file."""
        binary = shutil.which("skopeo")
        if binary is None:
            raise SkopeoMissing
        self.binary = binary
        self.cert_dir = cert_dir
        cert_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy(ca_file, cert_dir / "ca.crt")

    def tls_flags(self, side: str, user: str, password: str) -> list[str]:
        """`side` is src or dest: credentials and the CA for the edge."""
        return [f"--{side}-creds", f"{user}:{password}", f"--{side}-cert-dir", str(self.cert_dir)]

    @staticmethod
    def plain_http_flags(side: str) -> list[str]:
        return [f"--{side}-tls-verify=false"]

    def copy(self, source: str, destination: str, flags: list[str]) -> float:
        """Seconds the copy took; raises SkopeoFailed on failure."""
        started = time.perf_counter()
        done = subprocess.run(
            [self.binary, "copy", "--quiet", *flags, source, destination],
            capture_output=True,
            text=True,
            timeout=COPY_TIMEOUT,
            check=False,
        )
        if done.returncode != 0:
            raise SkopeoFailed(f"skopeo copy {source} {destination} exited {done.returncode}: {done.stderr.strip()}")
        return time.perf_counter() - started
