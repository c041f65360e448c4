"""The self-hosted edge's registry:access (local and aws): read from the nginx.conf it runs.

The edge decides who may do what from one nginx map, `$edge_grant`, one line per user and
repository pattern (components/renderers/access.py renders it):

    "~^<user>:(?:pull|push|delete):<repository regex>" 1;

A line for every repository has a repository regex without a fixed name part (it starts with a
character class). Deleting everywhere belongs to administrators, who may also pull and push
everywhere (registry:users access admin); a rule that hands it to anyone else is refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from pulumi_policy import ResourceValidationArgs

from .common import MANDATORY, Config, as_list, as_mapping, resource_policy
from .ecs import TASK_DEFINITIONS, containers
from .workloads import DOCKER_CONTAINERS

GRANT_MAP = re.compile(r'map "\$remote_user:\$edge_action:\$edge_repository" \$edge_grant \{\n(.*?)\n\s*\}', re.S)
GRANT_LINE = re.compile(r'^\s*"~\^(?P<user>(?:\\.|[^:])+):\(\?:(?P<verbs>[a-z|]+)\):(?P<repository>[^"]*)" 1;$')
EVERY_REPOSITORY = "["  # the regex of `*` opens with a character class; every named pattern with a name


def _nginx_configs(args: ResourceValidationArgs) -> Iterator[str]:
    """nginx.conf texts a Docker container uploads or an ECS container gets in NGINX_CONF."""
    for upload in map(as_mapping, as_list(args.props.get("uploads"))):
        yield str(upload.get("content") or "")
    for container in containers(args.props.get("containerDefinitions")):
        for variable in map(as_mapping, as_list(container.get("environment"))):
            if variable.get("name") == "NGINX_CONF":
                yield str(variable.get("value") or "")


def everywhere_grants(conf: str) -> dict[str, set[str]]:
    """user -> the actions a grant line allows it on every repository."""
    found: dict[str, set[str]] = {}
    for block in GRANT_MAP.findall(conf):
        for line in block.splitlines():
            grant = GRANT_LINE.match(line)
            if grant is not None and grant["repository"].startswith(EVERY_REPOSITORY):
                user = re.sub(r"\\(.)", r"\1", grant["user"])
                found.setdefault(user, set()).update(grant["verbs"].split("|"))
    return found


def _delete_everywhere_is_for_admins(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    for conf in _nginx_configs(args):
        for user, actions in sorted(everywhere_grants(conf).items()):
            if "delete" in actions and not {"pull", "push"} <= actions:
                yield (
                    f"{args.name}: the edge lets {user} delete in every repository without being an admin; "
                    f"narrow the registry:access rule that grants it delete on '*' to the repositories it "
                    f"cleans up, or make {user} an admin (registry:users access admin)"
                )


POLICIES: list[Any] = [
    resource_policy(
        name="registry-edge-delete-everywhere-admin-only",
        description="At the self-hosted edge, only administrators may delete in every repository (registry:access).",
        types=DOCKER_CONTAINERS | TASK_DEFINITIONS,
        check=_delete_everywhere_is_for_admins,
        level=MANDATORY,
    ),
]
