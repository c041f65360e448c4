"""`registry:mirrors` on the self-hosted targets: pull-through caches run by distribution itself.

Each mirror is distribution in proxy mode (`proxy.remoteurl`) with a storage root of its own in
the shared bucket and a Redis database of its own, reached through the edge under
`/v2/<name>/...` and, with a port, at the root of a listener of its own (Docker's
`registry-mirrors` only takes a mirror at the root of a host, and only for Docker Hub).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from components.config.base import RuleViolation
from components.config.intent import UPSTREAMS, MirrorBase, check_mirror_credentials

# distribution's proxy talks to these for the named upstreams (Docker Hub's API host is not docker.io)
KNOWN_UPSTREAM_URLS = {u: "https://registry-1.docker.io" if u == "docker.io" else f"https://{u}" for u in UPSTREAMS}
DOCKER_HUB_MIRROR_PORT = 5444  # a Docker Hub mirror's own listener unless `port` says otherwise
DEFAULT_TTL_HOURS = 168  # distribution's default (registry/proxy: repositoryTTL, 7 days); 2.8 cannot change it
MAX_MIRRORS = 10  # each takes a Redis database (1-15) and an instance per registry task
_HOST_PORT = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?(:\d{1,5})?$")


class SelfHostedMirror(MirrorBase):
    """One upstream, cached by its own registry instances in proxy mode; pull-only at the edge."""

    upstream: str = Field(description=f"one of {', '.join(UPSTREAMS)}, or https://host[:port] of another registry")
    ca_certificate: str | None = Field(
        None, description="PEM CA of a private upstream; the mirror then trusts only that CA"
    )
    port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description=f"a listener of its own with the mirror at the root (default {DOCKER_HUB_MIRROR_PORT} for docker.io)",
    )
    ttl_hours: int | None = Field(
        None, ge=1, le=8760, description=f"version 3: how long cached content lives (default {DEFAULT_TTL_HOURS})"
    )
    anonymous: bool = Field(
        False, description="pull without a login (Docker's registry-mirrors never logs in to a mirror)"
    )

    @field_validator("upstream")
    @classmethod
    def _known_upstream_or_https_url(cls, upstream: str) -> str:
        if upstream in UPSTREAMS:
            return upstream
        parts = urlsplit(upstream)
        if parts.scheme != "https" or not _HOST_PORT.match(parts.netloc) or parts.path not in ("", "/"):
            raise ValueError(
                f"{upstream!r} is neither a known upstream ({', '.join(UPSTREAMS)}) nor https://host[:port] of a "
                "registry (no path, no user; plain http is refused: the mirror would send its login in clear)"
            )
        return f"https://{parts.netloc}"

    @field_validator("ca_certificate")
    @classmethod
    def _pem(cls, pem: str | None) -> str | None:
        if pem is not None and "-----BEGIN CERTIFICATE-----" not in pem:
            raise ValueError("must be a PEM certificate (-----BEGIN CERTIFICATE-----)")
        return pem

    @property
    def remote_url(self) -> str:
        """proxy.remoteurl: where distribution fetches what it has not cached."""
        return KNOWN_UPSTREAM_URLS.get(self.upstream, self.upstream)

    @property
    def namespace(self) -> str:
        """The registry host clients name in image references (containerd's hosts.toml folder)."""
        return self.upstream if self.upstream in UPSTREAMS else urlsplit(self.upstream).netloc

    @property
    def root_port(self) -> int | None:
        return self.port if self.port is not None else DOCKER_HUB_MIRROR_PORT if self.upstream == "docker.io" else None

    @property
    def ttl(self) -> int:
        return self.ttl_hours if self.ttl_hours is not None else DEFAULT_TTL_HOURS


def check_mirrors(mirrors: Sequence[SelfHostedMirror], *, version: str, taken_ports: dict[int, str]) -> None:
    """Rules across a target's mirrors; `taken_ports` are the target's own (port -> the key that takes it)."""
    check_mirror_credentials(mirrors)
    ports = dict(taken_ports)
    for i, mirror in enumerate(mirrors):
        if mirror.ca_certificate is not None and mirror.upstream in UPSTREAMS:
            raise RuleViolation(
                f"mirrors[{i}].caCertificate",
                f"({mirror.name}) would replace the public CAs {mirror.upstream} is signed by; remove it",
            )
        if mirror.ttl_hours is not None and version == "2":
            raise RuleViolation(
                f"mirrors[{i}].ttlHours",
                f"({mirror.name}) distribution 2.8 keeps cached content {DEFAULT_TTL_HOURS} h, fixed; "
                'remove ttlHours or set registry:version to "3"',
            )
        port = mirror.root_port
        if port is None:
            continue
        if port in ports:
            default = "" if mirror.port is not None else f" (the default for a {mirror.upstream} mirror)"
            raise RuleViolation(
                f"mirrors[{i}].port",
                f"({mirror.name}) {port}{default} is already taken by {ports[port]}; "
                f"give `registry:mirrors[{i}].port` another port",
            )
        ports[port] = f"mirrors[{i}] ({mirror.name})"
