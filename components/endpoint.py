"""Stack outputs every target exports: where the registry is and how to log in."""

from __future__ import annotations

from typing import Any

import pulumi

from components.config import User


def endpoint_outputs(
    *,
    host: str,
    users: list[User],
    passwords: dict[str, pulumi.Output[str]],
    ca_cert_pem: pulumi.Output[str] | None,
    mirror_hosts: list[str] | None = None,
) -> dict[str, Any]:
    """`host` is what clients type (`name` or `name:port`); passwords stay secret.
    `mirror_hosts` are the mirrors' own listeners, which Docker must trust as well."""
    login_user = next((u.name for u in users if u.access == "push"), users[0].name)
    outputs: dict[str, Any] = {
        "url": f"https://{host}",
        "users": [
            {"name": u.name, "access": u.access, **({"expiresAt": u.expires_at.isoformat()} if u.expires_at else {})}
            for u in users
        ],
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
                for trusted in [host, *(mirror_hosts or [])]
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


def login_command(host: str, user: str) -> str:
    """`docker login` for `user`, its password read from the stack's secret output, never echoed."""
    return (
        f"pulumi stack output passwords --show-secrets | jq -r '.\"{user}\"' | "
        f"docker login {host} --username {user} --password-stdin"
    )
