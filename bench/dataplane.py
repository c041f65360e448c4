"""Edge overhead and auth cost, measured on a sandbox (`make bench`; not part of the test suite).

Push and pull time of 50 MiB and 200 MiB images with skopeo through the nginx edge (TLS,
auth, N registries) versus directly to one registry over plain HTTP (the floors' baseline) and to
one registry that terminates TLS itself (like for like), medians of RUNS runs in
one process; and the CPU time nginx workers spend per request with and without auth, from
/proc. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import os
import shutil
import ssl
import statistics
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import httpx

from components.renderers.htpasswd import ROUNDS
from testbench.sandbox import Sandbox, generate_password, local_settings
from tools.oci_image import build_image, write_oci_layout
from tools.skopeo import Skopeo

MIB = 1024 * 1024
SIZES_MIB = (50, 200)
FLOORS = {"pull": 0.90, "push": 0.95}
AUTH_FLOOR_MS = 1.0  # issue 21: at most 1 ms of edge CPU per authenticated request, above no auth


PATHS = ("edge", "direct", "direct-tls")


def transfer_times(
    sandbox: Sandbox, work: Path, size_mib: int, runs: int, tls_registry: str
) -> dict[str, dict[str, float]]:
    """{"push"/"pull": {path: median seconds}} for the edge (TLS, auth, N registries), one registry
    over plain HTTP (the floors' baseline) and one registry terminating TLS itself (like for like)."""
    skopeo = Skopeo(work / "certs", sandbox.ca_file)
    pusher = sandbox.user("push")
    hosts = {
        "edge": sandbox.url.removeprefix("https://"),
        "direct": sandbox.registry_urls[0].removeprefix("http://"),
        "direct-tls": tls_registry.removeprefix("https://"),
    }

    def flags(path: str, side: str) -> list[str]:
        if path == "direct":
            return skopeo.plain_http_flags(side)
        return skopeo.tls_flags(side, pusher.name, pusher.password)  # the bare registry never asks for them

    times: dict[str, dict[str, list[float]]] = {op: {path: [] for path in PATHS} for op in ("push", "pull")}
    for run in range(runs):
        order = PATHS[run % 3 :] + PATHS[: run % 3]  # rotate, so no path always goes first
        for path in order:  # a new image per push: nothing is skipped as already there
            layout = write_oci_layout(build_image([size_mib * MIB]), work / f"image-{path}", "v1")
            repo = f"bench/{size_mib}mib-{run}-{path}"
            times["push"][path].append(skopeo.copy(layout, f"docker://{hosts[path]}/{repo}:v1", flags(path, "dest")))
            shutil.rmtree(work / f"image-{path}")
        pulled_repo = f"bench/{size_mib}mib-{run}-edge"  # the same blobs for every path
        for path in order:
            destination = work / f"pulled-{path}"
            source = f"docker://{hosts[path]}/{pulled_repo}:v1"
            times["pull"][path].append(skopeo.copy(source, f"oci:{destination}:v1", flags(path, "src")))
            shutil.rmtree(destination)
    return {op: {path: statistics.median(t) for path, t in paths.items()} for op, paths in times.items()}


def worker_cpu_seconds(master_pid: int) -> float:
    """utime + stime of every nginx worker (the master's children), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited meanwhile
        if int(fields[1]) == master_pid:  # fields[1] is the ppid
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def cpu_ms_per_request(sandbox: Sandbox, requests: int, send: Callable[[httpx.Client], httpx.Response]) -> float:
    """Edge worker CPU per request over one kept-alive connection (no TLS handshake per request)."""
    with httpx.Client(
        base_url=sandbox.url, verify=ssl.create_default_context(cafile=sandbox.ca_file), timeout=30
    ) as client:
        send(client).raise_for_status()  # warm: connection, TLS session, upstream keepalive
        before = worker_cpu_seconds(sandbox.pid("edge"))
        for _ in range(requests):
            send(client).raise_for_status()
        after = worker_cpu_seconds(sandbox.pid("edge"))
    return (after - before) * 1000 / requests


def auth_costs(sandbox: Sandbox, requests: int) -> dict[str, float]:
    """CPU ms per request: no auth, SHA-512-crypt (what we ship), and bcrypt cost 10 for contrast."""
    pusher = sandbox.user("push")
    bcrypt_password = generate_password(32)
    line = subprocess.run(
        ["htpasswd", "-nbB", "-C", "10", "bcrypt-user", bcrypt_password],
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout.strip()
    shipped = sandbox.htpasswd_file.read_text()
    sandbox.htpasswd_file.write_text(shipped + line + "\n")  # nginx rereads the file on every request
    try:
        return {
            "none": cpu_ms_per_request(sandbox, requests, lambda c: c.get("/healthz")),
            "sha512-crypt": cpu_ms_per_request(
                sandbox, requests, lambda c: c.get("/v2/", auth=(pusher.name, pusher.password))
            ),
            "bcrypt-10": cpu_ms_per_request(
                sandbox, max(20, requests // 20), lambda c: c.get("/v2/", auth=("bcrypt-user", bcrypt_password))
            ),
        }
    finally:
        sandbox.htpasswd_file.write_text(shipped)


def report(transfers: dict[int, dict[str, dict[str, float]]], auth: dict[str, float], runs: int) -> str:
    lines = [
        f"| measurement (median of {runs}) | through edge | direct, HTTP | direct, TLS "
        "| edge vs direct HTTP | floor | edge vs direct TLS |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for size, ops in transfers.items():
        for op, t in ops.items():
            ratio = t["direct"] / t["edge"]
            verdict = "ok" if ratio >= FLOORS[op] else "BELOW"
            lines.append(
                f"| {op} {size} MiB | {t['edge']:.2f} s | {t['direct']:.2f} s | {t['direct-tls']:.2f} s "
                f"| {ratio:.2f}x | {FLOORS[op]:.2f}x {verdict} | {t['direct-tls'] / t['edge']:.2f}x |"
            )
    lines += [
        "",
        "| edge CPU per request (nginx workers, /proc) | ms |",
        "|---|---:|",
        f"| no auth (/healthz, proxied) | {auth['none']:.2f} |",
        f"| basic auth, SHA-512-crypt {ROUNDS} rounds (shipped) | {auth['sha512-crypt']:.2f} |",
        f"| basic auth, bcrypt cost 10 (contrast) | {auth['bcrypt-10']:.2f} |",
        f"| **auth cost (SHA-512-crypt minus no auth)** | **{auth['sha512-crypt'] - auth['none']:.2f}** "
        f"(goal ≤ {AUTH_FLOOR_MS:.0f}) |",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per measurement (the median is reported)")
    parser.add_argument("--auth-requests", type=int, default=400)
    args = parser.parse_args()
    with Sandbox(local_settings()) as sandbox, tempfile.TemporaryDirectory(prefix="registry-bench-") as tmp:
        tls_registry = sandbox.start_tls_registry()
        transfers = {size: transfer_times(sandbox, Path(tmp), size, args.runs, tls_registry) for size in SIZES_MIB}
        auth = auth_costs(sandbox, args.auth_requests)
    print(report(transfers, auth, args.runs))


if __name__ == "__main__":
    main()
