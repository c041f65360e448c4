"""ECS task definition policies; containerDefinitions is a JSON string, as pulumi-aws sends it."""

from __future__ import annotations

import json
from typing import Any

from tests.policies.support import resource_args, run

REGISTRY = {
    "name": "registry",
    "image": "registry:3.0.0",
    "environment": [{"name": "OTEL_TRACES_EXPORTER", "value": "none"}, {"name": "SECRETS_VERSION", "value": "v1"}],
    "secrets": [{"name": "REGISTRY_HTTP_SECRET", "valueFrom": "arn:aws:secretsmanager:secret:x:httpSecret::"}],
    "readonlyRootFilesystem": True,
}


def task(*containers: dict[str, Any], config: dict[str, Any] | None = None) -> Any:
    props = {"family": "registry", "containerDefinitions": json.dumps(list(containers))}
    return resource_args("aws:ecs/taskDefinition:TaskDefinition", props, name="task", config=config)


def test_a_safe_task_passes_every_ecs_policy() -> None:
    for policy in [
        "ecs-no-plaintext-secrets-in-environment",
        "ecs-no-privileged-containers",
        "ecs-read-only-root-filesystem",
    ]:
        assert run(policy, task(REGISTRY)) == []


def test_a_secret_in_plain_environment_fails_without_showing_its_value() -> None:
    leaky = {
        **REGISTRY,
        "environment": [{"name": "REGISTRY_HTTP_SECRET", "value": "s3cr3t-value"}, {"name": "TLS_KEY", "value": "pem"}],
    }
    [message] = run("ecs-no-plaintext-secrets-in-environment", task(leaky)) or []
    assert "registry" in message and "REGISTRY_HTTP_SECRET, TLS_KEY" in message and "valueFrom" in message
    assert "s3cr3t-value" not in message


def test_a_privileged_container_fails() -> None:
    [message] = (
        run("ecs-no-privileged-containers", task(REGISTRY, {**REGISTRY, "name": "sidecar", "privileged": True})) or []
    )
    assert "container sidecar runs privileged" in message


def test_a_writable_root_fails_unless_the_image_is_exempted() -> None:
    edge = {"name": "edge", "image": "nginx:1.28.0-alpine"}
    [message] = run("ecs-read-only-root-filesystem", task(REGISTRY, edge)) or []
    assert "container edge" in message and "readonlyRootFilesystem: true" in message
    assert (
        run("ecs-read-only-root-filesystem", task(REGISTRY, edge, config={"writableRootImagePattern": "^nginx:"})) == []
    )
