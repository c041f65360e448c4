"""The `ecr` target under the recording mocks: every input that matters, per resource."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest
from pulumi.runtime.mocks import MockCallArgs

from components.config import Retention
from components.renderers.ecr import (
    DELETE_ACTIONS,
    PULL_ACTIONS,
    PULL_THROUGH_ACTIONS,
    PUSH_ACTIONS,
    lifecycle_policy,
)
from tests.conftest import ROOT, RunStack, provider_modules_loaded_by, refused_run
from tools.mock_program import (
    ACCOUNT,
    ProgramRun,
    RealisticMocks,
    Secret,
    plaintext_leaks,
    run_program,
    unwrap,
)
from tools.stack_config import load_project, load_stack_config

REGISTRY = f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com"
REPOSITORY = "aws:ecr/repository:Repository"
DOCKER_HUB = {"name": "docker-hub", "upstream": "docker.io", "username": "someone", "accessToken": "dckr_pat_s3cr3t"}
ROLE = "arn:aws:iam::123456789012:role/"
DEPLOY, CI_A, CI_B, CLEANUP_B = (f"{ROLE}{n}" for n in ("deploy", "ci-team-a", "ci-team-b", "cleanup-team-b"))
REPOSITORY_POLICY = "aws:ecr/repositoryPolicy:RepositoryPolicy"
TEMPLATE = "aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate"


@pytest.fixture(scope="module")
def ecr() -> ProgramRun:
    return run_program(ROOT, "ecr")


def with_docker_hub(run_stack: RunStack, **overrides: str) -> ProgramRun:
    mirrors = json.loads(json.dumps([{"name": "k8s", "upstream": "registry.k8s.io"}, DOCKER_HUB]))
    return run_stack(
        "ecr", overrides={"registry:mirrors": json.dumps(mirrors), **overrides}, secret_keys=["registry:mirrors"]
    )


def policy(resource: Any, key: str = "policy") -> dict[str, Any]:
    document: dict[str, Any] = json.loads(unwrap(resource.inputs[key]))
    return document


def repositories(run: ProgramRun) -> dict[str, Any]:
    return {r.inputs["name"]: r for r in run.of_type(REPOSITORY)}


def test_one_repository_per_entry_immutable_except_latest_scanned_and_kms_encrypted(ecr: ProgramRun) -> None:
    repos = repositories(ecr)
    assert set(repos) == {"team-a/api", "team-a/web", "team-b/worker"}
    key = ecr.named("registry-key").outputs["arn"]
    for repo in repos.values():
        assert repo.inputs["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
        assert repo.inputs["imageTagMutabilityExclusionFilters"] == [{"filter": "latest", "filterType": "WILDCARD"}]
        assert repo.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
        assert repo.inputs["encryptionConfigurations"] == [{"encryptionType": "KMS", "kmsKey": key}]
        assert repo.inputs["forceDelete"] is False
        assert repo.protect, "production: repositories full of images are protected"
        assert repo.outputs["region"] == "eu-west-1"


def test_a_repository_may_opt_out_of_immutability(run_stack: RunStack) -> None:
    run = run_stack(
        "ecr",
        overrides={
            "registry:repositories": '[{"name": "team-a/api"}, {"name": "team-a/web", "immutableTags": false}]',
            "registry:access": json.dumps([{"repositories": ["team-a/*"], "push": [CI_A]}]),
        },
    )
    repos = repositories(run)
    assert repos["team-a/web"].inputs["imageTagMutability"] == "MUTABLE"
    assert "imageTagMutabilityExclusionFilters" not in repos["team-a/web"].inputs
    assert repos["team-a/api"].inputs["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
    plain = run_stack(
        "ecr",
        overrides={
            "registry:mutableTags": "[]",
            "registry:storage": '{"encryption": "s3"}',
            "registry:signing": '{"enabled": false}',
        },
    )
    repo = repositories(plain)["team-a/api"]
    assert repo.inputs["imageTagMutability"] == "IMMUTABLE"
    assert repo.inputs["encryptionConfigurations"] == [{"encryptionType": "AES256"}]
    assert plain.of_type("aws:kms/key:Key") == [] and "registry-template-role" not in [r.name for r in plain.resources]


def test_every_repository_gets_the_built_lifecycle_policy(ecr: ProgramRun) -> None:
    expected = lifecycle_policy(Retention(keep_tagged=30, untagged_days=7, protected_tags=["v*", "release-*"]))
    policies = {p.inputs["repository"]: policy(p) for p in ecr.of_type("aws:ecr/lifecyclePolicy:LifecyclePolicy")}
    assert set(policies) == set(repositories(ecr))
    for document in policies.values():
        assert document == expected
        priorities = [r["rulePriority"] for r in document["rules"]]
        assert priorities == sorted(priorities)


def grants(document: dict[str, Any] | None) -> dict[str, tuple[list[str], list[str]]]:
    """A policy's statements as Sid -> (principals, actions); {} for no policy."""
    if document is None:
        return {}
    return {s["Sid"]: (s["Principal"]["AWS"], s["Action"]) for s in document["Statement"]}


