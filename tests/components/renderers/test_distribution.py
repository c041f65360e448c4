"""distribution config.yml: the lines that make N instances one registry, for both major versions."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.config import LocalSettings, load_settings
from components.config.notifications import Notification
from components.renderers.distribution import (
    BLOB_EVENT_MEDIA_TYPE,
    ProxyUpstream,
    RedisBackend,
    RedisTls,
    S3Backend,
    local_registry_config,
    mirror_root,
    mirror_serve_script,
    notification_header_environment,
    render_distribution_config,
)

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
    assert "addr" not in cfg["redis"] and "tls" not in cfg["redis"]  # plaintext unless a client pair is given
    assert cfg["storage"]["s3"]["forcepathstyle"] is True
    assert "v4auth" not in cfg["storage"]["s3"]


def tls_is_on(redis: dict[str, Any]) -> bool:
    """distribution v3.0.0 registry/handlers/app.go `configureRedis`: TLS to Redis is on iff
    tls.certificate or tls.key is non-empty, and then both must name a key pair (LoadX509KeyPair,
    a panic otherwise). configuration/configuration.go `Redis.UnmarshalYAML` reads certificate, key
    and clientcas of `tls` and drops every other key silently (`rootcas` is 3.1's, `enabled` no one's)."""
    tls = redis.get("tls", {})
    known = {"certificate", "key", "clientcas"}
    assert set(tls) <= known, f"not keys distribution 3.0.0 reads: {set(tls) - known}"
    assert bool(tls.get("certificate")) == bool(tls.get("key")), "3.0.0 needs both halves of the pair"
    return bool(tls.get("certificate") or tls.get("key"))


def test_version_3_turns_tls_on_by_distributions_own_rule() -> None:
    pair = RedisTls(certificate="/etc/distribution/redis-client.crt", key="/etc/distribution/redis-client.key")
    cfg = render(version="3", redis=RedisBackend(address="master.cache:6379", password="tok", tls=pair))
    assert cfg["redis"]["tls"] == {
        "certificate": "/etc/distribution/redis-client.crt",
        "key": "/etc/distribution/redis-client.key",
    }
    assert tls_is_on(cfg["redis"])
    assert not tls_is_on(render(version="3")["redis"])
    # what 3.1-only and made-up keys would do on 3.0.0: nothing, TLS stays off
    with pytest.raises(AssertionError, match=r"not keys distribution 3\.0\.0 reads"):
        tls_is_on({"tls": {"rootcas": ["/ca.pem"]}})
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
        ({"redis": RedisBackend(address="r:6379", tls=RedisTls("/c.pem", "/k.pem"))}, "cannot speak TLS to Redis"),
        ({"s3": S3Backend(bucket="b", region="r", access_key="only-half")}, "go together"),
        ({"proxy": ProxyUpstream(remote_url="https://quay.io", ttl_hours=24)}, "no proxy.ttl"),
        (
            {
                "version": "3",
                "secrets_in_env": True,
                "http_secret": None,
                "proxy": ProxyUpstream("https://x", "u", "p"),
            },
            "SECRET_ENV",
        ),
    ],
)
def test_invalid_combinations_are_refused(changes: dict[str, Any], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        render(**changes)


# ---------------------------------------------------------------- mirrors (proxy mode)


def test_a_proxy_section_as_configuration_go_reads_it() -> None:
    proxy = render(version="3", proxy=ProxyUpstream("https://registry-1.docker.io", "someone", "dckr_pat_x", 24))[
        "proxy"
    ]
    # a Go duration: `ttl: 24` would be 24 nanoseconds (yaml.v2 decodes durations with time.ParseDuration)
    assert proxy == {
        "remoteurl": "https://registry-1.docker.io",
        "username": "someone",
        "password": "dckr_pat_x",
        "ttl": "24h",
    }
    assert render(proxy=ProxyUpstream("https://quay.io"))["proxy"] == {"remoteurl": "https://quay.io"}
    assert "proxy" not in render()


def mirror_config(version: str, **mirror: Any) -> dict[str, Any]:
    settings = load_settings(
        {
            "registry:target": "local",
            "registry:version": version,
            "registry:mirrors": json.dumps([{"name": "docker-hub", "upstream": "docker.io", **mirror}]),
        },
        frozenset({"registry:mirrors"}),
    )
    assert isinstance(settings, LocalSettings)
    [hub] = settings.mirrors
    text = local_registry_config(
        settings,
        http_secret="s",
        bucket="b",
        s3_keys=("AK", "SK"),
        redis_password="rp",
        mirror=(2, hub),
    )
    parsed: dict[str, Any] = yaml.safe_load(text)
    return parsed


def test_a_mirror_keeps_its_cache_apart_from_the_registry_and_the_other_mirrors() -> None:
    config = mirror_config("3", username="someone", accessToken="dckr_pat_x", ttlHours=48)
    assert config["storage"]["s3"]["rootdirectory"] == mirror_root("docker-hub") == "/mirrors/docker-hub"
    assert config["redis"]["db"] == 3  # mirror index 2; database 0 is the registry's
    assert config["storage"]["delete"] == {"enabled": True}  # without it nothing ever expires (linkedBlobStore.Delete)
    assert config["proxy"] == {
        "remoteurl": "https://registry-1.docker.io",
        "username": "someone",
        "password": "dckr_pat_x",
        "ttl": "48h",
    }


def test_version_2_gets_no_ttl_and_3_gets_distributions_default_written_out() -> None:
    assert "ttl" not in mirror_config("2")["proxy"]
    assert mirror_config("3")["proxy"]["ttl"] == "168h"


FAKE_REGISTRY = """#!/bin/sh
# fails its first two starts (an upstream that does not answer), then serves until SIGTERM
n=$(($(cat "$STATE/count" 2>/dev/null || echo 0) + 1)); echo "$n" > "$STATE/count"
echo "start $n $*" >> "$STATE/log"
[ "$n" -le 2 ] && exit 1
trap 'echo "stopped gracefully" >> "$STATE/log"; exit 0' TERM
while :; do sleep 0.1; done
"""


@pytest.mark.parametrize("shell", [["/bin/sh"], ["busybox", "sh"]])  # the images' shell is busybox ash
def test_a_mirror_is_started_again_until_it_stays_up_and_stops_gracefully(shell: list[str], tmp_path: Path) -> None:
    fake = tmp_path / "registry"
    fake.write_text(FAKE_REGISTRY)
    fake.chmod(0o755)
    script = mirror_serve_script("/etc/distribution/config.yml", registry=str(fake), retry_seconds=1)
    running = subprocess.Popen([*shell, "-c", script], env={"STATE": str(tmp_path), "PATH": os.environ["PATH"]})
    deadline = time.monotonic() + 20
    while "start 3" not in ((tmp_path / "log").read_text() if (tmp_path / "log").exists() else ""):
        assert time.monotonic() < deadline and running.poll() is None
        time.sleep(0.1)
    time.sleep(0.3)
    running.terminate()
    assert running.wait(timeout=10) == 0
    assert (tmp_path / "log").read_text().splitlines() == [
        "start 1 serve /etc/distribution/config.yml",
        "start 2 serve /etc/distribution/config.yml",
        "start 3 serve /etc/distribution/config.yml",
        "stopped gracefully",
    ]


HOOK = Notification(
    name="ci", url="https://hooks.example.com/e", headers={"Authorization": "Bearer t"}, events=["push"], timeout=3
)


def test_notifications_as_configuration_go_reads_them() -> None:
    assert render(notifications=[HOOK])["notifications"] == {
        "events": {"includereferences": True},
        "endpoints": [
            {
                "name": "ci",
                "url": "https://hooks.example.com/e",
                "headers": {"Authorization": ["Bearer t"]},  # http.Header: a list per name
                "timeout": "3s",
                "threshold": 5,
                "backoff": "10s",
                # blobs ignored (manifest events only); on 3.0.0 that is also what makes `actions` work
                "ignore": {"mediatypes": [BLOB_EVENT_MEDIA_TYPE], "actions": ["pull", "delete", "mount"]},
            }
        ],
    }
    assert "notifications" not in render()


def test_with_secrets_in_env_the_headers_travel_as_variables() -> None:
    rendered = render(notifications=[HOOK], secrets_in_env=True, http_secret=None, redis=RedisBackend(address="r:6379"))
    [endpoint] = rendered["notifications"]["endpoints"]
    assert "headers" not in endpoint
    two = HOOK.model_copy(update={"headers": {"Authorization": 'Bearer "q"', "X-Api-Key": "k"}})
    plain = HOOK.model_copy(update={"headers": {}})
    environment = notification_header_environment([HOOK, plain, two])
    assert environment == {
        "REGISTRY_NOTIFICATIONS_ENDPOINTS_0_HEADERS": '{"Authorization": ["Bearer t"]}',
        "REGISTRY_NOTIFICATIONS_ENDPOINTS_2_HEADERS": '{"Authorization": ["Bearer \\"q\\""], "X-Api-Key": ["k"]}',
    }
    # distribution parses the value as YAML; every name survives a shell (no "-" in it)
    assert yaml.safe_load(environment["REGISTRY_NOTIFICATIONS_ENDPOINTS_2_HEADERS"])["Authorization"] == ['Bearer "q"']
    assert all(re.fullmatch(r"[A-Z0-9_]+", name) for name in environment)


def test_the_local_registries_send_notifications_and_mirrors_do_not() -> None:
    settings = load_settings(
        {
            "registry:target": "local",
            "registry:notifications": json.dumps([{"name": "ci", "url": "https://hooks.example.com/e"}]),
            "registry:mirrors": json.dumps([{"name": "docker-hub", "upstream": "docker.io"}]),
        }
    )
    assert isinstance(settings, LocalSettings)
    common: dict[str, Any] = {"http_secret": "s", "bucket": "b", "s3_keys": ("AK", "SK"), "redis_password": "rp"}
    registry = yaml.safe_load(local_registry_config(settings, **common))
    mirror = yaml.safe_load(local_registry_config(settings, **common, mirror=(0, settings.mirrors[0])))
    assert [e["name"] for e in registry["notifications"]["endpoints"]] == ["ci"]
    assert "notifications" not in mirror
