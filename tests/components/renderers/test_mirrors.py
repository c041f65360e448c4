"""What users paste into clients for the self-hosted mirrors, and the edge's view of them."""

from __future__ import annotations

import json
import tomllib
from typing import Any

from components.config import LocalSettings, load_settings
from components.config.mirrors import SelfHostedMirror
from components.renderers.mirrors import (
    DOCKER_NEEDS_ANONYMOUS,
    MIRROR_EDGE_PORTS_FROM,
    edge_mirrors,
    hosts_toml,
    mirror_instances,
    mirror_outputs,
    upstream_authorization,
)
from components.renderers.nginx import EdgeFiles

HUB = {"name": "docker-hub", "upstream": "docker.io"}
K8S = {"name": "k8s", "upstream": "registry.k8s.io", "anonymous": True}
CORP = {"name": "corp", "upstream": "https://registry.corp.example:5000", "port": 6000}


def local(*mirrors: dict[str, Any]) -> LocalSettings:
    settings = load_settings({"registry:target": "local", "registry:mirrors": json.dumps(list(mirrors))})
    assert isinstance(settings, LocalSettings)
    return settings


def outputs(*mirrors: dict[str, Any], private_ca: bool = True) -> dict[str, Any]:
    s = local(*mirrors)
    return mirror_outputs(s.mirrors, host=s.host(s.port), root_host=s.host, private_ca=private_ca)


def test_every_mirror_is_reachable_under_its_prefix_and_some_at_a_root() -> None:
    found = outputs(HUB, K8S, CORP)["mirrors"]
    assert found["docker-hub"] == {
        "upstream": "docker.io",
        "pullPrefix": "localhost:5443/docker-hub",
        "rootUrl": "https://localhost:5444",
        "login": "any registry user (pull only)",
        "cachedForHours": 168,
        "example": "docker pull localhost:5443/docker-hub/library/alpine:3",
    }
    assert found["k8s"]["rootUrl"] is None and found["k8s"]["login"] == "none (anonymous)"
    assert found["k8s"]["example"] == "docker pull localhost:5443/k8s/pause:3.10"
    assert found["corp"]["rootUrl"] == "https://localhost:6000"
    assert found["corp"]["upstream"] == "registry.corp.example:5000"


def test_docker_gets_only_docker_hub_mirrors_at_a_root() -> None:
    """moby lookupV2Endpoints: registry-mirrors serve docker.io pulls only, at a host's root."""
    assert outputs(HUB, K8S, CORP)["dockerDaemonJson"] == {"registry-mirrors": ["https://localhost:5444"]}
    assert outputs(K8S, CORP)["dockerDaemonJson"] is None
    # a login it cannot send makes Docker skip the mirror: the outputs say so
    assert outputs(HUB)["dockerDaemonNote"] == DOCKER_NEEDS_ANONYMOUS
    assert "dockerDaemonNote" not in outputs({**HUB, "anonymous": True})


def test_containerd_gets_a_hosts_toml_per_upstream_with_the_prefix_as_api_root() -> None:
    """core/remotes/docker/config/hosts.go: override_path keeps the URL's path as the API root;
    the upstream is `server`, tried after the mirror."""
    files = outputs(HUB, K8S, CORP)["containerdHostsToml"]
    assert set(files) == {"docker.io", "registry.k8s.io", "registry.corp.example:5000"}
    hub = tomllib.loads(files["docker.io"])
    assert hub == {
        "server": "https://registry-1.docker.io",
        "host": {
            "https://localhost:5443/v2/docker-hub": {
                "capabilities": ["pull", "resolve"],
                "override_path": True,
                "ca": "/etc/containerd/certs.d/docker.io/registry-ca.crt",
            }
        },
    }
    assert tomllib.loads(files["registry.corp.example:5000"])["server"] == "https://registry.corp.example:5000"
    public = tomllib.loads(outputs(HUB, private_ca=False)["containerdHostsToml"]["docker.io"])
    assert "ca" not in public["host"]["https://localhost:5443/v2/docker-hub"]


def test_two_mirrors_of_one_upstream_are_tried_in_order() -> None:
    s = local(HUB, {"name": "hub2", "upstream": "docker.io", "port": 5450})
    text = hosts_toml("docker.io", [(m, f"https://h/v2/{m.name}") for m in s.mirrors], None)
    assert list(tomllib.loads(text)["host"]) == ["https://h/v2/docker-hub", "https://h/v2/hub2"]


def test_nothing_to_paste_without_mirrors() -> None:
    assert outputs() == {"mirrors": {}, "dockerDaemonJson": None, "containerdHostsToml": {}}


def test_the_edge_gives_each_root_mirror_its_own_port_in_order() -> None:
    s = local(HUB, K8S, CORP)
    edge = edge_mirrors(s.mirrors, lambda k: [f"mirror-{k}-0:5000"], s.version, EdgeFiles())
    assert [(m.name, m.listen_port, m.anonymous, m.upstream) for m in edge] == [
        ("docker-hub", MIRROR_EDGE_PORTS_FROM, False, "docker.io"),
        ("k8s", None, True, "registry.k8s.io"),
        ("corp", MIRROR_EDGE_PORTS_FROM + 1, False, "registry.corp.example:5000"),
    ]
    assert [m.servers for m in edge] == [["mirror-0-0:5000"], ["mirror-1-0:5000"], ["mirror-2-0:5000"]]


def test_two_instances_per_mirror_or_one_beside_a_single_registry() -> None:
    assert (mirror_instances(1), mirror_instances(2), mirror_instances(5)) == (1, 2, 2)


def test_a_mirrors_upstream_login_is_basic_of_its_username_and_token() -> None:
    """What the edge sends the upstream and its realm, as distribution's proxy does."""
    mirror = SelfHostedMirror(**HUB, username="someone", access_token="dckr_pat_SECRET1")
    assert upstream_authorization(mirror) == "Basic c29tZW9uZTpkY2tyX3BhdF9TRUNSRVQx"
    assert upstream_authorization(SelfHostedMirror(**HUB)) is None
