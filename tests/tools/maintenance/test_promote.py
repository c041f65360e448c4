"""promote on aws: a read-only secondary made writable in moto's ECS, the push name moved in moto's
Route 53. moto answers GetHealthCheckStatus with one fixed HTTP "Success" whatever the check's type,
so the primary's CLOUDWATCH_METRIC check is answered by a small fake for that call only."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from components.renderers.distribution import READONLY_VARIABLE, readonly_environment
from tools.maintenance import MaintenanceError
from tools.maintenance.promote import REGISTER_FIELDS, add_promote_parser, promote, run_promote, wait_stable

REGION = "us-east-1"
READ_ONLY = readonly_environment(True)[READONLY_VARIABLE]
WRITABLE = readonly_environment(False)[READONLY_VARIABLE]
PRIMARY_DNS = "primary-123.eu-west-1.elb.amazonaws.com"
SECONDARY_DNS = "secondary-456.us-east-1.elb.amazonaws.com"
FAILING = "Failure: The alarm registry-primary-healthy-hosts is in the ALARM state."
HEALTHY = "Success: The alarm registry-primary-healthy-hosts is in the OK state."


class Route53:
    """moto's Route 53 client, but GetHealthCheckStatus says `statuses` (or raises `error`)."""

    def __init__(self, moto: Any, statuses: list[str], error: Exception | None = None):
        self.moto, self.statuses, self.error = moto, statuses, error
        self.asked: list[str] = []

    def get_health_check_status(self, HealthCheckId: str) -> dict[str, Any]:
        self.asked.append(HealthCheckId)
        if self.error is not None:
            raise self.error
        return {"HealthCheckObservations": [_observation(status) for status in self.statuses]}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.moto, name)


def _observation(status: str) -> dict[str, Any]:
    return {"Region": "eu-west-1", "IPAddress": "15.177.2.1", "StatusReport": {"Status": status}}


def container_definitions(environment: list[dict[str, str]]) -> list[dict[str, Any]]:
    return [
        {
            "name": "registry",
            "image": "registry:3.0.0",
            "essential": True,
            "command": ["sh", "-c", "registry serve /etc/distribution/config.yml"],
            "environment": environment,
            "secrets": [{"name": "REGISTRY_HTTP_SECRET", "valueFrom": "arn:aws:secretsmanager:us-east-1:1:secret:s"}],
            "mountPoints": [{"sourceVolume": "config", "containerPath": "/etc/distribution"}],
            "readonlyRootFilesystem": True,
        },
        {
            "name": "edge",
            "image": "nginx:1.27",
            "essential": True,
            "portMappings": [{"containerPort": 8443, "protocol": "tcp"}],
            "environment": [{"name": "EDGE_MODE", "value": "tls"}],
            "dependsOn": [{"containerName": "registry", "condition": "START"}],
        },
    ]


REGISTRY_ENV = [
    {"name": "OTEL_TRACES_EXPORTER", "value": "none"},
    {"name": READONLY_VARIABLE, "value": READ_ONLY},
    {"name": "SECRETS_VERSION", "value": "7"},
]


