"""The local target's Docker containers: TLS at the edge, nothing else reachable from the network."""

from __future__ import annotations

from typing import Any

from pulumi_policy import PolicyResource

from tests.policies.support import resource, resource_args, run, stack_args

CONTAINER = "docker:index/container:Container"
NGINX_TLS = "events {}\nhttp {\n  server {\n    listen 443 ssl;\n    ssl_certificate /etc/nginx/tls/server.crt;\n  }\n  server { listen 127.0.0.1:8081; }\n}\n"
NGINX_PLAIN = "events {}\nhttp { server { listen 443; } }\n"


def edge(conf: str, *ports: dict[str, Any]) -> Any:
    props = {
        "image": "sha256:edge",
        "ports": list(ports),
        "uploads": [{"file": "/etc/nginx/nginx.conf", "content": conf}],
    }
    return resource_args(CONTAINER, props, name="edge")


def test_an_edge_publishing_its_tls_listener_passes() -> None:
    assert run("docker-published-port-requires-tls", edge(NGINX_TLS, {"internal": 443.0, "external": 5443.0})) == []


def test_a_port_published_without_tls_fails() -> None:
    [message] = (
        run("docker-published-port-requires-tls", edge(NGINX_PLAIN, {"internal": 443.0, "external": 5443.0})) or []
    )
    assert message.startswith("edge: port 0.0.0.0:5443->443") and "127.0.0.1" in message
    # the plain health listener is fine on loopback, not beyond it
    loopback = {"internal": 8081.0, "external": 8081.0, "ip": "127.0.0.1"}
    assert run("docker-published-port-requires-tls", edge(NGINX_TLS, loopback)) == []
    assert run("docker-published-port-requires-tls", edge(NGINX_TLS, {**loopback, "ip": "0.0.0.0"}))


def image(name: str) -> PolicyResource:
    return resource(
        "docker:index/remoteImage:RemoteImage", {"name": name, "imageId": f"sha256:{name}"}, name=f"image-{name}"
    )


def container(name: str, image_name: str, *ports: dict[str, Any]) -> PolicyResource:
    return resource(CONTAINER, {"image": f"sha256:{image_name}", "ports": list(ports)}, name=name)


def test_registries_without_ports_pass_and_a_published_one_fails() -> None:
    images = [image("registry:2.8.3"), image("nginx:1.28.0-alpine")]
    fine = [
        *images,
        container("registry-0", "registry:2.8.3"),
        container("edge", "nginx:1.28.0-alpine", {"internal": 443.0, "external": 443.0}),
    ]
    assert run("docker-registry-not-published", stack_args(fine)) == []
    exposed = [
        *fine,
        container("registry-1", "registry:2.8.3", {"internal": 5000.0, "external": 5000.0, "ip": "127.0.0.1"}),
    ]
    [message] = run("docker-registry-not-published", stack_args(exposed)) or []
    assert message.startswith("registry-1 (Container) publishes 127.0.0.1:5000->5000")


def test_the_object_store_may_publish_on_loopback_only() -> None:
    store = image("chrislusf/seaweedfs:4.47")
    loopback = {"internal": 8333.0, "external": 8333.0, "ip": "127.0.0.1"}
    assert (
        run("docker-object-store-loopback-only", stack_args([store, container("s3", store.props["name"], loopback)]))
        == []
    )
    wide = {**loopback, "ip": "0.0.0.0"}
    [message] = (
        run("docker-object-store-loopback-only", stack_args([store, container("s3", store.props["name"], wide)])) or []
    )
    assert message.startswith("s3 (Container) publishes its S3 API on 0.0.0.0:8333->8333")
