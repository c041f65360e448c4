"""Google Artifact Registry: who may read, how images are encrypted, scanned, kept and cleaned up."""

from __future__ import annotations

from collections.abc import Iterator

from pulumi_policy import ResourceValidationArgs

from .common import ADVISORY, MANDATORY, Config, as_list, as_mapping, json_document, resource_policy
from .production import is_production

REPOSITORIES = {"gcp:artifactregistry/repository:Repository"}
IAM = {
    "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember",
    "gcp:artifactregistry/repositoryIamBinding:RepositoryIamBinding",
    "gcp:artifactregistry/repositoryIamPolicy:RepositoryIamPolicy",
}
PUBLIC = {"allUsers", "allAuthenticatedUsers"}


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


POLICIES = [
    resource_policy(
        name="gar-no-public-members",
        description="No Artifact Registry repository grants allUsers or allAuthenticatedUsers.",
        types=IAM,
        check=_no_public_members,
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