def register(ecs: Any, environment: list[dict[str, str]] = REGISTRY_ENV, family: str = "registry-us-east-1") -> str:
    """A task definition as components/aws would register it for a secondary."""
    registered = ecs.register_task_definition(
        family=family,
        taskRoleArn="arn:aws:iam::123456789012:role/registry-task",
        executionRoleArn="arn:aws:iam::123456789012:role/registry-execution",
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="512",
        memory="1024",
        runtimePlatform={"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"},
        ephemeralStorage={"sizeInGiB": 30},
        volumes=[{"name": "config"}],
        pidMode="task",
        containerDefinitions=container_definitions(environment),
        tags=[{"key": "stack", "value": "prod"}, {"key": "role", "value": "secondary"}],
    )
    return str(registered["taskDefinition"]["taskDefinitionArn"])


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """A read-only secondary service in us-east-1, the push name aliased to the primary's ALB, and the
    stack's maintenance description."""
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MOTO_ECS_SERVICE_RUNNING", "1")  # moto's services run what they want: stable
    with mock_aws():
        ecs, route53 = boto3.client("ecs", region_name=REGION), boto3.client("route53", region_name=REGION)
        ecs.create_cluster(clusterName="registry-us-east-1")
        arn = register(ecs)
        ecs.create_service(
            cluster="registry-us-east-1",
            serviceName="registry",
            taskDefinition=arn,
            desiredCount=1,
            launchType="FARGATE",
        )
        zone = route53.create_hosted_zone(Name="registry.example.com", CallerReference="zone")["HostedZone"]["Id"]
        alias(route53, zone, PRIMARY_DNS, "Z32O12XQLNTSW2")
        yield {"ecs": ecs, "route53": route53, "zone": zone, "arn": arn, "target": target(zone)}


def alias(route53: Any, zone: str, dns: str, zone_id: str) -> None:
    record = {"Name": "registry.example.com", "Type": "A", "AliasTarget": _alias_target(dns, zone_id)}
    route53.change_resource_record_sets(
        HostedZoneId=zone, ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": record}]}
    )


def _alias_target(dns: str, zone_id: str) -> dict[str, Any]:
    return {"HostedZoneId": zone_id, "DNSName": dns, "EvaluateTargetHealth": True}


def target(zone: str) -> dict[str, Any]:
    return {
        "target": "aws",
        "region": "eu-west-1",
        "regions": {
            "primary": {
                "region": "eu-west-1",
                "cluster": "registry-eu-west-1",
                "service": "registry",
                "bucket": "registry-primary",
                "loadBalancerDnsName": PRIMARY_DNS,
                "loadBalancerZoneId": "Z32O12XQLNTSW2",
                "healthCheckId": "hc-primary",
            },
            "secondaries": [
                {
                    "region": REGION,
                    "cluster": "registry-us-east-1",
                    "service": "registry",
                    "bucket": "registry-replica-us-east-1",
                    "loadBalancerDnsName": SECONDARY_DNS,
                    "loadBalancerZoneId": "Z35SXDOTRQ7X7K",
                    "healthCheckId": "hc-us-east-1",
                },
                {
                    "region": "ap-southeast-2",
                    "cluster": "registry-ap-southeast-2",
                    "service": "registry",
                    "bucket": "registry-replica-ap-southeast-2",
                    "loadBalancerDnsName": "secondary-789.ap-southeast-2.elb.amazonaws.com",
                    "loadBalancerZoneId": "Z1GM3OXH4ZPM65",
                    "healthCheckId": "hc-ap-southeast-2",
                },
            ],
            "hostedZoneId": zone,
            "pushDomain": "registry.example.com",
            "pullDomain": "pull.registry.example.com",
            "promoted": None,
        },
    }


def clients(aws: dict[str, Any], statuses: list[str] | None = None, error: Exception | None = None) -> dict[str, Any]:
    return {"ecs": aws["ecs"], "route53": Route53(aws["route53"], [FAILING] if statuses is None else statuses, error)}


def push_record(aws: dict[str, Any]) -> dict[str, Any]:
    records = aws["route53"].list_resource_record_sets(HostedZoneId=aws["zone"])["ResourceRecordSets"]
    [record] = [r for r in records if r["Name"] == "registry.example.com." and r["Type"] == "A"]
    return dict(record["AliasTarget"])


def service_definition(aws: dict[str, Any]) -> str:
    [service] = aws["ecs"].describe_services(cluster="registry-us-east-1", services=["registry"])["services"]
    return str(service["taskDefinition"])


def revisions(aws: dict[str, Any]) -> list[str]:
    return list(aws["ecs"].list_task_definitions(familyPrefix="registry-us-east-1")["taskDefinitionArns"])


def unchanged(aws: dict[str, Any]) -> None:
    assert revisions(aws) == [aws["arn"]]
    assert service_definition(aws) == aws["arn"]
    assert push_record(aws)["DNSName"] == PRIMARY_DNS


