"""`gar`: Google Artifact Registry as the managed registry, from the intent keys.

    repositories ──> one STANDARD Docker repository per first path segment (team-a/api and
                     team-a/web: repository team-a, images api and web), cleanup from retention
    mirrors      ──> one REMOTE repository each (Docker Hub preset, others custom upstreams),
                     credentials from Secret Manager where given
    every repository also gets a VIRTUAL one (`<name>-all`) that puts it first and the mirrors
    after it, so one URL pulls both

APIs the stack needs are enabled and never disabled on destroy (other workloads may use them).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_gcp as gcp

from components.config import GarSettings, Mirror
from components.config.gar import GAR_UPSTREAMS
from components.config.intent import MIRROR_EXAMPLES
from components.renderers.gar import cleanup_policies, docker_host, repository_url

GCP_PROJECT = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
READER, WRITER = "roles/artifactregistry.reader", "roles/artifactregistry.writer"
SIGNER, PUBLIC_KEY_VIEWER = "roles/cloudkms.signerVerifier", "roles/cloudkms.publicKeyViewer"
KMS_VIEWER = "roles/cloudkms.viewer"
VIRTUAL_SUFFIX = "-all"
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
        mirrors = {m.name: self._mirror(m) for m in s.mirrors}
        self.repository_urls, self.virtual_urls = {}, {}
        for group in s.groups:
            standard = self._standard(group)
            virtual = self._virtual(group, standard, mirrors)
            self._grant(group, standard, writers=True)
            self._grant(f"{group}{VIRTUAL_SUFFIX}", virtual, writers=False)
            self.virtual_urls[group] = repository_url(s.location, args.project, f"{group}{VIRTUAL_SUFFIX}")
        for repository in s.repositories:
            self.repository_urls[repository.name] = f"{docker_host(s.location)}/{args.project}/{repository.name}"
        for mirror_name, remote in mirrors.items():
            self._grant(mirror_name, remote, writers=False)
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
        GetPublicKey and AsymmetricSign; verifying the same but AsymmetricSign: writers get
        signerVerifier, readers publicKeyViewer, both viewer (cryptoKeys.get, versions.list)."""
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
        grants = [(m, role) for m in s.access.writers for role in (SIGNER, KMS_VIEWER)]
        grants += [(m, role) for m in s.access.readers for role in (PUBLIC_KEY_VIEWER, KMS_VIEWER)]
        for member, role in grants:
            who = re.sub(r"[^a-z0-9-]+", "-", member.lower()).strip("-")
            gcp.kms.CryptoKeyIAMMember(
                f"{self._name}-signing-{role.rsplit('.', 1)[1]}-{who}",
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

    def _grant(self, repository_id: str, repository: gcp.artifactregistry.Repository, *, writers: bool) -> None:
        """Readers read; writers write where images are pushed and read everywhere else."""
        access = self._settings.access
        bindings = [(m, READER) for m in access.readers]
        bindings += [(m, WRITER if writers else READER) for m in access.writers]
        for member, role in bindings:
            who = re.sub(r"[^a-z0-9-]+", "-", member.lower()).strip("-")
            gcp.artifactregistry.RepositoryIamMember(
                f"{self._name}-{repository_id}-{role.rsplit('.', 1)[1]}-{who}",
                project=self._project,
                location=self._settings.location,
                repository=repository.name,
                role=role,
                member=member,
                opts=pulumi.ResourceOptions(parent=self),
            )

    def mirror_outputs(self) -> dict[str, dict[str, str]]:
        s = self._settings
        return {
            m.name: {
                "upstream": m.upstream,
                "url": repository_url(s.location, self._project, m.name),
                "example": f"docker pull {repository_url(s.location, self._project, m.name)}/{MIRROR_EXAMPLES[m.upstream]}",
            }
            for m in s.mirrors
        }


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
