"""IAM: no statement allows every action on every resource."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.policies.support import resource_args, run

ADMIN = {"Sid": "Everything", "Effect": "Allow", "Action": "*", "Resource": "*"}
SCOPED = {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::registry/*"}


def document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.mark.parametrize(
    "token", ["aws:iam/policy:Policy", "aws:iam/rolePolicy:RolePolicy", "aws:iam/userPolicy:UserPolicy"]
)
def test_scoped_policies_pass_and_admin_ones_fail(token: str) -> None:
    assert run("iam-no-wildcard-action-on-wildcard-resource", resource_args(token, {"policy": document(SCOPED)})) == []
    [message] = (
        run("iam-no-wildcard-action-on-wildcard-resource", resource_args(token, {"policy": document(SCOPED, ADMIN)}))
        or []
    )
    assert "statement Everything" in message and "every action" in message


def test_role_inline_policies_are_checked() -> None:
    props = {
        "inlinePolicies": [
            {"name": "ok", "policy": document(SCOPED)},
            {"name": "admin", "policy": document({**ADMIN, "Sid": ""})},
        ]
    }
    [message] = (
        run("iam-no-wildcard-action-on-wildcard-resource", resource_args("aws:iam/role:Role", props, name="role")) or []
    )
    assert message.startswith("role: inline policy admin, statement 0")


def test_a_wildcard_on_one_side_only_or_a_deny_passes() -> None:
    for statement in [
        {**ADMIN, "Resource": "arn:aws:s3:::b"},
        {**ADMIN, "Action": "s3:*"},
        {**ADMIN, "Effect": "Deny"},
    ]:
        assert (
            run(
                "iam-no-wildcard-action-on-wildcard-resource",
                resource_args("aws:iam/policy:Policy", {"policy": document(statement)}),
            )
            == []
        )
