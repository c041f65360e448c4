"""Scheduled garbage collection on aws: EventBridge Scheduler starts a Step Functions state machine
that runs the procedure `tools.maintenance gc` runs by hand, with the same freeze rules.

    FreezeWrites, FreezeDeletes   listener rules at priorities 1 and 2: writes get 503 at the ALB
    Drain                         a fixed wait: the ALB cannot say when forwarded requests end
    Collect                       the gc task (runTask.sync)
    Flush                         the cache-flush task, also after a failed collection
    LiftWrites, LiftDeletes       delete both rules, retried; then fail if any step failed

Every state after the first rule exists catches every error and goes on towards the lift, so a
failed step never leaves writes frozen. A stopped execution (StopExecution) can: its rules carry
the execution's ARN as owner, and the next `tools.maintenance gc` lifts a freeze whose owner is no
longer running (tools/maintenance/alb.py). No custom image: the states call the ELBv2 API
directly (aws-sdk integration) and run the stack's own task definitions.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.aws import iam as aws_iam
from components.renderers.gc import (
    ALB_DRAIN_SECONDS,
    FLUSH_TIMEOUT_SECONDS,
    FREEZE_PRIORITIES,
    FREEZE_TAG,
    GC_TIMEOUT_SECONDS,
    WRITE_METHODS,
    freeze_rule,
)
from components.renderers.schedule import eventbridge_cron

# Step Functions' names (the aws-sdk service list: "Elastic Load Balancing V2")
ELBV2 = "arn:aws:states:::aws-sdk:elasticloadbalancingv2"
RUN_TASK_SYNC = "arn:aws:states:::ecs:runTask.sync"


def gc_state_machine(
    *,
    listener_arn: str,
    cluster_arn: str,
    gc_task: str,
    flush_task: str | None,
    subnets: Sequence[str],
    security_groups: Sequence[str],
    drain_seconds: int = ALB_DRAIN_SECONDS,
) -> dict[str, Any]:
    """The Amazon States Language definition (JSONPath). No state reads a path that may be missing:
    a failed path is States.Runtime, which no Catch catches, and it would leave writes frozen."""
    tasks = _TaskRunner(cluster_arn, tuple(subnets), tuple(security_groups))
    errors = ["freezeError", "collectError", "lift0Error", "lift1Error", *(["flushError"] if flush_task else [])]
    states: dict[str, Any] = {
        "FreezeWrites": _freeze_state(listener_arn, 0, "FreezeDeletes", "NotFrozen"),
        "FreezeDeletes": _freeze_state(listener_arn, 1, "Drain", "LiftWrites"),
        "Drain": {"Type": "Wait", "Seconds": drain_seconds, "Next": "Collect"},
        "Collect": tasks.state(gc_task, GC_TIMEOUT_SECONDS, "Flush" if flush_task else "LiftWrites", "collectError"),
    }
    if flush_task:  # also after a failed collection: some blobs may be gone
        states["Flush"] = tasks.state(flush_task, FLUSH_TIMEOUT_SECONDS, "LiftWrites", "flushError")
    return {
        "Comment": "registry garbage collection with writes frozen at the load balancer (components/aws/maintenance.py)",
        "StartAt": "FreezeWrites",
        "States": states | _lift_and_outcome_states(errors),
    }


def _catch(error: str, next_state: str) -> list[dict[str, Any]]:
    return [{"ErrorEquals": ["States.ALL"], "ResultPath": f"$.{error}", "Next": next_state}]


def _freeze_state(listener_arn: str, index: int, next_state: str, on_error: str) -> dict[str, Any]:
    owner = [{"Key": "owner", "Value.$": "$$.Execution.Id"}]
    request = freeze_rule(FREEZE_PRIORITIES[index], WRITE_METHODS[index], owner)
    return {
        "Type": "Task",
        "Resource": f"{ELBV2}:createRule",
        "Parameters": {"ListenerArn": listener_arn, **request},
        "ResultSelector": {"Rule.$": "$.Rules[0]"},  # CreateRule answers with the one rule it made
        "ResultPath": f"$.freeze.rule{index}",
        "Next": next_state,
        "Catch": _catch("freezeError", on_error),
    }


@dataclass(frozen=True)
class _TaskRunner:
    """Where the state machine's ECS tasks run."""

    cluster_arn: str
    subnets: tuple[str, ...]
    security_groups: tuple[str, ...]

    def state(self, task: str, timeout: int, next_state: str, error: str) -> dict[str, Any]:
        # .sync: the state ends when the task stops, and fails when its essential container exits
        # non-zero; the task description is not kept (ResultPath null)
        return {
            "Type": "Task",
            "Resource": RUN_TASK_SYNC,
            "Parameters": {
                "Cluster": self.cluster_arn,
                "TaskDefinition": task,
                "LaunchType": "FARGATE",
                "NetworkConfiguration": {
                    "AwsvpcConfiguration": {
                        "Subnets": list(self.subnets),
                        "SecurityGroups": list(self.security_groups),
                        "AssignPublicIp": "DISABLED",
                    }
                },
            },
            "TimeoutSeconds": timeout,
            "ResultPath": None,
            "Next": next_state,
            "Catch": _catch(error, next_state),  # a failed step goes on towards the lift all the same
        }


def _lift_state(index: int, next_state: str) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": f"{ELBV2}:deleteRule",
        "Parameters": {"RuleArn.$": f"$.freeze.rule{index}.Rule.RuleArn"},
        "ResultPath": None,
        "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 5, "MaxAttempts": 5, "BackoffRate": 2.0}],
        "Next": next_state,
        "Catch": _catch(f"lift{index}Error", next_state),
    }


