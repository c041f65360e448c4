"""Pull-through mirror: cold and warm pulls against a direct pull from the upstream (`make bench`;
not part of the test suite).

A second registry on loopback plays the upstream (TLS, filesystem storage); the sandbox runs a
mirror of it as the local target renders one. Per run a new 50 MiB image is pushed to the
upstream, then pulled with skopeo: straight from the upstream, through the mirror cold (the
mirror fetches it), and through the mirror warm (served from its cache, after the mirror has
stored its copy), each into a fresh OCI layout. Medians of RUNS runs in one process; prints a
markdown table with the ratios.
"""

from __future__ import annotations

import argparse
import shutil
import ssl
import statistics
import tempfile
from pathlib import Path

import httpx

from components.config.mirrors import SelfHostedMirror
from testbench.sandbox import Sandbox, UpstreamRegistry, local_settings
from tools.oci_image import build_image
from tools.skopeo import Skopeo
from tools.verify import push_image

MIB = 1024 * 1024
SIZE_MIB = 50
MIRROR = "upstream"
KINDS = ("direct", "cold", "warm")


def pull_times(sandbox: Sandbox, upstream: UpstreamRegistry, work: Path, runs: int) -> dict[str, float]:
    """{kind: median seconds} of pulling a new 50 MiB image directly, cold and warm."""
    mirror_certs, upstream_certs = (
        Skopeo(work / "edge-certs", sandbox.ca_file),
        Skopeo(work / "up-certs", upstream.ca_file),
    )
    reader = sandbox.user("pull")
    edge = sandbox.url.removeprefix("https://")
    times: dict[str, list[float]] = {kind: [] for kind in KINDS}
    verify = ssl.create_default_context(cafile=str(upstream.ca_file))
    for run in range(runs):
        image, repository = build_image([SIZE_MIB * MIB]), f"bench/mirror-{run}"
        with httpx.Client(base_url=upstream.url, verify=verify, timeout=120) as client:
            push_image(client, repository, "v1", image)
        sources = {
            "direct": (upstream_certs, f"docker://{upstream.url.removeprefix('https://')}/{repository}:v1", []),
            "cold": (mirror_certs, f"docker://{edge}/{MIRROR}/{repository}:v1", [reader.name, reader.password]),
            "warm": (mirror_certs, f"docker://{edge}/{MIRROR}/{repository}:v1", [reader.name, reader.password]),
        }
        for kind in KINDS:
            skopeo, source, creds = sources[kind]
            flags = skopeo.tls_flags("src", *creds) if creds else ["--src-cert-dir", str(skopeo.cert_dir)]
            destination = work / f"pulled-{kind}"
            times[kind].append(skopeo.copy(source, f"oci:{destination}:v1", flags))
            shutil.rmtree(destination)
            if kind == "cold":
                sandbox.wait_until_cached(MIRROR, repository, [b.digest for b in image.blobs])
    return {kind: statistics.median(t) for kind, t in times.items()}


def report(times: dict[str, float], runs: int) -> str:
    direct = times["direct"]
    return "\n".join(
        [
            f"| pull of a new {SIZE_MIB} MiB image (median of {runs}) | seconds | vs direct from the upstream |",
            "|---|---:|---:|",
            f"| direct from the upstream (TLS) | {direct:.2f} | 1.00x |",
            f"| through the mirror, cold (fetched from the upstream) | {times['cold']:.2f} | {times['cold'] / direct:.2f}x |",
            f"| through the mirror, warm (from its cache) | {times['warm']:.2f} | {times['warm'] / direct:.2f}x |",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per measurement (the median is reported)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="registry-bench-mirror-") as tmp:
        work = Path(tmp)
        with UpstreamRegistry(work / "upstream") as upstream:
            mirror = SelfHostedMirror(name=MIRROR, upstream=upstream.url, ca_certificate=upstream.ca_file.read_text())
            settings = local_settings(replicas=2).model_copy(update={"mirrors": [mirror]})
            with Sandbox(settings) as sandbox:
                times = pull_times(sandbox, upstream, work, args.runs)
    print(report(times, args.runs))


if __name__ == "__main__":
    main()
