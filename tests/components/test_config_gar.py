"""The intent keys on target gar: each case changes one thing from a minimal valid gar config."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.config import ConfigError, GarSettings, load_settings
from components.config.gar import GAR_LOCATIONS, MULTI_REGIONS
from tests.conftest import ROOT, refused_run
from tools.stack_config import load_project, load_stack_config

MINIMAL_GAR = {
    "registry:target": "gar",
    "registry:location": "europe-west1",
    "registry:repositories": '[{"name": "team-a/api"}]',
}
CI, DEPLOY = "serviceAccount:ci@p.iam.gserviceaccount.com", "group:deploy@example.com"


def raw(**changes: object) -> dict[str, str]:
    config = dict(MINIMAL_GAR)
    for key, value in changes.items():  # another namespace's key (gcp:project) as given
        config[key if ":" in key else f"registry:{key}"] = value if isinstance(value, str) else json.dumps(value)
    return config


def test_minimal_gar_config_gets_documented_defaults() -> None:
    s = load_settings(raw())
    assert isinstance(s, GarSettings)
    assert s.location == "europe-west1" and s.groups == {"team-a": ["api"]}
    assert (s.storage.encryption, s.storage.kms_key_name, s.storage.force_destroy) == ("google", None, False)
    assert s.immutable_tags is True and s.retention is None and s.mirrors == []


def test_names_group_into_artifact_registry_repositories() -> None:
    s = load_settings(
        raw(repositories=[{"name": "team-a/api"}, {"name": "team-a/web"}, {"name": "team-b/jobs/worker"}])
    )
    assert isinstance(s, GarSettings)
    assert s.groups == {"team-a": ["api", "web"], "team-b": ["jobs/worker"]}


ONE_CHANGE: list[Any] = [
    pytest.param({"location": "Europe West"}, "registry:location", "multi-region", id="location"),
    pytest.param(
        {"location": "us-east99"},
        "registry:location",
        "'us-east99' is not an Artifact Registry location",
        id="made-up-region",
    ),
    pytest.param({"location": "europe-wset1"}, "registry:location", "did you mean europe-west1 or ", id="near-miss"),
    pytest.param(
        {"location": "eu"}, "registry:location", "multi-region: us, europe, asia", id="gcr-style-multi-region"
    ),
    pytest.param(
        {"storage": {"encryption": "kms", "kmsKeyName": "projects/my-project/locations/us/keyRings/r/cryptoKeys/k"}},
        "registry:storage.kmsKeyName",
        "is in location us, the repositories in europe-west1",
        id="key-in-another-location",
    ),
    pytest.param({"aws:region": "eu-west-1"}, "aws:region", "which only targets aws, ecr use", id="aws-region"),
    pytest.param({"mutableTags": ["latest"]}, "registry:mutableTags", "only target ecr honours it", id="mutable-tags"),
    pytest.param(
        {"replication": {"regions": ["eu-central-1"]}},
        "registry:replication",
        "multi-region location",
        id="replication",
    ),
    pytest.param(
        {"repositories": [{"name": "api"}]},
        "registry:repositories[0].name",
        "<repository>/<image>",
        id="single-segment",
    ),
    pytest.param(
        {"repositories": [{"name": "team_a/api"}]},
        "registry:repositories[0].name",
        "repository id",
        id="underscore-group",
    ),
    pytest.param(
        {"repositories": [{"name": "team-a/api"}, {"name": "team-a/web", "immutableTags": False}]},
        "registry:repositories[1].immutableTags",
        "must agree on immutableTags",
        id="group-disagrees",
    ),
    pytest.param(
        {"retention": {"keepTagged": 3, "protectedTags": ["*-stable"]}},
        "registry:retention.protectedTags[0]",
        "by prefix only",
        id="suffix-pattern",
    ),
    pytest.param(
        {"retention": {"keepTagged": 3, "protectedTags": ["v*.*"]}},
        "registry:retention.protectedTags[0]",
        "by prefix only",
        id="inner-wildcard",
    ),
    pytest.param(
        {"access": [{"repositories": ["*"], "pull": ["allUsers"]}]},
        "registry:access[0].pull[0]",
        "would make the registry public",
        id="all-users",
    ),
    pytest.param(
        {
            "access": [
                {"repositories": ["*"], "pull": [DEPLOY]},
                {"repositories": ["*"], "push": ["allAuthenticatedUsers"]},
            ]
        },
        "registry:access[1].push[0]",
        "public",
        id="all-authenticated",
    ),
    pytest.param(
        {"access": [{"repositories": ["*"], "pull": ["ci@example.com"]}]},
        "registry:access[0].pull[0]",
        "not an IAM member",
        id="bare-email",
    ),
    pytest.param(
        {"access": [{"repositories": ["*"], "delete": ["arn:aws:iam::123456789012:role/ci"]}]},
        "registry:access[0].delete[0]",
        "not an IAM member",
        id="aws-arn",
    ),
    pytest.param(
        {
            "access": [
                {"repositories": ["*"], "pull": [DEPLOY]},
                {"repositories": ["team-a/*", "team-b/*"], "push": [CI]},
            ]
        },
        "registry:access[1].repositories[1]",
        "(team-b/*) matches no repository in registry:repositories",
        id="pattern-matches-nothing",
    ),
    pytest.param(
        {"access": [{"repositories": ["team-a/api"], "push": [CI]}]},
        "registry:access[0].repositories[0]",
        "grants access per repository (team-a), not per image: write team-a/*",
        id="narrower-than-a-repository",
    ),
    pytest.param(
        {"access": [{"repositories": ["*"], "pull": [DEPLOY]}, {"repositories": ["team-a/a*"], "push": [CI]}]},
        "registry:access[1].repositories[0]",
        "not per image",
        id="prefix-inside-a-repository",
    ),
    pytest.param(
        {"repositories": [{"name": "team-a/api"}, {"name": "team-a-all/api"}]},
        "registry:repositories[1].name",
        "is the id of the virtual repository that pulls team-a/...",
        id="repository-takes-virtual-id",
    ),
    pytest.param(
        {"mirrors": [{"name": "team-a-all", "upstream": "docker.io"}]},
        "registry:mirrors[0].name",
        "is the id of the virtual repository",
        id="mirror-takes-virtual-id",
    ),
    pytest.param(
        {"storage": {"kmsKeyName": "projects/my-project/locations/europe-west1/keyRings/r/cryptoKeys/k"}},
        "registry:storage.kmsKeyName",
        "only used with encryption 'kms'",
        id="key-without-kms",
    ),
    pytest.param(
        {"storage": {"encryption": "kms", "kmsKeyName": "my-key"}},
        "registry:storage.kmsKeyName",
        "Cloud KMS key name",
        id="bad-key",
    ),
    pytest.param(
        {"mirrors": [{"name": "docker_hub", "upstream": "docker.io"}]},
        "registry:mirrors[0].name",
        "repository id",
        id="mirror-id",
    ),
    pytest.param(
        {"mirrors": [{"name": "team-a", "upstream": "docker.io"}]},
        "registry:mirrors[0].name",
        "rename the mirror",
        id="mirror-clash",
    ),
    pytest.param(
        {"users": [{"name": "ci", "access": "push"}]}, "registry:users", "Artifact Registry access is IAM", id="users"
    ),
    pytest.param({"replicas": "2"}, "registry:replicas", "only applies to targets local, aws", id="replicas"),
]


@pytest.mark.parametrize(("changes", "key", "says"), ONE_CHANGE)
def test_bad_gar_config_names_key_and_fix(changes: dict[str, Any], key: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(raw(**changes))
    [problem] = caught.value.problems
    assert problem.startswith(f"{key}: "), problem
    assert says in problem, problem


@pytest.mark.parametrize(("changes", "key", "says"), ONE_CHANGE)
def test_bad_gar_config_fails_before_any_resource(changes: dict[str, Any], key: str, says: str) -> None:
    message, declared = refused_run("gar", {**raw(**changes), "gcp:project": "registry-example"})
    assert f"{key}: " in message and says in message
    assert declared == []


def test_patterns_covering_whole_repositories_validate() -> None:
    s = load_settings(
        raw(
            repositories=[{"name": "team-a/api"}, {"name": "team-ab/tool"}, {"name": "team-b/jobs/worker"}],
            access=[
                {"repositories": ["*"], "pull": [DEPLOY]},
                {"repositories": ["team-a*"], "push": [CI]},
                {"repositories": ["team-b/*"], "delete": [CI]},
            ],
        )
    )
    assert isinstance(s, GarSettings) and [r.repositories for r in s.access] == [["*"], ["team-a*"], ["team-b/*"]]


def test_docker_hub_may_be_mirrored_anonymously_on_gar() -> None:
    s = load_settings(raw(mirrors=[{"name": "docker-hub", "upstream": "docker.io"}]))
    assert isinstance(s, GarSettings) and not s.mirrors[0].has_credentials


@pytest.mark.parametrize("location", sorted(GAR_LOCATIONS))
def test_every_artifact_registry_location_is_accepted(location: str) -> None:
    s = load_settings(raw(location=location))
    assert isinstance(s, GarSettings) and s.location == location


def test_the_location_table_holds_the_multi_regions_and_well_known_regions() -> None:
    assert {*MULTI_REGIONS, "us-east1", "us-central1", "europe-west1", "asia-northeast1"} <= GAR_LOCATIONS


def test_every_shipped_gar_stack_names_an_artifact_registry_location() -> None:
    project = load_project(ROOT)
    locations = []
    for stack in project.stacks():
        config, _ = load_stack_config(project, stack)
        if config.get("registry:target") == "gar":
            locations.append(config["registry:location"])
            assert isinstance(load_settings(raw(location=config["registry:location"])), GarSettings)
    assert locations and set(locations) <= GAR_LOCATIONS
