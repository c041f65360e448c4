"""The aws target's pure pieces: secret-free rendering, the container start script, CIDR plan, chains."""

from __future__ import annotations

import ipaddress
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.aws.certificate import split_chain
from components.aws.network import subnet_cidrs
from components.aws.service import start_script
from components.renderers.distribution import (
    SECRET_ENV,
    RedisBackend,
    RedisTls,
    S3Backend,
    render_distribution_config,
)
from tests.conftest import RunStack

S3 = S3Backend(bucket="b", region="eu-west-1")


def render(**kwargs: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "version": "3",
        "s3": S3,
        "redis": RedisBackend(address="r:6379", tls=RedisTls("/c.pem", "/k.pem")),
        "upload_purging_age_hours": 168,
        "upload_purging_interval_hours": 24,
    }
    args.update(kwargs)
    config: dict[str, Any] = yaml.safe_load(render_distribution_config(**args))
    return config


def test_secrets_in_env_leaves_both_secrets_out() -> None:
    config = render(secrets_in_env=True)
    assert "secret" not in config["http"]
    assert "password" not in config["redis"]
    assert config["redis"]["tls"] == {"certificate": "/c.pem", "key": "/k.pem"}


def test_default_rendering_still_embeds_the_secrets() -> None:
    config = render(
        http_secret="h" * 64, redis=RedisBackend(address="r:6379", password="p" * 48, tls=RedisTls("/c.pem", "/k.pem"))
    )
    assert config["http"]["secret"] == "h" * 64
    assert config["redis"]["password"] == "p" * 48
    with pytest.raises(ValueError, match="http_secret must not be empty"):
        render()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"http_secret": "h" * 64},
        {"redis": RedisBackend(address="r:6379", password="p" * 48, tls=RedisTls("/c.pem", "/k.pem"))},
    ],
)
def test_secrets_in_env_refuses_a_secret_that_would_land_in_the_file(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="SECRET_ENV"):
        render(secrets_in_env=True, **kwargs)


def test_secret_env_names_match_each_versions_config_structure() -> None:
    # 3.x: the Redis options are an inlined struct named Options; 2.x has the password directly
    assert SECRET_ENV["3"] == {
        "http_secret": "REGISTRY_HTTP_SECRET",
        "redis_password": "REGISTRY_REDIS_OPTIONS_PASSWORD",
        # Proxy is a plain struct field (configuration.go `Proxy`), so the Go field path is PROXY_PASSWORD
        "proxy_password": "REGISTRY_PROXY_PASSWORD",
    }
    assert SECRET_ENV["2"]["redis_password"] == "REGISTRY_REDIS_PASSWORD"
    assert SECRET_ENV["2"]["proxy_password"] == "REGISTRY_PROXY_PASSWORD"


def test_start_script_writes_files_privately_and_execs(tmp_path: Path) -> None:
    public, private = tmp_path / "a.conf", tmp_path / "key.pem"
    marker = tmp_path / "exec"
    script = start_script(
        {"A_CONF": str(public), "KEY": str(private)},
        f"sh -c 'env > {marker}'",
        private=frozenset({"KEY"}),
    )
    environment = {"PATH": os.environ["PATH"], "A_CONF": "line 1\n$not_expanded 100%s\n", "KEY": "secret\n"}
    subprocess.run(["/bin/sh", "-c", script], env=environment, check=True)
    assert public.read_text() == "line 1\n$not_expanded 100%s\n"
    assert private.read_text() == "secret\n"
    assert (public.stat().st_mode & 0o777, private.stat().st_mode & 0o777) == (0o644, 0o600)
    served_env = marker.read_text()
    assert "A_CONF=" not in served_env and "KEY=" not in served_env, "the server does not inherit them"


def test_start_script_stops_when_a_variable_is_missing(tmp_path: Path) -> None:
    script = start_script({"MISSING": str(tmp_path / "x")}, "true")
    result = subprocess.run(["/bin/sh", "-c", script], env={"PATH": os.environ["PATH"]}, capture_output=True)
    assert result.returncode != 0


@pytest.mark.parametrize("zones", [2, 3])
def test_subnet_plan_is_disjoint_and_inside_the_vpc(zones: int) -> None:
    private, public = subnet_cidrs("10.42.0.0/16", zones)
    assert len(private) == len(public) == zones
    vpc = ipaddress.IPv4Network("10.42.0.0/16")
    nets = [ipaddress.IPv4Network(c) for c in private + public]
    assert all(n.subnet_of(vpc) for n in nets)
    assert not any(a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1 :])
    assert all(ipaddress.IPv4Network(c).prefixlen == 20 for c in private)  # room for tasks, Redis, ENIs


def test_split_chain_separates_leaf_and_issuers() -> None:
    leaf = "-----BEGIN CERTIFICATE-----\nLEAF\n-----END CERTIFICATE-----\n"
    issuer = "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n"
    assert split_chain(leaf + issuer) == (leaf, issuer)
    assert split_chain(leaf) == (leaf, None)


def test_local_storage_keeps_its_resource_names(run_stack: RunStack) -> None:
    """ObjectStorage grew replication; the local target's bucket resources must not be renamed."""
    run = run_stack("local")
    names = sorted(r.name for r in run.resources if r.parent.endswith("::registry-storage"))
    assert names == [
        "registry-storage-bucket",
        "registry-storage-encryption",
        "registry-storage-lifecycle",
        "registry-storage-versioning",
    ]
