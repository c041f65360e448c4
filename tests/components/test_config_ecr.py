"""The intent keys on target ecr: each case changes one thing from a minimal valid ecr config."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.config import AwsSettings, ConfigError, EcrSettings, LocalSettings, load_settings
from tests.conftest import config_problems, refused_run

MINIMAL_ECR: dict[str, str] = {"registry:target": "ecr", "registry:repositories": '[{"name": "team-a/api"}]'}
CI, DEPLOY = "arn:aws:iam::123456789012:role/ci", "arn:aws:iam::123456789012:role/deploy"


def raw(**changes: object) -> dict[str, str]:
    config = dict(MINIMAL_ECR)
    for key, value in changes.items():  # another namespace's key (gcp:project) as given
        config[key if ":" in key else f"registry:{key}"] = value if isinstance(value, str) else json.dumps(value)
    return config


def ecr(secret: frozenset[str] = frozenset(), **changes: object) -> EcrSettings:
    loaded = load_settings(raw(**changes), secret)
    assert isinstance(loaded, EcrSettings)
    return loaded


def problems(secret: frozenset[str] = frozenset(), **changes: object) -> list[str]:
    return config_problems(raw(**changes), secret)


def test_minimal_ecr_config_gets_documented_defaults() -> None:
    s = ecr()
    assert [r.name for r in s.repositories] == ["team-a/api"]
    assert s.immutable_tags is True and s.mutable_tags == [] and s.retention is None
    assert (s.scanning.on_push, s.scanning.continuous) == (True, False)
    assert s.mirrors == [] and s.replication is None
    assert s.access == []  # no rule: no repository policy, IAM alone decides
    assert (s.storage.encryption, s.storage.kms_key_arn, s.storage.force_destroy) == ("s3", None, False)
    assert s.production is False


def test_the_issue_example_validates() -> None:
    s = ecr(
        frozenset({"registry:mirrors"}),
        repositories=[{"name": "team-a/api"}, {"name": "team-a/web", "immutableTags": False}],
        mutableTags=["latest"],
        retention={"keepTagged": 30, "untaggedDays": 7, "protectedTags": ["v*", "release-*"]},
        scanning={"onPush": True, "continuous": False},
        mirrors=[
            {"name": "docker-hub", "upstream": "docker.io", "username": "someone", "accessToken": "dckr_pat_x"},
            {"name": "ghcr", "upstream": "ghcr.io", "username": "someone", "accessToken": "ghp_x"},
            {"name": "k8s", "upstream": "registry.k8s.io"},
        ],
        replication={"regions": ["eu-central-1"]},
        access=[
            {"repositories": ["team-a/*"], "push": [CI]},
            {"repositories": ["*"], "pull": [DEPLOY]},
            {"repositories": ["team-a/web"], "delete": [CI]},
        ],
        storage={"encryption": "kms"},
    )
    assert [s.immutable(r) for r in s.repositories] == [True, False]
    assert [m.has_credentials for m in s.mirrors] == [True, True, False]


ONE_CHANGE: list[Any] = [
    pytest.param({"repositories": []}, "registry:repositories", "at least 1 item", id="no-repositories"),
    pytest.param(
        {"immutableTags": False, "mutableTags": ["latest"]},
        "registry:mutableTags",
        "no repository is immutable",
        id="exemption-with-nothing-immutable",
    ),
    pytest.param(
        {"mutableTags": ["latest", "latest"]}, "registry:mutableTags", "'latest' is listed twice", id="exemption-twice"
    ),
    pytest.param(
        {"scanning": {"onPush": False, "continuous": True}},
        "registry:scanning.onPush",
        "continuous scanning scans each push too",
        id="continuous-without-on-push",
    ),
    pytest.param({"gcp:project": "x"}, "gcp:project", "which only target gar uses", id="gcp-project"),
    pytest.param(
        {"repositories": [{"name": "Team/API"}]}, "registry:repositories[0].name", "docker accepts", id="uppercase"
    ),
    pytest.param(
        {"repositories": [{"name": "team-a/"}]}, "registry:repositories[0].name", "docker accepts", id="trailing-slash"
    ),
    pytest.param(
        {"repositories": [{"name": "a"}]}, "registry:repositories[0].name", "2-256 characters", id="too-short"
    ),
    pytest.param(
        {"repositories": [{"name": "team-a/api"}, {"name": "team-a/api"}]},
        "registry:repositories",
        "listed twice",
        id="duplicate-repository",
    ),
    pytest.param({"mutableTags": ["lat est"]}, "registry:mutableTags[0]", "not a tag pattern", id="bad-pattern"),
    pytest.param({"mutableTags": ["*-*-*"]}, "registry:mutableTags[0]", "at most 2 '*'", id="exclusion-wildcards"),
    pytest.param(
        {"retention": {"protectedTags": ["v*"]}}, "registry:retention", "names nothing to delete", id="retention-empty"
    ),
    pytest.param(
        {"retention": {"keepTagged": 5, "protectedTags": ["*.*.*.*.*"]}},
        "registry:retention.protectedTags[0]",
        "at most 4 '*'",
        id="lifecycle-wildcards",
    ),
    pytest.param(
        {"retention": {"keepTagged": 0}}, "registry:retention.keepTagged", "greater than or equal to 1", id="keep-zero"
    ),
    pytest.param(
        {"retention": {"untaggedDays": 7, "dryRun": True}}, "registry:retention.dryRun", "only target gar", id="dry-run"
    ),
    pytest.param(
        {"mirrors": [{"name": "hub", "upstream": "docker.io"}]},
        "registry:mirrors[0].accessToken",
        "only with credentials",
        id="docker-hub-without-credentials",
    ),
    pytest.param(
        {"mirrors": [{"name": "gcr", "upstream": "gcr.io"}]},
        "registry:mirrors[0].upstream",
        "target gar can",
        id="gcr-on-ecr",
    ),
    pytest.param(
        {"mirrors": [{"name": "hub", "upstream": "hub.docker.com"}]},
        "registry:mirrors[0].upstream",
        "use one of docker.io",
        id="unknown-upstream",
    ),
    pytest.param(
        {"mirrors": [{"name": "k8s", "upstream": "registry.k8s.io", "username": "me"}]},
        "registry:mirrors[0]",
        "username and accessToken go together",
        id="half-credentials",
    ),
    pytest.param(
        {"mirrors": [{"name": "Docker_Hub!", "upstream": "registry.k8s.io"}]},
        "registry:mirrors[0].name",
        "not a mirror name",
        id="mirror-name",
    ),
    pytest.param(
        {"mirrors": [{"name": "k8s", "upstream": "registry.k8s.io"}, {"name": "k8s", "upstream": "quay.io"}]},
        "registry:mirrors",
        "listed twice",
        id="duplicate-mirror",
    ),
    pytest.param(
        {"mirrors": [{"name": "team-a", "upstream": "registry.k8s.io"}]},
        "registry:mirrors[0].name",
        "first path segment of repository 'team-a/api'",
        id="mirror-clashes-with-repository",
    ),
    pytest.param(
        {"replication": {"regions": ["europe"]}}, "registry:replication.regions", "not an AWS region", id="bad-region"
    ),
    pytest.param(
        {"replication": {"regions": ["eu-central-1", "eu-central-1"]}},
        "registry:replication.regions",
        "listed twice",
        id="duplicate-region",
    ),
    pytest.param(
        {"access": [{"repositories": ["*"], "pull": ["*"]}]},
        "registry:access[0].pull[0]",
        "'*' is never allowed",
        id="star-principal",
    ),
    pytest.param(
        {"access": [{"repositories": ["*"], "pull": [DEPLOY]}, {"repositories": ["*"], "push": ["ci"]}]},
        "registry:access[1].push[0]",
        "not an IAM principal ARN",
        id="principal-not-an-arn",
    ),
    pytest.param(
        {"access": [{"repositories": ["*"], "delete": ["arn:aws:iam::12345:role/ci"]}]},
        "registry:access[0].delete[0]",
        "not an IAM principal",
        id="short-account",
    ),
    pytest.param(
        {
            "access": [
                {"repositories": ["*"], "pull": [DEPLOY]},
                {"repositories": ["team-a/api", "team-b/*"], "push": [CI]},
            ]
        },
        "registry:access[1].repositories[1]",
        "(team-b/*) matches no repository in registry:repositories",
        id="pattern-matches-nothing",
    ),
    pytest.param(
        {"repositories": [{"name": "team-a/api"}, {"name": "team-a-api"}]},
        "registry:repositories[1].name",
        "would share the Pulumi resource name team-a-api with team-a/api",
        id="same-resource-name",
    ),
    pytest.param(
        {"storage": {"kmsKeyArn": "arn:aws:kms:eu-west-1:123456789012:key/0a1b2c3d-0a1b-0a1b-0a1b-0a1b2c3d4e5f"}},
        "registry:storage.kmsKeyArn",
        "only used with encryption 'kms'",
        id="key-without-kms",
    ),
    pytest.param({"storage": {"versioning": True}}, "registry:storage.versioning", "unknown key", id="s3-storage-key"),
    pytest.param(
        {"users": [{"name": "ci", "access": "push"}]}, "registry:users", "ECR access is IAM", id="users-on-ecr"
    ),
    pytest.param({"replicas": "3"}, "registry:replicas", "only applies to targets local, aws", id="replicas-on-ecr"),
    pytest.param({"repositorys": []}, "registry:repositorys", "did you mean registry:repositories", id="typo"),
]


@pytest.mark.parametrize(("changes", "key", "says"), ONE_CHANGE)
def test_bad_ecr_config_names_key_and_fix(changes: dict[str, Any], key: str, says: str) -> None:
    found = problems(**changes)
    assert len(found) == 1, found
    assert found[0].startswith(f"{key}: "), found[0]
    assert says in found[0], found[0]


def test_a_mirror_token_must_be_a_secret() -> None:
    mirror = [{"name": "hub", "upstream": "docker.io", "username": "me", "accessToken": "dckr_pat_x"}]
    [problem] = problems(mirrors=mirror)
    assert problem.startswith("registry:mirrors[0].accessToken: a token must be stored encrypted")
    assert "pulumi config set --secret --path 'registry:mirrors[0].accessToken'" in problem
    assert ecr(frozenset({"registry:mirrors"}), mirrors=mirror).mirrors[0].access_token == "dckr_pat_x"


def test_repositories_are_refused_on_self_hosted_targets_naming_the_managed_ones() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({"registry:target": "local", "registry:repositories": "[]"})
    [problem] = caught.value.problems
    assert problem.startswith("registry:repositories: only applies to targets ecr, gar, acr, not local")


def test_retention_is_honoured_on_both_self_hosted_targets() -> None:
    local = load_settings({"registry:target": "local", "registry:retention": '{"keepTagged": 10}'})
    assert isinstance(local, LocalSettings) and local.retention is not None and local.retention.keep_tagged == 10
    aws = load_settings(
        {
            "registry:target": "aws",
            "aws:region": "eu-west-1",
            "registry:domain": "registry.example.com",
            "registry:retention": '{"untaggedDays": 7}',
        }
    )
    assert isinstance(aws, AwsSettings) and aws.retention is not None and aws.retention.untagged_days == 7


@pytest.mark.parametrize(("changes", "key", "says"), ONE_CHANGE)
def test_bad_ecr_config_fails_before_any_resource(changes: dict[str, Any], key: str, says: str) -> None:
    message, declared = refused_run("ecr", raw(**changes))
    assert f"{key}: " in message and says in message
    assert declared == []
