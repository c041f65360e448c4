"""distribution (`registry`) config.yml for major versions 2 and 3.

Every instance of one deployment gets the same text: the same storage, the same Redis and
the same `http.secret` (without it an upload spread across instances fails with
BLOB_UPLOAD_INVALID). Redirects are disabled because clients reach the registry through the
edge, never S3 directly.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import yaml

from components.renderers.seaweedfs import REGION as OBJECT_STORE_REGION
from components.renderers.seaweedfs import S3_PORT as OBJECT_STORE_PORT

if TYPE_CHECKING:
    from components.config import LocalSettings
    from components.config.mirrors import SelfHostedMirror
    from components.config.notifications import Notification

CONFIG_PATH = {"2": "/etc/docker/registry/config.yml", "3": "/etc/distribution/config.yml"}
# Environment overrides distribution applies on top of the file (`secrets_in_env`;
# configuration/parser.go `overwriteStruct` matches Go field names). In 3.x the Redis options sit
# in an inlined struct named Options: 3.0.0 ignores REGISTRY_REDIS_PASSWORD, 3.1 honours both
# forms (#4639), so REGISTRY_REDIS_OPTIONS_PASSWORD works on every 3.x.
SECRET_ENV = {
    "2": {
        "http_secret": "REGISTRY_HTTP_SECRET",
        "redis_password": "REGISTRY_REDIS_PASSWORD",
        "proxy_password": "REGISTRY_PROXY_PASSWORD",
    },
    "3": {
        "http_secret": "REGISTRY_HTTP_SECRET",
        "redis_password": "REGISTRY_REDIS_OPTIONS_PASSWORD",
        "proxy_password": "REGISTRY_PROXY_PASSWORD",
    },
}
# Every registry process (serve, garbage-collect, proxy) gets this environment. distribution 3
# exports a span per request through OpenTelemetry's autoexport, whose default is OTLP to
# https://localhost:4318 (tracing/tracing.go InitOpenTelemetry; autoexport spans.go): with nothing
# there each batch logs a "traces export" error. Upstream's own image sets this from 3.1 on
# (Dockerfile, commit 53dde7fc8); the data plane's binaries need it said, as registry:3.0.0 does.
REGISTRY_ENVIRONMENT = {"OTEL_TRACES_EXPORTER": "none"}

# The read-only switch from the environment, so a read-only secondary region is made writable by
# changing one variable of its task definition (tools.maintenance promote). configuration/parser.go
# `overwriteMap` replaces storage.maintenance.readonly with this YAML, parsed by yaml.v2 into the
# map[interface{}]interface{} that registry/handlers/app.go `NewApp` requires (a bare `true` panics).
READONLY_VARIABLE = "REGISTRY_STORAGE_MAINTENANCE_READONLY"


def readonly_environment(read_only: bool) -> dict[str, str]:
    """The environment that makes a registry read-only (pushes and deletes 405) or writable."""
    return {READONLY_VARIABLE: '{"enabled": true}' if read_only else '{"enabled": false}'}


MIRROR_RETRY_SECONDS = 10
METRICS_PORT = 5001  # a local registry's debug listener: Prometheus metrics, reached by the edge only
METRICS_PATH = "/metrics"


def mirror_serve_script(config_path: str, registry: str = "registry", retry_seconds: int = MIRROR_RETRY_SECONDS) -> str:
    """Shell that keeps a mirror instance serving: distribution exits at start when its upstream's
    /v2/ does not answer (registry/proxy/proxyregistry.go NewRegistryPullThroughCache ->
    configureAuth), so it is started again every `retry_seconds` instead of leaving the
    mirror down and its container exiting with it (an essential one takes the task along).
    SIGTERM and SIGINT go to the registry, which shuts down gracefully, and end the loop."""
    return "\n".join(
        [
            'trap \'kill -TERM "$child" 2>/dev/null; wait "$child"; exit 0\' TERM INT',
            "while :; do",
            f"  {registry} serve {config_path} &",
            "  child=$!",
            '  wait "$child" || true',
            f'  echo "mirror: the registry exited (is its upstream reachable?); starting it again in {retry_seconds} s" >&2',
            f"  sleep {retry_seconds} &",
            "  child=$!",
            '  wait "$child" || true',
            "done",
        ]
    )


def config_dir(version: str) -> str:
    """The folder of the image's config.yml, where the files beside it go (mounted writable on aws)."""
    return CONFIG_PATH[version].rsplit("/", 1)[0]


def upstream_ca_path(version: str) -> str:
    """Where a mirror instance finds its upstream's private CA (beside its config)."""
    return f"{config_dir(version)}/upstream-ca.crt"


REGISTRY_ROOT = "/registry"  # the registry's own images in the bucket
MIRROR_ROOT = "/mirrors/{name}"  # each mirror's cache, beside it: gc and retention never look there


def mirror_root(name: str) -> str:
    """A mirror's storage root in the shared bucket."""
    return MIRROR_ROOT.format(name=name)


