"""distribution config.yml: the lines that make N instances one registry, for both major versions."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from components.renderers.distribution import RedisBackend, S3Backend, render_distribution_config

S3_LOCAL = S3Backend(
    bucket="registry-abc",
    region="us-east-1",
    endpoint="http://object-store:8333",
    access_key="AKIAEXAMPLE",
    secret_key="s3cr3t",
    encrypt=False,
)


def render(**changes: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "version": "2",
        "http_secret": "the-shared-secret",
        "s3": S3_LOCAL,
        "redis": RedisBackend(address="redis:6379", password="redis-pw"),
        "upload_purging_age_hours": 168,
        "upload_purging_interval_hours": 24,
    } | changes
    parsed: dict[str, Any] = yaml.safe_load(render_distribution_config(**args))
    return parsed


@pytest.mark.parametrize("version", ["2", "3"])
def test_instances_share_secret_storage_and_cache(version: str) -> None:
    cfg = render(version=version)
    assert cfg["version"] == 0.1
    assert cfg["http"]["secret"] == "the-shared-secret"
    assert cfg["http"]["addr"] == ":5000"
    assert cfg["storage"]["s3"]["bucket"] == "registry-abc"
    assert cfg["storage"]["cache"] == {"blobdescriptor": "redis"}
    assert cfg["storage"]["delete"] == {"enabled": True}
    assert cfg["storage"]["redirect"] == {"disable": True}  # clients only reach the edge
    assert cfg["storage"]["maintenance"]["uploadpurging"] == {
        "enabled": True,
        "age": "168h",
        "interval": "24h",
        "dryrun": False,
    }
    assert cfg["storage"]["maintenance"]["readonly"] == {"enabled": False}
    assert cfg["health"]["storagedriver"]["enabled"] is True


def test_version_2_redis_and_s3_shape() -> None:
    cfg = render(version="2")
    assert cfg["redis"]["addr"] == "redis:6379"
    assert cfg["redis"]["password"] == "redis-pw"
    assert "addrs" not in cfg["redis"] and "tls" not in cfg["redis"]
    s3 = cfg["storage"]["s3"]
    assert s3["regionendpoint"] == "http://object-store:8333"
    assert s3["secure"] is False
    assert "forcepathstyle" not in s3  # 2.8 has no such key; regionendpoint implies path style
    assert s3["v4auth"] is True
    assert (s3["accesskey"], s3["secretkey"]) == ("AKIAEXAMPLE", "s3cr3t")


def test_version_3_redis_and_s3_shape() -> None:
    cfg = render(version="3")
    assert cfg["redis"]["addrs"] == ["redis:6379"]
    assert cfg["redis"]["password"] == "redis-pw"
    assert "addr" not in cfg["redis"] and "tls" not in cfg["redis"]  # plaintext unless CAs are given
    assert cfg["storage"]["s3"]["forcepathstyle"] is True
    assert "v4auth" not in cfg["storage"]["s3"]


def tls_is_on(redis: dict[str, Any]) -> bool:
    """distribution v3.1.1 registry/handlers/app.go `configureRedis`: TLS to Redis is on iff
    tls.certificate, tls.key or tls.rootcas is non-empty (configuration/configuration.go
    RedisTLSOptions: certificate, key, rootcas; there is no `enabled` key, an unknown key is
    dropped silently by the YAML decoder)."""
    tls = redis.get("tls", {})
    known = {"certificate", "key", "rootcas"}
    assert set(tls) <= known, f"not keys distribution reads: {set(tls) - known}"
    return bool(tls.get("certificate") or tls.get("key") or tls.get("rootcas"))


def test_version_3_turns_tls_on_by_distributions_own_rule() -> None:
    cfg = render(
        version="3",
        redis=RedisBackend(
            address="master.cache:6379", password="tok", tls_root_cas=("/etc/ssl/certs/ca-certificates.crt",)
        ),
    )
    assert cfg["redis"]["tls"] == {"rootcas": ["/etc/ssl/certs/ca-certificates.crt"]}
    assert tls_is_on(cfg["redis"])
    assert not tls_is_on(render(version="3")["redis"])
    # what the previous rendering did: a key distribution ignores, so TLS stayed off
    assert not tls_is_on({"tls": {}}) and "enabled" not in cfg["redis"]["tls"]


def test_no_debug_listener_publishes_the_configuration() -> None:
    """/debug/vars on http.debug.addr serves the parsed config with its secrets (expvar "registry")."""
    for version in ("2", "3"):
        assert "debug" not in render(version=version)["http"]


def test_aws_s3_uses_the_task_role_and_kms() -> None:
    cfg = render(version="3", s3=S3Backend(bucket="b", region="eu-west-1", kms_key_id="arn:aws:kms:eu-west-1:1:key/k"))
    s3 = cfg["storage"]["s3"]
    assert "accesskey" not in s3 and "secretkey" not in s3 and "regionendpoint" not in s3
    assert s3["encrypt"] is True and s3["keyid"] == "arn:aws:kms:eu-west-1:1:key/k"
    assert s3["region"] == "eu-west-1"


def test_cache_disabled_falls_back_to_inmemory() -> None:
    cfg = render(redis=None)
    assert cfg["storage"]["cache"] == {"blobdescriptor": "inmemory"}
    assert "redis" not in cfg


def test_read_only_window_for_garbage_collection() -> None:
    assert render(read_only=True)["storage"]["maintenance"]["readonly"] == {"enabled": True}


def test_secrets_with_yaml_syntax_survive() -> None:
    assert render(http_secret="a: b # c")["http"]["secret"] == "a: b # c"


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"http_secret": ""}, "http_secret must not be empty"),
        ({"redis": RedisBackend(address="r:6379", tls_root_cas=("/ca.pem",))}, "cannot speak TLS to Redis"),
        ({"s3": S3Backend(bucket="b", region="r", access_key="only-half")}, "go together"),
    ],
)
def test_invalid_combinations_are_refused(changes: dict[str, Any], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        render(**changes)
