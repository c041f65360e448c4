"""registry:mirrors on the self-hosted targets: each case changes one thing from a minimal valid config."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.config import AwsSettings, ConfigError, LocalSettings, load_settings
from components.config.mirrors import DEFAULT_TTL_HOURS, DOCKER_HUB_MIRROR_PORT, MAX_MIRRORS
from tests.conftest import refused_run

HUB = {"name": "docker-hub", "upstream": "docker.io"}
CORP = {"name": "corp", "upstream": "https://registry.corp.example:5000"}
PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
TARGETS = {
    "local": {"registry:target": "local"},
    "aws": {
        "registry:target": "aws",
        "registry:domain": "registry.example.com",
        "registry:allowedCidrs": '["10.0.0.0/8"]',
    },
}


def load(target: str = "local", secret: bool = True, **changes: Any) -> Any:
    raw = dict(TARGETS[target])
    raw |= {f"registry:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in changes.items()}
    return load_settings(raw, frozenset({"registry:mirrors"}) if secret else frozenset())


def problem(target: str = "local", **changes: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        load(target, **changes)
    [found] = caught.value.problems
    return found


def test_known_upstreams_are_fetched_from_their_api_hosts_and_urls_as_given() -> None:
    s = load(mirrors=[HUB, CORP, {"name": "ghcr", "upstream": "ghcr.io"}])
    assert isinstance(s, LocalSettings)
    assert [m.remote_url for m in s.mirrors] == [
        "https://registry-1.docker.io",
        "https://registry.corp.example:5000",
        "https://ghcr.io",
    ]
    assert [m.namespace for m in s.mirrors] == ["docker.io", "registry.corp.example:5000", "ghcr.io"]


def test_only_docker_hub_gets_a_root_port_by_default_and_the_ttl_defaults_to_distributions() -> None:
    hub, corp = load(mirrors=[HUB, CORP]).mirrors
    assert (hub.root_port, corp.root_port) == (DOCKER_HUB_MIRROR_PORT, None)
    assert load(mirrors=[{**CORP, "port": 5450}]).mirrors[0].root_port == 5450
    assert (hub.ttl, hub.anonymous) == (DEFAULT_TTL_HOURS, False)


def test_aws_takes_mirrors_too() -> None:
    s = load("aws", mirrors=[HUB, {**CORP, "ttlHours": 24}])
    assert isinstance(s, AwsSettings) and [m.ttl for m in s.mirrors] == [DEFAULT_TTL_HOURS, 24]


ONE_CHANGE = [
    pytest.param(
        "local", {"mirrors": [{**HUB, "name": "Docker_Hub"}]}, "mirrors[0].name", "not a mirror name", id="name"
    ),
    pytest.param("local", {"mirrors": [HUB, HUB]}, "mirrors", "listed twice", id="twice"),
    pytest.param(
        "local",
        {"mirrors": [{**CORP, "upstream": "http://registry.corp.example"}]},
        "mirrors[0].upstream",
        "plain http is refused",
        id="plain-http",
    ),
    pytest.param(
        "local",
        {"mirrors": [{**CORP, "upstream": "https://registry.corp.example/v2"}]},
        "mirrors[0].upstream",
        "no path",
        id="url-path",
    ),
    pytest.param(
        "local",
        {"mirrors": [{**CORP, "upstream": "https://me:pw@registry.corp.example"}]},
        "mirrors[0].upstream",
        "no user",
        id="url-user",
    ),
    pytest.param(
        "local", {"mirrors": [{**HUB, "username": "someone"}]}, "mirrors[0]", "go together", id="user-without-token"
    ),
    pytest.param(
        "local",
        {"mirrors": [{**HUB, "caCertificate": PEM}]},
        "mirrors[0].caCertificate",
        "public CAs",
        id="ca-for-a-public-upstream",
    ),
    pytest.param(
        "local",
        {"mirrors": [{**CORP, "caCertificate": "not a pem"}]},
        "mirrors[0].caCertificate",
        "PEM",
        id="ca-not-pem",
    ),
    pytest.param(
        "local",
        {"version": "2", "mirrors": [{**HUB, "ttlHours": 24}]},
        "mirrors[0].ttlHours",
        "168 h, fixed",
        id="ttl-on-2",
    ),
    pytest.param("local", {"mirrors": [{**HUB, "ttlHours": 0}]}, "mirrors[0].ttlHours", "greater than", id="ttl-0"),
    pytest.param(
        "local", {"mirrors": [{**HUB, "port": 5443}]}, "mirrors[0].port", "taken by registry:port", id="edge-port"
    ),
    pytest.param(
        "local",
        {"mirrors": [{**HUB, "port": 8333}]},
        "mirrors[0].port",
        "taken by registry:objectStorePort",
        id="object-store-port",
    ),
    pytest.param(
        "local",
        {"mirrors": [HUB, {**CORP, "port": DOCKER_HUB_MIRROR_PORT}]},
        "mirrors[1].port",
        "taken by mirrors[0] (docker-hub)",
        id="default-port-taken",
    ),
    pytest.param(
        "local",
        {"mirrors": [{"name": f"m{i}", "upstream": "quay.io"} for i in range(MAX_MIRRORS + 1)]},
        "mirrors",
        f"at most {MAX_MIRRORS}",
        id="too-many",
    ),
    pytest.param("aws", {"mirrors": [{**HUB, "port": 443}]}, "mirrors[0].port", "HTTPS listener", id="aws-443"),
    pytest.param(
        "aws",
        {"mirrors": [{"name": "self", "upstream": "https://registry.example.com"}]},
        "mirrors[0].upstream",
        "is this registry's own address",
        id="aws-mirror-of-itself",
    ),
    pytest.param(
        "aws",
        {"allowedCidrs": ["0.0.0.0/0"], "mirrors": [{**HUB, "anonymous": True}]},
        "mirrors[0].anonymous",
        "anyone on the internet",
        id="aws-open-anonymous",
    ),
    pytest.param(
        "aws",
        {"mirrors": [{**HUB, "username": "me", "accessToken": "*abc"}]},
        "mirrors[0].accessToken",
        "as YAML",
        id="aws-token-yaml",
    ),
]


@pytest.mark.parametrize(("target", "changes", "key", "says"), ONE_CHANGE)
def test_bad_mirror_config_names_key_and_fix(target: str, changes: dict[str, Any], key: str, says: str) -> None:
    found = problem(target, **changes)
    assert found.startswith(f"registry:{key}: "), found
    assert says in found, found


def test_a_token_that_survives_yaml_is_taken_on_aws() -> None:
    s = load("aws", mirrors=[{**HUB, "username": "me", "accessToken": "dckr_pat_a1-B2_c3"}])
    assert s.mirrors[0].access_token == "dckr_pat_a1-B2_c3"


def test_a_mirror_token_must_be_a_secret_on_self_hosted_targets_too() -> None:
    with pytest.raises(ConfigError) as caught:
        load(secret=False, mirrors=[{**HUB, "username": "me", "accessToken": "dckr_pat_x"}])
    [found] = caught.value.problems
    assert found.startswith("registry:mirrors[0].accessToken: a token must be stored encrypted")


@pytest.mark.parametrize(("target", "changes", "key", "says"), ONE_CHANGE)
def test_a_bad_mirror_config_declares_nothing(target: str, changes: dict[str, Any], key: str, says: str) -> None:
    config = TARGETS[target] | {f"registry:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in changes.items()}
    if target == "aws":
        config["aws:region"] = "eu-west-1"
    message, declared = refused_run(target, config, secret_keys=["registry:mirrors"])
    assert f"registry:{key}: " in message and says in message
    assert declared == []
