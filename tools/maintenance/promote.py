"""promote: make a read-only secondary region of an aws stack writable while its primary is down.

A stack with registry:regions runs the registry in a primary region and in read-only secondary
regions, each on an S3 replica of the primary's bucket. A secondary's registry container has
REGISTRY_STORAGE_MAINTENANCE_READONLY = {"enabled": true} (components/renderers/distribution.py);
promote registers a copy of its task definition with {"enabled": false}, rolls the service onto it,
and only once the service is stable moves the push name (an alias A record) to that region's load
balancer. Pulls keep following latency routing. Nothing here changes Pulumi's configuration: the
operator sets registry:regions.promoted, or the next `pulumi up` reverts both changes.

Replication is one-way (primary to secondaries), so two writable regions would diverge for good:
promote refuses while Route 53 says the primary is healthy, or cannot say, unless --force.
"""

from __future__ import annotations

import argparse
import copy
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, WaiterError

from components.renderers.distribution import READONLY_VARIABLE, readonly_environment
from tools.maintenance.target import MaintenanceError

REGISTRY_CONTAINER = "registry"  # the distribution container of every region's task (components/aws/service.py)
PROMOTE_TIMEOUT_SECONDS = 900.0  # the longest wait for the service to be stable on the new task definition
STABLE_POLL_SECONDS = 15  # ECS's services_stable waiter polls DescribeServices this often
# What RegisterTaskDefinition accepts that DescribeTaskDefinition returns, tags aside (they come
# from include=["TAGS"]): https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RegisterTaskDefinition.html
# Everything else DescribeTaskDefinition returns (taskDefinitionArn, revision, status,
# requiresAttributes, compatibilities, registeredAt, registeredBy, ...) is ECS's, not the request's.
REGISTER_FIELDS = (
    "family",
    "taskRoleArn",
    "executionRoleArn",
    "networkMode",
    "containerDefinitions",
    "volumes",
    "placementConstraints",
    "requiresCompatibilities",
    "cpu",
    "memory",
    "runtimePlatform",
    "ephemeralStorage",
    "pidMode",
    "ipcMode",
    "proxyConfiguration",
    "inferenceAccelerators",
    "enableFaultInjection",
    "trustedExecutionConfiguration",
)

Waiter = Callable[[Any, str, str, float], None]  # (ecs client, cluster, service, timeout)


def add_promote_parser(commands: Any) -> argparse.ArgumentParser:
    """The `promote` subcommand on cli.py's subparsers."""
    promote_parser: argparse.ArgumentParser = commands.add_parser(
        "promote", help="make a read-only secondary region writable and move the push name to it (primary outage)"
    )
    promote_parser.add_argument("--region", required=True, help="the secondary region to promote (e.g. us-east-1)")
    promote_parser.add_argument(
        "--force", action="store_true", help="promote although Route 53 says the primary is healthy, or cannot say"
    )
    promote_parser.add_argument("--dry-run", action="store_true", help="check and print the plan; change nothing")
    where = promote_parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--stack", help="a deployed stack (reads its outputs with the Pulumi CLI)")
    where.add_argument("--outputs", type=Path, help="saved `pulumi stack output --json` (- for stdin)")
    promote_parser.set_defaults(sandbox=None)  # cli.main's load_target asks for it; a sandbox has one region
    return promote_parser


def run_promote(
    target: Mapping[str, Any], args: argparse.Namespace, *, clients: Mapping[str, Any] | None = None
) -> list[str]:
    """`promote` as parsed by add_promote_parser: the lines to print. Raises MaintenanceError."""
    return promote(
        target,
        args.region,
        force=args.force,
        dry_run=args.dry_run,
        stack=getattr(args, "stack", None),
        clients=clients,
    )


def promote(
    target: Mapping[str, Any],
    region: str,
    *,
    force: bool = False,
    dry_run: bool = False,
    stack: str | None = None,
    clients: Mapping[str, Any] | None = None,
    wait: Waiter | None = None,
    timeout: float = PROMOTE_TIMEOUT_SECONDS,
) -> list[str]:
    """Make secondary `region` writable and point the push name at it; what was done and what the
    operator must do next. `clients` ("ecs" in `region`, "route53") replace boto3's."""
    regions = target_regions(target)
    secondary = find_secondary(regions, region)
    ecs, route53 = _client(clients, "ecs", region), _client(clients, "route53", region)
    definition, tags = current_task_definition(ecs, secondary)
    before, now = read_only_value(definition), _writable_value()
    pushed_to = push_alias(route53, regions)
    if before == now and not force:
        raise MaintenanceError(_already_writable(regions, secondary, pushed_to))
    check_promoted(regions, region, force)
    lines = [check_primary(route53, regions, force)]
    request = None if before == now else writable_request(definition, tags)
    if dry_run:
        return [*lines, *_plan(regions, secondary, definition, request, pushed_to, timeout), "dry run: nothing changed"]
    if request is not None:
        arn = register_and_deploy(ecs, secondary, request)
        lines.append(
            f"{region}: registered {arn} ({REGISTRY_CONTAINER} container: {READONLY_VARIABLE} {before} -> {now}; "
            f"everything else as {definition['taskDefinitionArn']}) and updated service {secondary['service']} to it"
        )
    (wait or wait_stable)(ecs, str(secondary["cluster"]), str(secondary["service"]), timeout)
    lines.append(f"{region}: service {secondary['service']} is stable and accepts pushes and deletes")
    lines.append(move_push_name(route53, regions, secondary, pushed_to))
    return [*lines, *next_steps(regions, secondary, stack)]


