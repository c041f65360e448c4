"""Debian packages unpacked into .tools/ with an apt state of its own: the system is untouched.

apt downloads with a source list, package lists and cache in a temporary folder (checked against
the suites' signed Release files, with Debian's archive keyring), and dpkg-deb unpacks the
packages under a root folder. Each package is pinned to an upstream version; the newest Debian
revision of it in its suite is taken (binNMU suffixes differ between architectures). Standard
library only, so it runs before the virtualenv exists. tools.clients and testbench.registry_builds
(the Go toolchain) use it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

MIRROR = "http://deb.debian.org/debian"
KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")


class DebianError(RuntimeError):
    """Something needed to fetch a package is missing or failed; the message says what to do."""


@dataclass(frozen=True)
class Package:
    name: str
    version: str  # upstream version; the Debian revision may vary
    suite: str  # where this version is found


def fetch(packages: Sequence[Package], root: Path, pins_in: str) -> list[str]:
    """Download and unpack `packages` under `root`; "package debian-version" of each.
    `pins_in` names the file to update when a suite no longer has a pinned version."""
    for tool in ("apt-get", "apt-cache", "dpkg-deb"):
        if shutil.which(tool) is None:
            raise DebianError(f"{tool} is missing: these tools come from Debian packages")
    if not KEYRING.exists():
        raise DebianError(f"{KEYRING} is missing: `apt-get install debian-archive-keyring`")
    suites = sorted({p.suite for p in packages})
    done = []
    with tempfile.TemporaryDirectory(prefix="registry-apt-") as work:
        apt = apt_options(Path(work), suites)
        run(["apt-get", *apt, "update", "-qq"], f"apt-get update of Debian {', '.join(suites)}")
        for package in packages:
            debian_version = newest_revision(apt, package, pins_in)
            run(
                ["apt-get", *apt, "download", "-qq", f"{package.name}={debian_version}"],
                f"downloading {package.name}",
                cwd=work,
            )
            [deb] = Path(work).glob(f"{package.name}_*.deb")
            root.mkdir(parents=True, exist_ok=True)
            run(["dpkg-deb", "-x", str(deb), str(root)], f"unpacking {deb.name}")
            deb.unlink()
            done.append(f"{package.name} {debian_version}")
    return done


def apt_options(work: Path, suites: Sequence[str]) -> list[str]:
    """apt with a state of its own in `work`: the system's sources, lists and dpkg status untouched."""
    (work / "lists" / "partial").mkdir(parents=True)
    (work / "cache" / "archives" / "partial").mkdir(parents=True)
    sources = work / "sources.list"
    sources.write_text("".join(f"deb [signed-by={KEYRING}] {MIRROR} {suite} main\n" for suite in suites))
    return [
        "-o",
        f"Dir::Etc::SourceList={sources}",
        "-o",
        "Dir::Etc::SourceParts=/dev/null",
        "-o",
        f"Dir::State::Lists={work / 'lists'}",
        "-o",
        f"Dir::Cache={work / 'cache'}",
        "-o",
        "Dir::State::status=/dev/null",
        "-o",
        "APT::Get::AllowUnauthenticated=false",
    ]


def newest_revision(apt: list[str], package: Package, pins_in: str) -> str:
    """The newest Debian revision of the package's pinned upstream version, in its suite."""
    table = run(["apt-cache", *apt, "madison", package.name], f"looking up {package.name}").stdout
    pattern = re.compile(rf"^\s*{re.escape(package.name)}\s*\|\s*(\S+)\s*\|.*\s{re.escape(package.suite)}/main\s")
    versions = [m.group(1) for line in table.splitlines() if (m := pattern.match(line))]
    versions = [v for v in versions if re.match(rf"^(\d+:)?{re.escape(package.version)}([-+~]|$)", v)]
    if not versions:
        raise DebianError(
            f"Debian {package.suite} no longer has {package.name} {package.version} (it has: "
            f"{' '.join(line.split('|')[1].strip() for line in table.splitlines() if '|' in line) or 'none'}); "
            f"update its pin in {pins_in} and the README"
        )
    return versions[0]


def run(
    command: list[str], what: str, cwd: str | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Run `command`; DebianError with the end of its output when it fails."""
    done = subprocess.run(command, capture_output=True, text=True, cwd=cwd, timeout=timeout, check=False)
    if done.returncode != 0:
        raise DebianError(f"{what} failed ({done.returncode}): {(done.stderr or done.stdout).strip()[-1000:]}")
    return done