def stable(calls: list[str]) -> Any:
    def wait(ecs: Any, cluster: str, service: str, timeout: float) -> None:
        calls.append(f"wait {cluster}/{service}")

    return wait


# ---- refusals


def test_refuses_a_stack_without_regions(aws: dict[str, Any]) -> None:
    without = {k: v for k, v in aws["target"].items() if k != "regions"}
    with pytest.raises(MaintenanceError, match=r"set registry:regions and run pulumi up"):
        promote(without, REGION, clients=clients(aws))
    with pytest.raises(MaintenanceError, match="set registry:regions"):
        promote({**without, "regions": None}, REGION, clients=clients(aws))
    with pytest.raises(MaintenanceError, match="aws target"):
        promote({"target": "local"}, REGION, clients=clients(aws))
    unchanged(aws)


def test_an_unknown_region_is_refused_naming_the_secondaries(aws: dict[str, Any]) -> None:
    with pytest.raises(MaintenanceError, match=r"us-west-2 is not a secondary .*: us-east-1, ap-southeast-2$"):
        promote(aws["target"], "us-west-2", clients=clients(aws))
    with pytest.raises(MaintenanceError, match=r"eu-west-1 is the primary.*: us-east-1, ap-southeast-2$"):
        promote(aws["target"], "eu-west-1", clients=clients(aws))
    unchanged(aws)


def test_a_healthy_primary_is_refused_unless_forced(aws: dict[str, Any]) -> None:
    answers = clients(aws, [FAILING, HEALTHY, FAILING])  # one checker seeing it healthy is enough
    with pytest.raises(MaintenanceError, match="the primary is healthy") as refused:
        promote(aws["target"], REGION, clients=answers, wait=stable([]))
    assert "two writable regions whose buckets diverge (replication is one-way); pass --force" in str(refused.value)
    assert answers["route53"].asked == ["hc-primary"]
    unchanged(aws)

    lines = promote(aws["target"], REGION, force=True, clients=answers, wait=stable([]))
    assert "healthy" in lines[0] and "promoting anyway (--force)" in lines[0]
    assert push_record(aws)["DNSName"] == SECONDARY_DNS
    assert service_definition(aws) != aws["arn"]


def test_when_route53_cannot_say_the_primary_is_treated_as_up(aws: dict[str, Any]) -> None:
    denied = ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "GetHealthCheckStatus")
    with pytest.raises(MaintenanceError, match=r"the primary may be up: .*GetHealthCheckStatus failed") as refused:
        promote(aws["target"], REGION, clients=clients(aws, error=denied), wait=stable([]))
    assert "pass --force if you mean it" in str(refused.value)
    # no observation that says success or failure (a check not yet propagated) is no answer either
    with pytest.raises(MaintenanceError, match="the primary may be up"):
        promote(aws["target"], REGION, clients=clients(aws, []), wait=stable([]))
    with pytest.raises(MaintenanceError, match="the primary may be up"):
        promote(aws["target"], REGION, clients=clients(aws, ["Unknown: not propagated yet"]), wait=stable([]))
    unchanged(aws)

    lines = promote(aws["target"], REGION, force=True, clients=clients(aws, error=denied), wait=stable([]))
    assert "unknown" in lines[0] and "(--force)" in lines[0]
    assert push_record(aws)["DNSName"] == SECONDARY_DNS


def test_another_promoted_region_is_refused(aws: dict[str, Any]) -> None:
    aws["target"]["regions"]["promoted"] = "ap-southeast-2"
    with pytest.raises(MaintenanceError, match="ap-southeast-2 is the promoted region already"):
        promote(aws["target"], REGION, clients=clients(aws), wait=stable([]))
    unchanged(aws)