def target_regions(target: Mapping[str, Any]) -> Mapping[str, Any]:
    if target.get("target") != "aws":
        raise MaintenanceError(
            f"promote acts on the aws target (a primary region and read-only secondaries); this stack is "
            f"{target.get('target')!r}"
        )
    regions = target.get("regions")
    if not regions:
        raise MaintenanceError(
            "this stack has no secondary regions (its maintenance output has no `regions`): "
            "set registry:regions and run pulumi up first"
        )
    return dict(regions)


def find_secondary(regions: Mapping[str, Any], region: str) -> Mapping[str, Any]:
    secondaries = list(regions.get("secondaries") or [])
    for secondary in secondaries:
        if secondary["region"] == region:
            return dict(secondary)
    names = ", ".join(str(s["region"]) for s in secondaries) or "none"
    if region == regions["primary"]["region"]:
        raise MaintenanceError(f"{region} is the primary region, writable already; promote one of: {names}")
    raise MaintenanceError(f"{region} is not a secondary region of this stack; its secondaries: {names}")


def check_promoted(regions: Mapping[str, Any], region: str, force: bool) -> None:
    """Refuse while another secondary is the promoted one (registry:regions.promoted), unless `force`."""
    promoted = regions.get("promoted")
    if promoted and promoted != region and not force:
        raise MaintenanceError(
            f"{promoted} is the promoted region already (registry:regions.promoted): promoting {region} too would "
            "give two writable regions whose buckets diverge (replication is one-way); pass --force if you mean it"
        )


def check_primary(route53: Any, regions: Mapping[str, Any], force: bool) -> str:
    """A line saying how the primary is; MaintenanceError unless Route 53 says it is down, or `force`."""
    primary = regions["primary"]
    healthy, detail = primary_health(route53, str(primary["healthCheckId"]))
    name = f"primary {primary['region']} (Route 53 health check {primary['healthCheckId']})"
    if healthy is False:
        return f"{name}: unhealthy ({detail})"
    if healthy and not force:
        raise MaintenanceError(
            f"the primary is healthy ({name}: {detail}): promoting now would give two writable regions whose "
            "buckets diverge (replication is one-way); pass --force if you mean it"
        )
    if healthy is None and not force:
        raise MaintenanceError(
            f"the primary may be up: {name} is unknown ({detail}), and promoting while it is up would give two "
            "writable regions whose buckets diverge (replication is one-way); look at the primary yourself "
            f"(aws route53 get-health-check-status --health-check-id {primary['healthCheckId']}) and pass --force "
            "if you mean it"
        )
    return f"{name}: {'healthy' if healthy else 'unknown'} ({detail}); promoting anyway (--force)"


def primary_health(route53: Any, health_check_id: str) -> tuple[bool | None, str]:
    """(True if any Route 53 health checker reports the check healthy, False if some report it
    failing and none healthy, None when Route 53 does not say) and what it said.

    GetHealthCheckStatus answers for every type but calculated checks, so for our CLOUDWATCH_METRIC
    checks too: one HealthCheckObservation per checker, whose StatusReport.Status is free text, "a
    description of the status" (https://docs.aws.amazon.com/Route53/latest/APIReference/API_GetHealthCheckStatus.html,
    .../API_StatusReport.html; the console shows the same per checker,
    https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/health-checks-view-status.html). The
    reference does not fix its wording; in practice it begins "Success: " or "Failure: ". Anything
    else (a check not yet propagated to the checkers says so instead) is no answer, so it refuses.
    """
    try:
        observations = route53.get_health_check_status(HealthCheckId=health_check_id)["HealthCheckObservations"]
    except (BotoCoreError, ClientError) as err:
        return None, f"GetHealthCheckStatus failed: {err}"
    statuses = [str((o.get("StatusReport") or {}).get("Status") or "").strip() for o in observations]
    for verdict, prefix in ((True, "success"), (False, "failure")):
        said = [s for s in statuses if s.lower().startswith(prefix)]
        if said:
            return verdict, f"{len(said)} of {len(statuses)} checkers: {said[0]}"
    return None, f"no checker reports success or failure: {statuses or 'no observations'}"


