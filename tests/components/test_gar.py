"""The `gar` target under the recording mocks: every input that matters, per resource."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest

from components.config import Retention
from components.gar.registry import DELETE_PERMISSIONS, member_slugs
from components.renderers.gar import cleanup_policies
from tests.conftest import ROOT, RunStack, provider_modules_loaded_by, refused_run
from tools.mock_program import (
    ProgramRun,
    Secret,
    plaintext_leaks,
    run_program,
    unwrap,
)
from tools.stack_config import load_project, load_stack_config

PROJECT, LOCATION = "registry-example-prod", "europe"
HOST = f"{LOCATION}-docker.pkg.dev"
KEY = f"projects/{PROJECT}/locations/{LOCATION}/keyRings/registry-registry/cryptoKeys/artifact-registry"
REPOSITORY = "gcp:artifactregistry/repository:Repository"
SA = "@registry-example-prod.iam.gserviceaccount.com"
DEPLOY, CI_A, CI_B, CLEANUP_B = (
    f"serviceAccount:{n}{SA}" for n in ("deploy", "ci-team-a", "ci-team-b", "cleanup-team-b")
)
MEMBER = "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember"
READER, WRITER = "roles/artifactregistry.reader", "roles/artifactregistry.writer"
DELETER = f"projects/{PROJECT}/roles/registry_gar_image_deleter"


@pytest.fixture(scope="module")
def gar() -> ProgramRun:
    return run_program(ROOT, "gar")


def repos(run: ProgramRun, mode: str) -> dict[str, Any]:
    return {r.inputs["repositoryId"]: r for r in run.of_type(REPOSITORY) if r.inputs["mode"] == mode}


def snake(policies: list[Any]) -> list[dict[str, Any]]:
    """The builder's snake_case dicts as the engine sees them (camelCase)."""
    text = json.dumps(policies)
    for a, b in (("tag_state", "tagState"), ("tag_prefixes", "tagPrefixes"), ("older_than", "olderThan"),
                 ("most_recent_versions", "mostRecentVersions"), ("keep_count", "keepCount")):  # fmt: skip
        text = text.replace(f'"{a}"', f'"{b}"')
    out: list[dict[str, Any]] = json.loads(text)
    for policy in out:
        count = policy.get("mostRecentVersions", {}).get("keepCount")
        if count is not None:
            policy["mostRecentVersions"]["keepCount"] = float(count)
    return out


def test_apis_are_enabled_and_never_disabled(gar: ProgramRun) -> None:
    services = {r.inputs["service"]: r for r in gar.of_type("gcp:projects/service:Service")}
    assert set(services) == {
        "artifactregistry.googleapis.com", "containerscanning.googleapis.com", "cloudkms.googleapis.com",
        "iam.googleapis.com",  # the custom role registry:access delete binds
    }  # fmt: skip
    for service in services.values():
        assert service.inputs["disableOnDestroy"] is False and service.inputs["project"] == PROJECT


def test_repositories_wait_for_the_api_and_the_key_grant(gar: ProgramRun) -> None:
    api = gar.named("registry-api-artifactregistry").urn
    grant = gar.named("registry-key-agent").urn
    for repo in gar.of_type(REPOSITORY):
        assert api in repo.dependencies, repo.name
        if repo.inputs["mode"] != "VIRTUAL_REPOSITORY":
            assert grant in repo.dependencies, repo.name


def test_one_standard_repository_per_first_path_segment(gar: ProgramRun) -> None:
    standard = repos(gar, "STANDARD_REPOSITORY")
    assert set(standard) == {"team-a", "team-b"}
    key = KEY
    expected = snake(cleanup_policies(Retention(keep_tagged=30, untagged_days=7, protected_tags=["v*", "release-*"])))
    for repo in standard.values():
        i = repo.inputs
        assert (i["format"], i["location"], i["project"]) == ("DOCKER", LOCATION, PROJECT)
        assert i["dockerConfig"] == {"immutableTags": True}
        assert i["kmsKeyName"] == key
        assert i["vulnerabilityScanningConfig"] == {"enablementConfig": "INHERITED"}
        assert i["cleanupPolicies"] == expected
        assert i["cleanupPolicyDryRun"] is False
        assert i["deletionPolicy"] == "PREVENT" and repo.protect
    assert standard["team-a"].inputs["description"] == "registry: team-a/api, team-a/web"


