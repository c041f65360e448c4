"""Stack outputs every target exports: where the registry is and how to log in."""

from __future__ import annotations

from typing import Any

import pulumi

from components.config import SelfHosted, User
from components.config.access import Grant, rule_grants


def endpoint_outputs(
    *,
    host: str,
    settings: SelfHosted,
    passwords: dict[str, pulumi.Output[str]],
    ca_cert_pem: pulumi.Output[str] | None,
) -> dict[str, Any]:
    """`host` is what clients type (`name` or `name:port`); passwords stay secret. The mirrors' own
    listeners are named too: Docker must trust them as well."""
    users, grants = list(settings.users), rule_grants(settings.access)
    mirror_hosts = [settings.host(m.root_port) for m in settings.mirrors if m.root_port is not None]
    login_user = next((u.name for u in users if u.access == "push"), users[0].name)
    outputs: dict[str, Any] = {
        "url": f"https://{host}",
        "users": [_user_output(u, grants) for u in users],
        "passwords": pulumi.Output.secret(pulumi.Output.all(**passwords)),
        "loginCommand": login_command(host, login_user),
        # one ready line per user, for a CI job's robot account among them
        "loginCommands": {u.name: login_command(host, u.name) for u in users},
    }
    if ca_cert_pem is not None:
        outputs["caCertificate"] = ca_cert_pem
        outputs["caInstallSteps"] = [
            *(
                step
                for trusted in [host, *mirror_hosts]
                for step in (
                    f"sudo mkdir -p /etc/docker/certs.d/{trusted}",
                    f"pulumi stack output caCertificate | sudo tee /etc/docker/certs.d/{trusted}/ca.crt >/dev/null",
                )
            ),
            "macOS/Windows Docker Desktop: add the CA to the system trust store "
            "(macOS: security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain ca.crt) "
            "and restart Docker Desktop",
        ]
    return outputs


def _user_output(user: User, grants: list[Grant]) -> dict[str, Any]:
    """Name, own access, what registry:access rules add (pattern -> actions) and the expiry."""
    ruled: dict[str, list[str]] = {}
    for grant in grants:
        if grant.principal == user.name:
            ruled.setdefault(grant.pattern, []).append(grant.action)
    return {
        "name": user.name,
        **({"access": user.access} if user.access else {}),
        **({"repositories": ruled} if ruled else {}),
        **({"expiresAt": user.expires_at.isoformat()} if user.expires_at else {}),
    }


def login_command(host: str, user: str) -> str:
    """`docker login` for `user`, its password read from the stack's secret output, never echoed."""
    return (
        f"pulumi stack output passwords --show-secrets | jq -r '.\"{user}\"' | "
        f"docker login {host} --username {user} --password-stdin"
    )
