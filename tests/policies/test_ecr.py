"""ECR policies: one passing and one failing case each."""

from __future__ import annotations

import json
from typing import Any

from tests.policies.support import resource, resource_args, run, stack_args

REPOSITORY = "aws:ecr/repository:Repository"


def repository(name: str = "team-a/api", **props: Any) -> Any:
    return resource(REPOSITORY, {"name": name, **props}, name=name.replace("/", "-"))


def policy_doc(principal: Any) -> str:
    statement = {"Sid": "S", "Effect": "Allow", "Principal": principal, "Action": ["ecr:BatchGetImage"]}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def test_immutable_repositories_pass_and_mutable_ones_fail() -> None:
    for mutability in ("IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION"):
        assert run("ecr-repository-immutable-tags", resource_args(REPOSITORY, {"imageTagMutability": mutability})) == []
    [message] = run("ecr-repository-immutable-tags", resource_args(REPOSITORY, {"imageTagMutability": "MUTABLE"})) or []
    assert "registry:immutableTags" in message


def test_a_repository_is_scanned_on_push_or_by_the_registry() -> None:
    assert (
        run("ecr-repository-scanned", stack_args([repository(imageScanningConfiguration={"scanOnPush": True})])) == []
    )
    scanning = resource(
        "aws:ecr/registryScanningConfiguration:RegistryScanningConfiguration",
        {"scanType": "BASIC", "rules": [{"scanFrequency": "SCAN_ON_PUSH"}]},
        name="scanning",
    )
    assert run("ecr-repository-scanned", stack_args([repository(), scanning])) == []
    [message] = run("ecr-repository-scanned", stack_args([repository()])) or []
    assert message.startswith("team-a-api (Repository) is never scanned")


def test_kms_encryption_is_advised() -> None:
    kms = {"encryptionConfigurations": [{"encryptionType": "KMS", "kmsKey": "arn:aws:kms:k"}]}
    assert run("ecr-repository-kms-encryption", resource_args(REPOSITORY, kms)) == []
    aes = {"encryptionConfigurations": [{"encryptionType": "AES256"}]}
    [message] = run("ecr-repository-kms-encryption", resource_args(REPOSITORY, aes)) or []
    assert "registry:storage.encryption kms" in message


def test_every_repository_needs_a_lifecycle_policy() -> None:
    repo = repository()
    lifecycle = resource(
        "aws:ecr/lifecyclePolicy:LifecyclePolicy",
        {"repository": "team-a/api", "policy": "{}"},
        name="lc",
        dependencies=[repo],
    )
    assert run("ecr-repository-lifecycle-policy", stack_args([repo, lifecycle])) == []
    [message] = run("ecr-repository-lifecycle-policy", stack_args([repo, lifecycle, repository("team-b/worker")])) or []
    assert message.startswith("team-b-worker (Repository) keeps every image forever")


def test_no_ecr_policy_grants_everyone() -> None:
    named = policy_doc({"AWS": ["arn:aws:iam::123456789012:role/ci"]})
    for type_, key in (
        ("aws:ecr/repositoryPolicy:RepositoryPolicy", "policy"),
        ("aws:ecr/registryPolicy:RegistryPolicy", "policy"),
        ("aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate", "repositoryPolicy"),
    ):
        assert run("ecr-policy-no-public-principal", resource_args(type_, {key: named})) == []
        for everyone in ("*", {"AWS": "*"}, {"AWS": ["arn:aws:iam::1:root", "*"]}):
            [message] = run("ecr-policy-no-public-principal", resource_args(type_, {key: policy_doc(everyone)})) or []
            assert "grants any principal ('*')" in message


def statement_doc(**statement: Any) -> str:
    principal = {"AWS": ["arn:aws:iam::123456789012:role/janitor"]}
    return json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": principal, **statement}]}
    )


def test_delete_on_every_repository_is_refused_in_the_registry_policy_and_the_root_template() -> None:
    registry = "aws:ecr/registryPolicy:RegistryPolicy"
    template = "aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate"
    pull_through = statement_doc(Action=["ecr:BatchImportUpstreamImage", "ecr:CreateRepository"])
    assert run("ecr-no-delete-on-every-repository", resource_args(registry, {"policy": pull_through})) == []
    for deleting in (
        statement_doc(Action="ecr:BatchDeleteImage"),
        statement_doc(Action=["ecr:BatchGetImage", "ecr:batchdeleteimage"]),
        statement_doc(Action="ecr:*"),
        statement_doc(Action="*"),
        statement_doc(Action="ecr:Batch*"),
        statement_doc(NotAction=["ecr:PutImage"]),
    ):
        [message] = run("ecr-no-delete-on-every-repository", resource_args(registry, {"policy": deleting})) or []
        assert "allows ecr:BatchDeleteImage and a registry policy covers every repository" in message
        root = {"prefix": "ROOT", "repositoryPolicy": deleting}
        [message] = run("ecr-no-delete-on-every-repository", resource_args(template, root)) or []
        assert "the ROOT template gives its policy to every repository" in message
        # a namespace's template (or a mirror's) reaches only the repositories under its prefix
        team = {"prefix": "team-b", "repositoryPolicy": deleting}
        assert run("ecr-no-delete-on-every-repository", resource_args(template, team)) == []
    denied = json.dumps({"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "ecr:*"}]})
    assert run("ecr-no-delete-on-every-repository", resource_args(registry, {"policy": denied})) == []