def test_the_created_key_is_granted_to_the_artifact_registry_agent(gar: ProgramRun) -> None:
    grant = gar.named("registry-key-agent").inputs
    agent = gar.named("registry-service-agent")
    assert agent.inputs["service"] == "artifactregistry.googleapis.com"
    assert grant["cryptoKeyId"] == KEY
    assert grant["role"] == "roles/cloudkms.cryptoKeyEncrypterDecrypter"
    assert grant["member"] == agent.outputs["member"]
    ring = gar.named("registry-keyring")
    assert ring.inputs["location"] == LOCATION and ring.protect and gar.named("registry-key").protect


def test_each_mirror_is_a_remote_repository(gar: ProgramRun) -> None:
    remote = repos(gar, "REMOTE_REPOSITORY")
    assert set(remote) == {"docker-hub", "ghcr", "k8s"}
    assert remote["docker-hub"].inputs["remoteRepositoryConfig"]["dockerRepository"] == {
        "publicRepository": "DOCKER_HUB"
    }
    assert remote["ghcr"].inputs["remoteRepositoryConfig"]["commonRepository"] == {"uri": "https://ghcr.io"}
    assert remote["k8s"].inputs["remoteRepositoryConfig"]["commonRepository"] == {"uri": "https://registry.k8s.io"}
    assert all("upstreamCredentials" not in r.inputs["remoteRepositoryConfig"] for r in remote.values())


def test_mirror_credentials_come_from_secret_manager(run_stack: RunStack) -> None:
    mirrors = [{"name": "docker-hub", "upstream": "docker.io", "username": "someone", "accessToken": "dckr_pat_g4r"}]
    run = run_stack("gar", overrides={"registry:mirrors": json.dumps(mirrors)}, secret_keys=["registry:mirrors"])
    version = run.named("registry-docker-hub-token-value")
    assert isinstance(version.inputs["secretData"], Secret) and unwrap(version.inputs["secretData"]) == "dckr_pat_g4r"
    access = run.named("registry-docker-hub-token-agent").inputs
    assert access["role"] == "roles/secretmanager.secretAccessor"
    assert access["member"] == run.named("registry-service-agent").outputs["member"]
    credentials = repos(run, "REMOTE_REPOSITORY")["docker-hub"].inputs["remoteRepositoryConfig"]["upstreamCredentials"]
    assert credentials == {
        "usernamePasswordCredentials": {"username": "someone", "passwordSecretVersion": version.outputs["name"]}
    }
    assert "secretmanager.googleapis.com" in {r.inputs["service"] for r in run.of_type("gcp:projects/service:Service")}
    for resource in run.resources:
        assert plaintext_leaks(resource.inputs, {"dckr_pat_g4r"}) == [], resource.name


def test_a_virtual_repository_puts_the_repository_first_then_the_mirrors(gar: ProgramRun) -> None:
    virtual = repos(gar, "VIRTUAL_REPOSITORY")
    assert set(virtual) == {"team-a-all", "team-b-all"}
    policies = virtual["team-a-all"].inputs["virtualRepositoryConfig"]["upstreamPolicies"]
    ids = {
        r: f"projects/{PROJECT}/locations/{LOCATION}/repositories/{r}" for r in ("team-a", "docker-hub", "ghcr", "k8s")
    }
    assert [(p["id"], p["repository"], p["priority"]) for p in policies] == [
        ("team-a", ids["team-a"], 100.0),
        ("docker-hub", ids["docker-hub"], 90.0),
        ("ghcr", ids["ghcr"], 80.0),
        ("k8s", ids["k8s"], 70.0),
    ]


def bindings(run: ProgramRun) -> set[tuple[str, str, str]]:
    return {(m.inputs["repository"], m.inputs["member"], m.inputs["role"]) for m in run.of_type(MEMBER)}