def current_task_definition(ecs: Any, secondary: Mapping[str, Any]) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """The task definition the region's service runs, and its tags."""
    cluster, service = str(secondary["cluster"]), str(secondary["service"])
    found = _aws(
        f"ECS DescribeServices in {secondary['region']}", ecs.describe_services, cluster=cluster, services=[service]
    )
    services = [s for s in found.get("services", []) if s.get("status") == "ACTIVE"]
    if not services:
        raise MaintenanceError(
            f"ECS has no active service {service} in cluster {cluster} ({secondary['region']}): "
            f"{found.get('failures')}; the stack's outputs may be stale (pulumi up, or save them again)"
        )
    described = _aws(
        "ECS DescribeTaskDefinition",
        ecs.describe_task_definition,
        taskDefinition=services[0]["taskDefinition"],
        include=["TAGS"],
    )
    return dict(described["taskDefinition"]), list(described.get("tags") or [])


def read_only_value(definition: Mapping[str, Any]) -> str:
    """The registry container's READONLY_VARIABLE; MaintenanceError when there is none."""
    variable = _readonly_entry(definition)
    if variable is None:
        raise MaintenanceError(
            f"task definition {definition.get('taskDefinitionArn')} has no {READONLY_VARIABLE} in a container named "
            f"{REGISTRY_CONTAINER!r}: this service was not deployed as a read-only secondary (is this stack's "
            "registry:regions deployed? pulumi up), so promote does not know how to make it writable"
        )
    return str(variable.get("value", ""))


def writable_request(definition: Mapping[str, Any], tags: list[dict[str, str]]) -> dict[str, Any]:
    """RegisterTaskDefinition for a copy of `definition` whose registry container is writable."""
    request = {key: copy.deepcopy(definition[key]) for key in REGISTER_FIELDS if definition.get(key) is not None}
    user_tags = [t for t in tags if not str(t.get("key", "")).startswith("aws:")]  # aws: keys are ECS's own
    if user_tags:
        request["tags"] = copy.deepcopy(user_tags)
    variable = _readonly_entry(request)
    assert variable is not None  # read_only_value checked
    variable["value"] = _writable_value()
    return request


def register_and_deploy(ecs: Any, secondary: Mapping[str, Any], request: Mapping[str, Any]) -> str:
    """Register the writable revision and roll the region's service onto it; its ARN."""
    registered = _aws("ECS RegisterTaskDefinition", ecs.register_task_definition, **request)
    arn = str(registered["taskDefinition"]["taskDefinitionArn"])
    _aws(
        f"ECS UpdateService (the writable revision {arn} is registered, not deployed: run promote again)",
        ecs.update_service,
        cluster=secondary["cluster"],
        service=secondary["service"],
        taskDefinition=arn,
    )
    return arn


def wait_stable(ecs: Any, cluster: str, service: str, timeout: float) -> None:
    """ECS's services_stable waiter (one deployment, runningCount == desiredCount), at most `timeout`."""
    attempts = max(1, math.ceil(timeout / STABLE_POLL_SECONDS))
    try:
        ecs.get_waiter("services_stable").wait(
            cluster=cluster, services=[service], WaiterConfig={"Delay": STABLE_POLL_SECONDS, "MaxAttempts": attempts}
        )
    except WaiterError as err:
        raise MaintenanceError(
            f"ECS service {service} (cluster {cluster}) was not stable within {timeout:.0f}s ({err}): the push name "
            f"was NOT moved. See why in its events (aws ecs describe-services --cluster {cluster} --services "
            f"{service}); once it is stable, run promote again with --force to move the push name"
        ) from None


def push_alias(route53: Any, regions: Mapping[str, Any]) -> str | None:
    """Where the push name's A record points now: its alias target's DNS name (None: no such record)."""
    name = _dns(str(regions["pushDomain"]))
    page = _aws(
        "Route 53 ListResourceRecordSets",
        route53.list_resource_record_sets,
        HostedZoneId=regions["hostedZoneId"],
        StartRecordName=name,
        StartRecordType="A",
        MaxItems="1",
    )
    for record in page.get("ResourceRecordSets", []):
        if _dns(record["Name"]) == name and record["Type"] == "A":
            alias = record.get("AliasTarget")
            return _dns(alias["DNSName"]) if alias else "(an A record that is not an alias)"
    return None


