"""gc on aws: the write freeze as ALB listener rules, in moto's ELBv2 (a real moto server where a
child process and its watchdog must reach it), garbage-collect as the stack's ECS task."""

from __future__ import annotations

import datetime
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from components.renderers.gc import FROZEN_BODY, GC_DRY_RUN_ENV, GC_LOG_PREFIX
from tests.tools.maintenance.test_cache import validate
from tools.maintenance import MaintenanceError
from tools.maintenance.alb import FROZEN_PROBES, AwsSite, freeze_rules, owner_token
from tools.maintenance.cache import run_task_request
from tools.maintenance.gc import collect_garbage
from tools.maintenance.site import site_of
from tools.maintenance.storage import V2

REGION = "eu-west-1"
FROZEN = (503, FROZEN_BODY)


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def aws_env(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Every boto3 client, ours and a child process's, talks to the moto server."""
    values = {
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


@pytest.fixture
def target(aws_env: dict[str, str]) -> dict[str, Any]:
    """A listener on a fresh load balancer, a bucket, and the stack's maintenance description."""
    name = f"lb-{time.monotonic_ns() % 10**9}"
    listener, subnets = new_listener(boto3.client("ec2"), boto3.client("elbv2"), name)
    boto3.client("s3").create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    return {
        "target": "aws",
        "region": REGION,
        "cluster": "registry-cluster",
        "gcTask": "arn:aws:ecs:eu-west-1:123456789012:task-definition/registry-prod-gc:1",
        "cacheFlushTask": "arn:aws:ecs:eu-west-1:123456789012:task-definition/registry-prod-cache-flush:1",
        "logGroup": "registry-logs",
        "listener": listener,
        "subnets": subnets,
        "securityGroups": ["sg-tasks"],
        "bucket": name,
        "rootDirectory": "/registry",
        "registryUrl": "https://registry.example.com",
    }


def new_listener(ec2: Any, elbv2: Any, name: str) -> tuple[str, list[str]]:
    """A load balancer in two zones of a new VPC with one HTTP listener: (listener ARN, subnets)."""
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{REGION}{zone}")["Subnet"][
            "SubnetId"
        ]
        for i, zone in enumerate("ab")
    ]
    lb = elbv2.create_load_balancer(Name=name, Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
    group = elbv2.create_target_group(Name=name, Protocol="HTTP", Port=8443, VpcId=vpc)["TargetGroups"][0]
    listener = elbv2.create_listener(
        LoadBalancerArn=lb,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": group["TargetGroupArn"]}],
    )["Listeners"][0]["ListenerArn"]
    return str(listener), subnets


def site(target: dict[str, Any], **kwargs: Any) -> AwsSite:
    return AwsSite(target, probe=kwargs.pop("probe", lambda: FROZEN), **kwargs)


def rules(target: dict[str, Any]) -> list[dict[str, Any]]:
    found = boto3.client("elbv2").describe_rules(ListenerArn=target["listener"])["Rules"]
    return [r for r in found if not r["IsDefault"]]


# ---------------------------------------------------------------- the rules themselves


def test_the_freeze_rules_refuse_every_write_method_under_v2_and_no_read() -> None:
    requests = freeze_rules("host:1", datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC))
    methods = set()
    for request in requests:
        validate("CreateRule", {"ListenerArn": "arn:listener", **request}, service="elbv2")
        values = [
            v
            for c in request["Conditions"]
            for config in c.values()
            if isinstance(config, dict)
            for v in config["Values"]
        ]
        assert len(values) <= 5  # ELB: five comparison strings per rule
        assert all(
            len(config["Values"]) <= 3
            for c in request["Conditions"]
            for config in c.values()
            if isinstance(config, dict)
        )
        [path] = [c for c in request["Conditions"] if c["Field"] == "path-pattern"]
        assert path["PathPatternConfig"]["Values"] == ["/v2/*"]
        [method] = [c for c in request["Conditions"] if c["Field"] == "http-request-method"]
        methods |= set(method["HttpRequestMethodConfig"]["Values"])
        [action] = request["Actions"]
        assert action["Type"] == "fixed-response"
        response = action["FixedResponseConfig"]
        assert (response["StatusCode"], response["ContentType"]) == ("503", "application/json")
        assert json.loads(response["MessageBody"])["errors"][0]["code"] == "UNAVAILABLE"
        assert len(response["MessageBody"]) <= 1024  # the ALB's limit for a fixed response body
        assert {t["Key"]: t["Value"] for t in request["Tags"]} == {
            "registry-maintenance": "write-freeze",
            "owner": "host:1",
            "expires": "2030-01-01T00:00:00Z",
        }
    assert methods == {"POST", "PUT", "PATCH", "DELETE"}
    assert [r["Priority"] for r in requests] == [1, 2]


