"""Stack rules over registry instances on both targets: how many, where, and one shared http secret."""

from __future__ import annotations

import json
from typing import Any

import yaml
from pulumi_policy import PolicyResource

from tests.policies.support import NOT_APPLICABLE, provider, resource, run, stack_args

PRODUCTION = {"production": "always"}
REGISTRY_IMAGE = resource(
    "docker:index/remoteImage:RemoteImage", {"name": "registry:2.8.3", "imageId": "sha256:r"}, name="image"
)


def docker_registry(name: str, secret: str | None, envs: list[str] | None = None) -> PolicyResource:
    config = yaml.safe_dump({"version": 0.1, "http": {"addr": ":5000", **({"secret": secret} if secret else {})}})
    props = {
        "image": "sha256:r",
        "uploads": [{"file": "/etc/docker/registry/config.yml", "content": config}],
        "envs": envs or [],
    }
    return resource("docker:index/container:Container", props, name=name, provider=provider("pulumi:providers:docker"))


def test_docker_registries_sharing_one_secret_pass() -> None:
    registries = [docker_registry(f"registry-{i}", "one-shared-secret") for i in range(3)]
    assert run("registry-shared-http-secret", stack_args([REGISTRY_IMAGE, *registries])) == []


def test_docker_registries_with_different_or_missing_secrets_fail_without_showing_them() -> None:
    registries = [
        docker_registry("registry-0", "secret-a"),
        docker_registry("registry-1", "secret-b"),
        docker_registry("registry-2", None),
    ]
    missing, different = run("registry-shared-http-secret", stack_args([REGISTRY_IMAGE, *registries])) or []
    assert missing.startswith("registry instance registry-2 has no http secret")
    assert "2 different http secrets (registry-0; registry-1)" in different
    assert "secret-a" not in different + missing and "secret-b" not in different + missing


def test_the_environment_variable_overrides_the_file() -> None:
    registries = [
        docker_registry("registry-0", "a"),
        docker_registry("registry-1", "a", envs=["REGISTRY_HTTP_SECRET=b"]),
    ]
    assert len(run("registry-shared-http-secret", stack_args([REGISTRY_IMAGE, *registries])) or []) == 1
    registries = [
        docker_registry("registry-0", None, envs=["REGISTRY_HTTP_SECRET=a"]),
        docker_registry("registry-1", "a"),
    ]
    assert run("registry-shared-http-secret", stack_args([REGISTRY_IMAGE, *registries])) == []


def test_a_single_instance_may_do_without_a_secret() -> None:
    assert run("registry-shared-http-secret", stack_args([REGISTRY_IMAGE, docker_registry("registry-0", None)])) == []


def subnet(name: str, zone: str) -> PolicyResource:
    return resource("aws:ec2/subnet:Subnet", {"id": f"subnet-{name}", "availabilityZone": zone}, name=name)


def ecs(desired: int, subnets: list[PolicyResource], *secret_refs: str) -> list[PolicyResource]:
    """One task definition per secret ref (a registry container each), each run by a service."""
    resources: list[PolicyResource] = [*subnets]
    for i, ref in enumerate(secret_refs):
        registry: dict[str, Any] = {"name": "registry", "image": "public.ecr.aws/docker/library/registry:3.0.0"}
        if ref:
            registry["secrets"] = [{"name": "REGISTRY_HTTP_SECRET", "valueFrom": ref}]
        edge = {"name": "edge", "image": "nginx:1.28.0-alpine"}
        arn = f"arn:aws:ecs:us-east-1:1:task-definition/registry-{i}:1"
        task = resource(
            "aws:ecs/taskDefinition:TaskDefinition",
            {"arn": arn, "containerDefinitions": json.dumps([registry, edge])},
            name=f"task-{i}",
        )
        network = {"subnets": [s.props["id"] for s in subnets], "securityGroups": ["sg-tasks"]}
        props = {"taskDefinition": arn, "desiredCount": float(desired), "networkConfiguration": network}
        resources += [
            task,
            resource("aws:ecs/service:Service", props, name=f"service-{i}", dependencies=[task, *subnets]),
        ]
    return resources


TWO_ZONES = [subnet("a", "us-east-1a"), subnet("b", "us-east-1b")]


def test_an_ecs_service_of_3_tasks_over_2_zones_is_highly_available() -> None:
    assert (
        run(
            "registry-production-high-availability",
            stack_args(ecs(3, TWO_ZONES, "arn:s:httpSecret::"), config=PRODUCTION),
        )
        == []
    )


def test_one_task_or_one_zone_is_not_enough_for_production() -> None:
    [message] = (
        run("registry-production-high-availability", stack_args(ecs(1, TWO_ZONES, "arn:s"), config=PRODUCTION)) or []
    )
    assert "1 registry instance(s) in 2 zone(s)" in message
    one_zone = [subnet("a", "us-east-1a"), subnet("b", "us-east-1a")]
    [message] = (
        run("registry-production-high-availability", stack_args(ecs(3, one_zone, "arn:s"), config=PRODUCTION)) or []
    )
    assert "3 registry instance(s) in 1 zone(s)" in message


