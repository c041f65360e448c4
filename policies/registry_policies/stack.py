"""Rules about the deployment as a whole: how many registry instances, and whether they agree."""

from __future__ import annotations

from collections.abc import Iterator

from pulumi_policy import PolicyResource, StackValidationArgs

from .common import MANDATORY, Config, of_types, stack_policy
from .workloads import REGISTRY_PARAMS, registry_instances

# where a stack would run registry instances of its own
COMPUTE = {"aws:ecs/service:Service", "aws:ecs/taskDefinition:TaskDefinition", "docker:index/container:Container"}


def _high_availability(args: StackValidationArgs, config: Config) -> Iterator[tuple[str, PolicyResource | None]]:
    instances = registry_instances(args.resources, config)
    if not instances and not of_types(args.resources, COMPUTE):
        args.not_applicable("the stack runs no registry of its own (a managed registry such as ECR scales by itself)")
    count = sum(i.count for i in instances)
    zones = set().union(*(i.zones for i in instances)) if instances else set()
    if count < config["minInstances"] or len(zones) < config["minZones"]:
        yield (
            f"the stack runs {count} registry instance(s) in {len(zones)} zone(s); production needs at least "
            f"{config['minInstances']:g} instances across {config['minZones']:g} zones (raise registry:replicas, spread "
            "the service over subnets in different availability zones)",
            None,
        )


def _shared_http_secret(args: StackValidationArgs, config: Config) -> Iterator[tuple[str, PolicyResource | None]]:
    instances = registry_instances(args.resources, config)
    if sum(i.count for i in instances) < 2 and len(instances) < 2:
        return
    for instance in instances:
        if instance.secret is None:
            yield (
                f"registry instance {instance.label} has no http secret, so each instance makes up its own and uploads "
                "spread across instances fail (BLOB_UPLOAD_INVALID); set REGISTRY_HTTP_SECRET (or http.secret) "
                "from the one shared secret",
                instance.resource,
            )
    # per region: instances in different regions never share an upload (Instance.region)
    regions: dict[str, dict[tuple[str, str], list[str]]] = {}
    for instance in instances:
        if instance.secret is not None:
            regions.setdefault(instance.region, {}).setdefault(instance.secret, []).append(instance.label)
    for region, groups in sorted(regions.items()):
        if len(groups) > 1:
            sets = "; ".join(", ".join(sorted(labels)) for labels in sorted(groups.values()))
            where = f" in {region}" if region else ""
            yield (
                f"registry instances{where} use {len(groups)} different http secrets ({sets}); give every instance "
                "the same secret, or uploads spread across instances fail (BLOB_UPLOAD_INVALID)",
                None,
            )


POLICIES = [
    stack_policy(
        name="registry-production-high-availability",
        description="A production stack runs at least 2 registry instances across at least 2 availability zones.",
        check=_high_availability,
        level=MANDATORY,
        params={
            **REGISTRY_PARAMS,
            "minInstances": {"type": "integer", "minimum": 1, "default": 2},
            "minZones": {"type": "integer", "minimum": 1, "default": 2},
        },
        production_only=True,
    ),
    stack_policy(
        name="registry-shared-http-secret",
        description="Every registry instance of a stack uses one shared http secret, so uploads can span instances.",
        check=_shared_http_secret,
        level=MANDATORY,
        params=REGISTRY_PARAMS,
    ),
]
