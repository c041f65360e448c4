"""tools.verify passes against a working deployment and fails when it should."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from testbench.sandbox import ROOT, Sandbox, SandboxUser, write_certificates
from tools.verify import Credentials, run_checks

pytestmark = pytest.mark.dataplane
ALL_CHECKS = {
    "tls",
    "anonymous-refused",
    "wrong-password-refused",
    "login",
    "push",
    "pull",
    "pull-only-user-pulls",
    "pull-only-user-cannot-push",
    "cleanup",
}


def run_verify_cli(sandbox: Sandbox, password: str, ca_file: Path, pull_password_file: Path) -> tuple[int, dict]:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.verify",
            sandbox.url,
            "--user",
            sandbox.user("admin").name,
            "--password-stdin",
            "--ca",
            str(ca_file),
            "--pull-user",
            sandbox.user("pull").name,
            "--pull-password-file",
            str(pull_password_file),
            "--json",
        ],
        input=password + "\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    return done.returncode, json.loads(done.stdout)


@pytest.fixture
def pull_password_file(reader: SandboxUser, tmp_path: Path) -> Path:
    path = tmp_path / "pull-password"
    path.write_text(reader.password + "\n")
    return path


def test_every_check_passes_against_the_sandbox(
    sandbox: Sandbox, admin: SandboxUser, pusher: SandboxUser, reader: SandboxUser
) -> None:
    for user, cleanup in ((admin, "deleted"), (pusher, "this user may not delete verify/smoke")):
        results = run_checks(
            sandbox.url,
            Credentials(user.name, user.password),
            ca_file=sandbox.ca_file,
            pull=Credentials(reader.name, reader.password),
        )
        assert {r.name for r in results} == ALL_CHECKS
        assert [r for r in results if not r.ok] == []
        assert cleanup in next(r.detail for r in results if r.name == "cleanup")


def test_cli_exits_zero_when_everything_works(sandbox: Sandbox, admin: SandboxUser, pull_password_file: Path) -> None:
    status, report = run_verify_cli(sandbox, admin.password, sandbox.ca_file, pull_password_file)
    assert status == 0, report
    assert report["ok"] is True
    assert {c["name"] for c in report["checks"] if c["ok"]} == ALL_CHECKS


def test_cli_fails_with_another_ca(
    sandbox: Sandbox, admin: SandboxUser, pull_password_file: Path, tmp_path: Path
) -> None:
    write_certificates(
        tmp_path / "other",
        common_name="localhost",
        dns_names=["localhost"],
        ip_addresses=["127.0.0.1"],
        validity_days=1,
    )
    status, report = run_verify_cli(sandbox, admin.password, tmp_path / "other" / "ca.crt", pull_password_file)
    assert status == 1
    checks = {c["name"]: c for c in report["checks"]}
    assert not checks["tls"]["ok"]
    assert "certificate verify failed" in checks["tls"]["detail"]
    assert not any(c["ok"] for c in report["checks"])


def test_cli_fails_with_a_wrong_password(sandbox: Sandbox, admin: SandboxUser, pull_password_file: Path) -> None:
    status, report = run_verify_cli(sandbox, admin.password + "x", sandbox.ca_file, pull_password_file)
    assert status == 1
    checks = {c["name"]: c["ok"] for c in report["checks"]}
    assert checks["tls"] and checks["anonymous-refused"] and checks["pull-only-user-cannot-push"]
    assert not checks["login"] and not checks["push"] and not checks["pull"]
