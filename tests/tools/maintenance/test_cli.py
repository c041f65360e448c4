"""The command line: what retention needs before it touches a stack."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from testbench.sandbox import write_certificates
from tests.tools.maintenance.test_site import LOCAL
from tools.maintenance import main
from tools.maintenance.cli import registry_api


def test_retention_on_a_stack_needs_a_push_users_credentials(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REGISTRY_USERNAME", raising=False)
    monkeypatch.delenv("REGISTRY_PASSWORD", raising=False)
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"maintenance": {**LOCAL, "retention": {"keepTagged": 3}}}))
    assert main(["retention", "--dry-run", "--outputs", str(outputs)]) == 1
    assert "set REGISTRY_USERNAME and REGISTRY_PASSWORD" in capsys.readouterr().err


def test_a_stacks_registry_api_is_its_edge_trusting_the_stacks_ca(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_certificates(tmp_path, common_name="localhost", dns_names=["localhost"], ip_addresses=[], validity_days=1)
    monkeypatch.setenv("REGISTRY_USERNAME", "ci")
    monkeypatch.setenv("REGISTRY_PASSWORD", "pw")
    target = {**LOCAL, "registryUrl": "https://localhost:5443", "caCertificate": (tmp_path / "ca.crt").read_text()}
    api = registry_api(target)
    assert str(api.client.base_url) == "https://localhost:5443"
    assert api.client.auth is not None


def test_with_stack_the_first_admin_of_the_stack_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A `pulumi` shim answers as the CLI would for `stack output --json --show-secrets`."""
    write_certificates(tmp_path, common_name="localhost", dns_names=["localhost"], ip_addresses=[], validity_days=1)
    outputs = {
        "users": [
            {"name": "dev", "access": "pull"},
            {"name": "ci", "access": "push"},
            {"name": "ops", "access": "admin"},
        ],
        "passwords": {"dev": "pull-pw", "ci": "push-pw", "ops": "admin-pw"},
    }
    shim = tmp_path / "pulumi"
    shim.write_text('#!/bin/sh\ncase "$*" in *--show-secrets*) cat "$(dirname "$0")/outputs.json";; *) exit 3;; esac\n')
    shim.chmod(0o755)
    (tmp_path / "outputs.json").write_text(json.dumps(outputs))
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    monkeypatch.delenv("REGISTRY_USERNAME", raising=False)
    monkeypatch.delenv("REGISTRY_PASSWORD", raising=False)
    target = {**LOCAL, "registryUrl": "https://localhost:5443", "caCertificate": (tmp_path / "ca.crt").read_text()}
    api = registry_api(target, stack="local")
    request = api.client.build_request("GET", "/v2/")
    auth = next(api.client.auth.sync_auth_flow(request))  # type: ignore[union-attr]
    assert auth.headers["Authorization"] == "Basic " + base64.b64encode(b"ops:admin-pw").decode()
