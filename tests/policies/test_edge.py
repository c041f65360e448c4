"""registry:access at the self-hosted edge: only administrators delete in every repository."""

from __future__ import annotations

import json
from typing import Any

from components.config.access import Grant
from components.renderers.nginx import render_nginx_config
from policies.registry_policies.edge import everywhere_grants
from tests.policies.support import resource_args, run

POLICY = "registry-edge-delete-everywhere-admin-only"
ADMIN = [Grant("ops", "push", "*", "users[0].access"), Grant("ops", "delete", "*", "users[0].access")]


def conf(*grants: Grant) -> str:
    return render_nginx_config(server_names=["localhost"], public_port=443, upstreams=["r:5000"], grants=grants)


def container(text: str) -> Any:
    uploads = [{"file": "/etc/nginx/nginx.conf", "content": text}]
    return resource_args("docker:index/container:Container", {"image": "sha256:edge", "uploads": uploads}, name="edge")


def task(text: str) -> Any:
    definitions = json.dumps([{"name": "edge", "environment": [{"name": "NGINX_CONF", "value": text}]}])
    return resource_args("aws:ecs/taskDefinition:TaskDefinition", {"containerDefinitions": definitions}, name="task")


def test_the_rendered_grants_are_read_back_per_user() -> None:
    text = conf(*ADMIN, Grant("ci.x", "push", "*", "users[1].access"), Grant("ci.x", "delete", "team-a/*", "access[0]"))
    assert everywhere_grants(text) == {"ops": {"pull", "push", "delete"}, "ci.x": {"pull", "push"}}


def test_admins_and_narrow_delete_rules_pass_on_both_targets() -> None:
    text = conf(*ADMIN, Grant("janitor", "delete", "team-a/*", "access[0].delete[0]"))
    assert run(POLICY, container(text)) == [] and run(POLICY, task(text)) == []


def test_a_rule_granting_delete_on_every_repository_to_a_non_admin_is_refused() -> None:
    text = conf(*ADMIN, Grant("janitor", "delete", "*", "access[0].delete[0]"))
    for subject in (container(text), task(text)):
        [message] = run(POLICY, subject) or []
        assert "lets janitor delete in every repository without being an admin" in message
