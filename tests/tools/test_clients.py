"""tools.clients: the pinned clients and where tests find them (apt itself: tests/tools/test_debian.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools import clients
from tools.clients import CLIENTS, ClientsError, installed_version


def test_the_pins_are_the_clients_the_readme_names() -> None:
    assert [(c.binary, c.package.version) for c in CLIENTS] == [
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
