"""Generated credentials: strong, stable, hashed for the edge, split by access, always secret."""

from __future__ import annotations

import pytest

from components.renderers.htpasswd import sha512_crypt
from tests.conftest import ROOT
from tools.mock_program import ProgramRun, Secret, run_program, unwrap


@pytest.fixture(scope="module")
def local() -> ProgramRun:
    return run_program(ROOT, "local")


def test_one_strong_password_and_salt_per_user(local: ProgramRun) -> None:
    for user in ("ci", "dev"):
        password = local.named(f"registry-credentials-{user}-password")
        assert password.inputs["length"] == 32 and password.inputs["special"] is False
        assert isinstance(password.outputs["result"], Secret)
        salt = local.named(f"registry-credentials-{user}-salt")
        assert salt.inputs["length"] == 16 and salt.inputs["special"] is False
    assert local.named("registry-credentials-http-secret").inputs["length"] == 64


def test_htpasswd_hashes_verify_the_generated_passwords(local: ProgramRun) -> None:
    uploads = {u["file"]: u["content"] for u in unwrap(local.named("registry-edge").inputs["uploads"])}
    lines = dict(line.split(":", 1) for line in uploads["/etc/nginx/auth/htpasswd"].splitlines())
    for user in ("ci", "dev"):
        password = unwrap(local.named(f"registry-credentials-{user}-password").outputs["result"])
        salt = unwrap(local.named(f"registry-credentials-{user}-salt").outputs["result"])
        assert lines[user] == sha512_crypt(password, salt)


def test_credentials_component_parents_every_secret(local: ProgramRun) -> None:
    component = local.named("registry-credentials")
    assert component.type == "registry:credentials:Credentials"
    children = {r.name for r in local.children_of(component)}
    assert children == {
        "registry-credentials-admin-password",
        "registry-credentials-admin-salt",
        "registry-credentials-ci-password",
        "registry-credentials-ci-salt",
        "registry-credentials-dev-password",
        "registry-credentials-dev-salt",
        "registry-credentials-http-secret",
        "registry-credentials-redis-password",
        "registry-credentials-object-store-access-key",
        "registry-credentials-object-store-secret-key",
        "registry-credentials-object-store-sse-key",
        "registry-credentials-object-store-admin-password",
    }
