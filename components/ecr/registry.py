"""`ecr`: AWS ECR as the managed registry, from the intent keys.

    repositories ──> one ECR repository each (immutability, scan on push, encryption, lifecycle, policy)
    access       ──> each repository's policy: exactly what the rules matching its name grant
                     (pull, push and pull, BatchDeleteImage); no rule matches: no policy
    mirrors      ──> one pull-through cache rule each (+ its Secrets Manager secret) and a creation
                     template, so the repositories the cache creates get lifecycle and encryption too;
                     every principal a rule lets pull somewhere may pull through every mirror
    replication  ──> the registry's replication configuration, and creation templates in each
                     destination region (a lifecycle policy acts only in its own region)
    scanning     ──> the registry's scanning configuration (BASIC on push, ENHANCED continuous)

Replicas are read-only copies made by templates, one policy per template prefix: a template per
namespace (the first path segment: prefix `team-a` applies to every `team-a/...`, ECR assumes the
trailing '/') and ROOT for the names without one. Each lets pull only the principals who may
pull (pull or push) EVERY declared repository it applies to: never wider than a rule, and
narrower where rules differ between repositories of one namespace (pull those from the home region).

Registry-wide settings (scanning type, replication) belong to the account and region: one stack
per registry owns them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components import policy_documents
from components.config import EcrSettings, Mirror, Repository
from components.config.access import effective, principals_with
from components.config.ecr import ECR_UPSTREAMS
from components.config.intent import pull_through_outputs
from components.renderers.ecr import ROOT, lifecycle_policy, registry_policy, replica_readers, repository_policy

MAX_FILTERS = 100  # repository filters per scanning or replication rule
TEMPLATE_ROLE_ACTIONS = ["ecr:CreateRepository", "ecr:ReplicateImage", "ecr:TagResource"]
TEMPLATE_KEY_ACTIONS = ["kms:CreateGrant", "kms:RetireGrant", "kms:DescribeKey"]


@dataclass(frozen=True)
class EcrRegistryArgs:
    settings: EcrSettings
    region: str
    account_id: str


class EcrRegistry(pulumi.ComponentResource):
    """Needs an `aws` provider from the caller; replica regions use each resource's `region`."""

    repository_urls: dict[str, pulumi.Output[str]]
    registry_url: str

    def __init__(self, name: str, args: EcrRegistryArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("registry:ecr:EcrRegistry", name, None, opts)
        s = args.settings
        self._name, self._settings, self._region, self._account = name, s, args.region, args.account_id
        self._guarded = pulumi.ResourceOptions(parent=self, protect=s.production)
        self._lifecycle = lifecycle_policy(s.retention)
        replica_regions = list(s.replication.regions) if s.replication is not None else []
        self._keys = self._encryption_keys(replica_regions)
        self._template_role = self._template_role_for_kms()
        self.registry_url = f"{args.account_id}.dkr.ecr.{args.region}.amazonaws.com"
        self.repository_urls = {r.name: self._repository(r).repository_url for r in s.repositories}
        self._scanning()
        if replica_regions:
            self._replication(replica_regions)
        for mirror in s.mirrors:
            self._mirror(mirror)
        if s.mirrors and principals_with(s.access, "pull"):
            document = registry_policy(
                principals_with(s.access, "pull"), args.account_id, args.region, [m.name for m in s.mirrors]
            )
            aws.ecr.RegistryPolicy(
                f"{name}-registry-policy", policy=json.dumps(document), opts=pulumi.ResourceOptions(parent=self)
            )
        self.register_outputs({"repository_urls": self.repository_urls})

    # ------------------------------------------------------------ encryption

    def _encryption_keys(self, replica_regions: list[str]) -> dict[str, pulumi.Input[str]]:
        """KMS key per region where repositories live (the given key in the home region, else created)."""
        s = self._settings
        if s.storage.encryption != "kms":
            return {}
        keys: dict[str, pulumi.Input[str]] = {}
        for region in [self._region, *replica_regions]:
            if region == self._region and s.storage.kms_key_arn is not None:
                keys[region] = s.storage.kms_key_arn
                continue
            suffix = "" if region == self._region else f"-{region}"
            key = aws.kms.Key(
                f"{self._name}-key{suffix}",
                description=f"registry ECR repositories in {region}: image encryption",
                enable_key_rotation=True,
                deletion_window_in_days=30,
                region=None if region == self._region else region,
                # principals of the account whose IAM allows it use the key, through ECR only
                policy=json.dumps(
                    policy_documents.key_policy(self._account, through_service=f"ecr.{region}.amazonaws.com")
                ),
                opts=self._guarded,
            )
            keys[region] = key.arn
        return keys

    def _encryption(self, region: str) -> list[dict[str, Any]]:
        key = self._keys.get(region)
        if key is None:
            return [{"encryption_type": "AES256"}]
        return [{"encryption_type": "KMS", "kms_key": key}]

    def _template_role_for_kms(self) -> aws.iam.Role | None:
        """Creation templates that encrypt with KMS need a role ECR assumes to create repositories."""
        if not self._keys:
            return None
        role = aws.iam.Role(
            f"{self._name}-template-role",
            description="ECR repository creation templates: create encrypted repositories",
            assume_role_policy=json.dumps(
                policy_documents.document(
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "ecr.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                        "Condition": {"StringEquals": {"aws:SourceAccount": self._account}},
                    }
                )
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.iam.RolePolicy(
            f"{self._name}-template-policy",
            role=role.id,
            policy=pulumi.Output.json_dumps(
                policy_documents.document(
                    {
                        "Sid": "CreateRepositories",
                        "Effect": "Allow",
                        "Action": TEMPLATE_ROLE_ACTIONS,
                        "Resource": f"arn:aws:ecr:*:{self._account}:repository/*",
                    },
                    {
                        "Sid": "EncryptThem",
                        "Effect": "Allow",
                        "Action": TEMPLATE_KEY_ACTIONS,
                        "Resource": list(self._keys.values()),
                    },
                )
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return role

    # ------------------------------------------------------------ repositories

    def _repository(self, repository: Repository) -> aws.ecr.Repository:
        s = self._settings
        slug = repository.name.replace("/", "-")
        immutable = s.immutable(repository)
        mutability, exclusions = "MUTABLE", None
        if immutable:
            mutability = "IMMUTABLE_WITH_EXCLUSION" if s.mutable_tags else "IMMUTABLE"
            exclusions = [
                aws.ecr.RepositoryImageTagMutabilityExclusionFilterArgs(filter=p, filter_type="WILDCARD")
                for p in s.mutable_tags
            ] or None
        repo = aws.ecr.Repository(
            f"{self._name}-{slug}",
            name=repository.name,
            image_tag_mutability=mutability,
            image_tag_mutability_exclusion_filters=exclusions,
            image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(
                scan_on_push=s.scanning.on_push or s.scanning.continuous
            ),
            encryption_configurations=[
                aws.ecr.RepositoryEncryptionConfigurationArgs(**e) for e in self._encryption(self._region)
            ],
            force_delete=s.storage.force_destroy,
            opts=self._guarded,
        )
        child = pulumi.ResourceOptions(parent=self)
        if self._lifecycle is not None:
            aws.ecr.LifecyclePolicy(
                f"{self._name}-{slug}-lifecycle", repository=repo.name, policy=json.dumps(self._lifecycle), opts=child
            )
        policy = repository_policy(effective(s.access, repository.name))
        if policy is not None:
            aws.ecr.RepositoryPolicy(
                f"{self._name}-{slug}-policy", repository=repo.name, policy=json.dumps(policy), opts=child
            )
        return repo

    def _filters(self, kind: str) -> list[dict[str, str]]:
        """Our repositories (and, for scanning, the mirrors' prefixes) as repository filters."""
        s = self._settings
        names = [r.name for r in s.repositories]
        if kind == "WILDCARD":
            names += [f"{m.name}/*" for m in s.mirrors]
        if len(names) > MAX_FILTERS:
            raise ValueError(f"{len(names)} repository filters exceed ECR's {MAX_FILTERS} per rule")
        return [{"filter": n, "filter_type": kind} for n in names]

    def _scanning(self) -> None:
        """BASIC scanning on push, or ENHANCED (Amazon Inspector) continuous scanning."""
        scanning = self._settings.scanning
        if not (scanning.on_push or scanning.continuous):
            return
        aws.ecr.RegistryScanningConfiguration(
            f"{self._name}-scanning",
            scan_type="ENHANCED" if scanning.continuous else "BASIC",
            rules=[
                aws.ecr.RegistryScanningConfigurationRuleArgs(
                    scan_frequency="CONTINUOUS_SCAN" if scanning.continuous else "SCAN_ON_PUSH",
                    repository_filters=[
                        aws.ecr.RegistryScanningConfigurationRuleRepositoryFilterArgs(**f)
                        for f in self._filters("WILDCARD")
                    ],
                )
            ],
            opts=pulumi.ResourceOptions(parent=self),
        )

    # ------------------------------------------------------------ replication

    def _replication(self, regions: list[str]) -> None:
        aws.ecr.ReplicationConfiguration(
            f"{self._name}-replication",
            replication_configuration=aws.ecr.ReplicationConfigurationReplicationConfigurationArgs(
                rules=[
                    aws.ecr.ReplicationConfigurationReplicationConfigurationRuleArgs(
                        destinations=[
                            aws.ecr.ReplicationConfigurationReplicationConfigurationRuleDestinationArgs(
                                region=region, registry_id=self._account
                            )
                            for region in regions
                        ],
                        repository_filters=[
                            aws.ecr.ReplicationConfigurationReplicationConfigurationRuleRepositoryFilterArgs(**f)
                            for f in self._filters("PREFIX_MATCH")
                        ],
                    )
                ]
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        s = self._settings
        readers = replica_readers(s.access, [r.name for r in s.repositories])
        for region in regions:
            # the repositories replication creates there get our immutability, lifecycle and encryption,
            # and a read-only policy per namespace (ROOT keeps the name it always had)
            for prefix, principals in readers.items():
                self._template(
                    f"{self._name}-replicas-{region}" + ("" if prefix == ROOT else f"-{prefix}"),
                    prefix=prefix,
                    applied_for=["REPLICATION"],
                    mutability="IMMUTABLE" if s.immutable_tags else "MUTABLE",
                    region=region,
                    policy=repository_policy({"pull": principals}),
                )

    def _template(
        self,
        resource_name: str,
        *,
        prefix: str,
        applied_for: list[str],
        mutability: str,
        region: str,
        policy: dict[str, Any] | None,
    ) -> None:
        s = self._settings
        exclusions = None
        if mutability == "IMMUTABLE" and s.mutable_tags:
            mutability = "IMMUTABLE_WITH_EXCLUSION"
            exclusions = [
                aws.ecr.RepositoryCreationTemplateImageTagMutabilityExclusionFilterArgs(
                    filter=p, filter_type="WILDCARD"
                )
                for p in s.mutable_tags
            ]
        aws.ecr.RepositoryCreationTemplate(
            resource_name,
            prefix=prefix,
            applied_fors=applied_for,
            description=f"registry: repositories created by {' and '.join(a.lower().replace('_', ' ') for a in applied_for)}",
            image_tag_mutability=mutability,
            image_tag_mutability_exclusion_filters=exclusions,
            encryption_configurations=[
                aws.ecr.RepositoryCreationTemplateEncryptionConfigurationArgs(**e) for e in self._encryption(region)
            ],
            lifecycle_policy=json.dumps(self._lifecycle) if self._lifecycle is not None else None,
            repository_policy=json.dumps(policy) if policy is not None else None,
            custom_role_arn=self._template_role.arn
            if self._template_role is not None and region in self._keys
            else None,
            region=None if region == self._region else region,
            opts=pulumi.ResourceOptions(parent=self),
        )

    # ------------------------------------------------------------ mirrors

    def _mirror(self, mirror: Mirror) -> None:
        """A pull-through cache rule under the mirror's name, its credentials, and the template
        for the repositories it creates (mutable: the upstream moves its tags)."""
        credential_arn = None
        if mirror.has_credentials:
            secret = aws.secretsmanager.Secret(
                f"{self._name}-{mirror.name}-credentials",
                # ECR only takes secrets named ecr-pullthroughcache/... (CreatePullThroughCacheRule, credentialArn)
                name=f"ecr-pullthroughcache/{mirror.name}",
                description=f"registry: {mirror.upstream} login of the {mirror.name} pull-through cache",
                recovery_window_in_days=30 if self._settings.production else 0,
                opts=pulumi.ResourceOptions(parent=self),
            )
            aws.secretsmanager.SecretVersion(
                f"{self._name}-{mirror.name}-credentials-value",
                secret_id=secret.id,
                secret_string=pulumi.Output.secret(
                    json.dumps({"username": mirror.username, "accessToken": mirror.access_token})
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            credential_arn = secret.arn
        aws.ecr.PullThroughCacheRule(
            f"{self._name}-{mirror.name}-cache",
            ecr_repository_prefix=mirror.name,
            upstream_registry_url=ECR_UPSTREAMS[mirror.upstream][0],
            credential_arn=credential_arn,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self._template(
            f"{self._name}-{mirror.name}-template",
            prefix=mirror.name,
            applied_for=["PULL_THROUGH_CACHE"],
            mutability="MUTABLE",
            region=self._region,
            # cached images are pulled, never pushed: whoever may pull anywhere
            policy=repository_policy({"pull": principals_with(self._settings.access, "pull")}),
        )

    def mirror_outputs(self) -> dict[str, dict[str, str]]:
        return pull_through_outputs(self._settings.mirrors, lambda name: f"{self.registry_url}/{name}", "prefix")


def refuse_encryption_changes(settings: EcrSettings, provider: pulumi.ProviderResource) -> None:
    """ECR cannot change a repository's encryption: the provider would replace it, deleting its
    images. Refuse before anything is declared when an existing repository is encrypted otherwise.
    (Only repositories that exist are looked up: a failed invoke fails the whole program.)"""
    existing = set(aws.ecr.get_repositories(opts=pulumi.InvokeOptions(provider=provider)).names)
    wanted = "KMS" if settings.storage.encryption == "kms" else "AES256"
    key = settings.storage.kms_key_arn
    for repository in settings.repositories:
        if repository.name not in existing:
            continue
        found = aws.ecr.get_repository(name=repository.name, opts=pulumi.InvokeOptions(provider=provider))
        for current in found.encryption_configurations or []:
            if current.encryption_type != wanted or (key is not None and current.kms_key != key):
                shown = f"{current.encryption_type} {current.kms_key}".strip()
                raise pulumi.RunError(
                    f"registry:storage.encryption: repository {repository.name} is encrypted with {shown}; ECR "
                    "cannot change a repository's encryption and replacing it would delete its images. Set "
                    "registry:storage back to that, or push the images to a repository of a new name"
                )
