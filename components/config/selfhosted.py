"""Keys the self-hosted targets (local, aws) share: instances, the edge, users, storage, cache."""

from __future__ import annotations

import datetime
import ipaddress
import re
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from components.config.access import (
    EVERY_REPOSITORY,
    IMPLIED,
    AccessRules,
    Action,
    Grant,
    check_rules,
    principals,
    principals_with,
    rule_grants,
)
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
from components.config.notifications import Notification

_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


class SelfHosted(TargetSettings):
    """Keys every target understands."""

    replicas: int = Field(2, ge=1, le=50, description="registry instances behind the edge")
    # 3 by default: Docker's official `registry` image gets no new 2.x builds (FIELD-NOTES)
    version: Literal["2", "3"] = "3"
    domain: str = Field("localhost", description="the name clients use; certificate SAN")
    tls: Tls = Tls()
    users: list[User] = Field(
        default_factory=lambda: [User(name="admin", access="admin")], min_length=1, max_length=100
    )
    # per-repository rules over users' own access; enforced by the edge (README, Access)
    access: AccessRules = Field(default_factory=list)
    storage: Storage = Storage()
    cache: Cache = Cache()
    upload_purging: UploadPurging = UploadPurging()
    # applied by `python -m tools.maintenance retention --stack <stack>` (README, Day 2)
    retention: Retention | None = None
    maintenance: Maintenance | None = None
    # pull-through caches, each its own registry instances in proxy mode behind the edge (README, Mirrors)
    mirrors: list[SelfHostedMirror] = Field(default_factory=list, max_length=MAX_MIRRORS)
    # webhooks sent by distribution itself (README, Events)
    notifications: list[Notification] = Field(default_factory=list, max_length=10)

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

    @field_validator("notifications")
    @classmethod
    def _unique_notifications(cls, notifications: list[Notification]) -> list[Notification]:
        unique([n.name for n in notifications], "notification endpoint")
        return notifications

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

    @property
    def edge_port(self) -> int:
        """The port clients reach the edge on (443; local publishes registry:port)."""
        return 443

    @model_validator(mode="after")
    def _no_mirror_of_itself(self) -> SelfHosted:
        """A mirror whose upstream is this registry's own edge would pull from itself, forever."""
        for i, mirror in enumerate(self.mirrors):
            parts = urlsplit(mirror.upstream) if "://" in mirror.upstream else None
            if parts is None or parts.hostname is None:
                continue
            if parts.hostname.strip("[]") in self.edge_names and (parts.port or 443) == self.edge_port:
                raise RuleViolation(
                    f"mirrors[{i}].upstream",
                    f"({mirror.upstream}) is this registry's own address, so the mirror would pull from itself; "
                    "name another registry, or push those images here instead of mirroring them",
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

    @model_validator(mode="after")
    def _access_rules_hold(self) -> SelfHosted:
        names = {u.name for u in self.users}
        check_rules(
            self.access,
            principal_problem=lambda p: None if p in names else "is not in registry:users; add it there or remove it",
            standing=self.standing_grants,
        )
        mirrors = {m.name for m in self.mirrors}
        for i, rule in enumerate(self.access):
            for j, pattern in enumerate(rule.repositories):
                head, slash, _ = pattern.partition("/")
                if head in mirrors and (slash or pattern == head):
                    raise RuleViolation(
                        f"access[{i}].repositories[{j}]",
                        f"({pattern}) is under mirror {head}: every user may pull a mirror and nobody pushes to it; "
                        "remove the pattern",
                    )
        named = set(principals(self.access))
        for k, user in enumerate(self.users):
            if user.access is None and user.name not in named:
                raise RuleViolation(
                    f"users[{k}].access",
                    f"({user.name}) is unset and no registry:access rule names {user.name}: set users[{k}].access "
                    "to pull, push or admin, or grant it repositories in registry:access",
                )
        return self

    @property
    def standing_grants(self) -> list[Grant]:
        """What each user's own `access` gives, on every repository."""
        actions: dict[str, tuple[Action, ...]] = {"pull": ("pull",), "push": ("push",), "admin": ("push", "delete")}
        return [
            Grant(u.name, action, EVERY_REPOSITORY, f"users[{k}].access")
            for k, u in enumerate(self.users)
            if u.access is not None
            for action in actions[u.access]
        ]

    @property
    def edge_grants(self) -> list[Grant]:
        """Everything the edge allows: users' own access, then every registry:access rule."""
        return [*self.standing_grants, *rule_grants(self.access)]

    @property
    def push_users(self) -> list[str]:
        """Users who may push somewhere (every repository, or those a rule names)."""
        pushers = {g.principal for g in self.standing_grants if "push" in IMPLIED[g.action]}
        pushers |= set(principals_with(self.access, "push"))
        return [u.name for u in self.users if u.name in pushers]

    @property
    def admins(self) -> list[str]:
        """Users with access admin: every action on every repository, and the catalog."""
        return [u.name for u in self.users if u.access == "admin"]

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
        found = list(self.maintenance.warnings) if self.maintenance is not None else []
        if not self.push_users:
            found.append(
                f"{NAMESPACE}:users: no user may push, so nobody can push images; give one user access push "
                f"(`pulumi config set --path '{NAMESPACE}:users[0].access' push`) or name it under push in "
                f"{NAMESPACE}:access"
            )
        if not self.admins:
            found.append(
                f"{NAMESPACE}:users: no user has access admin, so nobody may delete images or list the catalog and "
                f"`tools.maintenance retention` cannot run; give one user access admin"
            )
        found += [
            f"{NAMESPACE}:{g.source}: {g.principal} may delete in every repository without being an admin; the "
            "policy pack refuses it (registry-edge-delete-everywhere-admin-only): narrow the rule's repositories"
            for g in rule_grants(self.access)
            if g.action == "delete" and g.pattern == EVERY_REPOSITORY and g.principal not in self.admins
        ]
        now = datetime.datetime.now(datetime.UTC)
        found += [
            f"{NAMESPACE}:users: {u.name} expired at {u.expires_at.isoformat()}; the edge refuses its login "
            "(remove the user, or move expiresAt)"
            for u in self.users
            if u.expires_at is not None and u.expires_at <= now
        ]
        return found
