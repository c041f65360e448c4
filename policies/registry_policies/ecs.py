"""ECS: the task definitions that run the registry and its edge on Fargate.

`containerDefinitions` is a JSON string; each check reads the containers out of it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import ResourceValidationArgs

from .common import MANDATORY, Config, as_list, as_mapping, json_document, resource_policy

TASK_DEFINITIONS = {"aws:ecs/taskDefinition:TaskDefinition"}
SECRET_NAMES = r"(?i)(^|_)(PASS|PASSWORD|PASSWD|HTPASSWD|SECRET|SECRET_?KEY|TOKEN|PRIVATE_?KEY|(TLS|SSL)_KEY|ACCESS_?KEY|API_?KEY|CREDENTIALS?)(_|$)"


def containers(container_definitions: Any) -> list[Mapping[str, Any]]:
    """The container definitions of a task definition (a JSON string or already a list)."""
    return [as_mapping(c) for c in as_list(json_document(container_definitions))]


def _name(container: Mapping[str, Any]) -> str:
    return str(container.get("name") or container.get("image") or "?")


def _no_plaintext_secrets(args: ResourceValidationArgs, config: Config) -> Iterator[str]:
    for container in containers(args.props.get("containerDefinitions")):
        names = [str(e.get("name")) for e in map(as_mapping, as_list(container.get("environment")))]
        exposed = [n for n in names if re.search(config["secretNamePattern"], n)]
        if exposed:
            yield (
                f"{args.name}: container {_name(container)} passes {', '.join(exposed)} as plain environment; "
                "move them to `secrets` with valueFrom a Secrets Manager or SSM parameter ARN"
            )


def _not_privileged(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    for container in containers(args.props.get("containerDefinitions")):
        if container.get("privileged") is True:
            yield f"{args.name}: container {_name(container)} runs privileged; remove privileged: true"


def _read_only_root(args: ResourceValidationArgs, config: Config) -> Iterator[str]:
    for container in containers(args.props.get("containerDefinitions")):
        exempt = config["writableRootImagePattern"]
        if exempt and re.search(exempt, str(container.get("image", ""))):
            continue
        if container.get("readonlyRootFilesystem") is not True:
            yield (
                f"{args.name}: container {_name(container)} has a writable root filesystem; set "
                "readonlyRootFilesystem: true and mount a volume where it must write"
            )


POLICIES = [
    resource_policy(
        name="ecs-no-plaintext-secrets-in-environment",
        description="ECS containers receive passwords, tokens and keys through `secrets`, never plain environment (Trivy AVD-AWS-0036).",
        types=TASK_DEFINITIONS,
        check=_no_plaintext_secrets,
        level=MANDATORY,
        params={"secretNamePattern": {"type": "string", "default": SECRET_NAMES}},
    ),
    resource_policy(
        name="ecs-no-privileged-containers",
        description="ECS containers do not run privileged (CKV_AWS_334).",
        types=TASK_DEFINITIONS,
        check=_not_privileged,
        level=MANDATORY,
    ),
    resource_policy(
        name="ecs-read-only-root-filesystem",
        description="ECS containers run with a read-only root filesystem unless their image is listed as needing a writable one (CKV_AWS_336).",
        types=TASK_DEFINITIONS,
        check=_read_only_root,
        level=MANDATORY,
        params={
            "writableRootImagePattern": {
                "type": "string",
                "default": "",
                "description": "regular expression of images that cannot run read-only ('' exempts none)",
            }
        },
    ),
]
