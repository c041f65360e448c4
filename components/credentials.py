"""Generated secrets: one password per user, their htpasswd files, the shared http secret,
and (where a target needs them) the Redis password and object-store keys.

Everything here is a Pulumi secret. Passwords stay stable across `pulumi up`; the htpasswd
files only change when a user or password changes, so containers are not replaced needlessly.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_random as random

from components.config import User
from components.renderers.htpasswd import render_htpasswd, sha512_crypt

PASSWORD_LENGTH = 32  # alphanumeric: ~190 bits, safe to paste into a shell


@dataclass(frozen=True)
class CredentialsArgs:
    users: list[User]
    object_store_keys: bool = False  # local: keys for the S3-compatible server


class Credentials(pulumi.ComponentResource):
    passwords: dict[str, pulumi.Output[str]]
    htpasswd: pulumi.Output[str]  # every user; the edge's config names the writers
    http_secret: pulumi.Output[str]
    redis_password: pulumi.Output[str]
    object_store_access_key: pulumi.Output[str] | None
    object_store_secret_key: pulumi.Output[str] | None
    object_store_sse_key: pulumi.Output[str] | None  # encrypts every stored object: losing it loses them
    object_store_admin_password: pulumi.Output[str] | None

    def __init__(self, name: str, args: CredentialsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("registry:credentials:Credentials", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        hashes: dict[str, pulumi.Output[str]] = {}
        self.passwords = {}
        for user in args.users:
            password = random.RandomPassword(
                f"{name}-{user.name}-password", length=PASSWORD_LENGTH, special=False, opts=child
            )
            salt = random.RandomString(f"{name}-{user.name}-salt", length=16, special=False, opts=child)
            self.passwords[user.name] = pulumi.Output.secret(password.result)
            hashes[user.name] = pulumi.Output.secret(
                pulumi.Output.all(password.result, salt.result).apply(lambda ps: sha512_crypt(ps[0], ps[1]))
            )
        self.htpasswd = _htpasswd(hashes)
        self.http_secret = pulumi.Output.secret(
            random.RandomPassword(f"{name}-http-secret", length=64, special=False, opts=child).result
        )
        self.redis_password = pulumi.Output.secret(
            random.RandomPassword(f"{name}-redis-password", length=48, special=False, opts=child).result
        )
        self.object_store_access_key = self.object_store_secret_key = None
        self.object_store_sse_key = self.object_store_admin_password = None
        if args.object_store_keys:
            self.object_store_access_key = random.RandomString(
                f"{name}-object-store-access-key", length=20, special=False, lower=False, opts=child
            ).result
            self.object_store_secret_key = pulumi.Output.secret(
                random.RandomPassword(f"{name}-object-store-secret-key", length=40, special=False, opts=child).result
            )
            self.object_store_sse_key = pulumi.Output.secret(
                random.RandomPassword(f"{name}-object-store-sse-key", length=64, special=False, opts=child).result
            )
            self.object_store_admin_password = pulumi.Output.secret(
                random.RandomPassword(
                    f"{name}-object-store-admin-password", length=PASSWORD_LENGTH, special=False, opts=child
                ).result
            )
        self.register_outputs(
            {
                "passwords": self.passwords,
                "htpasswd": self.htpasswd,
                "http_secret": self.http_secret,
                "redis_password": self.redis_password,
            }
        )


def _htpasswd(hashes: dict[str, pulumi.Output[str]]) -> pulumi.Output[str]:
    names = list(hashes)
    return pulumi.Output.secret(
        pulumi.Output.all(*hashes.values()).apply(lambda values: render_htpasswd(dict(zip(names, values, strict=True))))
    )