def _lift_and_outcome_states(errors: Sequence[str]) -> dict[str, Any]:
    """Every path ends here: the freeze rules lifted (retried), then failed if any step failed."""
    return {
        "LiftWrites": _lift_state(0, "HasDeletesRule"),
        "HasDeletesRule": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.freeze.rule1", "IsPresent": True, "Next": "LiftDeletes"}],
            "Default": "Outcome",
        },
        "LiftDeletes": _lift_state(1, "Outcome"),
        "Outcome": {
            "Type": "Choice",
            "Choices": [{"Or": [{"Variable": f"$.{e}", "IsPresent": True} for e in errors], "Next": "Failed"}],
            "Default": "Collected",
        },
        "Failed": {
            "Type": "Fail",
            "Error": "MaintenanceFailed",
            "Cause": "a step failed; its error is in the execution's events",
        },
        "NotFrozen": {
            "Type": "Fail",
            "Error": "WriteFreezeFailed",
            "Cause": "the freeze rule was not created (another gc may hold priority 1); nothing was collected",
        },
        "Collected": {"Type": "Succeed"},
    }


@dataclass(frozen=True)
class AwsMaintenanceArgs:
    schedule: str  # validated crontab expression, UTC
    region: str
    account_id: str
    listener_arn: pulumi.Input[str]
    cluster_arn: pulumi.Input[str]
    cluster_name: pulumi.Input[str]
    gc_task_arn: pulumi.Input[str]
    flush_task_arn: pulumi.Input[str] | None
    passed_roles: Sequence[pulumi.Input[str]]  # the tasks' execution and task roles
    subnet_ids: Sequence[pulumi.Input[str]]
    security_group_id: pulumi.Input[str]


class AwsMaintenance(pulumi.ComponentResource):
    """The state machine, the schedule that starts it and the two roles, each for exactly that."""

    state_machine_arn: pulumi.Output[str]

    def __init__(self, name: str, args: AwsMaintenanceArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("registry:aws:AwsMaintenance", name, None, opts)
        machine = self._state_machine(name, args)
        self._schedule(name, args, machine)
        self.state_machine_arn = machine.arn
        self.register_outputs({"state_machine_arn": self.state_machine_arn})

    def _state_machine(self, name: str, args: AwsMaintenanceArgs) -> aws.sfn.StateMachine:
        """freeze -> drain -> gc task -> cache flush -> lift, under a role that may do exactly that."""
        child = pulumi.ResourceOptions(parent=self)
        machine_role = aws.iam.Role(
            f"{name}-gc-role",
            description="registry gc state machine: freeze rules on one listener, the gc and cache-flush tasks",
            assume_role_policy=json.dumps(aws_iam.service_trust("states", args.account_id, args.region)),
            opts=child,
        )
        tasks = [args.gc_task_arn, *([args.flush_task_arn] if args.flush_task_arn is not None else [])]
        policy = aws.iam.RolePolicy(
            f"{name}-gc-policy",
            role=machine_role.id,
            policy=pulumi.Output.json_dumps(
                aws_iam.gc_state_machine_policy(
                    account_id=args.account_id,
                    region=args.region,
                    listener_arn=args.listener_arn,
                    cluster_arn=args.cluster_arn,
                    cluster_name=args.cluster_name,
                    task_definitions=tasks,
                    passed_roles=list(args.passed_roles),
                    freeze_tag=FREEZE_TAG,
                )
            ),
            opts=child,
        )
        definition = pulumi.Output.all(
            args.listener_arn,
            args.cluster_arn,
            args.gc_task_arn,
            args.flush_task_arn,
            args.security_group_id,
            *args.subnet_ids,
        ).apply(
            lambda v: json.dumps(
                gc_state_machine(
                    listener_arn=v[0],
                    cluster_arn=v[1],
                    gc_task=v[2],
                    flush_task=v[3],
                    security_groups=[v[4]],
                    subnets=v[5:],
                )
            )
        )
        return aws.sfn.StateMachine(
            f"{name}-gc",
            role_arn=machine_role.arn,
            definition=definition,
            type="STANDARD",  # runTask.sync and runs of hours need a standard workflow
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )

    def _schedule(self, name: str, args: AwsMaintenanceArgs, machine: aws.sfn.StateMachine) -> None:
        """EventBridge Scheduler starts the state machine at registry:maintenance.schedule (UTC)."""
        child = pulumi.ResourceOptions(parent=self)
        scheduler_role = aws.iam.Role(
            f"{name}-scheduler-role",
            description="EventBridge Scheduler: start the registry gc state machine",
            assume_role_policy=json.dumps(aws_iam.service_trust("scheduler", args.account_id, args.region)),
            opts=child,
        )
        start = aws.iam.RolePolicy(
            f"{name}-scheduler-policy",
            role=scheduler_role.id,
            policy=pulumi.Output.json_dumps(aws_iam.start_execution_policy(machine.arn)),
            opts=child,
        )
        aws.scheduler.Schedule(
            f"{name}-schedule",
            description="registry garbage collection (registry:maintenance.schedule, UTC)",
            schedule_expression=eventbridge_cron(args.schedule),
            schedule_expression_timezone="UTC",
            flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(mode="OFF"),
            target=aws.scheduler.ScheduleTargetArgs(
                arn=machine.arn,
                role_arn=scheduler_role.arn,
                # a failed collection waits for the next window or a person, never an automatic rerun
                retry_policy=aws.scheduler.ScheduleTargetRetryPolicyArgs(maximum_retry_attempts=0),
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[start]),
        )
