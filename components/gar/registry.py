"""`gar`: Google Artifact Registry as the managed registry, from the intent keys.

    repositories ──> one STANDARD Docker repository per first path segment (team-a/api and
                     team-a/web: repository team-a, images api and web), cleanup from retention
    mirrors      ──> one REMOTE repository each (Docker Hub preset, others custom upstreams),
                     credentials from Secret Manager where given
    every repository also gets a VIRTUAL one (`<name>-all`) that puts it first and the mirrors
    after it, so one URL pulls both
    access       ──> IAM bindings per Artifact Registry repository: the rules covering it (every
                     pattern covers whole repositories) bind pull to reader, push to writer and
                     delete to a project custom role that deletes images only; its `-all` reads for
                     the same pull and push principals; every mirror reads for whoever may pull
                     anywhere. No project-level grant.

APIs the stack needs are enabled and never disabled on destroy (other workloads may use them).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_gcp as gcp

from components.config import GarSettings, Mirror
from components.config.access import AccessRule, Action, effective, principals, principals_with, signers_and_verifiers
from components.config.gar import GAR_UPSTREAMS, VIRTUAL_SUFFIX
from components.config.intent import pull_through_outputs
from components.naming import distinct_slugs
from components.renderers.gar import cleanup_policies, docker_host, repository_url

GCP_PROJECT = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
READER, WRITER = "roles/artifactregistry.reader", "roles/artifactregistry.writer"
SIGNER, PUBLIC_KEY_VIEWER = "roles/cloudkms.signerVerifier", "roles/cloudkms.publicKeyViewer"
KMS_VIEWER = "roles/cloudkms.viewer"
# what `gcloud artifacts docker images delete IMAGE:TAG|IMAGE@DIGEST [--delete-tags]` calls
# (googlecloudsdk command_lib/artifacts/docker_util.py DeleteDockerImage: GetRepository, GetTag,
# tags.list of the version, DeleteTag, DeleteVersion), named as in "Artifact Registry roles and
# permissions" (cloud.google.com/iam/docs/roles-permissions/artifactregistry): no download, no upload
DELETE_PERMISSIONS = [
    "artifactregistry.repositories.get",
    "artifactregistry.tags.get",
    "artifactregistry.tags.list",
    "artifactregistry.tags.delete",
    "artifactregistry.versions.delete",
]
DELETER = "deleter"  # the custom role's part of binding names
STANDARD_PRIORITY = 100  # the virtual repository asks higher priorities first


@dataclass(frozen=True)
class GarRegistryArgs:
    settings: GarSettings
    project: str


class GarRegistry(pulumi.ComponentResource):
    """Needs a `gcp` provider from the caller."""

    repository_urls: dict[str, str]
    virtual_urls: dict[str, str]

    def __init__(self, name: str, args: GarRegistryArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("registry:gar:GarRegistry", name, None, opts)
        s, self._settings, self._name, self._project = args.settings, args.settings, name, args.project
        self._apis = self._enable_apis()
        self._agent = gcp.projects.ServiceIdentity(
            f"{name}-service-agent",
            project=args.project,
            service="artifactregistry.googleapis.com",
            opts=pulumi.ResourceOptions(parent=self, depends_on=self._apis),
        )
        self._key, self._key_grant = self._encryption_key()
        self._who = member_slugs(principals(s.access))
        self._deleter = self._delete_role()
        mirrors = {m.name: self._mirror(m) for m in s.mirrors}
        self.repository_urls, self.virtual_urls = {}, {}
        for group in s.groups:
            standard = self._standard(group)
            virtual = self._virtual(group, standard, mirrors)
            self._grant_group(group, standard, virtual)
            self.virtual_urls[group] = repository_url(s.location, args.project, f"{group}{VIRTUAL_SUFFIX}")
        for repository in s.repositories:
            self.repository_urls[repository.name] = f"{docker_host(s.location)}/{args.project}/{repository.name}"
        readers = principals_with(s.access, "pull")  # mirrors: whoever may pull (or push) anywhere
        for mirror_name, remote in mirrors.items():
            self._grant(mirror_name, remote, [(m, READER) for m in readers])
        self.signing_key_ref: str | None = None
        self.signing_public_key: pulumi.Output[str] | None = None
        if s.signing.enabled:
            self._signing_key()
        self.register_outputs({"repository_urls": self.repository_urls, "virtual_urls": self.virtual_urls})

    # ------------------------------------------------------------ project services

    def _enable_apis(self) -> list[gcp.projects.Service]:
        s = self._settings
        apis = ["artifactregistry.googleapis.com"]
        if s.scanning.on_push or s.scanning.continuous:
            apis.append("containerscanning.googleapis.com")
        if any(m.has_credentials for m in s.mirrors):
            apis.append("secretmanager.googleapis.com")
        if (s.storage.encryption == "kms" and s.storage.kms_key_name is None) or s.signing.enabled:
            apis.append("cloudkms.googleapis.com")
        if principals_with(s.access, "delete"):
            apis.append("iam.googleapis.com")  # custom roles ("Create and manage custom roles": enable the IAM API)
        return [
            gcp.projects.Service(
                f"{self._name}-api-{api.split('.')[0]}",
                project=self._project,
                service=api,
                disable_on_destroy=False,  # other workloads of the project may rely on it
                disable_dependent_services=False,
                opts=pulumi.ResourceOptions(parent=self),
            )
            for api in apis
        ]

    # ------------------------------------------------------------ encryption

    def _encryption_key(self) -> tuple[pulumi.Input[str] | None, list[pulumi.Resource]]:
        """CMEK: the given key or one made here; either way the service agent may use it."""
        s = self._settings
        if s.storage.encryption != "kms":
            return None, []
        guarded = pulumi.ResourceOptions(parent=self, protect=s.production, depends_on=self._apis)
        key: pulumi.Input[str]
        if s.storage.kms_key_name is not None:
            key = s.storage.kms_key_name
        else:
            ring = gcp.kms.KeyRing(
                f"{self._name}-keyring",
                name=f"{self._name}-registry",
                location=s.location,
                project=self._project,
                opts=guarded,
            )
            key = gcp.kms.CryptoKey(
                f"{self._name}-key",
                name="artifact-registry",
                key_ring=ring.id,
                purpose="ENCRYPT_DECRYPT",
                rotation_period=f"{90 * 86_400}s",
                opts=guarded,
            ).id
        grant = gcp.kms.CryptoKeyIAMMember(
            f"{self._name}-key-agent",
            crypto_key_id=key,
            role="roles/cloudkms.cryptoKeyEncrypterDecrypter",
            member=self._agent.member,
            opts=pulumi.ResourceOptions(parent=self),
        )
        return key, [grant]

    def _signing_key(self) -> None:
        """registry:signing: a Cloud KMS key (EC_SIGN_P256_SHA256) cosign takes as gcpkms://<key name>
        (sigstore pkg/signature/kms/gcp client.go). Signing calls GetCryptoKey, lists the versions,
        GetPublicKey and AsymmetricSign; verifying the same but AsymmetricSign: who may push somewhere
        gets signerVerifier, who may only pull publicKeyViewer, both viewer (cryptoKeys.get, versions.list)."""
        s = self._settings
        guarded = pulumi.ResourceOptions(parent=self, protect=s.production, depends_on=self._apis)
        ring_name = f"registry-{pulumi.get_stack()}-signing"  # a key ring is never deleted: one per stack
        ring = gcp.kms.KeyRing(
            f"{self._name}-signing-keyring", name=ring_name, location=s.location, project=self._project, opts=guarded
        )
        key = gcp.kms.CryptoKey(
            f"{self._name}-signing-key",
            name="cosign",
            key_ring=ring.id,
            purpose="ASYMMETRIC_SIGN",  # no rotation period: asymmetric keys are not rotated automatically
            version_template=gcp.kms.CryptoKeyVersionTemplateArgs(algorithm="EC_SIGN_P256_SHA256"),
            opts=guarded,
        )
        signers, verifiers = signers_and_verifiers(s.access)
        grants = [(m, role) for m in signers for role in (SIGNER, KMS_VIEWER)]
        grants += [(m, role) for m in verifiers for role in (PUBLIC_KEY_VIEWER, KMS_VIEWER)]
        for member, role in grants:
            gcp.kms.CryptoKeyIAMMember(
                f"{self._name}-signing-{role.rsplit('.', 1)[1]}-{self._who[member]}",
                crypto_key_id=key.id,
                role=role,
                member=member,
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.signing_key_ref = (
            f"gcpkms://projects/{self._project}/locations/{s.location}/keyRings/{ring_name}/cryptoKeys/cosign"
        )
        self.signing_public_key = gcp.kms.get_crypto_key_latest_version_output(
            crypto_key=key.id, opts=pulumi.InvokeOutputOptions(parent=self)
        ).public_keys.apply(lambda keys: keys[0].pem)

    # ------------------------------------------------------------ repositories

    def _common(self, resource_id: str) -> dict[str, Any]:
        s = self._settings
        return {
            "repository_id": resource_id,
            "location": s.location,
            "project": self._project,
            "format": "DOCKER",
            "labels": {"managed-by": "pulumi", "stack": pulumi.get_stack().lower()},
        }

    def _guarded(self, extra: Sequence[pulumi.Resource]) -> pulumi.ResourceOptions:
        # repositories wait for their API (and the key grant: CMEK is checked at creation)
        return pulumi.ResourceOptions(
            parent=self, protect=self._settings.production, depends_on=[*self._apis, *self._key_grant, *extra]
        )

    def _standard(self, group: str) -> gcp.artifactregistry.Repository:
        s = self._settings
        scanning = "INHERITED" if (s.scanning.on_push or s.scanning.continuous) else "DISABLED"
        return gcp.artifactregistry.Repository(
            f"{self._name}-{group}",
            **self._common(group),
            description=f"registry: {', '.join(f'{group}/{p}' for p in s.groups[group])}",
            mode="STANDARD_REPOSITORY",
            docker_config=gcp.artifactregistry.RepositoryDockerConfigArgs(immutable_tags=s.group_immutable(group)),
            cleanup_policies=cleanup_policies(s.retention) or None,
            cleanup_policy_dry_run=s.retention.dry_run if s.retention is not None else None,
            kms_key_name=self._key,
            vulnerability_scanning_config=gcp.artifactregistry.RepositoryVulnerabilityScanningConfigArgs(
                enablement_config=scanning
            ),
            deletion_policy="PREVENT" if s.production else "DELETE",
            opts=self._guarded([]),
        )

    def _mirror(self, mirror: Mirror) -> gcp.artifactregistry.Repository:
        s = self._settings
        credentials = None
        extra: list[pulumi.Resource] = []
        if mirror.has_credentials:
            secret = gcp.secretmanager.Secret(
                f"{self._name}-{mirror.name}-token",
                secret_id=f"registry-{mirror.name}-token",
                project=self._project,
                replication=gcp.secretmanager.SecretReplicationArgs(auto=gcp.secretmanager.SecretReplicationAutoArgs()),
                opts=pulumi.ResourceOptions(parent=self, depends_on=self._apis),
            )
            version = gcp.secretmanager.SecretVersion(
                f"{self._name}-{mirror.name}-token-value",
                secret=secret.id,
                secret_data=pulumi.Output.secret(str(mirror.access_token)),
                opts=pulumi.ResourceOptions(parent=self),
            )
            access = gcp.secretmanager.SecretIamMember(
                f"{self._name}-{mirror.name}-token-agent",
                project=self._project,
                secret_id=secret.secret_id,
                role="roles/secretmanager.secretAccessor",
                member=self._agent.member,
                opts=pulumi.ResourceOptions(parent=self),
            )
            credentials = gcp.artifactregistry.RepositoryRemoteRepositoryConfigUpstreamCredentialsArgs(
                username_password_credentials=gcp.artifactregistry.RepositoryRemoteRepositoryConfigUpstreamCredentialsUsernamePasswordCredentialsArgs(
                    username=mirror.username, password_secret_version=version.name
                )
            )
            extra = [access]
        uri = GAR_UPSTREAMS[mirror.upstream]
        upstream = (
            gcp.artifactregistry.RepositoryRemoteRepositoryConfigArgs(
                description=f"{mirror.upstream} (Docker Hub)",
                docker_repository=gcp.artifactregistry.RepositoryRemoteRepositoryConfigDockerRepositoryArgs(
                    public_repository="DOCKER_HUB"
                ),
                upstream_credentials=credentials,
            )
            if uri is None
            else gcp.artifactregistry.RepositoryRemoteRepositoryConfigArgs(
                description=mirror.upstream,
                common_repository=gcp.artifactregistry.RepositoryRemoteRepositoryConfigCommonRepositoryArgs(uri=uri),
                upstream_credentials=credentials,
            )
        )
        return gcp.artifactregistry.Repository(
            f"{self._name}-{mirror.name}",
            **self._common(mirror.name),
            description=f"registry: pull-through cache of {mirror.upstream}",
            mode="REMOTE_REPOSITORY",
            remote_repository_config=upstream,
            cleanup_policies=cleanup_policies(s.retention) or None,
            cleanup_policy_dry_run=s.retention.dry_run if s.retention is not None else None,
            kms_key_name=self._key,
            deletion_policy="PREVENT" if s.production else "DELETE",
            opts=self._guarded(extra),
        )

    def _virtual(
        self, group: str, standard: gcp.artifactregistry.Repository, mirrors: dict[str, gcp.artifactregistry.Repository]
    ) -> gcp.artifactregistry.Repository:
        """The repository first, then each mirror in the order configured (explicit priorities)."""
        upstreams = [(group, standard), *mirrors.items()]
        return gcp.artifactregistry.Repository(
            f"{self._name}-{group}{VIRTUAL_SUFFIX}",
            **self._common(f"{group}{VIRTUAL_SUFFIX}"),
            description=f"registry: {group} first, then the mirrors",
            mode="VIRTUAL_REPOSITORY",
            virtual_repository_config=gcp.artifactregistry.RepositoryVirtualRepositoryConfigArgs(
                upstream_policies=[
                    gcp.artifactregistry.RepositoryVirtualRepositoryConfigUpstreamPolicyArgs(
                        id=upstream_id, repository=repo.id, priority=STANDARD_PRIORITY - 10 * i
                    )
                    for i, (upstream_id, repo) in enumerate(upstreams)
                ]
            ),
            opts=self._guarded([]),  # holds no images of its own: nothing to encrypt
        )

    def _delete_role(self) -> gcp.projects.IAMCustomRole | None:
        """The project custom role registry:access `delete` binds: deletes images (versions and their
        tags) and nothing else, and only on the repositories it is bound on. None: nobody deletes."""
        if not principals_with(self._settings.access, "delete"):
            return None
        # one per stack (a project may hold several); ids take letters, digits, '_' and '.' (3-64)
        role_id = re.sub(r"[^A-Za-z0-9_.]", "_", f"registry_{pulumi.get_stack()}_image_deleter")[:64]
        return gcp.projects.IAMCustomRole(
            f"{self._name}-image-deleter",
            project=self._project,
            role_id=role_id,
            title="registry: delete images",
            description="Deletes image versions and tags where bound (registry:access delete); no pull, no push",
            permissions=DELETE_PERMISSIONS,
            stage="GA",
            opts=pulumi.ResourceOptions(parent=self, depends_on=self._apis),
        )

    def _grant_group(
        self, group: str, standard: gcp.artifactregistry.Repository, virtual: gcp.artifactregistry.Repository
    ) -> None:
        """The rules covering `group`: pull reads, push writes, delete deletes; `<group>-all` reads for
        pull and push (writes go to the repository itself)."""
        grants = group_grants(self._settings.access, group)
        bindings: list[tuple[str, Role]] = [(m, READER) for m in grants["pull"]]
        bindings += [(m, WRITER) for m in grants["push"]]
        if self._deleter is not None:
            bindings += [(m, (DELETER, self._deleter.name)) for m in grants["delete"]]
        self._grant(group, standard, bindings)
        self._grant(f"{group}{VIRTUAL_SUFFIX}", virtual, [(m, READER) for m in [*grants["pull"], *grants["push"]]])

    def _grant(
        self, repository_id: str, repository: gcp.artifactregistry.Repository, bindings: Sequence[tuple[str, Role]]
    ) -> None:
        """One repository IAM member per (member, role), named `<name>-<repository>-<role>-<member>`."""
        for member, role in bindings:
            label, role_name = (role.rsplit(".", 1)[1], role) if isinstance(role, str) else role
            gcp.artifactregistry.RepositoryIamMember(
                f"{self._name}-{repository_id}-{label}-{self._who[member]}",
                project=self._project,
                location=self._settings.location,
                repository=repository.name,
                role=role_name,
                member=member,
                opts=pulumi.ResourceOptions(parent=self),
            )

    def mirror_outputs(self) -> dict[str, dict[str, str]]:
        s = self._settings
        return pull_through_outputs(s.mirrors, lambda name: repository_url(s.location, self._project, name))


# a predefined role, or (name part, role name) for the custom one
Role = str | tuple[str, pulumi.Input[str]]


def group_grants(rules: Sequence[AccessRule], group: str) -> dict[Action, list[str]]:
    """Who may do what in Artifact Registry repository `group`. Every gar pattern covers whole
    repositories (`*`, `team-*`, `team-a/*`: validated), so what holds for any image of it, say
    `<group>/x`, holds for all of them; push holders are not repeated under pull."""
    return effective(rules, f"{group}/x")


def member_slugs(members: Iterable[str]) -> dict[str, str]:
    """The part of resource names that stands for each IAM member: its lowercase letters, digits
    and '-'; where two members come out the same, each gets 8 hex of its SHA-256 too."""

    def slug(member: str) -> str:
        return re.sub(r"[^a-z0-9-]+", "-", member.lower()).strip("-")

    return distinct_slugs(members, slug, lambda m: f"{slug(m)}-{hashlib.sha256(m.encode()).hexdigest()[:8]}")


def refuse_encryption_changes(settings: GarSettings, project: str, provider: pulumi.ProviderResource) -> None:
    """CMEK is fixed at creation: a changed setting would replace the repository and its images.
    Only existing repositories are looked up (a failed invoke fails the whole program)."""
    options = pulumi.InvokeOptions(provider=provider)
    listed = gcp.artifactregistry.get_repositories(location=settings.location, project=project, opts=options)
    existing = {r.repository_id for r in listed.repositories}
    wanted = settings.storage.kms_key_name
    for group in [g for g in settings.groups if g in existing]:
        found = gcp.artifactregistry.get_repository(
            location=settings.location, project=project, repository_id=group, opts=options
        )
        current = found.kms_key_name or ""
        changed = bool(current) != (settings.storage.encryption == "kms") or (wanted is not None and current != wanted)
        if changed:
            raise pulumi.RunError(
                f"registry:storage.encryption: repository {group} is encrypted with "
                f"{current or 'a Google-managed key'}; Artifact Registry cannot change a repository's encryption "
                "and replacing it would delete its images. Set registry:storage back to that, or push the "
                "images to a repository of a new name"
            )
