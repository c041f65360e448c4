"""Artifact Registry cleanup policies against a table of intents."""

from __future__ import annotations

from typing import Any

import pytest

from components.config import Retention
from components.renderers.gar import cleanup_policies, duration, repository_url

KEEP_SIGNATURES = {
    "id": "keep-protected-tags",
    "action": "KEEP",
    "condition": {"tag_state": "TAGGED", "tag_prefixes": ["sha256-"]},
}


def test_no_retention_means_no_cleanup() -> None:
    assert cleanup_policies(None) == []


@pytest.mark.parametrize(
    ("retention", "policies"),
    [
        pytest.param(
            Retention(untagged_days=7),
            [
                {
                    "id": "delete-untagged",
                    "action": "DELETE",
                    "condition": {"tag_state": "UNTAGGED", "older_than": "604800s"},
                },
                KEEP_SIGNATURES,
            ],
            id="untagged-only",
        ),
        pytest.param(
            Retention(keep_tagged=30, untagged_days=1, protected_tags=["v*", "release-*"]),
            [
                {"id": "delete-older-tagged", "action": "DELETE", "condition": {"tag_state": "TAGGED"}},
                {
                    "id": "delete-untagged",
                    "action": "DELETE",
                    "condition": {"tag_state": "UNTAGGED", "older_than": "86400s"},
                },
                {"id": "keep-most-recent", "action": "KEEP", "most_recent_versions": {"keep_count": 30}},
                {
                    "id": "keep-protected-tags",
                    "action": "KEEP",
                    "condition": {"tag_state": "TAGGED", "tag_prefixes": ["v", "release-", "sha256-"]},
                },
            ],
            id="protected-prefixes-and-newest-kept",
        ),
    ],
)
def test_cleanup_policy_table(retention: Retention, policies: list[dict[str, Any]]) -> None:
    assert cleanup_policies(retention) == policies


def test_every_tagged_delete_is_outweighed_by_the_keeps() -> None:
    """A version matching both a KEEP and a DELETE policy is kept: protected and newest tags stay."""
    policies = cleanup_policies(Retention(keep_tagged=5, protected_tags=["v*"]))
    actions = {p["id"]: p["action"] for p in policies}
    assert actions == {"delete-older-tagged": "DELETE", "keep-most-recent": "KEEP", "keep-protected-tags": "KEEP"}
    ids = [str(p["id"]) for p in policies]
    assert ids == sorted(ids)


def test_durations_are_seconds_as_the_api_returns_them() -> None:
    assert duration(7) == "604800s" and duration(1) == "86400s"


def test_repository_urls() -> None:
    assert repository_url("europe", "my-project", "team-a") == "europe-docker.pkg.dev/my-project/team-a"
