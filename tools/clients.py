"""The registry clients the data-plane tests prove the registry with: oras, crane, cosign, notation.

    python3 -m tools.clients install    # into .tools/ (what `make system-deps` runs)
    python3 -m tools.clients versions   # what is installed there

They come from Debian's newer suites without touching the system (tools.debian: an apt state of
its own, signed suites) and are unpacked under .tools/root; .tools/bin links the binaries (static
Go programs that need only libc). Each client is pinned to an upstream version. Standard library
only, so it runs before the virtualenv exists.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from tools.debian import DebianError, Package, fetch

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ROOT / ".tools"


@dataclass(frozen=True)
class Client:
    binary: str
    package: Package  # forky and sid carry crane and notation; trixie the rest


CLIENTS = (
    Client("oras", Package("oras", "1.2.0", "trixie")),
    Client("cosign", Package("cosign", "2.5.0", "trixie")),  # 2.x: signatures as sha256-<digest>.sig tags
    Client("crane", Package("crane", "0.20.7", "forky")),
    Client("notation", Package("notation", "1.3.2", "forky")),
)


class ClientsError(RuntimeError):
    """A client is missing or could not be fetched; the message says what to do."""


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
    wanted = [c for c in CLIENTS if installed_version(tools, c) != c.package.version]
    if not wanted:
        return [f"{c.binary} {c.package.version}: already in {tools / 'bin'}" for c in CLIENTS]
    try:
        fetched = fetch([c.package for c in wanted], tools / "root", pins_in="tools/clients.py")
    except DebianError as err:
        raise ClientsError(
            f"{err} (on a system without apt, install oras, crane, cosign and notation yourself: README, Real clients)"
        ) from None
    done = []
    for client, debian in zip(wanted, fetched, strict=True):
        link = tools / "bin" / client.binary
        link.parent.mkdir(parents=True, exist_ok=True)
        link.unlink(missing_ok=True)
        link.symlink_to(tools / "root" / "usr" / "bin" / client.binary)
        (tools / "bin" / f".{client.binary}.version").write_text(client.package.version)
        done.append(f"{client.binary} {client.package.version} ({debian}): {link}")
    return done


def installed_version(tools: Path, client: Client) -> str | None:
    stamp = tools / "bin" / f".{client.binary}.version"
    if not (tools / "bin" / client.binary).exists() or not stamp.exists():
        return None
    return stamp.read_text().strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m tools.clients", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("command", choices=("install", "versions"))
    args = parser.parse_args(argv)
    try:
        if args.command == "install":
            print("\n".join(install()))
        else:
            for client in CLIENTS:
                installed = installed_version(TOOLS, client) or "not installed"
                print(f"{client.binary}: {installed} (pinned {client.package.version})")
    except ClientsError as err:
        print(f"clients: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