def mirror_redis_db(index: int) -> int:
    """Mirror `index`'s database in the shared Redis; 0 is the registry's."""
    return index + 1


@dataclass(frozen=True)
class S3Backend:
    bucket: str
    region: str
    endpoint: str | None = None  # an S3-compatible server; None means AWS itself
    access_key: str | None = None  # None: the SDK's default chain (an IAM task role on AWS)
    secret_key: str | None = None
    encrypt: bool = True
    kms_key_id: str | None = None
    root_directory: str = REGISTRY_ROOT


@dataclass(frozen=True)
class RedisTls:
    """TLS to Redis, as distribution 3.0.0 can be told it: a client certificate and key.

    v3.0.0 registry/handlers/app.go `configureRedis` turns TLS on only when `redis.tls.certificate`
    or `redis.tls.key` is set, loads the pair (both needed: tls.LoadX509KeyPair, a panic otherwise)
    and verifies the server against the system roots (Go: SSL_CERT_FILE or the OS bundle); the
    server name is the address's host (crypto/tls DialWithDialer, go-redis options.go). There is no
    `enabled` key and no `rootcas` before 3.1. A server that asks for no client certificate
    (ElastiCache's in-transit encryption) is never sent this one: the pair only switches TLS on.
    v3.1 reads the same two keys (and warns unless both are set)."""

    certificate: str  # paths inside the container
    key: str


@dataclass(frozen=True)
class RedisBackend:
    address: str  # host:port; with TLS the host must be the name the server certificate carries
    password: str | None = None
    tls: RedisTls | None = None  # distribution 3 only
    db: int = 0


