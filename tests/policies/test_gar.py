"""Artifact Registry policies: one passing and one failing case each."""

from __future__ import annotations

import json
from typing import Any

from pulumi_policy import PolicyResource

from tests.policies.support import options, resource, resource_args, run, stack_args

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


PROJECT_MEMBER = "gcp:projects/iAMMember:IAMMember"
JANITOR = "serviceAccount:janitor@p.iam.gserviceaccount.com"


def custom_role(permissions: list[str]) -> Any:
    props = {"project": "p", "roleId": "imageDeleter", "name": "projects/p/roles/imageDeleter"}
    return resource("gcp:projects/iAMCustomRole:IAMCustomRole", {**props, "permissions": permissions}, name="role")


def test_a_project_wide_role_that_deletes_images_is_refused() -> None:
    reader = resource(PROJECT_MEMBER, {"role": "roles/artifactregistry.reader", "member": JANITOR}, name="reader")
    assert run("gar-no-delete-on-every-repository", stack_args([reader])) == []
    for role in ("roles/artifactregistry.repoAdmin", "roles/artifactregistry.admin"):
        admin = resource(PROJECT_MEMBER, {"role": role, "member": JANITOR}, name="admin")
        [message] = run("gar-no-delete-on-every-repository", stack_args([admin])) or []
        assert message.startswith(f"admin (IAMMember) grants {role} on the whole project")
    binding = resource(
        "gcp:projects/iAMBinding:IAMBinding",
        {"role": "roles/artifactregistry.repoAdmin", "members": [JANITOR]},
        name="b",
    )
    data = json.dumps({"bindings": [{"role": "roles/artifactregistry.admin", "members": [JANITOR]}]})
    policy = resource("gcp:projects/iAMPolicy:IAMPolicy", {"policyData": data}, name="policy")
    assert len(run("gar-no-delete-on-every-repository", stack_args([binding, policy])) or []) == 2


def test_a_custom_role_that_deletes_counts_project_wide_and_not_per_repository() -> None:
    deleter = custom_role(["artifactregistry.versions.delete", "artifactregistry.tags.delete"])
    project_wide = resource(PROJECT_MEMBER, {"role": "projects/p/roles/imageDeleter", "member": JANITOR}, name="m")
    [message] = run("gar-no-delete-on-every-repository", stack_args([deleter, project_wide])) or []
    assert "grants projects/p/roles/imageDeleter on the whole project" in message
    # in a preview the role's name is unknown; the engine still records where the input came from
    unknown = PolicyResource(
        PROJECT_MEMBER, {"member": JANITOR}, "urn:m", "m", options(), None, None, [deleter], {"role": [deleter]}
    )
    assert len(run("gar-no-delete-on-every-repository", stack_args([deleter, unknown])) or []) == 1
    per_repository = resource(
        "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember",
        {"repository": "team-b", "role": "projects/p/roles/imageDeleter", "member": JANITOR},
        name="team-b",
    )
    assert run("gar-no-delete-on-every-repository", stack_args([deleter, per_repository])) == []
    tagger = custom_role(["artifactregistry.tags.create", "artifactregistry.tags.update"])
    assert run("gar-no-delete-on-every-repository", stack_args([tagger, project_wide])) == []