def repository_policies(run: ProgramRun) -> dict[str, dict[str, Any]]:
    return {p.inputs["repository"]: policy(p) for p in run.of_type(REPOSITORY_POLICY)}


def test_each_repository_gets_exactly_what_the_rules_matching_its_name_grant(ecr: ProgramRun) -> None:
    policies = repository_policies(ecr)
    assert set(policies) == {"team-a/api", "team-a/web", "team-b/worker"}
    for name in ("team-a/api", "team-a/web"):
        assert grants(policies[name]) == {
            "ReadersPull": ([DEPLOY], PULL_ACTIONS),
            "WritersPushAndPull": ([CI_A], PUSH_ACTIONS),
        }
    assert grants(policies["team-b/worker"]) == {
        "ReadersPull": ([DEPLOY], PULL_ACTIONS),
        "WritersPushAndPull": ([CI_B], PUSH_ACTIONS),
        "DeletersDelete": ([CLEANUP_B], ["ecr:BatchDeleteImage"]),
    }
    assert DELETE_ACTIONS == ["ecr:BatchDeleteImage"]  # deleting takes no lookup, pull or push
    names = {p.name: p.inputs["repository"] for p in ecr.of_type(REPOSITORY_POLICY)}
    assert names == {"registry-team-a-api-policy": "team-a/api", "registry-team-a-web-policy": "team-a/web",
                     "registry-team-b-worker-policy": "team-b/worker"}  # fmt: skip


def test_a_rule_on_a_prefix_grants_those_repositories_only_and_others_get_no_policy(run_stack: RunStack) -> None:
    rules = [{"repositories": ["team-a/*"], "push": [CI_A]}, {"repositories": ["team-a/web"], "delete": [CLEANUP_B]}]
    run = run_stack("ecr", overrides={"registry:access": json.dumps(rules), "registry:signing": '{"enabled": false}'})
    policies = repository_policies(run)
    assert set(policies) == {"team-a/api", "team-a/web"}, "team-b/worker: no rule matches, so no policy"
    assert grants(policies["team-a/api"]) == {"WritersPushAndPull": ([CI_A], PUSH_ACTIONS)}
    assert grants(policies["team-a/web"]) == {
        "WritersPushAndPull": ([CI_A], PUSH_ACTIONS),
        "DeletersDelete": ([CLEANUP_B], DELETE_ACTIONS),
    }
    assert "registry-team-b-worker-policy" not in [r.name for r in run.resources]
    nobody = run_stack("ecr", overrides={"registry:access": "[]", "registry:signing": '{"enabled": false}'})
    assert nobody.of_type(REPOSITORY_POLICY) == [] and nobody.of_type("aws:ecr/registryPolicy:RegistryPolicy") == []
    assert all("repositoryPolicy" not in t.inputs for t in nobody.of_type(TEMPLATE))


def test_registry_scanning_is_basic_on_push_for_our_repositories_and_mirrors(
    ecr: ProgramRun, run_stack: RunStack
) -> None:
    scanning = ecr.named("registry-scanning").inputs
    assert scanning["scanType"] == "BASIC"
    [rule] = scanning["rules"]
    assert rule["scanFrequency"] == "SCAN_ON_PUSH"
    assert {f["filter"] for f in rule["repositoryFilters"]} == {
        "team-a/api", "team-a/web", "team-b/worker", "k8s/*", "ecr-public/*", "quay/*"
    }  # fmt: skip
    assert {f["filterType"] for f in rule["repositoryFilters"]} == {"WILDCARD"}
    continuous = run_stack("ecr", overrides={"registry:scanning": '{"onPush": true, "continuous": true}'})
    enhanced = continuous.named("registry-scanning").inputs
    assert enhanced["scanType"] == "ENHANCED" and enhanced["rules"][0]["scanFrequency"] == "CONTINUOUS_SCAN"
    off = run_stack("ecr", overrides={"registry:scanning": '{"onPush": false}'})
    assert off.of_type("aws:ecr/registryScanningConfiguration:RegistryScanningConfiguration") == []


