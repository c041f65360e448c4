"""Scheduled gc on aws: the schedule, the state machine and its roles under the recording mocks;
the state machine's definition run by moto's Step Functions interpreter (the ASL interpreter
moto carries from LocalStack) against moto's ELBv2, with ECS as a fake that says whether writes
were frozen while each task ran."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import StateTaskService
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_ecs import (
    StateTaskServiceEcs,
)

from components.aws.maintenance import gc_state_machine
from components.config.maintenance import Maintenance
from components.renderers.gc import FREEZE_PRIORITIES, FROZEN_BODY, GC_TIMEOUT_SECONDS
from components.renderers.schedule import crontab_line, eventbridge_cron
from tests.components.test_aws import plain
from tests.conftest import ROOT, RunStack
from tests.tools.maintenance.test_alb import new_listener
from tests.tools.maintenance.test_cache import validate
from tools.mock_program import ACCOUNT, ProgramRun, aws_id, run_program

REGION = "eu-west-1"
SCHEDULED = {"registry:maintenance": '{"schedule": "0 3 * * 0", "gc": true}'}


@pytest.fixture(scope="module")
def scheduled() -> ProgramRun:
    return run_program(ROOT, "prod", overrides=SCHEDULED)


# ---------------------------------------------------------------- the schedule as each target runs it


@pytest.mark.parametrize(
    ("crontab", "eventbridge"),
    [
        ("0 3 * * 0", "cron(0 3 ? * 1 *)"),  # Sunday: crontab 0 (or 7), EventBridge 1
        ("0 3 * * 7", "cron(0 3 ? * 1 *)"),
        ("0 4 * * 1-5", "cron(0 4 ? * 2,3,4,5,6 *)"),
        ("0 4 * * 5-7", "cron(0 4 ? * 1,6,7 *)"),
        ("*/15 * * * *", "cron(*/15 * * * ? *)"),
        ("30 2 1 * *", "cron(30 2 1 * ? *)"),
        ("0 1 * 1,7 *", "cron(0 1 * 1,7 ? *)"),
    ],
)
def test_a_crontab_schedule_becomes_the_eventbridge_expression_for_the_same_times(
    crontab: str, eventbridge: str
) -> None:
    assert eventbridge_cron(crontab) == eventbridge


def test_local_prints_the_crontab_line_that_runs_retention_before_gc() -> None:
    both = Maintenance(schedule="0 3 * * 0", retention=True, gc=True)
    assert crontab_line(both, project_dir="/home/me/registry", stack="local") == (
        "0 3 * * 0 cd /home/me/registry && make retention gc STACK=local >> maintenance.log 2>&1"
    )
    only_gc = Maintenance(schedule="0 3 * * 0", gc=True)
    assert "make gc STACK='my stack'" in crontab_line(only_gc, project_dir="/srv/r", stack="my stack")


def test_the_local_stack_outputs_the_line_only_when_configured(run_stack: RunStack) -> None:
    assert run_stack("local").outputs["maintenanceCron"] is None
    run = run_stack("local", overrides={"registry:maintenance": '{"schedule": "15 2 * * *", "gc": true}'})
    assert run.outputs["maintenanceCron"].startswith("15 2 * * * cd ")
    assert run.outputs["maintenanceCron"].endswith(" && make gc STACK=local >> maintenance.log 2>&1")


# ---------------------------------------------------------------- the resources


def test_nothing_is_scheduled_unless_configured(run_stack: RunStack) -> None:
    run = run_stack("prod")
    assert not [r for r in run.resources if r.type.startswith(("aws:sfn/", "aws:scheduler/"))]


def test_the_schedule_starts_the_state_machine_in_utc_and_never_retries(scheduled: ProgramRun) -> None:
    schedule = plain(scheduled.named("registry-maintenance-schedule"))
    machine = scheduled.named("registry-maintenance-gc")
    assert schedule["scheduleExpression"] == "cron(0 3 ? * 1 *)"
    assert schedule["scheduleExpressionTimezone"] == "UTC"
    assert schedule["flexibleTimeWindow"] == {"mode": "OFF"}
    assert schedule["target"] == {
        "arn": machine.outputs["arn"],
        "roleArn": scheduled.named("registry-maintenance-scheduler-role").outputs["arn"],
        "retryPolicy": {"maximumRetryAttempts": 0},
    }
    assert scheduled.outputs["maintenance"]["gcStateMachine"] == machine.outputs["arn"]


def test_the_state_machine_runs_the_stacks_own_tasks_on_its_listener(scheduled: ProgramRun) -> None:
    machine = plain(scheduled.named("registry-maintenance-gc"))
    assert machine["type"] == "STANDARD"
    assert machine["roleArn"] == scheduled.named("registry-maintenance-gc-role").outputs["arn"]
    private = [
        aws_id("subnet", r.name)
        for r in scheduled.of_type("aws:ec2/subnet:Subnet")
        if r.inputs["tags"]["tier"] == "private"
    ]
    definition = json.loads(machine["definition"])
    # the network's order of its private subnets; the mocks may register them in another
    subnets = definition["States"]["Collect"]["Parameters"]["NetworkConfiguration"]["AwsvpcConfiguration"]["Subnets"]
    assert sorted(subnets) == sorted(private)
    assert definition == gc_state_machine(
        listener_arn=scheduled.named("registry-lb-https").outputs["arn"],
        cluster_arn=scheduled.named("registry-service-cluster").outputs["arn"],
        gc_task=scheduled.named("registry-service-gc").outputs["arn"],
        flush_task=scheduled.named("registry-service-cache-flush").outputs["arn"],
        subnets=subnets,
        security_groups=[aws_id("sg", "registry-firewall-tasks")],
    )


def test_each_role_may_do_exactly_what_its_service_does(scheduled: ProgramRun) -> None:
    listener = scheduled.named("registry-lb-https").outputs["arn"]
    cluster = scheduled.named("registry-service-cluster").outputs
    machine_trust = json.loads(plain(scheduled.named("registry-maintenance-gc-role"))["assumeRolePolicy"])["Statement"]
    assert machine_trust[0]["Principal"] == {"Service": "states.amazonaws.com"}
    assert machine_trust[0]["Condition"]["ArnLike"] == {
        "aws:SourceArn": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:*"
    }
    statements = {
        s["Sid"]: s for s in json.loads(plain(scheduled.named("registry-maintenance-gc-policy"))["policy"])["Statement"]
    }
    rules = listener.replace(":listener/", ":listener-rule/", 1) + "/*"
    assert statements["CreateFreezeRules"]["Resource"] == listener
    assert statements["TagFreezeRulesAsTheyAreCreated"]["Condition"] == {
        "StringEquals": {"elasticloadbalancing:CreateAction": "CreateRule"}
    }
    assert statements["DeleteOnlyFreezeRules"] == {
        "Sid": "DeleteOnlyFreezeRules",
        "Effect": "Allow",
        "Action": "elasticloadbalancing:DeleteRule",
        "Resource": rules,
        "Condition": {"StringEquals": {"aws:ResourceTag/registry-maintenance": "write-freeze"}},
    }
    assert statements["RunTheMaintenanceTasks"]["Resource"] == [
        scheduled.named("registry-service-gc").outputs["arn"],
        scheduled.named("registry-service-cache-flush").outputs["arn"],
    ]
    assert statements["RunTheMaintenanceTasks"]["Condition"] == {"ArnEquals": {"ecs:cluster": cluster["arn"]}}
    assert (
        statements["FollowTheMaintenanceTasks"]["Resource"]
        == f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/{cluster['name']}/*"
    )
    assert statements["PassTheTaskRoles"]["Resource"] == [
        scheduled.named("registry-service-execution-role").outputs["arn"],
        scheduled.named("registry-service-gc-role").outputs["arn"],
    ]
    assert statements["LearnWhenTasksStop"]["Resource"] == (
        f"arn:aws:events:{REGION}:{ACCOUNT}:rule/StepFunctionsGetEventsForECSTaskRule"
    )
    assert not [s for s in statements.values() if s["Resource"] == "*" or "*" in s["Action"]]
    start = json.loads(plain(scheduled.named("registry-maintenance-scheduler-policy"))["policy"])["Statement"]
    assert start == [
        {
            "Sid": "StartTheGcStateMachine",
            "Effect": "Allow",
            "Action": "states:StartExecution",
            "Resource": scheduled.named("registry-maintenance-gc").outputs["arn"],
        }
    ]
    scheduler_trust = json.loads(plain(scheduled.named("registry-maintenance-scheduler-role"))["assumeRolePolicy"])
    assert scheduler_trust["Statement"][0]["Principal"] == {"Service": "scheduler.amazonaws.com"}


# ---------------------------------------------------------------- the definition as written

LISTENER = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/registry/50dc6c495c0c9188/f2f7dc8efc522ab2"
DEFINITION = gc_state_machine(
    listener_arn=LISTENER,
    cluster_arn="arn:aws:ecs:eu-west-1:123456789012:cluster/registry",
    gc_task="arn:aws:ecs:eu-west-1:123456789012:task-definition/registry-prod-gc:1",
    flush_task="arn:aws:ecs:eu-west-1:123456789012:task-definition/registry-prod-cache-flush:1",
    subnets=["subnet-a", "subnet-b"],
    security_groups=["sg-tasks"],
)


def successors(state: dict[str, Any]) -> list[str]:
    found = [state[k] for k in ("Next", "Default") if k in state]
    found += [c["Next"] for c in state.get("Catch", [])] + [c["Next"] for c in state.get("Choices", [])]
    return found


def test_once_the_first_rule_exists_every_path_to_an_end_passes_the_lift() -> None:
    states = DEFINITION["States"]
    seen, todo = set(), [*successors(states["FreezeWrites"]), "FreezeDeletes"]
    todo.remove("NotFrozen")  # the first rule failed: there is nothing to lift
    while todo:
        name = todo.pop()
        if name in seen or name == "LiftWrites":
            continue
        seen.add(name)
        assert states[name]["Type"] not in ("Succeed", "Fail"), f"{name} ends the run with writes frozen"
        todo += successors(states[name])
    assert {"FreezeDeletes", "Drain", "Collect", "Flush"} <= seen


def test_every_task_catches_every_error_and_reads_no_path_that_may_be_missing() -> None:
    for name, state in DEFINITION["States"].items():
        if state["Type"] != "Task":
            continue
        assert state["Catch"][0]["ErrorEquals"] == ["States.ALL"], name
        if "ecs:runTask" in state["Resource"]:
            assert "ResultSelector" not in state and state["ResultPath"] is None, name
    assert DEFINITION["States"]["Collect"]["TimeoutSeconds"] == GC_TIMEOUT_SECONDS


def _camel(value: Any) -> Any:
    if isinstance(value, dict):
        return {k[0].lower() + k[1:]: _camel(v) for k, v in value.items()}
    return [_camel(v) for v in value] if isinstance(value, list) else value


def test_the_parameters_are_what_the_apis_take() -> None:
    states = DEFINITION["States"]
    for name in ("FreezeWrites", "FreezeDeletes"):
        request = json.loads(json.dumps(states[name]["Parameters"]).replace('"Value.$"', '"Value"'))
        validate("CreateRule", request, service="elbv2")
        [action] = request["Actions"]
        assert action["FixedResponseConfig"]["MessageBody"] == FROZEN_BODY
    assert [states[n]["Parameters"]["Priority"] for n in ("FreezeWrites", "FreezeDeletes")] == list(FREEZE_PRIORITIES)
    for name in ("Collect", "Flush"):
        validate("RunTask", _camel(states[name]["Parameters"]))  # Step Functions takes ECS's in PascalCase


# ---------------------------------------------------------------- the definition run


class FakeEcs:
    """runTask.sync as Step Functions sees it: a stopped task, or a failed state."""

    def __init__(self, elbv2: Any, listener: str, failing: set[str]):
        self.elbv2, self.listener, self.failing = elbv2, listener, failing
        self.ran: list[tuple[str, bool]] = []  # (task definition, writes frozen while it ran)

    def run(self, parameters: dict[str, Any]) -> dict[str, Any]:
        rules = [r for r in self.elbv2.describe_rules(ListenerArn=self.listener)["Rules"] if not r["IsDefault"]]
        task = parameters["TaskDefinition"]
        self.ran.append((task.rsplit("/", 1)[1], sorted(int(r["Priority"]) for r in rules) == [1, 2]))
        if any(name in task for name in self.failing):
            raise RuntimeError(f"{task}: essential container exited with 1")
        return {"Tasks": [{"TaskArn": "arn:aws:ecs:eu-west-1:123456789012:task/registry/1", "LastStatus": "STOPPED"}]}


@pytest.fixture
def machine(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., tuple[str, FakeEcs, Any, str]]]:
    """Run DEFINITION-like machines on a fresh listener; returns (status, ecs, elbv2, listener)."""
    # moto maps Step Functions' service names to boto3's; ELBv2's is missing from its table
    monkeypatch.setitem(StateTaskService._SERVICE_NAME_SFN_TO_BOTO_OVERRIDES, "elasticloadbalancingv2", "elbv2")
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        ec2, elbv2, sfn = (boto3.client(s, region_name=REGION) for s in ("ec2", "elbv2", "stepfunctions"))
        listener, subnets = new_listener(ec2, elbv2, "registry")

        def run(*, failing: frozenset[str] = frozenset(), flush: bool = True) -> tuple[str, FakeEcs, Any, str]:
            ecs = FakeEcs(elbv2, listener, set(failing))

            def submit(self: Any, *, env: Any, normalised_parameters: dict[str, Any], **_: Any) -> None:
                env.stack.append(ecs.run(normalised_parameters))

            def resolver(self: Any, *, env: Any, **_: Any) -> Callable[[], dict[str, Any]]:
                submitted = env.stack.pop()
                return lambda: submitted["Tasks"][0]  # stopped at once

            monkeypatch.setattr(StateTaskServiceEcs, "_eval_service_task", submit)
            monkeypatch.setattr(StateTaskServiceEcs, "_build_sync_resolver", resolver)
            definition = gc_state_machine(
                listener_arn=listener,
                cluster_arn="arn:aws:ecs:eu-west-1:123456789012:cluster/registry",
                gc_task="arn:aws:ecs:eu-west-1:123456789012:task-definition/registry-prod-gc:1",
                flush_task="arn:aws:ecs:eu-west-1:123456789012:task-definition/registry-prod-cache-flush:1"
                if flush
                else None,
                subnets=subnets,
                security_groups=["sg-tasks"],
                drain_seconds=0,
            )
            arn = sfn.create_state_machine(
                name=f"gc-{time.monotonic_ns()}",
                definition=json.dumps(definition),
                roleArn=f"arn:aws:iam::{ACCOUNT}:role/gc",
            )["stateMachineArn"]
            execution = sfn.start_execution(stateMachineArn=arn)["executionArn"]
            deadline = time.monotonic() + 30
            while (status := sfn.describe_execution(executionArn=execution)["status"]) == "RUNNING":
                assert time.monotonic() < deadline, "the execution did not end"
                time.sleep(0.05)
            return status, ecs, elbv2, listener

        yield run


def rules_left(elbv2: Any, listener: str) -> list[int]:
    return [int(r["Priority"]) for r in elbv2.describe_rules(ListenerArn=listener)["Rules"] if not r["IsDefault"]]


def test_a_run_collects_and_flushes_with_writes_frozen_then_reopens(machine: Callable[..., Any]) -> None:
    status, ecs, elbv2, listener = machine()
    assert status == "SUCCEEDED"
    assert ecs.ran == [("registry-prod-gc:1", True), ("registry-prod-cache-flush:1", True)]
    assert rules_left(elbv2, listener) == []


def test_a_failed_collection_still_flushes_reopens_and_fails_the_run(machine: Callable[..., Any]) -> None:
    status, ecs, elbv2, listener = machine(failing=frozenset({"registry-prod-gc"}))
    assert status == "FAILED"
    assert ecs.ran == [("registry-prod-gc:1", True), ("registry-prod-cache-flush:1", True)]
    assert rules_left(elbv2, listener) == []


def test_a_failed_flush_still_reopens_and_fails_the_run(machine: Callable[..., Any]) -> None:
    status, ecs, elbv2, listener = machine(failing=frozenset({"cache-flush"}))
    assert status == "FAILED" and len(ecs.ran) == 2 and rules_left(elbv2, listener) == []


def test_without_a_cache_the_run_goes_from_collect_to_the_lift(machine: Callable[..., Any]) -> None:
    status, ecs, elbv2, listener = machine(flush=False)
    assert status == "SUCCEEDED" and ecs.ran == [("registry-prod-gc:1", True)] and rules_left(elbv2, listener) == []


@pytest.mark.parametrize("taken", FREEZE_PRIORITIES)
def test_a_taken_priority_collects_nothing_and_leaves_only_the_other_rule(
    machine: Callable[..., Any], taken: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    status, ecs, elbv2, listener = machine()  # the fixture's listener, first a clean run
    elbv2.create_rule(
        ListenerArn=listener,
        Priority=taken,
        Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/other/*"]}}],
        Actions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}],
    )
    status, ecs, elbv2, listener = machine()
    assert status == "FAILED" and ecs.ran == []
    assert rules_left(elbv2, listener) == [taken]  # ours lifted, the other one untouched
