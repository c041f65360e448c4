"""The intent keys: what users want of their registry, whichever target serves it.

repositories, immutableTags/mutableTags, retention, scanning, mirrors, replication and access mean
the same on every target that honours them (README: the intent table); a target's own settings
module adds the rules only it has (ECR's wildcard limits, Artifact Registry's prefixes, ...).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Annotated

from pydantic import AfterValidator, Field, field_validator, model_validator

from components.config.base import AWS_REGION, Model, RuleViolation, TargetSettings

# distribution's reference grammar for a repository path (reference/regexp.go: path-component
# separated by "/"), lowercase; ECR takes the same (2-256 characters).
REPOSITORY_NAME = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")
# what a tag may be (distribution: [\w][\w.-]{0,127}), plus `*` as a wildcard
TAG_PATTERN = re.compile(r"^[A-Za-z0-9_.*-]{1,128}$")


def _tag_pattern(pattern: str) -> str:
    if not TAG_PATTERN.match(pattern):
        raise ValueError(
            f"{pattern!r} is not a tag pattern: use letters, digits, '.', '_', '-' and '*' as a wildcard (1-128 characters)"
        )
    return pattern


TagPattern = Annotated[str, AfterValidator(_tag_pattern)]


def unique(values: list[str], what: str) -> list[str]:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{what} {value!r} is listed twice; list each once")
        seen.add(value)
    return values


class Repository(Model):
    """One repository, named as `docker push <registry>/<name>` uses it."""

    name: str = Field(description="e.g. team-a/api")
    immutable_tags: bool | None = Field(None, description="this repository only; default registry:immutableTags")

    @field_validator("name")
    @classmethod
    def _valid_name(cls, name: str) -> str:
        if not 2 <= len(name) <= 256 or not REPOSITORY_NAME.match(name):
            raise ValueError(
                f"{name!r} is not a repository name docker accepts: lowercase letters and digits, separated by "
                "'.', '_', '__' or '-', path segments joined by '/' (2-256 characters), e.g. team-a/api"
            )
        return name


class Retention(Model):
    """What stays: the newest tagged images, protected tags always, untagged ones for a while."""

    keep_tagged: int | None = Field(
        None, ge=1, le=10000, description="keep this many most recently pushed tagged images"
    )
    untagged_days: int | None = Field(None, ge=1, le=3650, description="delete untagged images older than this")
    protected_tags: list[TagPattern] = Field(default_factory=list, description="never deleted, e.g. v*")
    dry_run: bool = Field(
        False,
        description="report what would be deleted, delete nothing (gar: cleanup dry run; local: retention reports)",
    )

    @field_validator("protected_tags")
    @classmethod
    def _unique_patterns(cls, patterns: list[str]) -> list[str]:
        return unique(patterns, "tag pattern")

    @model_validator(mode="after")
    def _says_something(self) -> Retention:
        if self.keep_tagged is None and self.untagged_days is None:
            raise RuleViolation(
                "retention",
                "names nothing to delete; set retention.keepTagged and/or retention.untaggedDays, "
                "or remove registry:retention to keep every image",
            )
        return self


class Scanning(Model):
    """Vulnerability scanning of pushed images."""

    on_push: bool = Field(True, description="scan each image when it is pushed")
    continuous: bool = Field(False, description="rescan as new vulnerabilities are published (ecr: Inspector)")

    @model_validator(mode="after")
    def _continuous_scans_pushes_too(self) -> Scanning:
        """ECR's ENHANCED and Artifact Registry's scanning both scan each push when they rescan; there is
        no continuous scanning without scan on push, so the combination would mean nothing."""
        if self.continuous and not self.on_push:
            raise RuleViolation(
                "scanning.onPush",
                "is false while scanning.continuous is true, but continuous scanning scans each push too; set "
                "scanning.onPush true (or continuous false for no scanning)",
            )
        return self


# Upstreams a mirror may cache, each with what its images look like under the mirror (Docker Hub
# official images need library/); each target says which it supports and which need credentials.
MIRROR_EXAMPLES = {
    "docker.io": "library/alpine:3",
    "ghcr.io": "<owner>/<image>:<tag>",
    "quay.io": "<organization>/<image>:<tag>",
    "registry.k8s.io": "pause:3.10",
    "public.ecr.aws": "docker/library/alpine:3",
    "gcr.io": "<project>/<image>:<tag>",
}
UPSTREAMS = tuple(MIRROR_EXAMPLES)


def pull_through_outputs(
    mirrors: Sequence[Mirror], url_of: Callable[[str], str], url_key: str = "url"
) -> dict[str, dict[str, str]]:
    """The managed targets' `mirrors` output: each mirror's upstream, where to pull it, an example."""
    return {
        m.name: {
            "upstream": m.upstream,
            url_key: url_of(m.name),
            "example": f"docker pull {url_of(m.name)}/{MIRROR_EXAMPLES[m.upstream]}",
        }
        for m in mirrors
    }


MIRROR_NAME = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")


class MirrorBase(Model):
    """What every target's mirror has: a name clients pull under and an optional upstream login."""

    name: str = Field(description="the path prefix clients pull through, e.g. docker-hub")
    username: str | None = Field(None, description="upstream login, where the upstream needs one")
    access_token: str | None = Field(None, description="set with --secret")

    @field_validator("name")
    @classmethod
    def _valid_name(cls, name: str) -> str:
        if not 2 <= len(name) <= 30 or not MIRROR_NAME.match(name):
            raise ValueError(
                f"{name!r} is not a mirror name: 2-30 lowercase letters and digits, separated by '.', '_' or '-'"
            )
        return name

    @property
    def has_credentials(self) -> bool:
        return self.username is not None and self.access_token is not None


