"""ECR documents as plain data: lifecycle policies, repository and registry policies, who replicas grant.

Lifecycle semantics followed (ECR user guide, "Lifecycle policy properties" and "How lifecycle
policies work"): rules are evaluated from the lowest `rulePriority`; an image that matches the tag
requirements of a rule can no longer be expired by a rule of lower priority; a `tagStatus: any`
rule must have the highest priority; only one rule may select untagged images; the patterns in one
`tagPatternList` must ALL match (so each protected pattern gets a rule of its own). ECR has no
"keep" action: a rule that matches the protected tags and expires only beyond a count no
repository reaches claims those images for good.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from components.config.access import AccessRule, Action, effective
from components.config.ecr import LIFECYCLE_WILDCARDS
from components.config.intent import TAG_PATTERN, Retention

PROTECTED_COUNT = 1_000_000  # far above ECR's images-per-repository quota (20,000)
MAX_RULES = 50  # ECR: rules per lifecycle policy
# cosign stores a signature, an attestation and an SBOM of image sha256:<d> under these tags;
# ECR cannot tie them to their image, so they are kept for good (they are a few KiB each)
SIGNATURE_TAGS = ("sha256-*.sig", "sha256-*.att", "sha256-*.sbom")

PULL_ACTIONS = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
PUSH_ACTIONS = [
    *PULL_ACTIONS,
    "ecr:CompleteLayerUpload",
    "ecr:InitiateLayerUpload",
    "ecr:PutImage",
    "ecr:UploadLayerPart",
]
# imageIds by imageTag or imageDigest: nothing to look up first (ECR API Reference, BatchDeleteImage)
DELETE_ACTIONS = ["ecr:BatchDeleteImage"]
STATEMENTS: tuple[tuple[str, Action, list[str]], ...] = (
    ("ReadersPull", "pull", PULL_ACTIONS),
    ("WritersPushAndPull", "push", PUSH_ACTIONS),
    ("DeletersDelete", "delete", DELETE_ACTIONS),
)
# a pull through a cache rule creates the repository and imports the upstream image on first use
# (ECR user guide, "IAM permissions required to sync an upstream registry")
PULL_THROUGH_ACTIONS = ["ecr:BatchImportUpstreamImage", "ecr:CreateRepository"]
# the creation template prefix for repositories no other template's prefix matches
ROOT = "ROOT"


def lifecycle_policy(retention: Retention | None) -> dict[str, Any] | None:
    """The lifecycle policy for `retention` (None: keep everything, no policy)."""
    if retention is None:
        return None
    wanted: list[tuple[str, dict[str, Any]]] = []
    for pattern in dict.fromkeys([*retention.protected_tags, *SIGNATURE_TAGS]):
        wanted.append(
            (
                f"keep every image tagged {pattern}",
                {
                    "tagStatus": "tagged",
                    "tagPatternList": [pattern],
                    "countType": "imageCountMoreThan",
                    "countNumber": PROTECTED_COUNT,
                },
            )
        )
    if retention.keep_tagged is not None:
        wanted.append(
            (
                f"keep the {retention.keep_tagged} most recently pushed tagged images",
                {
                    "tagStatus": "tagged",
                    "tagPatternList": ["*"],
                    "countType": "imageCountMoreThan",
                    "countNumber": retention.keep_tagged,
                },
            )
        )
    if retention.untagged_days is not None:
        wanted.append(
            (
                f"delete untagged images after {retention.untagged_days} days",
                {
                    "tagStatus": "untagged",
                    "countType": "sinceImagePushed",
                    "countUnit": "days",
                    "countNumber": retention.untagged_days,
                },
            )
        )
    policy = {
        "rules": [
            {"rulePriority": priority, "description": description, "selection": selection, "action": {"type": "expire"}}
            for priority, (description, selection) in enumerate(wanted, start=1)
        ]
    }
    validate_lifecycle_policy(policy)
    return policy


def validate_lifecycle_policy(policy: dict[str, Any]) -> None:
    """What ECR refuses, or reorders into a perpetual diff; raises ValueError naming the rule."""
    rules = policy["rules"]
    if not 1 <= len(rules) <= MAX_RULES:
        raise ValueError(f"a lifecycle policy holds 1-{MAX_RULES} rules, not {len(rules)}")
    priorities = [r["rulePriority"] for r in rules]
    if priorities != sorted(set(priorities)):
        raise ValueError(f"rule priorities must be unique and ascending (ECR reorders them): {priorities}")
    untagged = [r for r in rules if r["selection"]["tagStatus"] == "untagged"]
    if len(untagged) > 1:
        raise ValueError("only one lifecycle rule may select untagged images")
    for i, rule in enumerate(rules):
        selection = rule["selection"]
        if selection["tagStatus"] == "any" and i != len(rules) - 1:
            raise ValueError(f"rule {rule['rulePriority']}: a tagStatus 'any' rule must come last")
        if selection["tagStatus"] == "tagged" and not (
            selection.get("tagPatternList") or selection.get("tagPrefixList")
        ):
            raise ValueError(f"rule {rule['rulePriority']}: a tagged rule needs tagPatternList or tagPrefixList")
        for pattern in selection.get("tagPatternList", []):
            if not TAG_PATTERN.match(pattern) or pattern.count("*") > LIFECYCLE_WILDCARDS:
                raise ValueError(f"rule {rule['rulePriority']}: ECR refuses the tag pattern {pattern!r}")
        if _has_none(rule):
            raise ValueError(f"rule {rule['rulePriority']}: a null value (ECR rejects the document)")


def _has_none(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, dict):
        return any(_has_none(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_none(v) for v in value)
    return False


def repository_policy(grants: Mapping[Action, Sequence[Any]]) -> dict[str, Any] | None:
    """One repository's policy from its effective grants (`effective(rules, name)`): pull principals
    pull, push principals push and pull, delete principals delete; None when nobody is named (IAM
    alone decides). The Sids are those of the readers/writers policy, so a migrated config that
    grants the same shows no diff."""
    statements = []
    for sid, action, actions in STATEMENTS:
        principals = list(grants.get(action, ()))
        if principals:
            statements.append({"Sid": sid, "Effect": "Allow", "Principal": {"AWS": principals}, "Action": actions})
    return {"Version": "2012-10-17", "Statement": statements} if statements else None


def registry_policy(
    principals: Sequence[Any], account_id: str, region: str, prefixes: Sequence[str]
) -> dict[str, Any] | None:
    """Lets the named principals pull through the cache rules: create the cached repositories under
    the mirrors' prefixes and import upstream images into them (nothing else, nowhere else)."""
    if not principals or not prefixes:
        return None
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "PullThroughMirrors",
                "Effect": "Allow",
                "Principal": {"AWS": list(principals)},
                "Action": PULL_THROUGH_ACTIONS,
                "Resource": [f"arn:aws:ecr:{region}:{account_id}:repository/{prefix}/*" for prefix in prefixes],
            }
        ],
    }


def replica_readers(rules: Sequence[AccessRule], names: Sequence[str]) -> dict[str, list[str]]:
    """Who the replication creation templates let pull, per template prefix: ROOT for the names
    without a namespace, each first path segment for the names under it (a template with prefix
    `team-a` applies to every `team-a/...`). A template holds one policy for all the repositories
    it creates, so it names only who may pull (pull or push) EVERY declared repository it applies
    to: never more than a rule grants, possibly less. No name without a namespace: ROOT names nobody."""
    spaces: dict[str, list[str]] = {ROOT: []}
    for name in names:
        head, slash, _ = name.partition("/")
        spaces.setdefault(head if slash else ROOT, []).append(name)
    readers: dict[str, list[str]] = {}
    for prefix, members in spaces.items():
        may_pull = [[*g["pull"], *g["push"]] for g in (effective(rules, n) for n in members)]
        readers[prefix] = [p for p in may_pull[0] if all(p in other for other in may_pull[1:])] if may_pull else []
    return readers
