"""The ECR lifecycle builder against a table of intents, and the policy documents."""

from __future__ import annotations

from typing import Any

import pytest

from components.config import AccessRule, Retention
from components.renderers.ecr import (
    DELETE_ACTIONS,
    PROTECTED_COUNT,
    PULL_ACTIONS,
    PUSH_ACTIONS,
    lifecycle_policy,
    registry_policy,
    replica_readers,
    repository_policy,
    validate_lifecycle_policy,
)

SIGNATURES = ["sha256-*.sig", "sha256-*.att", "sha256-*.sbom"]


def keep(pattern: str, priority: int) -> dict[str, Any]:
    return {
        "rulePriority": priority,
        "description": f"keep every image tagged {pattern}",
        "selection": {
            "tagStatus": "tagged",
            "tagPatternList": [pattern],
            "countType": "imageCountMoreThan",
            "countNumber": PROTECTED_COUNT,
        },
        "action": {"type": "expire"},
    }


def newest(count: int, priority: int) -> dict[str, Any]:
    return {
        "rulePriority": priority,
        "description": f"keep the {count} most recently pushed tagged images",
        "selection": {
            "tagStatus": "tagged",
            "tagPatternList": ["*"],
            "countType": "imageCountMoreThan",
            "countNumber": count,
        },
        "action": {"type": "expire"},
    }


def untagged(days: int, priority: int) -> dict[str, Any]:
    return {
        "rulePriority": priority,
        "description": f"delete untagged images after {days} days",
        "selection": {
            "tagStatus": "untagged",
            "countType": "sinceImagePushed",
            "countUnit": "days",
            "countNumber": days,
        },
        "action": {"type": "expire"},
    }


def test_no_retention_means_no_policy() -> None:
    assert lifecycle_policy(None) is None


@pytest.mark.parametrize(
    ("retention", "rules"),
    [
        pytest.param(
            Retention(untagged_days=7),
            [keep(p, i + 1) for i, p in enumerate(SIGNATURES)] + [untagged(7, 4)],
            id="untagged-only",
        ),
        pytest.param(
            Retention(keep_tagged=30),
            [keep(p, i + 1) for i, p in enumerate(SIGNATURES)] + [newest(30, 4)],
            id="tagged-only",
        ),
        pytest.param(
            Retention(keep_tagged=30, untagged_days=7, protected_tags=["v*", "release-*"]),
            [keep(p, i + 1) for i, p in enumerate(["v*", "release-*", *SIGNATURES])] + [newest(30, 6), untagged(7, 7)],
            id="protected-patterns-first",
        ),
        pytest.param(
            Retention(keep_tagged=3, protected_tags=["sha256-*.sig"]),
            [keep(p, i + 1) for i, p in enumerate(SIGNATURES)] + [newest(3, 4)],
            id="a-protected-signature-pattern-once",
        ),
    ],
)
def test_lifecycle_policy_table(retention: Retention, rules: list[dict[str, Any]]) -> None:
    assert lifecycle_policy(retention) == {"rules": rules}


def test_protected_tags_and_signatures_are_claimed_before_any_rule_that_expires() -> None:
    """ECR: an image matched by a higher-priority rule cannot be expired by a lower one."""
    policy = lifecycle_policy(Retention(keep_tagged=1, untagged_days=1, protected_tags=["v*"]))
    assert policy is not None
    rules = policy["rules"]
    protecting = [r for r in rules if r["selection"].get("countNumber") == PROTECTED_COUNT]
    expiring = [r for r in rules if r not in protecting]
    assert max(r["rulePriority"] for r in protecting) < min(r["rulePriority"] for r in expiring)
    assert [r["selection"]["tagPatternList"] for r in protecting] == [["v*"], *([p] for p in SIGNATURES)]


