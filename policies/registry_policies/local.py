"""The `local` target: containers on one Docker engine, reachable only through the TLS edge.

Registries are unauthenticated and the object store holds every blob, so neither may be
reachable from the network; the only port open beyond loopback is the edge's, and it speaks TLS.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import PolicyResource, ResourceValidationArgs, StackValidationArgs

from .common import MANDATORY, Config, as_list, as_mapping, label, of_types, prop_value, resource_policy, stack_policy
from .workloads import DOCKER_CONTAINERS, REGISTRY_PARAMS, docker_image, docker_image_names, docker_registries

OBJECT_STORES = r"(?i)(seaweedfs|minio|localstack|moto|garage|zenko|cloudserver|ceph|versitygw|rustfs)"
LISTEN = re.compile(r"^\s*listen\s+([^;]+);", re.MULTILINE)


def _port(port: Mapping[str, Any]) -> str:
    return f"{port.get('ip') or '0.0.0.0'}:{int(port.get('external') or 0)}->{int(port.get('internal') or 0)}"


def _on_loopback(port: Mapping[str, Any]) -> bool:
    try:
        return ipaddress.ip_address(str(port.get("ip") or "0.0.0.0")).is_loopback
    except ValueError:
        return False


def _tls_ports(uploads: Any) -> set[int]:
    """Ports an uploaded nginx config listens on with `ssl`, if it also names a certificate."""
    ports: set[int] = set()
    for upload in map(as_mapping, as_list(uploads)):
        text = str(upload.get("content") or "")
        if "ssl_certificate" not in text:
            continue
        for listen in LISTEN.findall(text):
            address, *flags = listen.split()
            port = address.rsplit(":", 1)[-1]
            if "ssl" in flags and port.isdigit():
                ports.add(int(port))
    return ports


def _published_with_tls(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    public = [p for p in map(as_mapping, as_list(args.props.get("ports"))) if not _on_loopback(p)]
    if not public:
        return
    tls = _tls_ports(args.props.get("uploads"))
    for port in public:
        if int(port.get("internal") or 0) not in tls:
            yield (
                f"{args.name}: port {_port(port)} is published beyond loopback without TLS; terminate TLS there "
                "(nginx `listen <port> ssl` with a certificate) or bind it to 127.0.0.1"
            )


def _registries_unpublished(args: StackValidationArgs, config: Config) -> Iterator[tuple[str, PolicyResource | None]]:
    for container in docker_registries(args.resources, config):
        ports = [_port(p) for p in map(as_mapping, as_list(prop_value(container, "ports")))]
        if ports:
            yield (
                f"{label(container)} publishes {', '.join(ports)}: registries serve without authentication; "
                "remove `ports` and reach them through the edge on the internal network",
                container,
            )


def _object_store_on_loopback(args: StackValidationArgs, config: Config) -> Iterator[tuple[str, PolicyResource | None]]:
    names = docker_image_names(args.resources)
    for container in of_types(args.resources, DOCKER_CONTAINERS):
        if not re.search(config["objectStoreImagePattern"], docker_image(container, names)):
            continue
        for port in map(as_mapping, as_list(prop_value(container, "ports"))):
            if not _on_loopback(port):
                yield (
                    f"{label(container)} publishes its S3 API on {_port(port)}; set ip '127.0.0.1' on the port so "
                    "only this host can reach the objects",
                    container,
                )


POLICIES = [
    resource_policy(
        name="docker-published-port-requires-tls",
        description="A Docker container port published beyond loopback is a TLS listener (the local edge).",
        types=DOCKER_CONTAINERS,
        check=_published_with_tls,
        level=MANDATORY,
    ),
    stack_policy(
        name="docker-registry-not-published",
        description="Registry containers publish no port to the host; clients reach them only through the authenticating edge.",
        check=_registries_unpublished,
        level=MANDATORY,
        params=REGISTRY_PARAMS,
    ),
    stack_policy(
        name="docker-object-store-loopback-only",
        description="The S3-compatible object store container publishes its API on loopback only.",
        check=_object_store_on_loopback,
        level=MANDATORY,
        params={"objectStoreImagePattern": {"type": "string", "default": OBJECT_STORES}},
    ),
]