def test_a_service_without_the_read_only_variable_is_refused(aws: dict[str, Any]) -> None:
    plain = [e for e in REGISTRY_ENV if e["name"] != READONLY_VARIABLE]
    arn = register(aws["ecs"], plain)
    aws["ecs"].update_service(cluster="registry-us-east-1", service="registry", taskDefinition=arn)
    with pytest.raises(MaintenanceError, match="this service was not deployed as a read-only secondary"):
        promote(aws["target"], REGION, clients=clients(aws), wait=stable([]))
    assert len(revisions(aws)) == 2 and push_record(aws)["DNSName"] == PRIMARY_DNS


def test_an_already_writable_region_is_refused(aws: dict[str, Any]) -> None:
    writable = [{**e, "value": WRITABLE} if e["name"] == READONLY_VARIABLE else e for e in REGISTRY_ENV]
    arn = register(aws["ecs"], writable)
    aws["ecs"].update_service(cluster="registry-us-east-1", service="registry", taskDefinition=arn)
    with pytest.raises(MaintenanceError, match=r"us-east-1 is writable already.*points at primary-123.*--force"):
        promote(aws["target"], REGION, clients=clients(aws), wait=stable([]))
    assert push_record(aws)["DNSName"] == PRIMARY_DNS

    # --force finishes a promote whose last step failed: the push name only, no new revision
    calls: list[str] = []
    promote(aws["target"], REGION, force=True, clients=clients(aws), wait=stable(calls))
    assert calls == ["wait registry-us-east-1/registry"]
    assert push_record(aws)["DNSName"] == SECONDARY_DNS
    assert len(revisions(aws)) == 2 and service_definition(aws) == arn

    with pytest.raises(MaintenanceError, match="points at it: nothing to do"):
        promote(aws["target"], REGION, clients=clients(aws), wait=stable([]))


# ---- what it changes


def test_the_new_revision_is_the_old_one_but_writable(aws: dict[str, Any]) -> None:
    promote(aws["target"], REGION, clients=clients(aws), wait=stable([]))
    old, new = (
        aws["ecs"].describe_task_definition(taskDefinition=arn, include=["TAGS"])
        for arn in (aws["arn"], revisions(aws)[-1])
    )
    assert new["taskDefinition"]["revision"] == old["taskDefinition"]["revision"] + 1
    assert new["tags"] == old["tags"] == [{"key": "stack", "value": "prod"}, {"key": "role", "value": "secondary"}]
    expected = json.loads(json.dumps(old["taskDefinition"], default=str))
    expected["containerDefinitions"][0]["environment"][1]["value"] = WRITABLE
    actual = json.loads(json.dumps(new["taskDefinition"], default=str))
    for ecs_own in ("taskDefinitionArn", "revision", "registeredAt"):
        expected.pop(ecs_own, None), actual.pop(ecs_own, None)
    assert actual == expected
    [registry, edge] = actual["containerDefinitions"]
    assert registry["environment"] == [
        {"name": "OTEL_TRACES_EXPORTER", "value": "none"},
        {"name": READONLY_VARIABLE, "value": '{"enabled": false}'},
        {"name": "SECRETS_VERSION", "value": "7"},
    ]
    assert edge["environment"] == [{"name": "EDGE_MODE", "value": "tls"}]


def test_the_service_runs_it_and_the_push_name_moves_only_once_it_is_stable(aws: dict[str, Any]) -> None:
    calls: list[str] = []

    def wait(ecs: Any, cluster: str, service: str, timeout: float) -> None:
        calls.append("wait")
        assert service_definition(aws) == revisions(aws)[-1] != aws["arn"]  # updated before the wait
        assert push_record(aws)["DNSName"] == PRIMARY_DNS  # not moved before it is stable
        assert (cluster, service, timeout) == ("registry-us-east-1", "registry", 42.0)

    lines = promote(aws["target"], REGION, stack="prod", clients=clients(aws), wait=wait, timeout=42.0)
    assert calls == ["wait"]
    assert push_record(aws) == _alias_target(SECONDARY_DNS, "Z35SXDOTRQ7X7K")
    text = "\n".join(lines)
    assert "primary eu-west-1 (Route 53 health check hc-primary): unhealthy (1 of 1 checkers: Failure:" in text
    assert f"registered {revisions(aws)[-1]}" in text
    assert f"{READONLY_VARIABLE} {READ_ONLY} -> {WRITABLE}" in text
    assert f"push name registry.example.com: alias A -> {SECONDARY_DNS} (was {PRIMARY_DNS})" in text
    assert "pulumi config set --path registry:regions.promoted us-east-1 --stack prod" in text
    assert "python -m tools.maintenance backup --stack prod" in text and "restore" in text
    assert "registry-replica-us-east-1" in text and "one-way" in text
    assert "latency routing (pull.registry.example.com)" in text