def test_each_repository_binds_the_rules_covering_it_reader_writer_or_deleter(gar: ProgramRun) -> None:
    expected = {
        ("team-a", DEPLOY, READER), ("team-a", CI_A, WRITER),
        ("team-b", DEPLOY, READER), ("team-b", CI_B, WRITER), ("team-b", CLEANUP_B, DELETER),
        # the virtual repositories read for the group's pull and push principals
        ("team-a-all", DEPLOY, READER), ("team-a-all", CI_A, READER),
        ("team-b-all", DEPLOY, READER), ("team-b-all", CI_B, READER),
    }  # fmt: skip
    # mirrors: whoever may pull or push anywhere reads them; the deleter does not
    expected |= {(m, who, READER) for m in ("docker-hub", "ghcr", "k8s") for who in (CI_A, CI_B, DEPLOY)}
    assert bindings(gar) == expected
    deleter = gar.named(f"registry-team-b-deleter-serviceaccount-cleanup-team-b-{SLUG}")
    assert deleter.property_dependencies["role"] == [gar.named("registry-image-deleter").urn]


SLUG = "registry-example-prod-iam-gserviceaccount-com"


def test_binding_names_keep_the_repository_role_member_form(gar: ProgramRun) -> None:
    names = {m.name for m in gar.of_type(MEMBER)}
    assert f"registry-team-a-reader-serviceaccount-deploy-{SLUG}" in names  # as before per-repository rules
    assert f"registry-team-a-writer-serviceaccount-ci-team-a-{SLUG}" in names
    assert f"registry-team-a-all-reader-serviceaccount-ci-team-a-{SLUG}" in names
    assert f"registry-k8s-reader-serviceaccount-deploy-{SLUG}" in names
    assert len(names) == len(gar.of_type(MEMBER))


def test_the_delete_role_deletes_images_only_and_exists_only_when_granted(gar: ProgramRun, run_stack: RunStack) -> None:
    role = gar.named("registry-image-deleter")
    assert role.type == "gcp:projects/iAMCustomRole:IAMCustomRole"
    assert (role.inputs["project"], role.inputs["roleId"], role.inputs["stage"]) == (
        PROJECT,
        "registry_gar_image_deleter",
        "GA",
    )
    assert (
        role.inputs["permissions"]
        == DELETE_PERMISSIONS
        == [
            "artifactregistry.repositories.get",
            "artifactregistry.tags.get",
            "artifactregistry.tags.list",
            "artifactregistry.tags.delete",
            "artifactregistry.versions.delete",
        ]
    )
    assert not any(
        p.endswith((".downloadArtifacts", ".uploadArtifacts", ".update", ".create")) for p in DELETE_PERMISSIONS
    )
    assert gar.named("registry-api-iam").urn in role.dependencies  # custom roles need the IAM API
    assert [r for r in gar.resources if r.type.startswith("gcp:projects/iAM") and r is not role] == []
    rules = [{"repositories": ["*"], "pull": [DEPLOY]}, {"repositories": ["team-*"], "push": [CI_A]}]
    run = run_stack("gar", overrides={"registry:access": json.dumps(rules)})
    assert run.of_type("gcp:projects/iAMCustomRole:IAMCustomRole") == []
    assert "iam.googleapis.com" not in {r.inputs["service"] for r in run.of_type("gcp:projects/service:Service")}


def test_a_rule_binds_only_the_repositories_its_patterns_cover(run_stack: RunStack) -> None:
    repositories = [{"name": n} for n in ("team-a/api", "team-a/web", "team-ab/tool", "team-b/worker")]
    rules = [
        {"repositories": ["team-a/*"], "push": [CI_A], "delete": [CLEANUP_B]},
        {"repositories": ["team-a*"], "pull": [DEPLOY]},  # team-a and team-ab, not team-b
    ]
    overrides = {"registry:repositories": json.dumps(repositories), "registry:access": json.dumps(rules)}
    run = run_stack("gar", overrides={**overrides, "registry:mirrors": "[]", "registry:signing": '{"enabled": false}'})
    assert bindings(run) == {
        ("team-a", CI_A, WRITER), ("team-a", CLEANUP_B, DELETER), ("team-a", DEPLOY, READER),
        ("team-a-all", CI_A, READER), ("team-a-all", DEPLOY, READER),
        ("team-ab", DEPLOY, READER), ("team-ab-all", DEPLOY, READER),
    }  # fmt: skip


