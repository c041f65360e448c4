"""The registry clients the data-plane tests prove the registry with: oras, crane, cosign, notation.

    python3 -m tools.clients install    # into .tools/ (what `make system-deps` runs)
    python3 -m tools.clients versions   # what is installed there

They come from Debian's newer suites without touching the system: apt downloads the packages with a
source list, package lists and cache of its own (checked against the suites' signed Release files,
with Debian's archive keyring), and dpkg-deb unpacks them under .tools/root; .tools/bin links the
binaries (static Go programs that need only libc). Each client is pinned to an upstream version; the
newest Debian revision of it is taken (binNMU suffixes differ between architectures). Standard
library only, so it runs before the virtualenv exists.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ROOT / ".tools"
SUITES = ("trixie", "forky", "sid")  # forky and sid carry crane and notation; trixie the rest
MIRROR = "http://deb.debian.org/debian"
KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")


@dataclass(frozen=True)
class Client:
    binary: str
    package: str
    version: str  # upstream version; the Debian revision may vary
    suite: str  # where this version is found (cosign 3 in forky/sid changed the signature layout)


CLIENTS = (
    Client("oras", "oras", "1.2.0", "trixie"),
    Client("cosign", "cosign", "2.5.0", "trixie"),  # 2.x: signatures as sha256-<digest>.sig tags
    Client("crane", "crane", "0.20.7", "forky"),
    Client("notation", "notation", "1.3.2", "forky"),
)


class ClientsError(RuntimeError):
    """Something needed to fetch the clients is missing; the message says what to do."""


def binary(name: str) -> str:
    """The pinned client in .tools/bin, else one on PATH; ClientsError naming the fix."""
    pinned = TOOLS / "bin" / name
    if pinned.exists():
        return str(pinned)
    found = shutil.which(name)
    if found is None:
        raise ClientsError(f"{name} is missing: run `make system-deps` (or `python3 -m tools.clients install`)")
    return found


def install(tools: Path = TOOLS) -> list[str]:
    """Fetch and unpack every client not yet installed at its pinned version; what was done."""
    wanted = [c for c in CLIENTS if installed_version(tools, c) != c.version]
    if not wanted:
        return [f"{c.binary} {c.version}: already in {tools / 'bin'}" for c in CLIENTS]
    for tool in ("apt-get", "apt-cache", "dpkg-deb"):
        if shutil.which(tool) is None:
            raise ClientsError(
                f"{tool} is missing: the clients come from Debian packages; on another system install "
                "oras, crane, cosign and notation yourself (README, Real clients)"
            )
    if not KEYRING.exists():
        raise ClientsError(f"{KEYRING} is missing: `apt-get install debian-archive-keyring`")
    done = []
    with tempfile.TemporaryDirectory(prefix="registry-clients-") as work:
        apt = _apt_options(Path(work))
        _run(["apt-get", *apt, "update", "-qq"], "apt-get update of Debian's newer suites")
        for client in wanted:
            debian_version = _debian_version(apt, client)
            _run(
                ["apt-get", *apt, "download", "-qq", f"{client.package}={debian_version}"],
                f"downloading {client.package}",
                cwd=work,
            )
            [deb] = Path(work).glob(f"{client.package}_*.deb")
            (tools / "root").mkdir(parents=True, exist_ok=True)
            _run(["dpkg-deb", "-x", str(deb), str(tools / "root")], f"unpacking {deb.name}")
            deb.unlink()
            link = tools / "bin" / client.binary
            link.parent.mkdir(parents=True, exist_ok=True)
            link.unlink(missing_ok=True)
            link.symlink_to(tools / "root" / "usr" / "bin" / client.binary)
            (tools / "bin" / f".{client.binary}.version").write_text(client.version)
            done.append(f"{client.binary} {client.version} ({client.package} {debian_version}): {link}")
    return done


def installed_version(tools: Path, client: Client) -> str | None:
    stamp = tools / "bin" / f".{client.binary}.version"
    if not (tools / "bin" / client.binary).exists() or not stamp.exists():
        return None
    return stamp.read_text().strip()


def _apt_options(work: Path) -> list[str]:
    """apt with a state of its own in `work`: the system's sources, lists and dpkg status untouched."""
    (work / "lists" / "partial").mkdir(parents=True)
    (work / "cache" / "archives" / "partial").mkdir(parents=True)
    sources = work / "sources.list"
    sources.write_text("".join(f"deb [signed-by={KEYRING}] {MIRROR} {suite} main\n" for suite in SUITES))
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


def _debian_version(apt: list[str], client: Client) -> str:
    """The newest Debian revision of the client's pinned upstream version, in its suite."""
    table = _run(["apt-cache", *apt, "madison", client.package], f"looking up {client.package}").stdout
    pattern = re.compile(rf"^\s*{re.escape(client.package)}\s*\|\s*(\S+)\s*\|.*\s{client.suite}/main\s")
    versions = [m.group(1) for line in table.splitlines() if (m := pattern.match(line))]
    versions = [v for v in versions if re.match(rf"^(\d+:)?{re.escape(client.version)}([-+~]|$)", v)]
    if not versions:
        raise ClientsError(
            f"Debian {client.suite} no longer has {client.package} {client.version} (it has: "
            f"{' '.join(line.split('|')[1].strip() for line in table.splitlines() if '|' in line) or 'none'}); "
            "update its pin in tools/clients.py and the README"
        )
    return versions[0]


def _run(command: list[str], what: str, cwd: str | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, capture_output=True, text=True, cwd=cwd, timeout=600, check=False)
    if done.returncode != 0:
        raise ClientsError(f"{what} failed ({done.returncode}): {(done.stderr or done.stdout).strip()[-1000:]}")
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m tools.clients", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("install", "versions"))
    args = parser.parse_args(argv)
    try:
        if args.command == "install":
            print("\n".join(install()))
        else:
            for client in CLIENTS:
                print(
                    f"{client.binary}: {installed_version(TOOLS, client) or 'not installed'} (pinned {client.version})"
                )
    except ClientsError as err:
        print(f"clients: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
