"""registry:notifications on aws under the recording mocks: the endpoints in config.yml, their
headers only in the task secret, reaching the registry container as one variable per endpoint."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.components.test_aws import containers, env
from tests.conftest import ROOT
from tools.mock_program import ProgramRun, Secret, plaintext_leaks, run_program, unwrap

TOKEN = "Bearer hook-SECRET-1"
HOOKS = [
    {"name": "ci", "url": "https://hooks.example.com/registry", "headers": {"Authorization": TOKEN}},
    {"name": "audit", "url": "https://audit.example.com/in", "events": ["push", "pull", "delete"]},
]
VARIABLE = "REGISTRY_NOTIFICATIONS_ENDPOINTS_0_HEADERS"


@pytest.fixture(scope="module")
def prod() -> ProgramRun:
    return run_program(
        ROOT, "prod", overrides={"registry:notifications": json.dumps(HOOKS)}, secret_keys=["registry:notifications"]
    )


def test_the_registry_posts_to_each_endpoint_and_its_mirrors_do_not(prod: ProgramRun) -> None:
    registry = containers(prod)["registry"]
    config = yaml.safe_load(env(registry)["CONFIG_YML"])
    ci, audit = config["notifications"]["endpoints"]
    assert (ci["name"], ci["url"], "headers" in ci) == ("ci", "https://hooks.example.com/registry", False)
    assert ci["ignore"]["actions"] == ["pull", "mount"] and audit["ignore"]["actions"] == ["mount"]


def test_the_headers_travel_in_the_task_secret_only(prod: ProgramRun) -> None:
    registry = containers(prod)["registry"]
    secret = prod.named("registry-service-secrets").outputs["arn"]
    assert {"name": VARIABLE, "valueFrom": f"{secret}:{VARIABLE}::"} in registry["secrets"]
    assert not any("NOTIFICATIONS" in s["name"] for s in containers(prod)["edge"]["secrets"])
    value = prod.named("registry-service-secrets-value").inputs["secretString"]
    assert isinstance(value, Secret)
    assert json.loads(json.loads(unwrap(value))[VARIABLE]) == {"Authorization": [TOKEN]}
    leaks = [f"{r.name}{leak}" for r in prod.resources for leak in plaintext_leaks(r.inputs, {TOKEN})]
    assert leaks + plaintext_leaks(prod.outputs, {TOKEN}) == []
