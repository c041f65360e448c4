"""The `registry` binaries of distribution 3 the data plane runs, built from pinned source archives.

    python3 -m testbench.registry_builds install [BUILD ...]   # default: what the data plane runs
    python3 -m testbench.registry_builds path BUILD            # where a build's binary is

No registry a test could pull an image from is reachable here, so the binaries are built from
distribution's source archives (`git archive` of a tag or commit, with its committed vendor/) kept
in ../shared/vendor (or REGISTRY_VENDOR_DIR). Each archive's sha256 is pinned below and checked
before anything is unpacked. Go is Debian's (trixie-backports golang-1.25-go, unpacked into .tools
by tools.debian; `go.mod` asks for 1.25.0 in 3.1.x and main, 1.23.7 in 3.0.0). The build follows
../shared/vendor/README.md: vendor mode, no network, static, the version stamped as upstream's
Makefile does. Every build lands in .tools/distribution/<build>/ with a stamp of its archive's
checksum and the Go version, so a second run costs nothing. Standard library only.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from components.images import DATA_PLANE_BUILDS
from tools.debian import DebianError, Package, fetch

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ROOT / ".tools"
VENDOR_DIR = Path(os.environ.get("REGISTRY_VENDOR_DIR", ROOT.parent / "shared" / "vendor"))
GO_PACKAGES = (
    Package("golang-1.25-go", "1.25.12", "trixie-backports"),
    Package("golang-1.25-src", "1.25.12", "trixie-backports"),
)
MODULE = "github.com/distribution/distribution/v3"
# Go programs of the test bench built inside each source tree beside `registry`, so what they
# call is the shipped code (bench/purgeuploads: the upload purger, run once on demand)
HARNESSES = {"purge-uploads": ROOT / "bench" / "purgeuploads" / "main.go"}


@dataclass(frozen=True)
class Source:
    build: str  # how the project names it: a release (3.1.1) or main-<commit>
    archive: str
    sha256: str
    commit: str  # the upstream commit the archive was made from

    @property
    def stamp(self) -> str:
        """What a cached binary was built from; a different archive or Go means a new build."""
        harnesses = " ".join(f"{name}:{sha256_of(path)}" for name, path in sorted(HARNESSES.items()))
        return f"{self.archive} sha256:{self.sha256} go {GO_PACKAGES[0].version} {harnesses}\n"


SOURCES = {
    s.build: s
    for s in (
        Source(
            "3.1.1",
            "distribution-3.1.1.tar.gz",
            "dc66823a6270655ed36d30fe7bbae13b1605510413b03c58867dd910c707dfa7",
            "9a8d98b679740cd514aa7e7d84d23d442a5ef54c",
        ),
        Source(
            "3.0.0",
            "distribution-3.0.0.tar.gz",
            "7992610e6a8baf02d6809aed82c1ca690605d4182053b84edf2c0432cca8da32",
            "9ed95e7365224025ee89365e12cf128e1f1bf965",
        ),
        Source(
            "main-0d6b721",
            "distribution-main-0d6b721.tar.gz",
            "929f2c59a5f6267e85f2dabab8c47d3bb0aabff2aed851c34eac2aa3f4d4d90a",
            "0d6b721dc3ceacb5d678c25b718b2f40a507c2d8",
        ),
    )
}


class BuildError(RuntimeError):
    """A source archive is missing or wrong, or a build failed; the message names the file and the fix."""


def binary(build: str, tools: Path = TOOLS) -> Path:
    """The built `registry` of `build`; BuildError naming the fix when it is not built yet."""
    source = _source(build)
    path = tools / "distribution" / build / "registry"
    if not _is_current(path, source):
        raise BuildError(f"distribution {build} is not built: run `make system-deps` (or `{_install_hint(build)}`)")
    return path


def harness(build: str, name: str, tools: Path = TOOLS) -> Path:
    """A test-bench program (HARNESSES) built with `build`'s source; BuildError when it is not built."""
    return binary(build, tools).parent / name


def install(builds: list[str], tools: Path = TOOLS, vendor: Path = VENDOR_DIR) -> list[str]:
    """Build every one of `builds` that is not built from its pinned archive yet; what was done."""
    done = []
    for build in builds:
        source = _source(build)
        target = tools / "distribution" / build / "registry"
        if _is_current(target, source):
            done.append(f"registry {build}: already built ({target})")
            continue
        archive = verified_archive(source, vendor)
        _build(source, archive, tools, target)
        (target.parent / ".source").write_text(source.stamp)
        done.append(f"registry {build}: built from {archive.name} ({target})")
    return done


