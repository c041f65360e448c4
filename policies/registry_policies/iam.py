"""IAM: the task and execution roles, and any policy a program attaches."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pulumi_policy import ResourceValidationArgs

from .common import MANDATORY, Config, as_list, as_mapping, json_document, resource_policy

POLICY_DOCUMENTS = {
    "aws:iam/policy:Policy",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/userPolicy:UserPolicy",
    "aws:iam/groupPolicy:GroupPolicy",
}
ROLES = {"aws:iam/role:Role"}


def _documents(args: ResourceValidationArgs) -> list[tuple[str, Any]]:
    """(where, document) for the resource's policy and a role's inline policies."""
    if args.resource_type in ROLES:
        return [
            (f"inline policy {as_mapping(p).get('name') or i}", as_mapping(p).get("policy"))
            for i, p in enumerate(as_list(args.props.get("inlinePolicies")))
        ]
    return [("policy", args.props.get("policy"))]


def _no_admin(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    for where, document in _documents(args):
        statements = as_list(as_mapping(json_document(document)).get("Statement"))
        for i, statement in enumerate(map(as_mapping, statements)):
            if (
                statement.get("Effect") == "Allow"
                and "*" in as_list(statement.get("Action"))
                and "*" in as_list(statement.get("Resource"))
            ):
                yield (
                    f"{args.name}: {where}, statement {statement.get('Sid') or i}, allows every action ('*') on "
                    "every resource ('*'); list the actions the role needs on the ARNs it uses"
                )


POLICIES = [
    resource_policy(
        name="iam-no-wildcard-action-on-wildcard-resource",
        description="IAM policies never allow action '*' on resource '*' (CKV_AWS_62).",
        types=POLICY_DOCUMENTS | ROLES,
        check=_no_admin,
        level=MANDATORY,
    ),
]