def check_mirror_credentials(mirrors: Sequence[MirrorBase]) -> None:
    """username and accessToken go together, on every target."""
    for i, mirror in enumerate(mirrors):
        if (mirror.username is None) != (mirror.access_token is None):
            raise RuleViolation(
                f"mirrors[{i}]",
                f"({mirror.name}) username and accessToken go together; set both "
                f"(`pulumi config set --secret --path 'registry:mirrors[{i}].accessToken' <token>`) or neither",
            )


class Mirror(MirrorBase):
    """A pull-through cache of one upstream registry, reached under `<registry>/<name>/...`."""

    upstream: str = Field(description=f"one of {', '.join(UPSTREAMS)}")

    @field_validator("upstream")
    @classmethod
    def _known_upstream(cls, upstream: str) -> str:
        if upstream not in UPSTREAMS:
            raise ValueError(f"{upstream!r} is not an upstream a mirror can cache; use one of {', '.join(UPSTREAMS)}")
        return upstream


class Replication(Model):
    """Copies of every repository in other regions."""

    regions: list[str] = Field(min_length=1, max_length=25, description="AWS regions (ecr)")

    @field_validator("regions")
    @classmethod
    def _valid_regions(cls, regions: list[str]) -> list[str]:
        for region in regions:
            if not AWS_REGION.match(region):
                raise ValueError(f"{region!r} is not an AWS region name (for example eu-central-1)")
        return unique(regions, "region")


class IntentKeys(TargetSettings):
    """The intent keys themselves; each managed target's settings inherit them."""

    repositories: list[Repository] = Field(min_length=1, max_length=1000)
    immutable_tags: bool = Field(True, description="no tag is ever overwritten (default for every repository)")
    mutable_tags: list[TagPattern] = Field(default_factory=list, description="tag patterns exempt from immutability")
    retention: Retention | None = None
    scanning: Scanning = Scanning()
    mirrors: list[Mirror] = Field(default_factory=list, max_length=50)
    replication: Replication | None = None

    @field_validator("repositories")
    @classmethod
    def _unique_repositories(cls, repositories: list[Repository]) -> list[Repository]:
        unique([r.name for r in repositories], "repository")
        return repositories

    @field_validator("mutable_tags")
    @classmethod
    def _unique_mutable_tags(cls, patterns: list[str]) -> list[str]:
        return unique(patterns, "tag pattern")

    @field_validator("mirrors")
    @classmethod
    def _unique_mirrors(cls, mirrors: list[Mirror]) -> list[Mirror]:
        unique([m.name for m in mirrors], "mirror")
        return mirrors

    @model_validator(mode="after")
    def _mirrors_are_consistent(self) -> IntentKeys:
        check_mirror_credentials(self.mirrors)
        for i, mirror in enumerate(self.mirrors):
            clash = next((r.name for r in self.repositories if r.name.split("/")[0] == mirror.name), None)
            if clash is not None:
                raise RuleViolation(
                    f"mirrors[{i}].name",
                    f"({mirror.name}) is also the first path segment of repository {clash!r}: cached images and "
                    "pushed ones would share names; rename the mirror or the repository",
                )
        return self

    def immutable(self, repository: Repository) -> bool:
        return self.immutable_tags if repository.immutable_tags is None else repository.immutable_tags


PRINCIPAL_ARN = re.compile(
    r"^arn:aws[a-z-]*:(iam::\d{12}:(root|(role|user)/[\w+=,.@/-]+)|sts::\d{12}:assumed-role/[\w+=,.@-]+/[\w+=,.@-]+)$"
)


def principal_arn_problem(arn: str) -> str | None:
    """None for an IAM principal ARN an ECR or KMS policy may name, else what is wrong."""
    if PRINCIPAL_ARN.match(arn):
        return None
    return (
        "is not an IAM principal ARN; use a role or user ARN (arn:aws:iam::123456789012:role/ci) or an account "
        "(arn:aws:iam::123456789012:root); '*' is never allowed"
    )


def _principal(arn: str) -> str:
    problem = principal_arn_problem(arn)
    if problem is not None:
        raise ValueError(f"{arn!r} {problem}")
    return arn


Principal = Annotated[str, AfterValidator(_principal)]
