"""tools.debian: which Debian revision of a pinned package it takes, from an apt state of its own."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from tools import debian
from tools.debian import DebianError, Package

PINS = "tools/clients.py"

MADISON = """\
      oras |    1.3.3-1 | http://deb.debian.org/debian sid/main amd64 Packages
      oras |    1.3.3-1 | http://deb.debian.org/debian forky/main amd64 Packages
      oras | 1.2.0-1+b9 | http://deb.debian.org/debian trixie/main amd64 Packages
      oras | 1.2.0-1+b7 | http://deb.debian.org/debian trixie/main arm64 Packages
"""


def fake_madison(table: str) -> Any:
    def run(
        command: list[str], what: str, cwd: str | None = None, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        assert command[0] == "apt-cache" and command[-2:] == ["madison", "oras"]
        return subprocess.CompletedProcess(command, 0, table, "")

    return run


def test_the_newest_revision_of_the_pinned_version_in_its_suite_is_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(debian, "run", fake_madison(MADISON))
    assert debian.newest_revision([], Package("oras", "1.2.0", "trixie"), PINS) == "1.2.0-1+b9"
    assert debian.newest_revision([], Package("oras", "1.3.3", "sid"), PINS) == "1.3.3-1"


def test_a_pin_the_suite_no_longer_has_fails_naming_what_it_has(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(debian, "run", fake_madison(MADISON))
    with pytest.raises(DebianError, match=r"no longer has oras 1\.2\.1 \(it has: 1\.3\.3-1 1\.3\.3-1 1\.2\.0-1\+b9"):
        debian.newest_revision([], Package("oras", "1.2.1", "trixie"), PINS)
    with pytest.raises(DebianError, match=r"update its pin in tools/clients\.py"):
        debian.newest_revision([], Package("oras", "1.2", "trixie"), PINS)  # 1.2 is not 1.2.0


def test_apt_gets_a_state_of_its_own_and_only_signed_suites(tmp_path: Path) -> None:
    options = debian.apt_options(tmp_path, ["trixie", "trixie-backports"])
    assert f"Dir::State::Lists={tmp_path / 'lists'}" in options and "Dir::State::status=/dev/null" in options
    assert "APT::Get::AllowUnauthenticated=false" in options
    assert (tmp_path / "sources.list").read_text().splitlines() == [
        f"deb [signed-by={debian.KEYRING}] http://deb.debian.org/debian {suite} main"
        for suite in ("trixie", "trixie-backports")
    ]