def move_push_name(route53: Any, regions: Mapping[str, Any], secondary: Mapping[str, Any], was: str | None) -> str:
    """UPSERT the push name's alias A record onto the secondary's load balancer."""
    change = _aws(
        f"{secondary['region']} is writable now, but Route 53 ChangeResourceRecordSets (the push name still points "
        f"at {was}; run promote again with --force to move it)",
        route53.change_resource_record_sets,
        HostedZoneId=regions["hostedZoneId"],
        ChangeBatch={
            "Comment": f"tools.maintenance promote {secondary['region']}",
            "Changes": [push_change(regions, secondary)],
        },
    )["ChangeInfo"]
    return (
        f"push name {regions['pushDomain']}: alias A -> {secondary['loadBalancerDnsName']} (was {was}); "
        f"Route 53 change {change['Id']} is {change['Status']}"
    )


def push_change(regions: Mapping[str, Any], secondary: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "Action": "UPSERT",
        "ResourceRecordSet": {
            "Name": regions["pushDomain"],
            "Type": "A",
            "AliasTarget": {
                "HostedZoneId": secondary["loadBalancerZoneId"],
                "DNSName": secondary["loadBalancerDnsName"],
                "EvaluateTargetHealth": True,
            },
        },
    }


def next_steps(regions: Mapping[str, Any], secondary: Mapping[str, Any], stack: str | None) -> list[str]:
    region, primary = secondary["region"], regions["primary"]
    where = f"--stack {stack}" if stack else "--stack <stack>"
    return [
        "next:",
        f"  pulumi config set --path registry:regions.promoted {region}{f' --stack {stack}' if stack else ''}",
        f"    so the next pulumi up keeps {region} writable and the push name on it; without it pulumi up makes "
        f"{region} read-only again and points the push name back at {primary['region']}",
        f"  replication is one-way ({primary['region']} -> secondaries): what is pushed to {region} (bucket "
        f"{secondary['bucket']}) never reaches {primary['region']} (bucket {primary['bucket']}). Before making "
        f"{primary['region']} primary again, copy {secondary['bucket']} back: python -m tools.maintenance backup "
        f"{where} ..., then python -m tools.maintenance restore into {primary['bucket']}",
        f"  pulls keep following latency routing ({regions['pullDomain']}) to the nearest healthy region",
    ]


def _plan(
    regions: Mapping[str, Any],
    secondary: Mapping[str, Any],
    definition: Mapping[str, Any],
    request: Mapping[str, Any] | None,
    pushed_to: str | None,
    timeout: float,
) -> list[str]:
    region, service = secondary["region"], secondary["service"]
    lines = [f"{region}: writable already (the task definition stays)"]
    if request is not None:
        lines = [
            f"{region}: would register a new revision of {definition['family']} from {definition['taskDefinitionArn']} "
            f"with {REGISTRY_CONTAINER} container {READONLY_VARIABLE} {read_only_value(definition)} -> "
            f"{_writable_value()} (every other field, variable and tag kept), and update service {service} "
            f"(cluster {secondary['cluster']}) to it",
        ]
    lines.append(f"{region}: would wait up to {timeout:.0f}s for service {service} to be stable")
    lines.append(
        f"would UPSERT push name {regions['pushDomain']} (zone {regions['hostedZoneId']}): alias A {pushed_to} -> "
        f"{secondary['loadBalancerDnsName']} (zone {secondary['loadBalancerZoneId']}, EvaluateTargetHealth true)"
    )
    return lines


def _already_writable(regions: Mapping[str, Any], secondary: Mapping[str, Any], pushed_to: str | None) -> str:
    region = secondary["region"]
    said = (
        f"{region} is writable already (its {REGISTRY_CONTAINER} container has {READONLY_VARIABLE} {_writable_value()})"
    )
    if pushed_to == _dns(str(secondary["loadBalancerDnsName"])):
        return f"{said} and the push name {regions['pushDomain']} points at it: nothing to do"
    return (
        f"{said}, but the push name {regions['pushDomain']} points at {pushed_to}: pass --force to move only the "
        "push name (after the service is stable)"
    )


def _readonly_entry(definition: Mapping[str, Any]) -> dict[str, Any] | None:
    containers = definition.get("containerDefinitions") or []
    registry: dict[str, Any] = next((c for c in containers if c.get("name") == REGISTRY_CONTAINER), {})
    return next((e for e in registry.get("environment") or [] if e.get("name") == READONLY_VARIABLE), None)


def _writable_value() -> str:
    return readonly_environment(False)[READONLY_VARIABLE]


def _dns(name: str) -> str:
    return name.lower().rstrip(".")


def _aws(what: str, call: Callable[..., Any], **request: Any) -> Any:
    try:
        return call(**request)
    except (BotoCoreError, ClientError) as err:
        raise MaintenanceError(f"{what} failed: {err}") from None


def _client(clients: Mapping[str, Any] | None, service: str, region: str) -> Any:
    if clients and service in clients:
        return clients[service]
    import boto3  # only the aws target needs AWS credentials

    return boto3.client(service, region_name=region)