def test_replication_copies_our_repositories_and_templates_apply_there(ecr: ProgramRun) -> None:
    [rule] = ecr.named("registry-replication").inputs["replicationConfiguration"]["rules"]
    assert rule["destinations"] == [{"region": "eu-central-1", "registryId": ACCOUNT}]
    assert {f["filter"] for f in rule["repositoryFilters"]} == {"team-a/api", "team-a/web", "team-b/worker"}
    assert {f["filterType"] for f in rule["repositoryFilters"]} == {"PREFIX_MATCH"}
    template = ecr.named("registry-replicas-eu-central-1").inputs
    assert (template["prefix"], template["appliedFors"], template["region"]) == (
        "ROOT",
        ["REPLICATION"],
        "eu-central-1",
    )
    assert template["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
    replica_key = ecr.named("registry-key-eu-central-1")
    assert replica_key.inputs["region"] == "eu-central-1" and replica_key.protect
    assert template["encryptionConfigurations"] == [{"encryptionType": "KMS", "kmsKey": replica_key.outputs["arn"]}]
    assert template["customRoleArn"] == ecr.named("registry-template-role").outputs["arn"]
    assert json.loads(template["lifecyclePolicy"]) == policy(ecr.of_type("aws:ecr/lifecyclePolicy:LifecyclePolicy")[0])


def test_keys_are_used_only_through_ecr(ecr: ProgramRun) -> None:
    for name, region in (("registry-key", "eu-west-1"), ("registry-key-eu-central-1", "eu-central-1")):
        statements = {s["Sid"]: s for s in policy(ecr.named(name))["Statement"]}
        assert set(statements) == {"AccountAdministersTheKey", "UseOnlyThroughEcr"}
        assert (
            statements["UseOnlyThroughEcr"]["Condition"]["StringEquals"]["kms:ViaService"]
            == f"ecr.{region}.amazonaws.com"
        )
    role_policy = {s["Sid"]: s for s in policy(ecr.named("registry-template-policy"))["Statement"]}
    assert role_policy["EncryptThem"]["Resource"] == [
        ecr.named("registry-key").outputs["arn"],
        ecr.named("registry-key-eu-central-1").outputs["arn"],
    ]


def test_each_mirror_is_a_pull_through_cache_rule_with_a_mutable_template(ecr: ProgramRun) -> None:
    rules = {
        r.inputs["ecrRepositoryPrefix"]: r.inputs
        for r in ecr.of_type("aws:ecr/pullThroughCacheRule:PullThroughCacheRule")
    }
    assert {p: r["upstreamRegistryUrl"] for p, r in rules.items()} == {
        "k8s": "registry.k8s.io",
        "ecr-public": "public.ecr.aws",
        "quay": "quay.io",
    }
    assert all("credentialArn" not in r for r in rules.values())
    template = ecr.named("registry-k8s-template").inputs
    assert (template["prefix"], template["appliedFors"]) == ("k8s", ["PULL_THROUGH_CACHE"])
    assert template["imageTagMutability"] == "MUTABLE"  # the upstream moves its tags; the cache must follow
    assert json.loads(template["lifecyclePolicy"])["rules"][-1]["selection"]["tagStatus"] == "untagged"
    registry_policy = policy(ecr.named("registry-registry-policy"))
    assert registry_policy["Statement"][0]["Principal"] == {"AWS": [CI_A, CI_B, DEPLOY]}
    assert registry_policy["Statement"][0]["Resource"] == [
        f"arn:aws:ecr:eu-west-1:{ACCOUNT}:repository/{p}/*" for p in ("k8s", "ecr-public", "quay")
    ]


def run_stack_ecr(overrides: dict[str, str]) -> ProgramRun:
    return run_program(ROOT, "ecr", overrides={"registry:signing": '{"enabled": false}', **overrides})


def test_every_principal_that_may_pull_somewhere_pulls_through_every_mirror(ecr: ProgramRun) -> None:
    """Mirrors are shared: whoever a rule lets pull or push anywhere may pull (never push) the
    cached images; a principal that may only delete gets nothing there."""
    registry_policy = grants(policy(ecr.named("registry-registry-policy")))
    assert registry_policy == {"PullThroughMirrors": ([CI_A, CI_B, DEPLOY], PULL_THROUGH_ACTIONS)}
    for mirror in ("k8s", "ecr-public", "quay"):
        template = ecr.named(f"registry-{mirror}-template")
        assert grants(policy(template, "repositoryPolicy")) == {"ReadersPull": ([CI_A, CI_B, DEPLOY], PULL_ACTIONS)}
    deleters_only = [{"repositories": ["team-b/*"], "delete": [CLEANUP_B]}]
    run = run_stack_ecr({"registry:access": json.dumps(deleters_only)})
    assert run.of_type("aws:ecr/registryPolicy:RegistryPolicy") == []
    assert "repositoryPolicy" not in run.named("registry-k8s-template").inputs


def replica_templates(run: ProgramRun) -> dict[str, Any]:
    return {t.inputs["prefix"]: t for t in run.of_type(TEMPLATE) if t.inputs["appliedFors"] == ["REPLICATION"]}


def test_replicas_let_pull_per_namespace_who_may_pull_every_repository_of_it(ecr: ProgramRun) -> None:
    templates = replica_templates(ecr)
    assert {p: t.name for p, t in templates.items()} == {
        "ROOT": "registry-replicas-eu-central-1",  # the name it always had: not replaced
        "team-a": "registry-replicas-eu-central-1-team-a",
        "team-b": "registry-replicas-eu-central-1-team-b",
    }
    assert "repositoryPolicy" not in templates["ROOT"].inputs  # no repository without a namespace
    assert grants(policy(templates["team-a"], "repositoryPolicy")) == {"ReadersPull": ([DEPLOY, CI_A], PULL_ACTIONS)}
    assert grants(policy(templates["team-b"], "repositoryPolicy")) == {"ReadersPull": ([DEPLOY, CI_B], PULL_ACTIONS)}
    for template in templates.values():  # replicas are read-only copies: no push, no delete there
        assert template.inputs["region"] == "eu-central-1" and template.inputs["imageTagMutability"]


def test_a_replica_template_names_only_who_may_pull_all_its_repositories(run_stack: RunStack) -> None:
    repositories = [{"name": n} for n in ("team-a/api", "team-a/web", "team-b/worker", "tools", "base")]
    rules = [
        {"repositories": ["team-a/*"], "pull": [DEPLOY]},
        {"repositories": ["team-a/api"], "push": [CI_A]},  # not team-a/web: not on team-a's replicas
        {"repositories": ["team-b/worker"], "push": [CI_B], "delete": [CLEANUP_B]},
        {"repositories": ["tools", "base"], "pull": [CI_B]},
        {"repositories": ["tools"], "push": [CI_A]},  # not base: not on ROOT's replicas
    ]
    run = run_stack_ecr({"registry:repositories": json.dumps(repositories), "registry:access": json.dumps(rules)})
    templates = {p: grants(policy(t, "repositoryPolicy")) for p, t in replica_templates(run).items()}
    assert templates == {
        "ROOT": {"ReadersPull": ([CI_B], PULL_ACTIONS)},
        "team-a": {"ReadersPull": ([DEPLOY], PULL_ACTIONS)},
        "team-b": {"ReadersPull": ([CI_B], PULL_ACTIONS)},
    }


def test_a_docker_hub_mirror_logs_in_with_a_secret_named_for_ecr(run_stack: RunStack) -> None:
    run = with_docker_hub(run_stack)
    secret = run.named("registry-docker-hub-credentials")
    assert secret.inputs["name"] == "ecr-pullthroughcache/docker-hub"
    value = run.named("registry-docker-hub-credentials-value")
    assert isinstance(value.inputs["secretString"], Secret)
    assert json.loads(unwrap(value.inputs["secretString"])) == {"username": "someone", "accessToken": "dckr_pat_s3cr3t"}
    rule = run.named("registry-docker-hub-cache").inputs
    assert rule["upstreamRegistryUrl"] == "registry-1.docker.io"
    assert rule["credentialArn"] == secret.outputs["arn"]
    for resource in run.resources:
        assert plaintext_leaks(resource.inputs, {"dckr_pat_s3cr3t"}) == [], resource.name
        assert plaintext_leaks(resource.outputs, {"dckr_pat_s3cr3t"}) == [], resource.name
    assert plaintext_leaks(run.outputs, {"dckr_pat_s3cr3t"}) == []
    hub = run.outputs["mirrors"]["docker-hub"]
    assert hub["example"] == f"docker pull {REGISTRY}/docker-hub/library/alpine:3"  # official images need library/


def test_outputs_tell_users_where_to_push_pull_and_log_in(ecr: ProgramRun) -> None:
    out = ecr.outputs
    assert out["registryUrl"] == REGISTRY and out["region"] == "eu-west-1"
    assert out["repositories"] == {n: f"{REGISTRY}/{n}" for n in ("team-a/api", "team-a/web", "team-b/worker")}
    assert out["mirrors"]["k8s"] == {
        "upstream": "registry.k8s.io",
        "prefix": f"{REGISTRY}/k8s",
        "example": f"docker pull {REGISTRY}/k8s/pause:3.10",
    }
    assert out["loginCommand"] == (
        f"aws ecr get-login-password --region eu-west-1 | docker login --username AWS --password-stdin {REGISTRY}"
    )


def test_components_follow_the_structure(ecr: ProgramRun) -> None:
    component = ecr.named("registry")
    assert component.type == "registry:ecr:EcrRegistry"
    children = ecr.children_of(component)
    assert {r.type for r in children} >= {REPOSITORY, "aws:ecr/pullThroughCacheRule:PullThroughCacheRule"}
    assert all(r.name.startswith("registry-") for r in children)


def test_a_change_of_encryption_is_refused_before_anything_is_declared() -> None:
    """ECR cannot re-encrypt a repository: the provider would replace it and its images."""
    existing = {
        "aws:ecr/getRepositories:getRepositories": lambda a: {
            "names": ["team-a/api"],
            "id": "r",
            "region": "eu-west-1",
        },
        "aws:ecr/getRepository:getRepository": lambda a: {
            "name": a.args["name"],
            "encryptionConfigurations": [{"encryptionType": "AES256", "kmsKey": ""}],
            "id": a.args["name"],
            "arn": "arn",
            "imageScanningConfigurations": [],
            "imageTagMutability": "IMMUTABLE",
            "imageTagMutabilityExclusionFilters": [],
            "mostRecentImageTags": [],
            "registryId": ACCOUNT,
            "repositoryUrl": f"{REGISTRY}/{a.args['name']}",
            "tags": {},
            "region": "eu-west-1",
        },
    }
    config, _ = load_stack_config(load_project(ROOT), "ecr")
    message, declared = refused_run("ecr", config, calls=existing)
    assert "registry:storage.encryption: repository team-a/api is encrypted with AES256" in message
    assert [r.type for r in declared if r.type != "pulumi:providers:aws"] == []


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        ("registry:mirrors", '[{"name": "hub", "upstream": "docker.io"}]', "registry:mirrors[0].accessToken"),
        ("registry:users", '[{"name": "ci", "access": "push"}]', "ECR access is IAM"),
    ],
)
def test_a_bad_intent_declares_no_resource(key: str, value: str, says: str) -> None:
    message, declared = refused_run(
        "ecr", {"registry:target": "ecr", "registry:repositories": '[{"name": "a/b"}]', key: value}
    )
    assert says in message
    assert declared == []


