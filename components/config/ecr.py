"""`ecr`: AWS ECR as the managed registry, from the intent keys."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from components.config.access import AccessRules, check_rules, principals_with
from components.config.base import Model, RuleViolation
from components.config.intent import IntentKeys, principal_arn_problem

# Upstreams ECR pull-through cache rules take: the upstream URL ECR wants and whether the rule
# needs a Secrets Manager secret (ECR API CreatePullThroughCacheRule, upstreamRegistryUrl;
# user guide "Creating a pull through cache rule": Docker Hub and GitHub need credentials).
ECR_UPSTREAMS: dict[str, tuple[str, Literal["required", "optional", "none"]]] = {
    "docker.io": ("registry-1.docker.io", "required"),
    "ghcr.io": ("ghcr.io", "required"),
    "quay.io": ("quay.io", "optional"),
    "registry.k8s.io": ("registry.k8s.io", "none"),
    "public.ecr.aws": ("public.ecr.aws", "none"),
}
# ECR's limits on wildcards: lifecycle tagPatternList patterns take at most 4 '*', image tag
# mutability exclusion filters at most 2 (ECR user guide, lifecycle policy properties and
# "Image tag mutability").
LIFECYCLE_WILDCARDS = 4
EXCLUSION_WILDCARDS = 2


class RepositoryStorage(Model):
    """How ECR stores the images."""

    encryption: Literal["s3", "kms"] = Field("s3", description="AES256 (S3-managed) or KMS; fixed at creation")
    kms_key_arn: str | None = Field(None, pattern=r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[0-9a-f-]{36}$")
    force_destroy: bool = Field(False, description="let `pulumi destroy` delete repositories that hold images")

    @model_validator(mode="after")
    def _kms_key_needs_kms(self) -> RepositoryStorage:
        if self.kms_key_arn is not None and self.encryption != "kms":
            raise RuleViolation(
                "storage.kmsKeyArn", "is only used with encryption 'kms'; set storage.encryption to kms or remove it"
            )
        return self


class EcrSettings(IntentKeys):
    """`ecr`: one ECR repository per entry, lifecycle from retention, pull-through cache mirrors."""

    target: Literal["ecr"]
    storage: RepositoryStorage = RepositoryStorage()
    # repository policies on exactly the repositories each rule matches; principals are IAM ARNs
    access: AccessRules = Field(default_factory=list)
    production: bool = Field(False, description="protect repositories, keys and templates from deletion")

    @model_validator(mode="after")
    def _someone_signs(self) -> EcrSettings:
        if self.signing.enabled and not principals_with(self.access, "push"):
            raise RuleViolation(
                "access",
                "grants nobody push, so nobody could sign with the signing key (who may push signs, who may pull "
                "verifies); list your CI's IAM role under push in a registry:access rule or set signing.enabled to false",
            )
        return self

    @model_validator(mode="after")
    def _resource_names_differ(self) -> EcrSettings:
        """Resource names write a repository's '/' as '-': team-a/api and team-a-api would be one resource."""
        seen: dict[str, str] = {}
        for i, repository in enumerate(self.repositories):
            slug = repository.name.replace("/", "-")
            if slug in seen:
                raise RuleViolation(
                    f"repositories[{i}].name",
                    f"({repository.name}) would share the Pulumi resource name {slug} with {seen[slug]} ('/' "
                    "becomes '-' there); rename one",
                )
            seen[slug] = repository.name
        return self

    @model_validator(mode="after")
    def _access_rules_hold(self) -> EcrSettings:
        check_rules(
            self.access,
            principal_problem=principal_arn_problem,
            repositories=[r.name for r in self.repositories],
        )
        return self

    @model_validator(mode="after")
    def _exemptions_need_immutability(self) -> EcrSettings:
        if self.mutable_tags and not any(self.immutable(r) for r in self.repositories):
            raise RuleViolation(
                "mutableTags",
                "exempts tags from immutability, but no repository is immutable (registry:immutableTags false and "
                "no repository sets immutableTags true), so it changes nothing; remove it or set immutableTags true",
            )
        return self

    @model_validator(mode="after")
    def _ecr_rules(self) -> EcrSettings:
        for i, pattern in enumerate(self.mutable_tags):
            if pattern.count("*") > EXCLUSION_WILDCARDS:
                raise RuleViolation(
                    f"mutableTags[{i}]",
                    f"({pattern}) ECR's tag mutability exclusions take at most {EXCLUSION_WILDCARDS} '*'; narrow the pattern",
                )
        if self.retention is not None:
            if self.retention.dry_run:
                raise RuleViolation(
                    "retention.dryRun",
                    "ECR has no dry run for lifecycle policies (use the console's lifecycle preview); only target gar "
                    "honours it; remove it",
                )
            for i, pattern in enumerate(self.retention.protected_tags):
                if pattern.count("*") > LIFECYCLE_WILDCARDS:
                    raise RuleViolation(
                        f"retention.protectedTags[{i}]",
                        f"({pattern}) ECR lifecycle tag patterns take at most {LIFECYCLE_WILDCARDS} '*'; narrow the pattern",
                    )
        for i, mirror in enumerate(self.mirrors):
            if mirror.upstream not in ECR_UPSTREAMS:
                raise RuleViolation(
                    f"mirrors[{i}].upstream",
                    f"({mirror.upstream}) ECR cannot cache it (pull-through cache upstreams: "
                    f"{', '.join(ECR_UPSTREAMS)}); target gar can",
                )
            needs = ECR_UPSTREAMS[mirror.upstream][1]
            if needs == "required" and not mirror.has_credentials:
                raise RuleViolation(
                    f"mirrors[{i}].accessToken",
                    f"({mirror.name}) ECR caches {mirror.upstream} only with credentials: set "
                    f"registry:mirrors[{i}].username and, with --secret, registry:mirrors[{i}].accessToken",
                )
            if needs == "none" and (mirror.username is not None or mirror.access_token is not None):
                raise RuleViolation(
                    f"mirrors[{i}].username", f"({mirror.name}) {mirror.upstream} takes no credentials; remove them"
                )
        return self