def verified_archive(source: Source, vendor: Path) -> Path:
    """The source archive of a build, after its sha256 matched the pin."""
    return verified(
        vendor / source.archive,
        source.sha256,
        needed_for=f"distribution {source.build} is built from it (git archive of commit {source.commit})",
        pinned_in="testbench/registry_builds.py",
    )


def verified(path: Path, sha256: str, *, needed_for: str, pinned_in: str) -> Path:
    """`path`, after its sha256 matched `sha256`; BuildError naming the file, the expected and the found checksum."""
    if not path.is_file():
        raise BuildError(
            f"{path} is missing: {needed_for}; put it there or point REGISTRY_VENDOR_DIR at the folder that has it"
        )
    found = sha256_of(path)
    if found != sha256:
        raise BuildError(
            f"{path} has sha256 {found}, expected {sha256} (pinned in {pinned_in}): "
            "it is not the file this project builds from; replace it with the right one"
        )
    return path


def go_binary(tools: Path = TOOLS) -> Path:
    """Debian's Go 1.25, unpacked into .tools/go on first use."""
    go = tools / "go" / "usr" / "lib" / "go-1.25" / "bin" / "go"
    if not go.exists():
        try:
            fetch(list(GO_PACKAGES), tools / "go", pins_in="testbench/registry_builds.py")
        except DebianError as err:
            raise BuildError(
                f"{err} (Go 1.25 builds distribution; install it yourself and put it on PATH as go)"
            ) from None
    return go


def go_environment(tools: Path = TOOLS) -> dict[str, str]:
    """A build in vendor mode that never reaches a network or downloads another toolchain."""
    return {
        **os.environ,
        "GOFLAGS": "-mod=vendor -buildvcs=false",
        "GOPROXY": "off",
        "GOTOOLCHAIN": "local",
        "GOWORK": "off",
        "CGO_ENABLED": "0",
        "GOCACHE": str(tools / "go-cache"),  # shared by every build: a second vendor tree builds quickly
        "GOPATH": str(tools / "go-path"),
    }


def unpack(archive: Path, into: Path) -> Path:
    """The archive's single top folder, unpacked under `into` (no absolute or escaping paths)."""
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    [top] = [p for p in into.iterdir() if p.is_dir()]
    return top


def _build(source: Source, archive: Path, tools: Path, target: Path) -> None:
    go = go_binary(tools)
    with tempfile.TemporaryDirectory(prefix=f"registry-build-{source.build}-") as work:
        tree = unpack(archive, Path(work))
        target.parent.mkdir(parents=True, exist_ok=True)
        # upstream's Makefile stamps the version the same way (version/version.go)
        ldflags = f"-s -w -X {MODULE}/version.version=v{source.build.removeprefix('main-')}"
        programs = {target: "./cmd/registry"}
        for name, path in HARNESSES.items():
            (tree / "cmd" / name).mkdir()
            shutil.copy(path, tree / "cmd" / name / "main.go")
            programs[target.parent / name] = f"./cmd/{name}"
        try:
            for output, package in programs.items():
                command = [str(go), "build", "-trimpath", "-ldflags", ldflags, "-o", str(output), package]
                _run_go(command, tree, tools, f"building {package} of distribution {source.build}")
        except BuildError:
            target.unlink(missing_ok=True)
            raise


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _run_go(command: list[str], cwd: Path, tools: Path, what: str) -> None:
    done = subprocess.run(
        command, cwd=cwd, env=go_environment(tools), capture_output=True, text=True, timeout=1800, check=False
    )
    if done.returncode != 0:
        raise BuildError(f"{what} failed ({done.returncode}): {(done.stderr or done.stdout).strip()[-2000:]}")


def _is_current(path: Path, source: Source) -> bool:
    stamp = path.parent / ".source"
    return path.is_file() and stamp.is_file() and stamp.read_text() == source.stamp


def _source(build: str) -> Source:
    if build not in SOURCES:
        raise BuildError(f"no pinned source for distribution {build!r}; known: {', '.join(SOURCES)}")
    return SOURCES[build]


def _install_hint(build: str) -> str:
    return f"python3 -m testbench.registry_builds install {build}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m testbench.registry_builds", description=(__doc__ or "").split("\n\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    install_parser = sub.add_parser("install", help="build what is not built yet")
    install_parser.add_argument("builds", nargs="*", help=f"any of {', '.join(SOURCES)}")
    sub.add_parser("path", help="the binary of a build").add_argument("build", choices=list(SOURCES))
    args = parser.parse_args(argv)
    try:
        if args.command == "install":
            print("\n".join(install(args.builds or list(DATA_PLANE_BUILDS))))
        else:
            print(binary(args.build))
    except (BuildError, DebianError) as err:
        print(f"registry_builds: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
