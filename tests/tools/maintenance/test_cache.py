"""tools.maintenance flush-cache and where it acts: what it runs for each target (the sandbox path
runs for real in tests/dataplane/test_cache_flush.py)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.validate import ParamValidator

from components.aws.service import cache_flush_definitions
from tools.maintenance import MaintenanceError, flush_cache, load_target, main, run_task_request

LOCAL = {"target": "local", "cacheContainer": "registry-redis", "cacheConfig": "/usr/local/etc/redis/redis.conf"}
AWS: dict[str, Any] = {
    "target": "aws",
    "region": "eu-west-1",
    "cluster": "registry-cluster",
    "cacheFlushTask": "arn:aws:ecs:eu-west-1:123456789012:task-definition/registry-prod-cache-flush:1",
    "subnets": ["subnet-a", "subnet-b"],
    "securityGroups": ["sg-tasks"],
}


class Recorder:
    def __init__(self, stdout: str = "OK\n", status: int = 0):
        self.commands: list[list[str]] = []
        self.stdout, self.status = stdout, status

    def __call__(self, command: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        self.commands.append(command)
        return subprocess.CompletedProcess(command, self.status, self.stdout, "")


def test_local_flush_runs_flushdb_in_the_cache_container_with_the_configs_password() -> None:
    runner = Recorder()
    assert flush_cache(LOCAL, run=runner) == "flushed the blob-descriptor cache in container registry-redis"
    [command] = runner.commands
    assert command[:5] == ["docker", "exec", "registry-redis", "sh", "-c"]
    assert command[5] == (
        'REDISCLI_AUTH="$(sed -n \'s/^requirepass "\\(.*\\)"/\\1/p\' /usr/local/etc/redis/redis.conf)" '
        "redis-cli --no-auth-warning FLUSHDB"
    )


def test_local_flush_fails_loudly_when_redis_does_not_say_ok() -> None:
    with pytest.raises(MaintenanceError, match="status 1"):
        flush_cache(LOCAL, run=Recorder(stdout="", status=1))
    with pytest.raises(MaintenanceError, match="failed"):
        flush_cache(LOCAL, run=Recorder(stdout="NOAUTH Authentication required.\n"))


def test_no_cache_means_nothing_to_flush() -> None:
    runner = Recorder()
    assert "nothing to flush" in flush_cache({**LOCAL, "cacheContainer": None}, run=runner)
    assert "nothing to flush" in flush_cache({**AWS, "cacheFlushTask": None})
    assert runner.commands == []


class FakeEcs:
    def __init__(self, exit_code: int | None):
        self.exit_code = exit_code
        self.started: list[dict[str, Any]] = []

    def run_task(self, **request: Any) -> dict[str, Any]:
        self.started.append(request)
        return {"tasks": [{"taskArn": "arn:task/1"}], "failures": []}

    def describe_tasks(self, cluster: str, tasks: list[str]) -> dict[str, Any]:
        assert cluster == AWS["cluster"] and tasks == ["arn:task/1"]
        return {"tasks": [{"lastStatus": "STOPPED", "containers": [{"name": "flush", "exitCode": self.exit_code}]}]}


def test_aws_flush_runs_the_stacks_task_and_checks_its_exit_code() -> None:
    ecs = FakeEcs(exit_code=0)
    assert flush_cache(AWS, ecs=ecs) == "flushed the blob-descriptor cache (ECS task arn:task/1)"
    assert ecs.started == [run_task_request(AWS, AWS["cacheFlushTask"])]
    with pytest.raises(MaintenanceError, match="ECS task arn:task/1 failed: exit code 1"):
        flush_cache(AWS, ecs=FakeEcs(exit_code=1))


def validate(operation: str, params: dict[str, Any], service: str = "ecs") -> None:
    """botocore's own check of every parameter name and type against the service's API model."""
    model = boto3.session.Session(region_name="eu-west-1").client(service).meta.service_model
    report = ParamValidator().validate(params, model.operation_model(operation).input_shape)
    assert not report.has_errors(), report.generate_report()


def test_the_run_task_request_and_task_definition_match_the_ecs_api() -> None:
    validate("RunTask", run_task_request(AWS, AWS["cacheFlushTask"]))
    definitions = cache_flush_definitions(
        images={"edge": "nginx:1.30.4-alpine", "redis": "redis:7.4.11-alpine"},
        redis_address="master.cache.example:6379",
        secret_arn="arn:aws:secretsmanager:eu-west-1:123456789012:secret:s",
        secrets_version="v1",
        log_group="logs",
        region="eu-west-1",
    )
    validate(
        "RegisterTaskDefinition",
        {
            "family": "registry-prod-cache-flush",
            "containerDefinitions": definitions,
            "requiresCompatibilities": ["FARGATE"],
            "networkMode": "awsvpc",
            "cpu": "256",
            "memory": "512",
            "volumes": [{"name": "ca-bundle"}],
        },
    )
    with pytest.raises(AssertionError, match="Unknown parameter"):
        validate("RunTask", {**run_task_request(AWS, AWS["cacheFlushTask"]), "launchTyp": "FARGATE"})


def test_targets_come_from_saved_outputs_or_the_sandbox_line(tmp_path: Path) -> None:
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"url": "https://localhost:5443", "maintenance": LOCAL}))
    assert load_target(stack=None, outputs=outputs, sandbox=None) == LOCAL
    line = tmp_path / "sandbox.json"
    sandbox = {"target": "sandbox", "redis": "redis://:pw@127.0.0.1:2/0", "edgePid": 7}
    line.write_text(json.dumps({"url": "https://127.0.0.1:1", "maintenance": sandbox}))
    assert load_target(stack=None, outputs=None, sandbox=line) == sandbox


def test_outputs_without_maintenance_name_the_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"url": "https://localhost:5443"}))
    assert main(["flush-cache", "--outputs", str(outputs)]) == 2
    assert "deploy the stack with this version first (pulumi up)" in capsys.readouterr().err
