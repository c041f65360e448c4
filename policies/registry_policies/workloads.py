"""Finding the registry instances in a stack, whatever target declared them.

A registry instance is a container running distribution's image: a Docker container (local
target) or a container in an ECS task definition (aws target). Docker containers name their
image by id (`sha256:...`, the output of a `docker.RemoteImage`), so the image name is looked
up on the image resources of the stack. Each instance's `http.secret` comes from the
`REGISTRY_HTTP_SECRET` variable (ECS `secrets` or environment, Docker `envs`), which overrides
the config file, or else from the uploaded config file; only a digest of a literal secret is
kept, so no policy can print it.

A container that runs distribution's `garbage-collect` (a one-off job: registry/root.go GCCmd
reads storage and exits, it opens no HTTP listener) is not an instance: it needs no http secret
and serves no pulls. Nor is a pull-through cache (`proxy.remoteurl` in its config, or
REGISTRY_PROXY_REMOTEURL): it serves another registry's images, takes no upload, and 3.x does
not even read its http secret (registry/handlers/app.go skips configureSecret for a cache).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from pulumi_policy import PolicyResource

from .common import Config, as_list, as_mapping, linked, of_types, prop_value
from .ecs import TASK_DEFINITIONS, containers

DOCKER_CONTAINERS = {"docker:index/container:Container"}
DOCKER_IMAGES = {"docker:index/remoteImage:RemoteImage", "docker:index/image:Image"}
ECS_SERVICES = {"aws:ecs/service:Service"}
SUBNETS = {"aws:ec2/subnet:Subnet"}
HTTP_SECRET_VARIABLE = "REGISTRY_HTTP_SECRET"
PROXY_VARIABLE = "REGISTRY_PROXY_REMOTEURL"
REGISTRY_PARAMS: dict[str, dict[str, Any]] = {
    "registryImagePattern": {
        "type": "string",
        "default": r"(^|/)(registry|distribution)(:|@|$)",
        "description": "regular expression matching the image of a registry (distribution) container",
    },
    "registryConfigPaths": {
        "type": "array",
        "items": {"type": "string"},
        "default": ["/etc/docker/registry/config.yml", "/etc/distribution/config.yml"],
        "description": "where distribution reads its config file (versions 2 and 3)",
    },
}

Secret = tuple[str, str]  # ("reference", secret ARN) or ("digest", sha256 of a literal value)


@dataclass
class Instance:
    """One registry container definition and how many copies of it run where."""

    resource: PolicyResource  # the Docker container or the ECS task definition
    container: str
    secret: Secret | None
    count: int = 1
    zones: set[str] = field(default_factory=set)
    # aws: its provider's region. A load balancer forwards only to targets in its own region, so an
    # upload never spans regions, and each region's tasks read the secret from that region's Secrets
    # Manager (registry:regions: a copy of the same value, under another ARN)
    region: str = ""

    @property
    def label(self) -> str:
        return self.resource.name if self.container == self.resource.name else f"{self.resource.name}/{self.container}"


def _digest(value: Any) -> Secret:
    return ("digest", hashlib.sha256(str(value).encode()).hexdigest())


def _one_off_job(command: Any) -> bool:
    """True for a container whose command runs `garbage-collect` and never `serve`."""
    text = " ".join(str(part) for part in as_list(command))
    return "garbage-collect" in text and " serve " not in f" {text} "


def docker_image_names(resources: Iterable[PolicyResource]) -> dict[str, str]:
    """Image id (and name) -> name, from the stack's Docker image resources."""
    names: dict[str, str] = {}
    for image in of_types(resources, DOCKER_IMAGES):
        name = prop_value(image, "name") or prop_value(image, "imageName")
        for key in ("imageId", "repoDigest", "name", "imageName"):
            if name and prop_value(image, key):
                names[str(prop_value(image, key))] = str(name)
    return names


def docker_image(container: PolicyResource, names: Mapping[str, str]) -> str:
    image = str(prop_value(container, "image") or "")
    return names.get(image, image)


def docker_registries(resources: list[PolicyResource], config: Config) -> list[PolicyResource]:
    names = docker_image_names(resources)
    return [
        c
        for c in of_types(resources, DOCKER_CONTAINERS)
        if re.search(config["registryImagePattern"], docker_image(c, names))
        and _serves_the_registry(
            [*as_list(prop_value(c, "entrypoints")), *as_list(prop_value(c, "command"))],
            [_docker_config(c, config)],
            {str(e).partition("=")[0] for e in as_list(prop_value(c, "envs"))},
        )
    ]


