"""Google Artifact Registry: who may read, how images are encrypted, scanned, kept and cleaned up.

Deleting images is granted per repository: a project-level grant of a role that deletes images
(Artifact Registry admin or repoAdmin, or a custom role holding a delete permission) reaches every
repository of the project, those of other workloads included.
"""

from __future__ import annotations

from collections.abc import Iterator

from pulumi_policy import PolicyResource, ResourceValidationArgs, StackValidationArgs

from .common import (
    ADVISORY,
    MANDATORY,
    Config,
    as_list,
    as_mapping,
    json_document,
    label,
    of_types,
    prop_value,
    resource_policy,
    stack_policy,
)
from .production import is_production

REPOSITORIES = {"gcp:artifactregistry/repository:Repository"}
IAM = {
    "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember",
    "gcp:artifactregistry/repositoryIamBinding:RepositoryIamBinding",
    "gcp:artifactregistry/repositoryIamPolicy:RepositoryIamPolicy",
}
PUBLIC = {"allUsers", "allAuthenticatedUsers"}
PROJECT_IAM = {
    "gcp:projects/iAMMember:IAMMember",
    "gcp:projects/iAMBinding:IAMBinding",
    "gcp:projects/iAMPolicy:IAMPolicy",
}
CUSTOM_ROLES = {"gcp:projects/iAMCustomRole:IAMCustomRole", "gcp:organizations/iAMCustomRole:IAMCustomRole"}
# predefined roles that delete images (IAM "Artifact Registry roles and permissions")
DELETING_ROLES = {
    "roles/artifactregistry.admin",
    "roles/artifactregistry.repoAdmin",
    "roles/artifactregistry.createOnPushRepoAdmin",
}
# a custom role holding one of these deletes images: versions, whole packages, or whole repositories
DELETE_PERMISSIONS = {
    "artifactregistry.versions.delete",
    "artifactregistry.packages.delete",
    "artifactregistry.repositories.delete",
}


def _standard(args: ResourceValidationArgs) -> bool:
    return args.props.get("mode") in (None, "STANDARD_REPOSITORY")


def _no_public_members(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    members = set(as_list(args.props.get("member"))) | set(as_list(args.props.get("members")))
    policy = as_mapping(json_document(args.props.get("policyData")))
    for binding in map(as_mapping, as_list(policy.get("bindings"))):
        members |= set(as_list(binding.get("members")))
    for member in sorted(members & PUBLIC):
        yield f"{args.name}: {member} makes the repository public; grant named users, groups or service accounts"


def _cmek(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    if args.props.get("mode") != "VIRTUAL_REPOSITORY" and not args.props.get("kmsKeyName"):
        yield f"{args.name}: encrypt with a customer-managed key (registry:storage.encryption kms)"


def _cleanup(args: ResourceValidationArgs, config: Config) -> Iterator[str]:
    if not _standard(args):
        return
    if not as_list(args.props.get("cleanupPolicies")):
        yield f"{args.name}: no cleanup policy, every version stays forever; set registry:retention"
    elif args.props.get("cleanupPolicyDryRun") is True and is_production(config, args.stack_tags):
        yield f"{args.name}: cleanup runs as a dry run in production; set registry:retention.dryRun false"


def _scanning(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    if not _standard(args):
        return
    enablement = as_mapping(args.props.get("vulnerabilityScanningConfig")).get("enablementConfig")
    if enablement != "INHERITED":
        yield f"{args.name}: vulnerability scanning is off; set registry:scanning.onPush true"


def _immutable(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    if _standard(args) and as_mapping(args.props.get("dockerConfig")).get("immutableTags") is not True:
        yield f"{args.name}: tags can be moved to other images; set registry:immutableTags true"


def _roles_granted(grant: PolicyResource) -> list[str]:
    """The roles a project IAM member, binding or policy grants (those known)."""
    policy = as_mapping(json_document(prop_value(grant, "policyData")))
    roles = [prop_value(grant, "role"), *(as_mapping(b).get("role") for b in as_list(policy.get("bindings")))]
    return [r for r in roles if isinstance(r, str)]


def _deleting_custom_roles(resources: list[PolicyResource]) -> list[PolicyResource]:
    return [
        r for r in of_types(resources, CUSTOM_ROLES) if set(as_list(prop_value(r, "permissions"))) & DELETE_PERMISSIONS
    ]


def _no_delete_everywhere(args: StackValidationArgs, _: Config) -> Iterator[tuple[str, PolicyResource | None]]:
    custom = _deleting_custom_roles(args.resources)
    names = set(DELETING_ROLES)
    for role in custom:
        names |= {n for n in (prop_value(role, "name"), prop_value(role, "id")) if isinstance(n, str)}
        if prop_value(role, "project") and prop_value(role, "roleId"):
            names.add(f"projects/{prop_value(role, 'project')}/roles/{prop_value(role, 'roleId')}")
    for grant in of_types(args.resources, PROJECT_IAM):
        found = [r for r in _roles_granted(grant) if r in names]
        # a custom role made in the same update: its name is unknown in a preview, the link is not
        if not found and any(r in custom for r in grant.property_dependencies.get("role", [])):
            found = ["a custom role that deletes images"]
        for granted in dict.fromkeys(found):
            yield (
                f"{label(grant)} grants {granted} on the whole project, so it deletes images in every Artifact "
                "Registry repository; bind delete on the repositories that need it (registry:access delete)",
                grant,
            )


POLICIES = [
    resource_policy(
        name="gar-no-public-members",
        description="No Artifact Registry repository grants allUsers or allAuthenticatedUsers.",
        types=IAM,
        check=_no_public_members,
        level=MANDATORY,
    ),
    stack_policy(
        name="gar-no-delete-on-every-repository",
        description="No project-level IAM grant gives a role that deletes Artifact Registry images, which would reach every repository.",
        check=_no_delete_everywhere,
        level=MANDATORY,
    ),
    resource_policy(
        name="gar-repository-cmek",
        description="Artifact Registry repositories are encrypted with a customer-managed key.",
        types=REPOSITORIES,
        check=_cmek,
        level=ADVISORY,
    ),
    resource_policy(
        name="gar-repository-cleanup-policies",
        description="Standard Artifact Registry repositories have cleanup policies, not a dry run in production.",
        types=REPOSITORIES,
        check=_cleanup,
        level=ADVISORY,
    ),
    resource_policy(
        name="gar-repository-scanning",
        description="Standard Artifact Registry repositories have vulnerability scanning enabled.",
        types=REPOSITORIES,
        check=_scanning,
        level=ADVISORY,
    ),
    resource_policy(
        name="gar-repository-immutable-tags",
        description="Standard Artifact Registry Docker repositories keep their tags immutable.",
        types=REPOSITORIES,
        check=_immutable,
        level=ADVISORY,
    ),
]