def test_a_freeze_exists_exactly_while_the_block_runs(target: dict[str, Any]) -> None:
    with site(target).write_freeze(target, 0.0) as freeze:
        inside = rules(target)
        assert sorted(int(r["Priority"]) for r in inside) == [1, 2]
        owners = [tags["owner"] for tags in site(target).frozen_rules().values()]
        assert owners == [owner_token(os.getpid())] * 2
    assert rules(target) == [] and freeze.seconds > 0


def test_a_failing_step_inside_still_lifts(target: dict[str, Any]) -> None:
    with pytest.raises(RuntimeError), site(target).write_freeze(target, 0.0):
        raise RuntimeError("the sweep failed")
    assert rules(target) == []


def test_a_rule_that_is_not_ours_at_priority_one_is_named_and_nothing_is_left(target: dict[str, Any]) -> None:
    boto3.client("elbv2").create_rule(
        ListenerArn=target["listener"],
        Priority=2,
        Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/mirror/*"]}}],
        Actions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}],
    )
    taken = pytest.raises(MaintenanceError, match=r"priority 2 is taken .* needs priorities \(1, 2\)")
    with taken, site(target).write_freeze(target, 0.0):
        pytest.fail("froze with a foreign rule in the way")
    assert [int(r["Priority"]) for r in rules(target)] == [2]  # ours (priority 1) lifted, theirs kept


def test_writes_that_keep_being_forwarded_fail_the_freeze_and_reopen(target: dict[str, Any]) -> None:
    answers = iter([FROZEN] * (FROZEN_PROBES - 1) + [(401, "unauthorized")] + [FROZEN] * FROZEN_PROBES)
    aws = site(target, probe=lambda: next(answers))
    aws.wait_until_refused(timeout=30)  # a forwarded write in between starts the count again
    assert next(answers, None) is None
    registry_busy = site(target, probe=lambda: (503, '{"errors":[{"code":"UNAVAILABLE","message":"s3"}]}'))
    with pytest.raises(MaintenanceError, match="still forwards writes 0s after"):
        registry_busy.wait_until_refused(timeout=0)


# ---------------------------------------------------------------- a freeze that outlives its owner


def _stale_rules(target: dict[str, Any], owner: str, expires: datetime.datetime) -> None:
    for request in freeze_rules(owner, expires):
        boto3.client("elbv2").create_rule(ListenerArn=target["listener"], **request)


def test_a_freeze_past_its_expiry_or_left_by_a_dead_local_process_is_lifted(target: dict[str, Any]) -> None:
    past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=1)
    _stale_rules(target, "ci-runner-7:4242", past)
    assert site(target).lift_stale() is True and rules(target) == []
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    _stale_rules(target, owner_token(dead.pid), past + datetime.timedelta(days=1))
    assert site(target).lift_stale() is True and rules(target) == []
    assert site(target).lift_stale() is False


def test_a_live_freeze_of_another_run_is_left_alone_and_named(target: dict[str, Any]) -> None:
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)
    _stale_rules(target, "ci-runner-7:4242", later)
    with pytest.raises(MaintenanceError, match="frozen by another gc \\(ci-runner-7:4242, until"):
        site(target).lift_stale()
    assert len(rules(target)) == 2


class FakeExecutions:
    def __init__(self, status: str):
        self.status = status

    def describe_execution(self, executionArn: str) -> dict[str, str]:
        assert executionArn == EXECUTION
        return {"status": self.status}


EXECUTION = "arn:aws:states:eu-west-1:123456789012:execution:registry-maintenance-gc:0b1c"


def _machine_rules(target: dict[str, Any]) -> None:
    for request in freeze_rules("-", datetime.datetime.now(datetime.UTC)):
        request["Tags"] = [t for t in request["Tags"] if t["Key"] not in ("owner", "expires")]
        request["Tags"].append({"Key": "owner", "Value": EXECUTION})  # as the state machine tags them
        boto3.client("elbv2").create_rule(ListenerArn=target["listener"], **request)


def test_a_freeze_of_a_scheduled_run_is_lifted_only_once_that_run_has_ended(target: dict[str, Any]) -> None:
    _machine_rules(target)
    running = site(target, clients={"stepfunctions": FakeExecutions("RUNNING")})
    with pytest.raises(MaintenanceError, match=f"frozen by another gc \\({EXECUTION}\\): wait"):
        running.lift_stale()
    assert len(rules(target)) == 2
    stopped = site(target, clients={"stepfunctions": FakeExecutions("ABORTED")})  # StopExecution mid-run
    assert stopped.lift_stale() is True and rules(target) == []


FROZEN_CHILD = """
import json, sys, time
from components.renderers.gc import FROZEN_BODY
from tools.maintenance.alb import AwsSite
target = json.loads(sys.argv[1])
with AwsSite(target, probe=lambda: (503, FROZEN_BODY)).write_freeze(target, 0.0):
    print("frozen", flush=True)
    time.sleep(600)
"""


def test_killing_the_tool_mid_freeze_leaves_the_watchdog_to_reopen_writes(target: dict[str, Any]) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", FROZEN_CHILD, json.dumps(target)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=os.getcwd(),
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "frozen"
    assert len(rules(target)) == 2
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    deadline = time.monotonic() + 30
    while rules(target) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert rules(target) == []


# ---------------------------------------------------------------- the whole gc, in order


class FakeEcs:
    """ECS as tools.maintenance sees it; the gc task sweeps the bucket, and both tasks check that
    writes are frozen while they run."""

    def __init__(self, target: dict[str, Any], sweep: list[str]):
        self.target, self.sweep = target, sweep
        self.started: list[dict[str, Any]] = []
        self.frozen_while_running: list[bool] = []

    def run_task(self, **request: Any) -> dict[str, Any]:
        self.started.append(request)
        self.frozen_while_running.append(len(rules(self.target)) == 2)
        if request["taskDefinition"] == self.target["gcTask"] and "overrides" not in request:
            s3 = boto3.client("s3")
            for key in self.sweep:
                s3.delete_object(Bucket=self.target["bucket"], Key=key)
        return {"tasks": [{"taskArn": f"arn:aws:ecs:eu-west-1:1:task/registry-cluster/task{len(self.started)}"}]}

    def describe_tasks(self, cluster: str, tasks: list[str]) -> dict[str, Any]:
        name = "gc" if len(self.started) == 1 else "flush"
        return {"tasks": [{"lastStatus": "STOPPED", "containers": [{"name": name, "exitCode": 0}]}]}


class FakeLogs:
    def __init__(self, text: str):
        self.text = text
        self.streams: list[str] = []

    def get_log_events(self, **request: Any) -> dict[str, Any]:
        self.streams.append(request["logStreamName"])
        if "nextToken" in request:
            return {"events": [], "nextForwardToken": request["nextToken"]}
        return {"events": [{"message": line} for line in self.text.splitlines()], "nextForwardToken": "t1"}


def _blob(target: dict[str, Any], digest: str, size: int) -> str:
    key = f"registry/{V2}blobs/sha256/{digest[:2]}/{digest}/data"
    boto3.client("s3").put_object(Bucket=target["bucket"], Key=key, Body=b"x" * size)
    return key


def test_gc_on_aws_collects_only_while_frozen_then_flushes_and_reopens(target: dict[str, Any]) -> None:
    keep, garbage = "a" * 64, "b" * 64
    _blob(target, keep, 10)
    swept = _blob(target, garbage, 300)
    ecs = FakeEcs(target, sweep=[swept])
    aws = site(target, clients={"ecs": ecs, "logs": FakeLogs("")})
    report = collect_garbage(target, aws, drain_timeout=0.0)
    assert (report.blobs_before, report.blobs_freed, report.bytes_freed) == (2, 1, 300)
    gc, flush = ecs.started
    assert gc == run_task_request(target, target["gcTask"])
    assert flush == run_task_request(target, target["cacheFlushTask"])
    assert ecs.frozen_while_running == [True, True]  # the sweep and the flush, both before writes reopen
    assert rules(target) == []


def test_a_dry_run_on_aws_reads_what_the_gc_task_printed_and_freezes_nothing(target: dict[str, Any]) -> None:
    garbage = "c" * 64
    _blob(target, garbage, 42)
    ecs = FakeEcs(target, sweep=[])
    logs = FakeLogs(
        f"registry\n1 blobs marked, 1 blobs and 0 manifests eligible for deletion\nblob eligible for deletion: sha256:{garbage}\n"
    )
    report = collect_garbage(target, site(target, clients={"ecs": ecs, "logs": logs}), dry_run=True)
    assert (report.blobs_freed, report.bytes_freed) == (1, 42)
    [request] = ecs.started
    overrides = {"containerOverrides": [{"name": "gc", "environment": [{"name": GC_DRY_RUN_ENV, "value": "1"}]}]}
    assert request == {**run_task_request(target, target["gcTask"]), "overrides": overrides}
    validate("RunTask", request)
    assert ecs.frozen_while_running == [False]
    assert logs.streams[0] == f"{GC_LOG_PREFIX}/gc/task1"  # awslogs: <prefix>/<container>/<task id>


def test_site_of_an_aws_description_acts_on_its_listener(target: dict[str, Any]) -> None:
    aws = site_of(target)
    assert isinstance(aws, AwsSite) and aws.frozen_rules() == {}
