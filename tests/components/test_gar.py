"""The `gar` target under the recording mocks: every input that matters, per resource."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest

from components.config import Retention
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
DEPLOY = "serviceAccount:deploy@registry-example-prod.iam.gserviceaccount.com"
CI = "serviceAccount:ci@registry-example-prod.iam.gserviceaccount.com"


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
        "artifactregistry.googleapis.com", "containerscanning.googleapis.com", "cloudkms.googleapis.com"
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


def test_readers_read_and_writers_write_where_images_are_pushed(gar: ProgramRun) -> None:
    grants = {
        (m.inputs["repository"], m.inputs["member"], m.inputs["role"])
        for m in gar.of_type("gcp:artifactregistry/repositoryIamMember:RepositoryIamMember")
    }
    reader, writer = "roles/artifactregistry.reader", "roles/artifactregistry.writer"
    expected = set()
    for repo in ("team-a", "team-b"):
        expected |= {(repo, DEPLOY, reader), (repo, CI, writer)}
    for repo in ("team-a-all", "team-b-all", "docker-hub", "ghcr", "k8s"):
        expected |= {(repo, DEPLOY, reader), (repo, CI, reader)}
    assert grants == expected


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
        "artifactregistry.googleapis.com"
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
