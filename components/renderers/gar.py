"""Artifact Registry cleanup policies and addresses as plain data.

Cleanup semantics followed (Artifact Registry docs, "Configure cleanup policies"): a version that
matches a KEEP policy is never deleted, whatever DELETE policies match it; tag conditions match
by prefix; a repository holds at most 10 policies. Durations are rendered in seconds ("604800s"),
the form the API returns, so `pulumi up` shows no diff after a refresh.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from components.config.gar import MAX_CLEANUP_POLICIES
from components.config.intent import Retention

if TYPE_CHECKING:
    from pulumi_gcp.artifactregistry import RepositoryCleanupPolicyArgsDict

DAY_SECONDS = 86_400
# cosign's sha256-<digest>.sig/.att/.sbom tags; a prefix cannot say "of a kept image", so all stay
SIGNATURE_PREFIX = "sha256-"


def duration(days: int) -> str:
    return f"{days * DAY_SECONDS}s"


def cleanup_policies(retention: Retention | None) -> list[RepositoryCleanupPolicyArgsDict]:
    """The repository's cleanup policies for `retention`, sorted by id (none: keep everything)."""
    if retention is None:
        return []
    policies: list[dict[str, Any]] = []
    prefixes = list(dict.fromkeys([*(p.removesuffix("*") for p in retention.protected_tags), SIGNATURE_PREFIX]))
    policies.append(
        {"id": "keep-protected-tags", "action": "KEEP", "condition": {"tag_state": "TAGGED", "tag_prefixes": prefixes}}
    )
    if retention.keep_tagged is not None:
        policies += [
            {"id": "keep-most-recent", "action": "KEEP", "most_recent_versions": {"keep_count": retention.keep_tagged}},
            # every other tagged version goes: the KEEP policies above win where both match
            {"id": "delete-older-tagged", "action": "DELETE", "condition": {"tag_state": "TAGGED"}},
        ]
    if retention.untagged_days is not None:
        policies.append(
            {
                "id": "delete-untagged",
                "action": "DELETE",
                "condition": {"tag_state": "UNTAGGED", "older_than": duration(retention.untagged_days)},
            }
        )
    if len(policies) > MAX_CLEANUP_POLICIES:
        raise ValueError(f"{len(policies)} cleanup policies exceed Artifact Registry's {MAX_CLEANUP_POLICIES}")
    return cast("list[RepositoryCleanupPolicyArgsDict]", sorted(policies, key=lambda p: str(p["id"])))


def docker_host(location: str) -> str:
    return f"{location}-docker.pkg.dev"


def repository_url(location: str, project: str, repository: str) -> str:
    """What `docker push`/`pull` use for a repository (images go below it)."""
    return f"{docker_host(location)}/{project}/{repository}"