def test_an_unstable_service_leaves_the_push_name_where_it_was(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOTO_ECS_SERVICE_RUNNING", "0")  # a service whose tasks never run
    aws["ecs"].create_service(
        cluster="registry-us-east-1",
        serviceName="stuck",
        taskDefinition=aws["arn"],
        desiredCount=1,
        launchType="FARGATE",
    )
    aws["target"]["regions"]["secondaries"][0]["service"] = "stuck"
    with pytest.raises(MaintenanceError, match=r"service stuck .* not stable within 1s.*NOT moved.*--force"):
        promote(aws["target"], REGION, clients=clients(aws), timeout=1.0)  # boto3's own waiter
    assert push_record(aws)["DNSName"] == PRIMARY_DNS


def test_the_default_wait_is_ecs_services_stable(aws: dict[str, Any]) -> None:
    wait_stable(aws["ecs"], "registry-us-east-1", "registry", 1.0)  # moto: runningCount == desiredCount
    promote(aws["target"], REGION, clients=clients(aws), timeout=1.0)
    assert push_record(aws)["DNSName"] == SECONDARY_DNS


def test_dry_run_prints_the_plan_and_changes_nothing(aws: dict[str, Any]) -> None:
    lines = promote(aws["target"], REGION, dry_run=True, clients=clients(aws), wait=stable([]))
    unchanged(aws)
    text = "\n".join(lines)
    assert f"would register a new revision of registry-us-east-1 from {aws['arn']}" in text
    assert f"{READONLY_VARIABLE} {READ_ONLY} -> {WRITABLE}" in text
    assert f"alias A {PRIMARY_DNS} -> {SECONDARY_DNS} (zone Z35SXDOTRQ7X7K, EvaluateTargetHealth true)" in text
    assert lines[-1] == "dry run: nothing changed"
    with pytest.raises(MaintenanceError, match="the primary is healthy"):  # the checks still run
        promote(aws["target"], REGION, dry_run=True, clients=clients(aws, [HEALTHY]))


def test_every_field_register_accepts_is_copied() -> None:
    """REGISTER_FIELDS is what RegisterTaskDefinition takes and DescribeTaskDefinition gives back (the
    installed SDK's model), so a field ECS adds is not dropped silently."""
    model = boto3.client("ecs", region_name=REGION).meta.service_model
    accepted = set(model.operation_model("RegisterTaskDefinition").input_shape.members)
    described = set(model.shape_for("TaskDefinition").members)
    assert set(REGISTER_FIELDS) == (accepted & described)


def test_the_command_line(aws: dict[str, Any], tmp_path: Any) -> None:
    parser = argparse.ArgumentParser()
    add_promote_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["promote", "--region", REGION, "--outputs", "out.json", "--dry-run"])
    assert (args.region, args.force, args.dry_run, args.stack, args.sandbox) == (REGION, False, True, None, None)
    for wrong in (
        ["promote", "--outputs", "o"],
        ["promote", "--region", REGION],
        ["promote", "--region", "r", "--stack", "s", "--outputs", "o"],
    ):
        with pytest.raises(SystemExit):
            parser.parse_args(wrong)
    lines = run_promote(aws["target"], args, clients=clients(aws))
    assert lines[-1] == "dry run: nothing changed"
    unchanged(aws)
