"""ElastiCache policies on a replication group."""

from __future__ import annotations

from typing import Any

import pytest

from tests.policies.support import NOT_APPLICABLE, resource_args, run

SAFE: dict[str, Any] = {
    "engine": "redis",
    "atRestEncryptionEnabled": True,
    "transitEncryptionEnabled": True,
    "transitEncryptionMode": "required",
    "authToken": "a-generated-token-value",
    "automaticFailoverEnabled": True,
    "numCacheClusters": 2.0,
}
POLICIES = [
    "elasticache-encryption-at-rest",
    "elasticache-encryption-in-transit",
    "elasticache-auth-token",
    "elasticache-automatic-failover-in-production",
]


def group(config: dict[str, Any] | None = None, **changes: Any) -> Any:
    props = {k: v for k, v in {**SAFE, **changes}.items() if v is not None}
    return resource_args("aws:elasticache/replicationGroup:ReplicationGroup", props, name="cache", config=config)


@pytest.mark.parametrize("policy", POLICIES)
def test_a_safe_group_passes(policy: str) -> None:
    assert run(policy, group({"production": "always"})) == []


@pytest.mark.parametrize(
    ("policy", "change", "fix"),
    [
        ("elasticache-encryption-at-rest", {"atRestEncryptionEnabled": None}, "at_rest_encryption_enabled=True"),
        ("elasticache-encryption-in-transit", {"transitEncryptionEnabled": False}, "transit_encryption_enabled=True"),
        ("elasticache-encryption-in-transit", {"transitEncryptionMode": "preferred"}, "'required'"),
        ("elasticache-auth-token", {"authToken": None}, "auth_token"),
        (
            "elasticache-automatic-failover-in-production",
            {"automaticFailoverEnabled": False},
            "automatic_failover_enabled=True",
        ),
    ],
)
def test_one_unsafe_setting_fails(policy: str, change: dict[str, Any], fix: str) -> None:
    [message] = run(policy, group({"production": "always"}, **change)) or []
    assert message.startswith("cache:") and fix in message
    assert SAFE["authToken"] not in message


def test_valkey_is_encrypted_at_rest_by_default_and_rbac_replaces_the_token() -> None:
    assert run("elasticache-encryption-at-rest", group(engine="valkey", atRestEncryptionEnabled=None)) == []
    assert run("elasticache-auth-token", group(authToken=None, userGroupIds=["registry-users"])) == []


def test_failover_is_not_required_outside_production() -> None:
    single = group({"production": "never"}, automaticFailoverEnabled=False, numCacheClusters=1.0)
    assert run("elasticache-automatic-failover-in-production", single) is NOT_APPLICABLE