def test_missing_region_is_refused_with_the_fix(run_stack: RunStack) -> None:
    with pytest.raises(pulumi.RunError, match="pulumi config set aws:region"):
        run_stack("ecr", overrides={"aws:region": ""})


def test_ecr_program_imports_only_the_sdks_it_uses() -> None:
    modules = provider_modules_loaded_by("ecr")
    assert {m.split(".")[0] for m in modules} == {"pulumi_aws"}  # no pulumi_docker, pulumi_gcp, random or tls
    services = {m.split(".")[1] for m in modules if m.count(".") >= 1}
    assert {"ecr", "kms", "iam"} <= services
    assert not services & {"ec2", "ecs", "lb", "alb", "s3", "elasticache", "cloudwatch", "route53", "acm"}, services


def test_mock_call_answers_region_like_the_provider() -> None:
    calls = RealisticMocks().calls
    answer = calls["aws:ecr/getRepositories:getRepositories"](MockCallArgs("t", {"region": "eu-west-1"}, ""))
    assert answer["names"] == []


def test_a_key_of_another_region_is_refused_before_anything_is_declared() -> None:
    config, _ = load_stack_config(load_project(ROOT), "ecr")
    key = "arn:aws:kms:us-east-1:123456789012:key/0b1e2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
    message, declared = refused_run(
        "ecr", {**config, "registry:storage": json.dumps({"encryption": "kms", "kmsKeyArn": key})}
    )
    assert message == (
        "registry:storage.kmsKeyArn: the key is in us-east-1, the repositories in eu-west-1 (aws:region); ECR "
        "encrypts only with a key of its own region: name a key in eu-west-1, or leave kmsKeyArn out and one is created"
    )
    assert [r.type for r in declared if r.type != "pulumi:providers:aws"] == []
