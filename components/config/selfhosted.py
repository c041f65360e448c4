"""Keys the self-hosted targets (local, aws) share: instances, the edge, users, storage, cache."""

from __future__ import annotations

import datetime
import ipaddress
import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from components.config.base import (
    NAMESPACE,
    Cache,
    RuleViolation,
    Storage,
    TargetSettings,
    Tls,
    UploadPurging,
    User,
    is_ip,
)
from components.config.intent import Retention, unique
from components.config.maintenance import Maintenance
from components.config.mirrors import MAX_MIRRORS, SelfHostedMirror

_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


class SelfHosted(TargetSettings):
    """Keys every target understands."""

    replicas: int = Field(2, ge=1, le=50, description="registry instances behind the edge")
    # 3 by default: Docker's official `registry` image gets no new 2.x builds (FIELD-NOTES)
    version: Literal["2", "3"] = "3"
    domain: str = Field("localhost", description="the name clients use; certificate SAN")
    tls: Tls = Tls()
    users: list[User] = Field(default_factory=lambda: [User(name="admin", access="push")], min_length=1, max_length=100)
    storage: Storage = Storage()
    cache: Cache = Cache()
    upload_purging: UploadPurging = UploadPurging()
    # applied by `python -m tools.maintenance retention --stack <stack>` (README, Day 2)
    retention: Retention | None = None
    maintenance: Maintenance | None = None
    # pull-through caches, each its own registry instances in proxy mode behind the edge (README, Mirrors)
    mirrors: list[SelfHostedMirror] = Field(default_factory=list, max_length=MAX_MIRRORS)

    @field_validator("version", mode="before")
    @classmethod
    def _no_release_that_loses_tags(cls, version: object) -> object:
        """ "3" is distribution 3.0.0 (components/images.py). Asked for 3.1 by name: the combination
        is known to be broken on every S3 store, which is what both self-hosted targets use."""
        if isinstance(version, str) and version.startswith("3.1"):
            raise ValueError(
                f"{version!r}: distribution 3.1.0 and 3.1.1 leave out of tags/list every tag that is a lexical "
                "prefix of another on S3 storage (distribution#4891, fixed on main, in no release yet); "
                'use "3" (distribution 3.0.0, which lists every tag)'
            )
        return version

    @field_validator("domain")
    @classmethod
    def _valid_domain(cls, domain: str) -> str:
        if "://" in domain or "/" in domain:
            raise ValueError(
                f"{domain!r} must be a bare host name without scheme or path, for example registry.example.com"
            )
        if ":" in domain and not is_ip(domain):
            raise ValueError(f"{domain!r} must not contain a port; the port is set separately")
        if is_ip(domain):
            address = ipaddress.ip_address(domain)
            if address.is_unspecified or address.is_multicast:
                kind = "the unspecified address" if address.is_unspecified else "a multicast address"
                raise ValueError(
                    f"{domain!r} is {kind}, which no client can connect to; use the host's DNS name or unicast address"
                )
            return str(address)
        labels = domain.rstrip(".").split(".")
        if len(domain) > 253 or not all(_HOST_LABEL.match(label) for label in labels):
            raise ValueError(
                f"{domain!r} is not a valid DNS name: use lowercase letters, digits and '-', "
                "labels of 1-63 characters separated by '.'"
            )
        return domain.rstrip(".")

    @field_validator("mirrors")
    @classmethod
    def _unique_mirrors(cls, mirrors: list[SelfHostedMirror]) -> list[SelfHostedMirror]:
        unique([m.name for m in mirrors], "mirror")
        return mirrors

    @field_validator("users")
    @classmethod
    def _unique_user_names(cls, users: list[User]) -> list[User]:
        seen: set[str] = set()
        for user in users:
            if user.name in seen:
                raise ValueError(f"user {user.name!r} is listed twice; give each user a unique name")
            seen.add(user.name)
        return users

    @model_validator(mode="after")
    def _s3_keeps_live_uploads(self) -> SelfHosted:
        if self.storage.abort_incomplete_upload_days * 24 < self.upload_purging.age_hours:
            raise RuleViolation(
                "storage.abortIncompleteUploadDays",
                f"({self.storage.abort_incomplete_upload_days} d) would abort multipart uploads the registry "
                f"still keeps (uploadPurging.ageHours = {self.upload_purging.age_hours} h); raise "
                "abortIncompleteUploadDays or lower uploadPurging.ageHours",
            )
        return self

    @model_validator(mode="after")
    def _scheduled_retention_has_rules(self) -> SelfHosted:
        if self.maintenance is not None and self.maintenance.retention and self.retention is None:
            raise RuleViolation(
                "maintenance.retention",
                "is true but registry:retention is not set; set registry:retention (keepTagged and/or "
                "untaggedDays) or set maintenance.retention to false",
            )
        return self

    @property
    def push_users(self) -> list[str]:
        return [u.name for u in self.users if u.access == "push"]

    @property
    def tls_sans(self) -> tuple[list[str], list[str]]:
        """(dns names, ip addresses) the edge certificate must cover."""
        dns = ["localhost"] if self.domain == "localhost" else [self.domain, "localhost"]
        ips = ["127.0.0.1", "::1"]
        if is_ip(self.domain):
            dns = ["localhost"]
            ips = [self.domain, *[ip for ip in ips if ip != self.domain]]
        return dns, ips

    @property
    def edge_names(self) -> list[str]:
        """Every name the edge serves (its certificate's SANs); other Host headers are refused."""
        dns, ips = self.tls_sans
        return [*dns, *ips]

    def host(self, port: int) -> str:
        """What clients type to reach the edge: `name[:port]`, an IPv6 address in brackets."""
        name = f"[{self.domain}]" if ":" in self.domain else self.domain
        return name if port == 443 else f"{name}:{port}"

    @property
    def warnings(self) -> list[str]:
        found = []
        if not self.push_users:
            found.append(
                f"{NAMESPACE}:users: no user has access 'push', so nobody can push images; give one user "
                f"access push (`pulumi config set --path '{NAMESPACE}:users[0].access' push`)"
            )
        now = datetime.datetime.now(datetime.UTC)
        found += [
            f"{NAMESPACE}:users: {u.name} expired at {u.expires_at.isoformat()}; the edge refuses its login "
            "(remove the user, or move expiresAt)"
            for u in self.users
            if u.expires_at is not None and u.expires_at <= now
        ]
        return found