def test_docker_registries_on_one_engine_are_one_zone() -> None:
    registries = [docker_registry(f"registry-{i}", "s") for i in range(3)]
    [message] = (
        run("registry-production-high-availability", stack_args([REGISTRY_IMAGE, *registries], config=PRODUCTION)) or []
    )
    assert "3 registry instance(s) in 1 zone(s)" in message


def test_high_availability_is_not_required_outside_production() -> None:
    args = stack_args(ecs(1, TWO_ZONES, "arn:s"), config={"production": "never"})
    assert run("registry-production-high-availability", args) is NOT_APPLICABLE


def test_high_availability_does_not_apply_to_a_managed_registry() -> None:
    repository = resource("aws:ecr/repository:Repository", {"name": "team-a/api"}, name="repo")
    assert run("registry-production-high-availability", stack_args([repository], config=PRODUCTION)) is NOT_APPLICABLE
    # a stack with compute but no recognisable registry is still held to it
    container = resource("docker:index/container:Container", {"image": "sha256:x"}, name="other")
    assert run("registry-production-high-availability", stack_args([container], config=PRODUCTION))


def test_ecs_task_definitions_must_reference_the_same_secret() -> None:
    assert run("registry-shared-http-secret", stack_args(ecs(2, TWO_ZONES, "arn:s:httpSecret::"))) == []
    [message] = (
        run("registry-shared-http-secret", stack_args(ecs(1, TWO_ZONES, "arn:s:httpSecret::", "arn:t:httpSecret::")))
        or []
    )
    assert "2 different http secrets (task-0/registry; task-1/registry)" in message
    [message] = run("registry-shared-http-secret", stack_args(ecs(2, TWO_ZONES, ""))) or []
    assert message.startswith("registry instance task-0/registry has no http secret")


def test_a_garbage_collect_task_is_a_job_not_an_instance_that_needs_the_secret() -> None:
    """garbage-collect opens no listener (distribution registry/root.go GCCmd): no secret needed."""
    served = ecs(2, TWO_ZONES, "arn:s:httpSecret::")
    collect = {
        "name": "gc",
        "image": "public.ecr.aws/docker/library/registry:3.1.1",
        "entryPoint": ["/bin/sh", "-c"],
        "command": ["set -eu\nexec registry garbage-collect /etc/distribution/config.yml"],
    }
    job = resource(
        "aws:ecs/taskDefinition:TaskDefinition",
        {"arn": "arn:aws:ecs:us-east-1:1:task-definition/registry-gc:1", "containerDefinitions": json.dumps([collect])},
        name="gc-task",
    )
    assert run("registry-shared-http-secret", stack_args([*served, job])) == []
    serving = {**collect, "command": ["set -eu\nexec registry serve /etc/distribution/config.yml"]}
    instance = resource(
        "aws:ecs/taskDefinition:TaskDefinition",
        {"arn": "arn:aws:ecs:us-east-1:1:task-definition/registry-x:1", "containerDefinitions": json.dumps([serving])},
        name="other-task",
    )
    [message] = run("registry-shared-http-secret", stack_args([*served, instance])) or []
    assert message.startswith("registry instance other-task/gc has no http secret")


def test_a_pull_through_cache_is_not_an_instance_of_the_stacks_registry() -> None:
    """A mirror serves another registry's images: it neither needs the shared secret nor counts
    towards the registry's instances (3.x skips configureSecret for a cache)."""
    served = ecs(2, TWO_ZONES, "arn:s:httpSecret::")
    mirror = {
        "name": "mirror-0",
        "image": "public.ecr.aws/docker/library/registry:3.1.1",
        "environment": [
            {"name": "CONFIG_YML", "value": "version: 0.1\nproxy:\n  remoteurl: https://registry-1.docker.io\n"}
        ],
    }
    task = resource(
        "aws:ecs/taskDefinition:TaskDefinition",
        {"arn": "arn:aws:ecs:us-east-1:1:task-definition/mirror:1", "containerDefinitions": json.dumps([mirror])},
        name="mirror-task",
    )
    assert run("registry-shared-http-secret", stack_args([*served, task])) == []
    by_variable = {**mirror, "environment": [{"name": "REGISTRY_PROXY_REMOTEURL", "value": "https://quay.io"}]}
    task = resource(
        "aws:ecs/taskDefinition:TaskDefinition",
        {"arn": "arn:aws:ecs:us-east-1:1:task-definition/mirror:2", "containerDefinitions": json.dumps([by_variable])},
        name="mirror-task-2",
    )
    assert run("registry-shared-http-secret", stack_args([*served, task])) == []
    docker_mirror = resource(
        "docker:index/container:Container",
        {
            "image": "sha256:r",
            "uploads": [
                {"file": "/etc/docker/registry/config.yml", "content": "proxy:\n  remoteurl: https://quay.io\n"}
            ],
        },
        name="mirror-0-0",
    )
    registries = [docker_registry(f"registry-{i}", "shared") for i in range(2)]
    assert run("registry-shared-http-secret", stack_args([REGISTRY_IMAGE, *registries, docker_mirror])) == []
    [message] = (
        run(
            "registry-production-high-availability",
            stack_args([REGISTRY_IMAGE, registries[0], docker_mirror], config=PRODUCTION),
        )
        or []
    )
    assert "1 registry instance(s)" in message
