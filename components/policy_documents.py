"""IAM and KMS policy documents every AWS-backed target builds on (aws, ecr), as plain data."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi


def document(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


# The key administrators' actions of AWS's default key policy (KMS developer guide, "Allows key
# administrators to administer the KMS key"): everything but using the key for data.
KMS_ADMIN_ACTIONS = [
    "kms:Create*",
    "kms:Describe*",
    "kms:Enable*",
    "kms:List*",
    "kms:Put*",
    "kms:Update*",
    "kms:Revoke*",
    "kms:Disable*",
    "kms:Get*",
    "kms:Delete*",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
    "kms:RotateKeyOnDemand",
]
SERVICE_USE_ACTIONS = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]


def key_policy(
    account_id: str,
    users: Sequence[tuple[str, pulumi.Input[str], Sequence[str]]] = (),
    through_service: str | None = None,
) -> dict[str, Any]:
    """A KMS key policy: the account administers the key; only `users` ((sid, role ARN, actions))
    use it. `through_service` ("secretsmanager.eu-west-1.amazonaws.com") also lets principals of
    the account whose IAM policy allows it use the key, but only through that service (how the
    deploying identity, which cannot be named in advance, writes a secret)."""
    root = f"arn:aws:iam::{account_id}:root"
    statements: list[dict[str, Any]] = [
        {
            "Sid": "AccountAdministersTheKey",
            "Effect": "Allow",
            "Principal": {"AWS": root},
            "Action": KMS_ADMIN_ACTIONS,
            "Resource": "*",
        }
    ]
    statements += [
        {"Sid": sid, "Effect": "Allow", "Principal": {"AWS": arn}, "Action": list(actions), "Resource": "*"}
        for sid, arn, actions in users
    ]
    if through_service is not None:
        statements.append(
            {
                "Sid": "UseOnlyThrough" + through_service.split(".", 1)[0].capitalize(),
                "Effect": "Allow",
                "Principal": {"AWS": root},
                "Action": SERVICE_USE_ACTIONS,
                "Resource": "*",
                "Condition": {"StringEquals": {"kms:ViaService": through_service, "kms:CallerAccount": account_id}},
            }
        )
    return document(*statements)
