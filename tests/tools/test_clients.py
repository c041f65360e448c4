"""tools.clients: which Debian revision of a pinned client it takes, and where tests find clients."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from tools import clients
from tools.clients import CLIENTS, Client, ClientsError, installed_version

MADISON = """\
      oras |    1.3.3-1 | http://deb.debian.org/debian sid/main amd64 Packages
      oras |    1.3.3-1 | http://deb.debian.org/debian forky/main amd64 Packages
      oras | 1.2.0-1+b9 | http://deb.debian.org/debian trixie/main amd64 Packages
      oras | 1.2.0-1+b7 | http://deb.debian.org/debian trixie/main arm64 Packages
"""


def fake_madison(table: str) -> Any:
    def run(command: list[str], what: str, cwd: str | None = None) -> subprocess.CompletedProcess[str]:
        assert command[0] == "apt-cache" and command[-2:] == ["madison", "oras"]
        return subprocess.CompletedProcess(command, 0, table, "")

    return run


def test_the_newest_revision_of_the_pinned_version_in_its_suite_is_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clients, "_run", fake_madison(MADISON))
    assert clients._debian_version([], Client("oras", "oras", "1.2.0", "trixie")) == "1.2.0-1+b9"
    assert clients._debian_version([], Client("oras", "oras", "1.3.3", "sid")) == "1.3.3-1"


def test_a_pin_the_suite_no_longer_has_fails_naming_what_it_has(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clients, "_run", fake_madison(MADISON))
    with pytest.raises(ClientsError, match=r"no longer has oras 1\.2\.1 \(it has: 1\.3\.3-1 1\.3\.3-1 1\.2\.0-1\+b9"):
        clients._debian_version([], Client("oras", "oras", "1.2.1", "trixie"))
    with pytest.raises(ClientsError, match=r"update its pin in tools/clients\.py"):
        clients._debian_version([], Client("oras", "oras", "1.2", "trixie"))  # 1.2 is not 1.2.0


def test_apt_gets_a_state_of_its_own_and_only_signed_suites(tmp_path: Path) -> None:
    options = clients._apt_options(tmp_path)
    assert f"Dir::State::Lists={tmp_path / 'lists'}" in options and "Dir::State::status=/dev/null" in options
    assert (tmp_path / "sources.list").read_text().splitlines() == [
        f"deb [signed-by={clients.KEYRING}] http://deb.debian.org/debian {suite} main" for suite in clients.SUITES
    ]


def test_the_pins_are_the_clients_the_readme_names() -> None:
    assert [(c.binary, c.version) for c in CLIENTS] == [
        ("oras", "1.2.0"),
        ("cosign", "2.5.0"),  # 2.x keeps signatures as sha256-<digest>.sig tags
        ("crane", "0.20.7"),
        ("notation", "1.3.2"),
    ]


def test_pinned_clients_come_first_and_a_missing_one_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(clients, "TOOLS", tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ClientsError, match="run `make system-deps`"):
        clients.binary("oras")
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "oras").write_text("#!/bin/sh\n")
    assert clients.binary("oras") == str(tmp_path / "bin" / "oras")
    assert installed_version(tmp_path, CLIENTS[0]) is None  # no version stamp: installed again
    (tmp_path / "bin" / ".oras.version").write_text("1.2.0")
    assert installed_version(tmp_path, CLIENTS[0]) == "1.2.0"