def test_members_that_name_alike_get_distinct_resource_names() -> None:
    slugs = member_slugs(["user:a.b@example.com", "user:a-b@example.com", "group:ops@example.com"])
    assert slugs["group:ops@example.com"] == "group-ops-example-com"
    assert slugs["user:a.b@example.com"] != slugs["user:a-b@example.com"]
    assert all(s.startswith("user-a-b-example-com-") for m, s in slugs.items() if m.startswith("user:"))
    assert member_slugs(["user:a.b@example.com"]) == {"user:a.b@example.com": "user-a-b-example-com"}


def test_outputs_give_push_and_pull_urls_and_login_steps(gar: ProgramRun) -> None:
    out = gar.outputs
    assert out["repositories"]["team-a/api"] == f"{HOST}/{PROJECT}/team-a/api"
    assert out["pullUrls"] == {"team-a": f"{HOST}/{PROJECT}/team-a-all", "team-b": f"{HOST}/{PROJECT}/team-b-all"}
    assert out["mirrors"]["docker-hub"]["example"] == f"docker pull {HOST}/{PROJECT}/docker-hub/library/alpine:3"
    assert out["loginSteps"][0] == f"gcloud auth configure-docker {HOST}"


def test_dry_run_and_no_kms_and_no_scanning(run_stack: RunStack) -> None:
    run = run_stack(
        "gar",
        overrides={
            "registry:retention": '{"untaggedDays": 3, "dryRun": true}',
            "registry:storage": '{"encryption": "google"}',
            "registry:scanning": '{"onPush": false}',
            "registry:production": "false",
            "registry:signing": '{"enabled": false}',
        },
    )
    repo = repos(run, "STANDARD_REPOSITORY")["team-a"].inputs
    assert repo["cleanupPolicyDryRun"] is True and "kmsKeyName" not in repo
    assert repo["vulnerabilityScanningConfig"] == {"enablementConfig": "DISABLED"}
    assert repo["deletionPolicy"] == "DELETE"
    assert {r.inputs["service"] for r in run.of_type("gcp:projects/service:Service")} == {
        "artifactregistry.googleapis.com",
        "iam.googleapis.com",  # the stack grants delete: a custom role
    }


def test_a_change_of_encryption_is_refused_before_anything_is_declared() -> None:
    existing: dict[str, Any] = {
        "gcp:artifactregistry/getRepositories:getRepositories": lambda a: {
            "repositories": [
                {
                    "repositoryId": "team-a",
                    "id": "x",
                    "name": "team-a",
                    "format": "DOCKER",
                    "createTime": "",
                    "updateTime": "",
                    "description": "",
                }
            ],
            "id": "x",
            "location": LOCATION,
            "project": PROJECT,
        },
        "gcp:artifactregistry/getRepository:getRepository": lambda a: {
            "repositoryId": "team-a",
            "kmsKeyName": "",
            "location": LOCATION,
            "project": PROJECT,
            "id": "x",
        },
    }
    config, _ = load_stack_config(load_project(ROOT), "gar")
    message, declared = refused_run("gar", config, calls=existing)
    assert "registry:storage.encryption: repository team-a is encrypted with a Google-managed key" in message
    assert [r.type for r in declared if r.type != "pulumi:providers:gcp"] == []


def test_missing_project_is_refused_with_the_fix(run_stack: RunStack) -> None:
    with pytest.raises(pulumi.RunError, match="pulumi config set gcp:project"):
        run_stack("gar", overrides={"gcp:project": ""})


def test_gar_program_imports_neither_aws_nor_docker() -> None:
    packages = {m.split(".")[0] for m in provider_modules_loaded_by("gar")}
    assert packages == {"pulumi_gcp"}


def test_components_follow_the_structure(gar: ProgramRun) -> None:
    component = gar.named("registry")
    assert component.type == "registry:gar:GarRegistry"
    assert all(r.name.startswith("registry-") for r in gar.children_of(component))