@dataclass(frozen=True)
class ProxyUpstream:
    """Proxy mode: a pull-through cache of `remote_url` (configuration/configuration.go `Proxy`).

    Its tags are asked of the upstream first and the local copy serves only when that fails
    (registry/proxy/proxytagservice.go Get); what it caches is deleted `ttl_hours` after it was
    fetched (registry/proxy/scheduler). 2.8 has no `ttl` (fixed 7 days) and logs in to token-auth
    upstreams only (registry/proxy/proxyauth.go); 3.x takes `ttl` as a Go duration and Basic auth.
    """

    remote_url: str
    username: str | None = None
    password: str | None = None  # None with secrets_in_env: SECRET_ENV[...]["proxy_password"] carries it
    ttl_hours: int | None = None  # 3.x only


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
    proxy: ProxyUpstream | None = None,
    notifications: Sequence[Notification] = (),
    metrics_listen: str | None = None,
) -> str:
    """The config.yml text; `read_only` is the maintenance window garbage collection needs;
    `proxy` makes it a pull-through cache (a mirror), which refuses every push itself (405).

    No debug listener (`http.debug`) unless `metrics_listen`: it serves /debug/vars, which publishes
    the whole parsed configuration (S3 secret key, Redis password) in 3.x and the Redis section in
    2.8 (registry/handlers/app.go, expvar "registry"), on http.DefaultServeMux beside the Prometheus
    path (registry/registry.go configureDebugServer). With `metrics_listen` it listens where only
    the edge reaches it (a port no host publishes), and the edge passes on /metrics alone, to admins
    (nginx.py EdgeMetrics). Health checks use the main listener.

    `secrets_in_env` leaves the http secret and Redis password out of the text, so it can travel
    as plain configuration; the caller then sets the variables in SECRET_ENV[version] instead
    (and the webhooks' headers: notification_header_environment).
    """
    _check_secrets_and_version(version, http_secret, redis, proxy, secrets_in_env=secrets_in_env)
    storage: dict[str, Any] = {
        "s3": _s3(version, s3),
        "cache": {"blobdescriptor": "redis" if redis else "inmemory"},
        "delete": {"enabled": True},
        "redirect": {"disable": True},
        "maintenance": _maintenance(upload_purging_age_hours, upload_purging_interval_hours, read_only=read_only),
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
    if proxy is not None:
        config["proxy"] = _proxy(proxy)
    if notifications:
        config["notifications"] = _notifications(notifications, headers=not secrets_in_env)
    if metrics_listen is not None:
        http["debug"] = {"addr": metrics_listen, "prometheus": {"enabled": True, "path": METRICS_PATH}}
    return yaml.safe_dump(config, sort_keys=False, default_flow_style=False)


# what distribution calls a blob in its events (registry/storage/blobwriter.go: a blob's descriptor
# without a media type gets this one): ignoring it leaves the manifest events, one per image
BLOB_EVENT_MEDIA_TYPE = "application/octet-stream"


def _notifications(endpoints: Sequence[Notification], *, headers: bool) -> dict[str, Any]:
    """distribution's notifications (configuration/configuration.go Notifications, Endpoint). The
    ignored media type also makes `ignore.actions` work on 3.0.0, whose newIgnoredSink
    (notifications/sinks.go) returns the sink unfiltered when no media type is ignored (3.1 fixed it)."""
    rendered = []
    for endpoint in endpoints:
        entry: dict[str, Any] = {"name": endpoint.name, "url": endpoint.url}
        if headers and endpoint.headers:
            entry["headers"] = {name: [value] for name, value in endpoint.headers.items()}
        entry.update(
            {
                "timeout": f"{endpoint.timeout}s",
                "threshold": endpoint.threshold,
                "backoff": f"{endpoint.backoff}s",
                "ignore": {"mediatypes": [BLOB_EVENT_MEDIA_TYPE], "actions": [*endpoint.ignored_actions(), "mount"]},
            }
        )
        rendered.append(entry)
    return {"events": {"includereferences": True}, "endpoints": rendered}


def notification_header_environment(endpoints: Sequence[Notification]) -> dict[str, str]:
    """The webhooks' headers as environment variables, for a config rendered with secrets_in_env:
    configuration/parser.go `overwriteStruct` sets notifications.endpoints[i].headers as a whole
    from YAML (JSON is YAML). One variable per endpoint, its name free of the header names: a
    shell drops a variable whose name holds '-' (dash and busybox do), and aws starts the registry
    with `sh -c`."""
    return {
        f"REGISTRY_NOTIFICATIONS_ENDPOINTS_{index}_HEADERS": json.dumps(
            {name: [value] for name, value in endpoint.headers.items()}
        )
        for index, endpoint in enumerate(endpoints)
        if endpoint.headers
    }


def _check_secrets_and_version(
    version: str,
    http_secret: str | None,
    redis: RedisBackend | None,
    proxy: ProxyUpstream | None,
    *,
    secrets_in_env: bool,
) -> None:
    if secrets_in_env:
        if http_secret or (redis is not None and redis.password):
            raise ValueError("secrets_in_env: pass no http_secret or Redis password; they belong in SECRET_ENV")
    elif not http_secret:
        raise ValueError("http_secret must not be empty: instances would not share uploads")
    if redis is not None and redis.tls is not None and version == "2":
        raise ValueError("distribution 2 cannot speak TLS to Redis; use version 3")
    if proxy is not None and proxy.ttl_hours is not None and version == "2":
        raise ValueError("distribution 2 has no proxy.ttl (its cache lives 7 days); use version 3")
    if proxy is not None and secrets_in_env and proxy.password:
        raise ValueError("secrets_in_env: pass no proxy password; it belongs in SECRET_ENV")


def _maintenance(age_hours: int, interval_hours: int, *, read_only: bool) -> dict[str, Any]:
    return {
        "uploadpurging": {"enabled": True, "age": f"{age_hours}h", "interval": f"{interval_hours}h", "dryrun": False},
        "readonly": {"enabled": read_only},
    }


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
        if redis.tls is not None:
            out["tls"] = {"certificate": redis.tls.certificate, "key": redis.tls.key}
    if redis.password:
        out["password"] = redis.password
    return out


def _proxy(proxy: ProxyUpstream) -> dict[str, Any]:
    out: dict[str, Any] = {"remoteurl": proxy.remote_url}
    if proxy.username is not None:
        out["username"] = proxy.username
    if proxy.password is not None:
        out["password"] = proxy.password
    if proxy.ttl_hours is not None:
        out["ttl"] = f"{proxy.ttl_hours}h"  # a Go duration: a bare number would be nanoseconds
    return out


def mirror_proxy(mirror: SelfHostedMirror, version: str, password: str | None) -> ProxyUpstream:
    """A mirror's proxy section; `password` None leaves it to the environment (aws)."""
    return ProxyUpstream(
        remote_url=mirror.remote_url,
        username=mirror.username,
        password=password,
        ttl_hours=mirror.ttl if version == "3" else None,
    )


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
    mirror: tuple[int, SelfHostedMirror] | None = None,
    metrics_listen: str = f":{METRICS_PORT}",
) -> str:
    """config.yml of every local registry instance; the sandbox passes its loopback addresses.
    `mirror` (its index, its settings) renders that mirror's instances: proxy mode with its
    upstream login in the file, its own storage root and Redis database."""
    root, db, proxy = REGISTRY_ROOT, 0, None
    if mirror is not None:
        index, settings = mirror
        proxy = mirror_proxy(settings, s.version, settings.access_token)
        root, db = mirror_root(settings.name), mirror_redis_db(index)
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
            root_directory=root,
        ),
        redis=RedisBackend(address=redis_address, password=redis_password, db=db) if s.cache.enabled else None,
        upload_purging_age_hours=s.upload_purging.age_hours,
        upload_purging_interval_hours=s.upload_purging.interval_hours,
        listen=listen,
        proxy=proxy,
        notifications=() if mirror is not None else s.notifications,  # a mirror's pulls are not the registry's
        metrics_listen=None if mirror is not None else metrics_listen,
    )
