"""Artifact Registry policies: one passing and one failing case each."""

from __future__ import annotations

import json
from typing import Any

from tests.policies.support import resource_args, run

REPOSITORY = "gcp:artifactregistry/repository:Repository"
SAFE: dict[str, Any] = {
    "mode": "STANDARD_REPOSITORY",
    "kmsKeyName": "projects/p/locations/l/keyRings/r/cryptoKeys/k",
    "cleanupPolicies": [{"id": "delete-untagged", "action": "DELETE"}],
    "cleanupPolicyDryRun": False,
    "vulnerabilityScanningConfig": {"enablementConfig": "INHERITED"},
    "dockerConfig": {"immutableTags": True},
}


def repository(config: dict[str, Any] | None = None, **changes: Any) -> Any:
    return resource_args(REPOSITORY, {**SAFE, **changes}, name="team-a", config=config)


def test_public_members_are_refused_in_every_iam_resource_form() -> None:
    member = "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember"
    binding = "gcp:artifactregistry/repositoryIamBinding:RepositoryIamBinding"
    policy = "gcp:artifactregistry/repositoryIamPolicy:RepositoryIamPolicy"
    assert run("gar-no-public-members", resource_args(member, {"member": "group:team@example.com"})) == []
    [message] = run("gar-no-public-members", resource_args(member, {"member": "allUsers"})) or []
    assert "allUsers makes the repository public" in message
    assert (
        len(
            run(
                "gar-no-public-members",
                resource_args(binding, {"members": ["user:a@example.com", "allAuthenticatedUsers"]}),
            )
            or []
        )
        == 1
    )
    data = json.dumps({"bindings": [{"role": "roles/artifactregistry.reader", "members": ["allUsers"]}]})
    assert len(run("gar-no-public-members", resource_args(policy, {"policyData": data})) or []) == 1


def test_a_safe_repository_passes_every_advisory() -> None:
    for name in (
        "gar-repository-cmek",
        "gar-repository-cleanup-policies",
        "gar-repository-scanning",
        "gar-repository-immutable-tags",
    ):
        assert run(name, repository()) == [], name


def test_each_advisory_fails_on_its_own_gap() -> None:
    assert "customer-managed key" in (run("gar-repository-cmek", repository(kmsKeyName=None)) or [""])[0]
    assert "no cleanup policy" in (run("gar-repository-cleanup-policies", repository(cleanupPolicies=[])) or [""])[0]
    assert (
        "scanning is off"
        in (
            run("gar-repository-scanning", repository(vulnerabilityScanningConfig={"enablementConfig": "DISABLED"}))
            or [""]
        )[0]
    )
    assert (
        "immutableTags true"
        in (run("gar-repository-immutable-tags", repository(dockerConfig={"immutableTags": False})) or [""])[0]
    )


def test_a_dry_run_cleanup_is_flagged_in_production_only() -> None:
    [message] = (
        run("gar-repository-cleanup-policies", repository({"production": "always"}, cleanupPolicyDryRun=True)) or []
    )
    assert "dry run in production" in message
    assert run("gar-repository-cleanup-policies", repository({"production": "never"}, cleanupPolicyDryRun=True)) == []


def test_remote_and_virtual_repositories_are_not_held_to_standard_rules() -> None:
    for mode in ("REMOTE_REPOSITORY", "VIRTUAL_REPOSITORY"):
        bare = resource_args(REPOSITORY, {"mode": mode}, name="m")
        for name in ("gar-repository-cleanup-policies", "gar-repository-scanning", "gar-repository-immutable-tags"):
            assert run(name, bare) == [], (mode, name)
    assert run("gar-repository-cmek", resource_args(REPOSITORY, {"mode": "VIRTUAL_REPOSITORY"}, name="v")) == []
