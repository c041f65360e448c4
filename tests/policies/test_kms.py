"""KMS key policies and the customer key of production secrets."""

from __future__ import annotations

import json
from typing import Any

from tests.policies.support import NOT_APPLICABLE, resource, resource_args, run, stack_args

KEY = "aws:kms/key:Key"
ADMIN = {"Sid": "Admin", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:root"}, "Action": ["kms:Describe*"]}


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def test_a_key_with_an_inline_or_attached_policy_passes() -> None:
    inline = resource(KEY, {"policy": policy(ADMIN)}, name="inline")
    bare = resource(KEY, {}, name="bare")
    attached = resource("aws:kms/keyPolicy:KeyPolicy", {"policy": policy(ADMIN)}, name="attached", dependencies=[bare])
    assert run("kms-key-explicit-policy", stack_args([inline, bare, attached])) == []


def test_a_key_without_a_policy_fails() -> None:
    [message] = run("kms-key-explicit-policy", stack_args([resource(KEY, {}, name="bare")])) or []
    assert message.startswith("bare (Key) has no key policy") and "aws.kms.KeyPolicy" in message


def test_a_policy_granting_every_kms_action_fails() -> None:
    everything = {
        "Sid": "Everything",
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::1:root"},
        "Action": "kms:*",
    }
    [message] = (
        run("kms-key-explicit-policy", stack_args([resource(KEY, {"policy": policy(everything)}, name="k")])) or []
    )
    assert "statement Everything allows every KMS action" in message


def test_production_secrets_need_a_customer_key() -> None:
    always = {"production": "always"}
    secret = "aws:secretsmanager/secret:Secret"
    assert (
        run(
            "secretsmanager-secret-customer-key-in-production",
            resource_args(secret, {"kmsKeyId": "arn:aws:kms:k"}, config=always),
        )
        == []
    )
    [message] = run("secretsmanager-secret-customer-key-in-production", resource_args(secret, {}, config=always)) or []
    assert "kms_key_id" in message
    assert (
        run(
            "secretsmanager-secret-customer-key-in-production",
            resource_args(secret, {}, config={"production": "never"}),
        )
        is NOT_APPLICABLE
    )
