"""`local`: an HA registry on the Docker engine that runs `pulumi up`.

    host :port ──TLS──> edge (nginx) ──> registry-0..N-1 ──> object store (S3 API, versioned)
                                                   └────> redis (blob-descriptor cache)

Registries, Redis and the object store sit on an internal network; only the edge is
published, and the object store's S3 API only on 127.0.0.1 (the AWS provider that makes
the bucket runs on the host).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_docker as docker

from components.config import LocalSettings
from components.credentials import Credentials, CredentialsArgs
from components.endpoint import endpoint_outputs
from components.renderers.distribution import CONFIG_PATH, RedisBackend, S3Backend, render_distribution_config
from components.renderers.nginx import render_nginx_config
from components.renderers.redis import render_redis_config
from components.storage import ObjectStorage, ObjectStorageArgs
from components.tls import Tls, TlsArgs

IMAGES = {
    "2": "registry:2.8.3",
    "3": "registry:3.0.0",
    "edge": "nginx:1.28.0-alpine",
    "redis": "redis:7.4.2-alpine",
    # maintained, Apache-2.0, S3 versioning; MinIO's images are gone (FIELD-NOTES)
    "object-store": "chrislusf/seaweedfs:4.47",
}
OBJECT_STORE_REGION = "us-east-1"
REGISTRY_PORT = 5000
EDGE_PORT = 443
EDGE_HEALTH_PORT = 8081
S3_PORT = 8333


@dataclass(frozen=True)
class LocalRegistryArgs:
    settings: LocalSettings
    credentials: Credentials
    tls: Tls


class LocalRegistry(pulumi.ComponentResource):
    """Needs `docker` and `aws` providers from the caller (the aws one points at the object store)."""

    registries: list[docker.Container]
    edge: docker.Container
    storage: ObjectStorage

    def __init__(self, name: str, args: LocalRegistryArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("registry:local:LocalRegistry", name, None, opts)
        s, creds = args.settings, args.credentials
        child = pulumi.ResourceOptions(parent=self)
        frontend = docker.Network(f"{name}-frontend", name=f"{name}-frontend", opts=child)
        backend = docker.Network(f"{name}-backend", name=f"{name}-backend", internal=True, opts=child)
        images = {
            role: docker.RemoteImage(f"{name}-image-{role}", name=ref, keep_locally=True, opts=child)
            for role, ref in IMAGES.items()
            if role in ("edge", "redis", "object-store", s.version)
        }

        # ---- object store: the S3 API the registries and the host-side AWS provider use
        access_key, secret_key = creds.object_store_access_key, creds.object_store_secret_key
        if access_key is None or secret_key is None:
            raise ValueError("LocalRegistry needs Credentials(object_store_keys=True)")
        objects = docker.Volume(f"{name}-objects", name=f"{name}-objects", opts=child)
        s3_identities: pulumi.Output[str] = pulumi.Output.secret(
            pulumi.Output.all(access_key, secret_key).apply(
                lambda keys: json.dumps(
                    {
                        "identities": [
                            {
                                "name": "registry",
                                "credentials": [{"accessKey": keys[0], "secretKey": keys[1]}],
                                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                            }
                        ]
                    }
                )
            )
        )
        object_store = docker.Container(
            f"{name}-object-store",
            name=f"{name}-object-store",
            image=images["object-store"].image_id,
            command=["server", "-dir=/data", "-s3", f"-s3.port={S3_PORT}", "-s3.config=/etc/seaweedfs/s3.json"],
            uploads=[
                docker.ContainerUploadArgs(file="/etc/seaweedfs/s3.json", content=s3_identities, permissions="0600")
            ],
            volumes=[docker.ContainerVolumeArgs(volume_name=objects.name, container_path="/data")],
            networks_advanced=[
                docker.ContainerNetworksAdvancedArgs(name=backend.name, aliases=["object-store"]),
                docker.ContainerNetworksAdvancedArgs(name=frontend.name),
            ],
            ports=[docker.ContainerPortArgs(internal=S3_PORT, external=s.object_store_port, ip="127.0.0.1")],
            healthcheck=_health(["curl", "-s", "-o", "/dev/null", f"http://127.0.0.1:{S3_PORT}/"]),
            restart="unless-stopped",
            wait=True,
            wait_timeout=120,
            opts=child,
        )
        # SeaweedFS has no account-level ACLs: the public-access-block and ownership APIs do
        # not apply; the bucket is reachable only through loopback and the internal network.
        self.storage = ObjectStorage(
            f"{name}-storage",
            ObjectStorageArgs(settings=s.storage, public_access_block=False, ownership_controls=False),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[object_store]),
        )

        # ---- cache
        redis = docker.Container(
            f"{name}-redis",
            name=f"{name}-redis",
            image=images["redis"].image_id,
            command=["redis-server", "/usr/local/etc/redis/redis.conf"],
            uploads=[
                docker.ContainerUploadArgs(
                    file="/usr/local/etc/redis/redis.conf",
                    content=pulumi.Output.secret(
                        creds.redis_password.apply(lambda pw: render_redis_config(password=pw))
                    ),
                    permissions="0644",
                )
            ],
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=backend.name, aliases=["redis"])],
            healthcheck=_health(
                [
                    "sh",
                    "-c",
                    'redis-cli -a "$(sed -n \'s/^requirepass "\\(.*\\)"/\\1/p\' /usr/local/etc/redis/redis.conf)" --no-auth-warning ping | grep -q PONG',
                ]
            ),
            restart="unless-stopped",
            wait=True,
            opts=child,
        )

        # ---- registries: identical config, so any instance can serve any request
        registry_config: pulumi.Output[str] = pulumi.Output.secret(
            pulumi.Output.all(
                creds.http_secret, self.storage.bucket_name, access_key, secret_key, creds.redis_password
            ).apply(
                lambda v: render_distribution_config(
                    version=s.version,
                    http_secret=v[0],
                    s3=S3Backend(
                        bucket=v[1],
                        region=OBJECT_STORE_REGION,
                        endpoint=f"http://object-store:{S3_PORT}",
                        access_key=v[2],
                        secret_key=v[3],
                        encrypt=False,  # the bucket's default encryption applies; S3-compatible servers vary on the header
                    ),
                    redis=RedisBackend(address="redis:6379", password=v[4]) if s.cache.enabled else None,
                    upload_purging_age_hours=s.upload_purging.age_hours,
                    upload_purging_interval_hours=s.upload_purging.interval_hours,
                )
            )
        )
        self.registries = [
            docker.Container(
                f"{name}-registry-{i}",
                name=f"{name}-registry-{i}",
                image=images[s.version].image_id,
                uploads=[
                    docker.ContainerUploadArgs(file=CONFIG_PATH[s.version], content=registry_config, permissions="0644")
                ],
                envs=["OTEL_TRACES_EXPORTER=none"],
                networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=backend.name, aliases=[f"registry-{i}"])],
                healthcheck=_health(["wget", "-q", "-O", "/dev/null", f"http://127.0.0.1:{REGISTRY_PORT}/"]),
                restart="unless-stopped",
                wait=True,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.storage, redis]),
            )
            for i in range(s.replicas)
        ]

        # ---- edge: TLS, auth with the pull/push split, failover across the registries
        nginx_conf = render_nginx_config(
            server_name=s.domain,
            upstreams=[f"registry-{i}:{REGISTRY_PORT}" for i in range(s.replicas)],
            listen_port=EDGE_PORT,
            health_port=EDGE_HEALTH_PORT,
        )
        self.edge = docker.Container(
            f"{name}-edge",
            name=f"{name}-edge",
            image=images["edge"].image_id,
            uploads=[
                docker.ContainerUploadArgs(file="/etc/nginx/nginx.conf", content=nginx_conf, permissions="0644"),
                docker.ContainerUploadArgs(
                    file="/etc/nginx/tls/server.crt", content=args.tls.cert_pem, permissions="0644"
                ),
                docker.ContainerUploadArgs(
                    file="/etc/nginx/tls/server.key", content=args.tls.private_key_pem, permissions="0600"
                ),
                docker.ContainerUploadArgs(file="/etc/nginx/auth/htpasswd", content=creds.htpasswd, permissions="0644"),
                docker.ContainerUploadArgs(
                    file="/etc/nginx/auth/htpasswd.push", content=creds.htpasswd_push, permissions="0644"
                ),
            ],
            ports=[docker.ContainerPortArgs(internal=EDGE_PORT, external=s.port)],
            networks_advanced=[
                docker.ContainerNetworksAdvancedArgs(name=frontend.name),
                docker.ContainerNetworksAdvancedArgs(name=backend.name),
            ],
            healthcheck=_health(["wget", "-q", "-O", "/dev/null", f"http://127.0.0.1:{EDGE_HEALTH_PORT}/healthz"]),
            restart="unless-stopped",
            wait=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=self.registries),
        )
        self.register_outputs({"edge": self.edge.id, "registries": [r.id for r in self.registries]})


def _health(command: list[str]) -> docker.ContainerHealthcheckArgs:
    return docker.ContainerHealthcheckArgs(
        tests=["CMD", *command], interval="5s", timeout="3s", retries=5, start_period="5s"
    )


def deploy(settings: LocalSettings) -> dict[str, Any]:
    """Providers, shared pieces and the registry for `target: local`; returns the stack outputs."""
    creds = Credentials("registry-credentials", CredentialsArgs(users=list(settings.users), object_store_keys=True))
    cert = Tls("registry-tls", TlsArgs.for_settings(settings))
    docker_provider = docker.Provider("registry-docker")
    object_store = aws.Provider(
        "registry-object-store-api",
        region=OBJECT_STORE_REGION,
        access_key=creds.object_store_access_key,
        secret_key=creds.object_store_secret_key,
        skip_credentials_validation=True,
        skip_requesting_account_id=True,
        skip_metadata_api_check=True,
        skip_region_validation=True,
        s3_use_path_style=True,
        endpoints=[aws.ProviderEndpointArgs(s3=f"http://127.0.0.1:{settings.object_store_port}")],
    )
    registry = LocalRegistry(
        "registry",
        LocalRegistryArgs(settings=settings, credentials=creds, tls=cert),
        opts=pulumi.ResourceOptions(providers={"docker": docker_provider, "aws": object_store}),
    )
    host = settings.domain if settings.port == 443 else f"{settings.domain}:{settings.port}"
    return {
        **endpoint_outputs(
            host=host, users=list(settings.users), passwords=creds.passwords, ca_cert_pem=cert.ca_cert_pem
        ),
        "registryInstances": len(registry.registries),
        "bucket": registry.storage.bucket_name,
    }