def _docker_config(container: PolicyResource, config: Config) -> Mapping[str, Any]:
    """The registry config file uploaded into a Docker container, parsed ({} if none or unreadable)."""
    for upload in map(as_mapping, as_list(prop_value(container, "uploads"))):
        if upload.get("file") in config["registryConfigPaths"]:
            return _parse(upload.get("content"))
    return {}


def _parse(text: Any) -> Mapping[str, Any]:
    try:
        return as_mapping(yaml.safe_load(str(text or "")))
    except yaml.YAMLError:
        return {}


def _serves_the_registry(command: Any, documents: Iterable[Mapping[str, Any]], variables: Iterable[str]) -> bool:
    """False for a one-off `garbage-collect` job, and for a pull-through cache (`proxy.remoteurl`
    in one of its config `documents`, or REGISTRY_PROXY_REMOTEURL among its `variables`)."""
    cache = PROXY_VARIABLE in variables or any(as_mapping(d.get("proxy")).get("remoteurl") for d in documents)
    return not cache and not _one_off_job(command)


def _docker_secret(container: PolicyResource, config: Config) -> Secret | None:
    for env in as_list(prop_value(container, "envs")):
        name, _, value = str(env).partition("=")
        if name == HTTP_SECRET_VARIABLE and value:
            return _digest(value)
    secret = as_mapping(_docker_config(container, config).get("http")).get("secret")
    return _digest(secret) if secret else None


def _ecs_secret(container: Mapping[str, Any]) -> Secret | None:
    for ref in map(as_mapping, as_list(container.get("secrets"))):
        if ref.get("name") == HTTP_SECRET_VARIABLE and ref.get("valueFrom"):
            return ("reference", str(ref["valueFrom"]))
    for env in map(as_mapping, as_list(container.get("environment"))):
        if env.get("name") == HTTP_SECRET_VARIABLE and env.get("value"):
            return _digest(env["value"])
    return None


def _provider_region(resource: PolicyResource) -> str:
    region = resource.provider.props.get("region") if resource.provider is not None else None
    return str(region or "")


def _docker_host(container: PolicyResource) -> str:
    """Containers on one Docker engine share its fate: the engine is the failure zone."""
    host = container.provider.props.get("host") if container.provider is not None else None
    return str(host or "local docker engine")


def _service_zones(service: PolicyResource, subnets: list[PolicyResource]) -> set[str]:
    """Availability zones of a service's subnets; subnets declared elsewhere count one zone each."""
    network = as_mapping(prop_value(service, "networkConfiguration"))
    ids = {str(s) for s in as_list(network.get("subnets"))}
    declared = linked(service, "networkConfiguration", subnets, ["id"])
    zones = {str(prop_value(s, "availabilityZone") or prop_value(s, "availabilityZoneId") or s.name) for s in declared}
    return zones if declared else ids


def registry_instances(resources: list[PolicyResource], config: Config) -> list[Instance]:
    instances = [
        Instance(c, c.name, _docker_secret(c, config), zones={_docker_host(c)})
        for c in docker_registries(resources, config)
    ]
    services = of_types(resources, ECS_SERVICES)
    subnets = of_types(resources, SUBNETS)
    for task in of_types(resources, TASK_DEFINITIONS):
        running = [s for s in services if task in linked(s, "taskDefinition", [task], ["arn", "arnWithoutRevision"])]
        for container in containers(prop_value(task, "containerDefinitions")):
            environment = {
                str(e.get("name")): e.get("value") for e in map(as_mapping, as_list(container.get("environment")))
            }
            # the aws target hands config.yml over in a variable (components/aws/service.py CONFIG_YML)
            files = [_parse(value) for value in environment.values() if "remoteurl" in str(value or "")]
            command = [*as_list(container.get("entryPoint")), *as_list(container.get("command"))]
            if not _serves_the_registry(command, files, environment):
                continue
            if re.search(config["registryImagePattern"], str(container.get("image", ""))):
                instances.append(
                    Instance(
                        task,
                        str(container.get("name")),
                        _ecs_secret(container),
                        count=sum(int(prop_value(s, "desiredCount") or 0) for s in running),
                        zones={z for s in running for z in _service_zones(s, subnets)},
                        region=_provider_region(task),
                    )
                )
    return instances
