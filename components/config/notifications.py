"""`registry:notifications` on the self-hosted targets: webhooks from distribution itself.

Each endpoint becomes one of distribution's `notifications.endpoints` (configuration/configuration.go
`Endpoint`): an in-memory queue per registry instance, retried with a circuit breaker
(`threshold` failures, then `backoff`), so a receiver that is down or slow never delays a push;
what was queued while it was down arrives once it answers, unless the registry instance itself
restarts meanwhile (the queue is memory: notifications/endpoint.go `NewEndpoint`, sinks.go).
Only manifest events are sent (blob uploads and pulls are many per image and name no tag).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from components.config.base import Model
from components.config.intent import unique

Event = Literal["push", "pull", "delete"]
EVENTS: tuple[Event, ...] = ("push", "pull", "delete")
LOOPBACK_HOSTS = ("localhost",)
# a header whose name says it carries a credential must be a `--secret` config value
SECRET_HEADER = re.compile(r"authorization|token|secret|key|password|signature|cookie|credential", re.I)
_HEADER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$")  # what proxies pass on ("_" is often dropped)


class Notification(Model):
    """One webhook receiver."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$", description="names the endpoint in distribution's logs")
    url: str = Field(description="https://... (plain http only to a loopback address, for tests)")
    headers: dict[str, str] = Field(default_factory=dict, max_length=10, description="sent with every event")
    events: list[Event] = Field(
        default_factory=lambda: list[Event](("push", "delete")),
        min_length=1,
        description="which manifest events to send",
    )
    repositories: list[str] = Field(default_factory=lambda: ["*"], description="only ['*']: see _every_repository")
    timeout: int = Field(5, ge=1, le=60, description="seconds to wait for the receiver")
    threshold: int = Field(5, ge=1, le=100, description="failures in a row before backing off")
    backoff: int = Field(10, ge=1, le=3600, description="seconds to wait after `threshold` failures")

    @field_validator("url")
    @classmethod
    def _https_or_loopback(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme == "https" and parts.hostname:
            return url
        if parts.scheme == "http" and parts.hostname and _loopback(parts.hostname):
            return url
        raise ValueError(
            f"{url!r}: events carry repository, tag and user names, so they go over https "
            "(https://hooks.example.com/registry); plain http only to a loopback address"
        )

    @field_validator("headers")
    @classmethod
    def _header_names(cls, headers: dict[str, str]) -> dict[str, str]:
        for name in headers:
            if not _HEADER_NAME.match(name):
                raise ValueError(f"header {name!r}: letters, digits and '-' only (at most 64)")
        unique([n.lower() for n in headers], "header")  # HTTP header names ignore case
        return headers

    @field_validator("events")
    @classmethod
    def _unique_events(cls, events: list[Event]) -> list[Event]:
        unique(list(events), "event")
        return events

    @field_validator("repositories")
    @classmethod
    def _every_repository(cls, repositories: list[str]) -> list[str]:
        if repositories != ["*"]:
            raise ValueError(
                f"{repositories}: distribution sends every repository's events to an endpoint and cannot "
                "filter them (configuration/configuration.go Endpoint has no such setting); filter in the "
                "receiver on the event's target.repository, or leave repositories out"
            )
        return repositories

    def ignored_actions(self) -> list[Event]:
        return [event for event in EVENTS if event not in self.events]


def _loopback(host: str) -> bool:
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