@pytest.mark.parametrize(
    ("rules", "error"),
    [
        pytest.param([untagged(7, 2), newest(3, 1)], "unique and ascending", id="unsorted"),
        pytest.param(
            [untagged(7, 1), untagged(8, 2)], "only one lifecycle rule may select untagged", id="two-untagged"
        ),
        pytest.param(
            [{**newest(3, 1), "selection": {**newest(3, 1)["selection"], "tagStatus": "any"}}, untagged(7, 2)],
            "'any' rule must come last",
            id="any-not-last",
        ),
        pytest.param([{**keep("*.*.*.*.*", 1)}], "refuses the tag pattern", id="five-wildcards"),
        pytest.param([{**newest(3, 1), "description": None}], "null value", id="null"),
        pytest.param([], "1-50 rules", id="empty"),
    ],
)
def test_the_validator_refuses_what_ecr_refuses_or_reorders(rules: list[dict[str, Any]], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        validate_lifecycle_policy({"rules": rules})


def test_pull_push_and_delete_principals_get_their_statements_and_nothing_more() -> None:
    policy = repository_policy(
        {
            "pull": ["arn:aws:iam::1:role/deploy"],
            "push": ["arn:aws:iam::1:role/ci"],
            "delete": ["arn:aws:iam::1:role/gc"],
        }
    )
    assert policy is not None
    pull, push, delete = policy["Statement"]
    assert pull == {
        "Sid": "ReadersPull",
        "Effect": "Allow",
        "Principal": {"AWS": ["arn:aws:iam::1:role/deploy"]},
        "Action": PULL_ACTIONS,
    }
    assert push["Principal"] == {"AWS": ["arn:aws:iam::1:role/ci"]} and push["Action"] == PUSH_ACTIONS
    assert (delete["Sid"], delete["Principal"], delete["Action"]) == (
        "DeletersDelete",
        {"AWS": ["arn:aws:iam::1:role/gc"]},
        ["ecr:BatchDeleteImage"],
    )
    assert set(PULL_ACTIONS) < set(PUSH_ACTIONS) and not any(a.endswith("*") for a in PUSH_ACTIONS)
    assert not set(DELETE_ACTIONS) & set(PUSH_ACTIONS), "push never implies delete"
    only_delete = repository_policy({"pull": [], "push": [], "delete": ["arn:aws:iam::1:role/gc"]})
    assert only_delete is not None and [s["Sid"] for s in only_delete["Statement"]] == ["DeletersDelete"]
    assert repository_policy({"pull": [], "push": [], "delete": []}) is None
    assert repository_policy({}) is None


def rules(*raw: dict[str, Any]) -> list[AccessRule]:
    return [AccessRule.model_validate(r) for r in raw]


def test_replica_readers_are_per_namespace_and_the_intersection_over_its_repositories() -> None:
    names = ["team-a/api", "team-a/web", "team-b/jobs/worker", "tools"]
    found = replica_readers(
        rules(
            {"repositories": ["*"], "pull": ["deploy"]},
            {"repositories": ["team-a/*"], "push": ["ci-a"]},
            {"repositories": ["team-a/api", "tools"], "pull": ["api-reader"]},
            {"repositories": ["team-b/*"], "delete": ["gc"]},
        ),
        names,
    )
    assert found == {"ROOT": ["deploy", "api-reader"], "team-a": ["deploy", "ci-a"], "team-b": ["deploy"]}
    assert replica_readers(rules({"repositories": ["team-a/*"], "pull": ["x"]}), ["team-a/api"]) == {
        "ROOT": [],  # nothing without a namespace: ROOT names nobody
        "team-a": ["x"],
    }


def test_registry_policy_lets_principals_pull_through_the_mirrors_only() -> None:
    policy = registry_policy(["arn:aws:iam::1:role/ci"], "123456789012", "eu-west-1", ["docker-hub", "k8s"])
    assert policy is not None
    [statement] = policy["Statement"]
    assert statement["Action"] == ["ecr:BatchImportUpstreamImage", "ecr:CreateRepository"]
    assert statement["Resource"] == [
        "arn:aws:ecr:eu-west-1:123456789012:repository/docker-hub/*",
        "arn:aws:ecr:eu-west-1:123456789012:repository/k8s/*",
    ]
    assert registry_policy([], "1", "r", ["k8s"]) is None and registry_policy(["p"], "1", "r", []) is None
