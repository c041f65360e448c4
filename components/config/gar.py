"""`gar`: Google Artifact Registry as the managed registry, from the intent keys."""

from __future__ import annotations

import difflib
import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from components.config.access import AccessRules, check_rules, principals_with
from components.config.base import Model, RuleViolation
from components.config.intent import IntentKeys

GCP_PROJECT = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
MULTI_REGIONS = ("us", "europe", "asia")
# Artifact Registry locations: the <location>-docker.pkg.dev hosts in DefaultARRegistries of
# github.com/GoogleCloudPlatform/docker-credential-gcr config/const.go (last changed 2026-01-08, commit 0692b51b).
# plus us-central2 and us-east7, which gcloud's own list of Artifact Registry hosts adds
# (googlecloudsdk/core/docker/constants.py DOCKER_REGISTRIES, the `gcloud auth configure-docker` list).
# Google's "Repository locations" page has no table any more; `gcloud artifacts locations list` is the live list.
_LOCATIONS = """
    africa-south1 asia asia-east1 asia-east2 asia-northeast1 asia-northeast2 asia-northeast3 asia-south1 asia-south2
    asia-southeast1 asia-southeast2 asia-southeast3 australia-southeast1 australia-southeast2 europe europe-central2
    europe-north1 europe-north2 europe-southwest1 europe-west1 europe-west10 europe-west12 europe-west2 europe-west3
    europe-west4 europe-west6 europe-west8 europe-west9 me-central1 me-central2 me-west1 northamerica-northeast1
    northamerica-northeast2 northamerica-south1 southamerica-east1 southamerica-west1 us us-central1 us-central2
    us-east1 us-east4 us-east5 us-east7 us-south1 us-west1 us-west2 us-west3 us-west4 us-west8
"""
GAR_LOCATIONS = frozenset(_LOCATIONS.split())
GAR_REPOSITORY_ID = re.compile(r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")
KMS_KEY_NAME = re.compile(
    r"^projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/locations/[a-z0-9-]+/keyRings/[\w-]+/cryptoKeys/[\w-]+$"
)
# IAM member forms Artifact Registry bindings take; allUsers/allAuthenticatedUsers make a registry public
MEMBER = re.compile(r"^(user|serviceAccount|group|domain|principal|principalSet):\S+$")
PUBLIC_MEMBERS = ("allUsers", "allAuthenticatedUsers")
# Artifact Registry upstreams a remote repository can take: Docker Hub is a preset, the others custom
GAR_UPSTREAMS: dict[str, str | None] = {
    "docker.io": None,  # publicRepository DOCKER_HUB
    "ghcr.io": "https://ghcr.io",
    "quay.io": "https://quay.io",
    "registry.k8s.io": "https://registry.k8s.io",
    "gcr.io": "https://gcr.io",
    "public.ecr.aws": "https://public.ecr.aws",
}
MAX_CLEANUP_POLICIES = 10  # Artifact Registry: cleanup policies per repository
VIRTUAL_SUFFIX = "-all"  # `<group>-all`: the virtual repository that pulls group, then the mirrors


def member_problem(member: str) -> str | None:
    """None for an IAM member an Artifact Registry binding may name, else what is wrong."""
    if member in PUBLIC_MEMBERS:
        return "would make the registry public; name users, groups or service accounts"
    if not MEMBER.match(member):
        return (
            "is not an IAM member; use serviceAccount:ci@project.iam.gserviceaccount.com, "
            "group:team@example.com, user:someone@example.com or domain:example.com"
        )
    return None


class GarStorage(Model):
    """How Artifact Registry encrypts the images."""

    encryption: Literal["google", "kms"] = Field("google", description="Google-managed, or CMEK; fixed at creation")
    kms_key_name: str | None = Field(None, description="projects/.../cryptoKeys/...; else a key is created")
    force_destroy: bool = Field(False, description="let `pulumi destroy` delete repositories that hold images")

    @field_validator("kms_key_name")
    @classmethod
    def _valid_key_name(cls, name: str | None) -> str | None:
        if name is not None and not KMS_KEY_NAME.match(name):
            raise ValueError(f"{name!r} is not a Cloud KMS key name (projects/P/locations/L/keyRings/R/cryptoKeys/K)")
        return name

    @model_validator(mode="after")
    def _key_needs_kms(self) -> GarStorage:
        if self.kms_key_name is not None and self.encryption != "kms":
            raise RuleViolation(
                "storage.kmsKeyName", "is only used with encryption 'kms'; set storage.encryption to kms or remove it"
            )
        return self


class GarSettings(IntentKeys):
    """`gar`: an Artifact Registry repository per first path segment, remote and virtual repositories."""

    target: Literal["gar"]
    location: str = Field(description="a region (europe-west1) or a multi-region (us, europe, asia)")
    storage: GarStorage = GarStorage()
    # IAM bindings on the Artifact Registry repositories (first path segments) each rule covers whole
    access: AccessRules = Field(default_factory=list)
    production: bool = Field(False, description="protect repositories and keys from deletion")

    @field_validator("location")
    @classmethod
    def _valid_location(cls, location: str) -> str:
        if location not in GAR_LOCATIONS:
            guess = difflib.get_close_matches(location, sorted(GAR_LOCATIONS), n=3, cutoff=0.8)
            hint = f"did you mean {' or '.join(guess)}? " if guess else ""
            raise ValueError(
                f"{location!r} is not an Artifact Registry location; {hint}use a region such as europe-west1 or a "
                f"multi-region: {', '.join(MULTI_REGIONS)} (`gcloud artifacts locations list` shows them all)"
            )
        return location

    @model_validator(mode="after")
    def _key_in_the_location(self) -> GarSettings:
        """Artifact Registry takes a CMEK key of the repository's own location only."""
        key = self.storage.kms_key_name
        key_location = key.split("/")[3] if key is not None else self.location
        if key_location != self.location:
            raise RuleViolation(
                "storage.kmsKeyName",
                f"is in location {key_location}, the repositories in {self.location} (registry:location); Artifact "
                f"Registry encrypts only with a key of the repository's location: name a key in {self.location}, "
                "or leave kmsKeyName out and one is created",
            )
        return self

    @model_validator(mode="after")
    def _someone_signs(self) -> GarSettings:
        if self.signing.enabled and not principals_with(self.access, "push"):
            raise RuleViolation(
                "access",
                "grants nobody push, so nobody could sign with the signing key (who may push signs, who may pull "
                "verifies); list your CI's service account under push in a registry:access rule or set "
                "signing.enabled to false",
            )
        return self

    @model_validator(mode="after")
    def _access_rules_hold(self) -> GarSettings:
        check_rules(self.access, principal_problem=member_problem, repositories=[r.name for r in self.repositories])
        for i, rule in enumerate(self.access):
            for j, pattern in enumerate(rule.repositories):
                stem = pattern.rstrip("*")
                if pattern.endswith("*") and ("/" not in stem or (stem.endswith("/") and stem.count("/") == 1)):
                    continue
                group = stem.split("/")[0]
                raise RuleViolation(
                    f"access[{i}].repositories[{j}]",
                    f"({pattern}) Artifact Registry grants access per repository ({group}), not per image: write "
                    f"{group}/* (every image in {group}), or a prefix of repository names ending in '*' (team-*)",
                )
        return self

    @model_validator(mode="after")
    def _gar_rules(self) -> GarSettings:
        if self.mutable_tags:
            raise RuleViolation(
                "mutableTags",
                "Artifact Registry has no per-tag exemption from immutability (only target ecr honours it); "
                "remove it, or set immutableTags false on the repositories whose tags must move",
            )
        if self.replication is not None:
            raise RuleViolation(
                "replication",
                "Artifact Registry replicates within a multi-region location (only target ecr honours "
                "registry:replication); remove it and set registry:location to us, europe or asia",
            )
        groups: dict[str, bool] = {}
        for i, repository in enumerate(self.repositories):
            group, immutable = repository.name.split("/")[0], self.immutable(repository)
            if groups.setdefault(group, immutable) != immutable:
                raise RuleViolation(
                    f"repositories[{i}].immutableTags",
                    f"({repository.name}) lives in Artifact Registry repository {group!r} with the other "
                    f"{group}/... names, which must agree on immutableTags; give them the same value",
                )
            if "/" not in repository.name:
                raise RuleViolation(
                    f"repositories[{i}].name",
                    f"({repository.name}) Artifact Registry images live at <repository>/<image>: name it "
                    f"{repository.name}/<image>",
                )
            if not GAR_REPOSITORY_ID.match(group):
                raise RuleViolation(
                    f"repositories[{i}].name",
                    f"({repository.name}) its first segment {group!r} becomes an Artifact Registry repository id: "
                    "lowercase letters, digits and '-', starting with a letter (at most 63)",
                )
        for i, mirror in enumerate(self.mirrors):
            if mirror.name in groups:
                raise RuleViolation(
                    f"mirrors[{i}].name",
                    f"({mirror.name}) is also the repository of {mirror.name}/... images; rename the mirror",
                )
            if not GAR_REPOSITORY_ID.match(mirror.name):
                raise RuleViolation(
                    f"mirrors[{i}].name",
                    f"({mirror.name}) becomes an Artifact Registry repository id: lowercase letters, digits and "
                    "'-', starting with a letter",
                )
            if mirror.upstream not in GAR_UPSTREAMS:
                raise RuleViolation(f"mirrors[{i}].upstream", f"({mirror.upstream}) Artifact Registry cannot cache it")
        if self.retention is not None:
            for i, pattern in enumerate(self.retention.protected_tags):
                if not pattern.endswith("*") or "*" in pattern[:-1] or pattern == "*":
                    raise RuleViolation(
                        f"retention.protectedTags[{i}]",
                        f"({pattern}) Artifact Registry keeps tags by prefix only: write it as a prefix "
                        "followed by one '*' (v*, release-*)",
                    )
        return self

    @model_validator(mode="after")
    def _virtual_ids_free(self) -> GarSettings:
        """`<group>-all` is the id of group's virtual repository: no repository or mirror may take it."""
        virtual = {f"{group}{VIRTUAL_SUFFIX}": group for group in self.groups}
        taken = [(f"repositories[{i}].name", r.name.split("/")[0]) for i, r in enumerate(self.repositories)]
        taken += [(f"mirrors[{i}].name", m.name) for i, m in enumerate(self.mirrors)]
        for key, repository_id in taken:
            if repository_id in virtual:
                raise RuleViolation(
                    key,
                    f"({repository_id}) is the id of the virtual repository that pulls {virtual[repository_id]}/... "
                    "and the mirrors; rename it",
                )
        return self

    @property
    def groups(self) -> dict[str, list[str]]:
        """Artifact Registry repository -> the package names in it (`team-a/api` -> team-a: [api])."""
        found: dict[str, list[str]] = {}
        for repository in self.repositories:
            group, _, package = repository.name.partition("/")
            found.setdefault(group, []).append(package)
        return found

    def group_immutable(self, group: str) -> bool:
        return next(self.immutable(r) for r in self.repositories if r.name.split("/")[0] == group)
