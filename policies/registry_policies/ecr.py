"""ECR: the managed registry's repositories, their scanning, lifecycle and policies.

Repository creation templates carry the settings of repositories ECR creates itself (pull-through
cache, replication), so their repository policies are held to the same rule. Deleting images is
granted per repository: a registry policy, or the ROOT template (every repository ECR creates
without a template of its own), that allows ecr:BatchDeleteImage reaches every repository.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from fnmatch import fnmatchcase
from typing import Any

from pulumi_policy import PolicyResource, ResourceValidationArgs, StackValidationArgs

from .common import (
    ADVISORY,
    MANDATORY,
    Config,
    as_list,
    as_mapping,
    json_document,
    label,
    linked,
    of_types,
    prop_value,
    resource_policy,
    stack_policy,
)

REPOSITORIES = {"aws:ecr/repository:Repository"}
LIFECYCLE_POLICIES = {"aws:ecr/lifecyclePolicy:LifecyclePolicy"}
SCANNING = {"aws:ecr/registryScanningConfiguration:RegistryScanningConfiguration"}
POLICY_HOLDERS = {
    "aws:ecr/repositoryPolicy:RepositoryPolicy": "policy",
    "aws:ecr/registryPolicy:RegistryPolicy": "policy",
    "aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate": "repositoryPolicy",
}
REGISTRY_WIDE = {
    "aws:ecr/registryPolicy:RegistryPolicy",
    "aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate",
}
DELETE_IMAGES = "ecr:BatchDeleteImage"


def _immutable(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    if args.props.get("imageTagMutability") not in ("IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION"):
        yield (
            f"{args.name}: tags can be overwritten, so a tag may point at another image tomorrow; set "
            "image_tag_mutability IMMUTABLE (registry:immutableTags, with registry:mutableTags for tags such as latest)"
        )


def _scanned(args: StackValidationArgs, _: Config) -> Iterator[tuple[str, PolicyResource | None]]:
    registry_scans = any(as_list(prop_value(s, "rules")) for s in of_types(args.resources, SCANNING))
    for repository in of_types(args.resources, REPOSITORIES):
        on_push = as_mapping(prop_value(repository, "imageScanningConfiguration")).get("scanOnPush") is True
        if not on_push and not registry_scans:
            yield (
                f"{label(repository)} is never scanned: turn on scan on push (registry:scanning.onPush) or a "
                "registry scanning configuration",
                repository,
            )


def _kms(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    types = {as_mapping(e).get("encryptionType") for e in as_list(args.props.get("encryptionConfigurations"))}
    if "KMS" not in types:
        yield f"{args.name}: encrypt with a KMS key (registry:storage.encryption kms) to control and audit the key"


def _lifecycle(args: StackValidationArgs, _: Config) -> Iterator[tuple[str, PolicyResource | None]]:
    policies = of_types(args.resources, LIFECYCLE_POLICIES)
    for repository in of_types(args.resources, REPOSITORIES):
        if not any(repository in linked(p, "repository", [repository], ["name"]) for p in policies):
            yield (
                f"{label(repository)} keeps every image forever: set registry:retention so a lifecycle policy "
                "deletes what nobody needs (protected tags stay)",
                repository,
            )


def _no_public_principal(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    document = as_mapping(json_document(args.props.get(POLICY_HOLDERS[args.resource_type])))
    for i, statement in enumerate(map(as_mapping, as_list(document.get("Statement")))):
        principal = statement.get("Principal")
        everyone = principal == "*" or any("*" in as_list(v) for v in as_mapping(principal).values())
        if statement.get("Effect") == "Allow" and everyone:
            yield (
                f"{args.name}: statement {statement.get('Sid') or i} grants any principal ('*'); name the IAM "
                "principals (registry:access rules)"
            )


def allows(statement: Mapping[str, Any], action: str) -> bool:
    """Does an Allow statement grant `action`: named, matched by a wildcard (ecr:*, *, ecr:Batch*),
    or left out of a NotAction? IAM action names are case-insensitive."""
    if statement.get("Effect") != "Allow":
        return False
    if "NotAction" in statement:
        return not any(fnmatchcase(action.lower(), str(p).lower()) for p in as_list(statement["NotAction"]))
    return any(fnmatchcase(action.lower(), str(p).lower()) for p in as_list(statement.get("Action")))


def _no_delete_everywhere(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    if args.resource_type == "aws:ecr/registryPolicy:RegistryPolicy":
        reach = "a registry policy covers every repository"
    elif args.props.get("prefix") == "ROOT":
        reach = "the ROOT template gives its policy to every repository ECR creates without a template of its own"
    else:
        return
    document = as_mapping(json_document(args.props.get(POLICY_HOLDERS[args.resource_type])))
    for i, statement in enumerate(map(as_mapping, as_list(document.get("Statement")))):
        if allows(statement, DELETE_IMAGES):
            yield (
                f"{args.name}: statement {statement.get('Sid') or i} allows {DELETE_IMAGES} and {reach}; grant "
                "delete on the repositories that need it (a registry:access rule's delete, in repository policies)"
            )


POLICIES = [
    resource_policy(
        name="ecr-repository-immutable-tags",
        description="ECR repositories keep their tags immutable (CKV_AWS_51).",
        types=REPOSITORIES,
        check=_immutable,
        level=MANDATORY,
    ),
    stack_policy(
        name="ecr-repository-scanned",
        description="Every ECR repository is scanned on push, by itself or by a registry scanning configuration (CKV_AWS_163).",
        check=_scanned,
        level=MANDATORY,
    ),
    resource_policy(
        name="ecr-repository-kms-encryption",
        description="ECR repositories are encrypted with a KMS key (CKV_AWS_136).",
        types=REPOSITORIES,
        check=_kms,
        level=ADVISORY,
    ),
    stack_policy(
        name="ecr-repository-lifecycle-policy",
        description="Every ECR repository has a lifecycle policy.",
        check=_lifecycle,
        level=ADVISORY,
    ),
    resource_policy(
        name="ecr-policy-no-public-principal",
        description="No ECR repository policy, registry policy or creation template grants any principal ('*') (CKV_AWS_32).",
        types=set(POLICY_HOLDERS),
        check=_no_public_principal,
        level=MANDATORY,
    ),
    resource_policy(
        name="ecr-no-delete-on-every-repository",
        description="No ECR registry policy or ROOT creation template allows ecr:BatchDeleteImage, which would reach every repository.",
        types=REGISTRY_WIDE,
        check=_no_delete_everywhere,
        level=MANDATORY,
    ),
]
