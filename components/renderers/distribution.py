"""distribution (`registry`) config.yml for major versions 2 and 3.

Every instance of one deployment gets the same text: the same storage, the same Redis and
the same `http.secret` (without it an upload spread across instances fails with
BLOB_UPLOAD_INVALID). Redirects are disabled because clients reach the registry through the
edge, never S3 directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import yaml

from components.renderers.seaweedfs import REGION as OBJECT_STORE_REGION
from components.renderers.seaweedfs import S3_PORT as OBJECT_STORE_PORT

if TYPE_CHECKING:
    from components.config import LocalSettings

CONFIG_PATH = {"2": "/etc/docker/registry/config.yml", "3": "/etc/distribution/config.yml"}
# Environment overrides distribution applies on top of the file (`secrets_in_env`;
# configuration/parser.go `overwriteStruct` matches Go field names). In 3.x the Redis options sit
# in an inlined struct named Options: 3.0.0 ignores REGISTRY_REDIS_PASSWORD, 3.1 honours both
# forms (#4639), so REGISTRY_REDIS_OPTIONS_PASSWORD works on every 3.x.
SECRET_ENV = {
    "2": {"http_secret": "REGISTRY_HTTP_SECRET", "redis_password": "REGISTRY_REDIS_PASSWORD"},
    "3": {"http_secret": "REGISTRY_HTTP_SECRET", "redis_password": "REGISTRY_REDIS_OPTIONS_PASSWORD"},
}


@dataclass(frozen=True)
class S3Backend:
    bucket: str
    region: str
    endpoint: str | None = None  # an S3-compatible server; None means AWS itself
    access_key: str | None = None  # None: the SDK's default chain (an IAM task role on AWS)
    secret_key: str | None = None
    encrypt: bool = True
    kms_key_id: str | None = None
    root_directory: str = "/registry"


@dataclass(frozen=True)
class RedisBackend:
    address: str  # host:port; with TLS the host must be the name the server certificate carries
    password: str | None = None
    # TLS to Redis (distribution 3.1+ only): CA files the server certificate is verified against.
    # registry/handlers/app.go `configureRedis` (v3.1.1) turns TLS on when `redis.tls.rootcas` is
    # non-empty (no client certificate needed); there is no `enabled` key. 3.0.0 turned it on only
    # with `tls.certificate` + `tls.key` (mutual TLS), which ElastiCache does not offer.
    tls_root_cas: tuple[str, ...] = ()
    db: int = 0


def render_distribution_config(
    *,
    version: Literal["2", "3"],
    http_secret: str | None = None,
    s3: S3Backend,
    redis: RedisBackend | None,
    upload_purging_age_hours: int,
    upload_purging_interval_hours: int,
    read_only: bool = False,
    listen: str = ":5000",
    secrets_in_env: bool = False,
) -> str:
    """The config.yml text; `read_only` is the maintenance window garbage collection needs.

    No debug listener (`http.debug`): it serves /debug/vars, which publishes the whole parsed
    configuration (S3 secret key, Redis password) in 3.x and the Redis section in 2.8
    (registry/handlers/app.go, expvar "registry"); health checks use the main listener instead.

    `secrets_in_env` leaves the http secret and Redis password out of the text, so it can travel
    as plain configuration; the caller then sets the variables in SECRET_ENV[version] instead.
    """
    if secrets_in_env:
        if http_secret or (redis is not None and redis.password):
            raise ValueError("secrets_in_env: pass no http_secret or Redis password; they belong in SECRET_ENV")
    elif not http_secret:
        raise ValueError("http_secret must not be empty: instances would not share uploads")
    if redis is not None and redis.tls_root_cas and version == "2":
        raise ValueError("distribution 2 cannot speak TLS to Redis; use version 3")
    storage: dict[str, Any] = {
        "s3": _s3(version, s3),
        "cache": {"blobdescriptor": "redis" if redis else "inmemory"},
        "delete": {"enabled": True},
        "redirect": {"disable": True},
        "maintenance": {
            "uploadpurging": {
                "enabled": True,
                "age": f"{upload_purging_age_hours}h",
                "interval": f"{upload_purging_interval_hours}h",
                "dryrun": False,
            },
            "readonly": {"enabled": read_only},
        },
    }
    http: dict[str, Any] = {"addr": listen}
    if not secrets_in_env:
        http["secret"] = http_secret
    http.update({"relativeurls": False, "headers": {"X-Content-Type-Options": ["nosniff"]}})
    config: dict[str, Any] = {
        "version": 0.1,
        "log": {"level": "info", "formatter": "json", "fields": {"service": "registry"}},
        "storage": storage,
        "http": http,
        "health": {"storagedriver": {"enabled": True, "interval": "10s", "threshold": 3}},
    }
    if redis is not None:
        config["redis"] = _redis(version, redis)
    return yaml.safe_dump(config, sort_keys=False, default_flow_style=False)


def _s3(version: str, s3: S3Backend) -> dict[str, Any]:
    out: dict[str, Any] = {"bucket": s3.bucket, "region": s3.region, "rootdirectory": s3.root_directory}
    if s3.endpoint:
        out["regionendpoint"] = s3.endpoint
        out["secure"] = s3.endpoint.startswith("https://")
        if version == "3":  # 2.8 implies path style from regionendpoint; 3 needs it said
            out["forcepathstyle"] = True
    if s3.access_key or s3.secret_key:
        if not (s3.access_key and s3.secret_key):
            raise ValueError("S3 access_key and secret_key go together")
        out["accesskey"] = s3.access_key
        out["secretkey"] = s3.secret_key
    out["encrypt"] = s3.encrypt
    if s3.kms_key_id:
        out["keyid"] = s3.kms_key_id
    if version == "2":
        out["v4auth"] = True
    return out


def _redis(version: str, redis: RedisBackend) -> dict[str, Any]:
    timeouts = {"dialtimeout": "1s", "readtimeout": "1s", "writetimeout": "1s"}
    if version == "2":
        out: dict[str, Any] = {"addr": redis.address, "db": redis.db, **timeouts}
        out["pool"] = {"maxidle": 16, "maxactive": 64, "idletimeout": "300s"}
    else:
        out = {"addrs": [redis.address], "db": redis.db, **timeouts}
        out.update({"maxidleconns": 16, "poolsize": 64, "connmaxidletime": "300s"})
        if redis.tls_root_cas:
            out["tls"] = {"rootcas": list(redis.tls_root_cas)}
    if redis.password:
        out["password"] = redis.password
    return out


def local_registry_config(
    s: LocalSettings,
    *,
    http_secret: str,
    bucket: str,
    s3_keys: tuple[str, str],
    redis_password: str,
    s3_endpoint: str = f"http://object-store:{OBJECT_STORE_PORT}",
    redis_address: str = "redis:6379",
    listen: str = ":5000",
) -> str:
    """config.yml of every local registry instance; the sandbox passes its loopback addresses."""
    return render_distribution_config(
        version=s.version,
        http_secret=http_secret,
        s3=S3Backend(
            bucket=bucket,
            region=OBJECT_STORE_REGION,
            endpoint=s3_endpoint,
            access_key=s3_keys[0],
            secret_key=s3_keys[1],
            encrypt=False,  # the bucket's default encryption applies
        ),
        redis=RedisBackend(address=redis_address, password=redis_password) if s.cache.enabled else None,
        upload_purging_age_hours=s.upload_purging.age_hours,
        upload_purging_interval_hours=s.upload_purging.interval_hours,
        listen=listen,
    )
