"""`local`: an HA registry on the Docker engine that runs `pulumi up`.

    host :port ──TLS──> edge (nginx) ──> registry-0..N-1 ──> object store (S3 API, versioned)
                          │                        └────> redis (blob-descriptor cache)
                          └─ /v2/<mirror>/, :<mirror port> ──> mirror-<k>-0..1 (proxy mode) ──> upstream

Registries, Redis and the object store sit on an internal network; only the edge is
published, and the object store's S3 API only on 127.0.0.1 (the AWS provider that makes
the bucket runs on the host).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from components import health, images
from components.config import LocalSettings
from components.config.mirrors import SelfHostedMirror
from components.credentials import Credentials
from components.renderers.distribution import (
    CONFIG_PATH,
    METRICS_PORT,
    REGISTRY_ENVIRONMENT,
    local_registry_config,
    mirror_serve_script,
    upstream_ca_path,
)
from components.renderers.expiry import login_expiries
from components.renderers.metrics import EdgeMetrics
from components.renderers.mirrors import edge_mirrors, mirror_instances, root_mirrors, upstream_authorization
from components.renderers.nginx import EdgeFiles, EdgeRuntime, mirror_login_script, render_nginx_config
from components.renderers.redis import render_redis_config
from components.renderers.seaweedfs import (
    ADMIN_PASSWORD_ENV,
    IDENTITIES_PATH,
    S3_PORT,
    SSE_KEY_ENV,
    render_s3_identities,
    seaweedfs_mini_args,
)
from components.renderers.seaweedfs import HEALTH_PATH as SEAWEEDFS_HEALTH_PATH
from components.renderers.seaweedfs import RUN_AS_GID as SEAWEEDFS_GID
from components.renderers.seaweedfs import RUN_AS_UID as SEAWEEDFS_UID
from components.storage import ObjectStorage, ObjectStorageArgs
from components.tls import Tls

OBJECT_STORE_KEY_WARNING = (
    "SeaweedFS encrypts every stored object with the key in the objectStoreSseKey output (a secret kept only "
    "in this stack's state): back up the state and its passphrase, or `pulumi stack output --show-secrets "
    "objectStoreSseKey`; losing the key makes every stored image unreadable"
)
REGISTRY_PORT = 5000
EDGE_PORT = 443
EDGE_HEALTH_PORT = 8081
EDGE_METRICS_PORT = 9443  # the admins' metrics listener in the edge container (metrics.py)
REDIS_CONFIG = "/usr/local/etc/redis/redis.conf"
# numeric ids: the Docker provider resolves names on the machine running Pulumi, not in the image
NGINX_GID = "101"  # user nginx in nginx:alpine; its workers read the htpasswd file
EDGE_FILES = EdgeFiles()
# containers on a user-defined network resolve names through Docker's embedded DNS server, which
# nginx must be told of (it reads no resolv.conf): the mirrors' upstreams are looked up there
EDGE_RUNTIME = EdgeRuntime(resolver="127.0.0.11")
REDIS_UID, REDIS_GID = "999", "1000"  # redis:alpine's entrypoint drops to user redis (gosu) and chowns no config


@dataclass(frozen=True)
class LocalRegistryArgs:
    settings: LocalSettings
    credentials: Credentials
    tls: Tls


class LocalRegistry(pulumi.ComponentResource):
    """Needs `docker` and `aws` providers from the caller (the aws one points at the object store)."""

    registries: list[docker.Container]
    mirrors: dict[str, list[docker.Container]]  # each mirror's instances, the first serving
    edge: docker.Container
    storage: ObjectStorage
    object_store: docker.Container
    redis: docker.Container | None

    def __init__(self, name: str, args: LocalRegistryArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("registry:local:LocalRegistry", name, None, opts)
        s = args.settings
        self._name, self._settings, self._creds = name, s, args.credentials
        child = pulumi.ResourceOptions(parent=self)
        self._frontend = docker.Network(f"{name}-frontend", name=f"{name}-frontend", opts=child)
        self._backend = docker.Network(f"{name}-backend", name=f"{name}-backend", internal=True, opts=child)
        wanted = {"object-store": images.OBJECT_STORE, "edge": images.EDGE, s.version: images.REGISTRY[s.version]}
        if s.cache.enabled:
            wanted["redis"] = images.REDIS
        self._images = {
            role: docker.RemoteImage(f"{name}-image-{role}", name=ref, keep_locally=True, opts=child)
            for role, ref in wanted.items()
        }
        self.object_store = self._object_store()
        # SeaweedFS answers PublicAccessBlock with 501 NotImplemented (weed/s3api/s3api_bucket_policy_handlers.go);
        # ownership controls exist but mean nothing with one identity. The bucket is only reachable
        # through loopback and the internal network.
        self.storage = ObjectStorage(
            f"{name}-storage",
            ObjectStorageArgs(settings=s.storage, public_access_block=False, ownership_controls=False),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.object_store]),
        )
        self.redis = self._cache() if s.cache.enabled else None
        self.registries = [self._registry(i) for i in range(s.replicas)]
        self.mirrors = {
            m.name: [self._mirror(k, m, i) for i in range(mirror_instances(s.replicas))]
            for k, m in enumerate(s.mirrors)
        }
        self.edge = self._edge(args.tls)
        self.register_outputs(
            {
                "edge": self.edge.id,
                "registries": [r.id for r in self.registries],
                "mirrors": {name: [c.id for c in instances] for name, instances in self.mirrors.items()},
            }
        )

    def _object_store(self) -> docker.Container:
        """SeaweedFS `weed mini`: the S3 API the registries and the host-side AWS provider use."""
        name, creds = self._name, self._creds
        keys = (creds.object_store_access_key, creds.object_store_secret_key)
        sse_key, admin_password = creds.object_store_sse_key, creds.object_store_admin_password
        if keys[0] is None or keys[1] is None or sse_key is None or admin_password is None:
            raise ValueError("LocalRegistry needs Credentials(object_store_keys=True)")
        identities: pulumi.Output[str] = pulumi.Output.secret(
            pulumi.Output.all(*keys).apply(lambda k: render_s3_identities(access_key=k[0], secret_key=k[1]))
        )
        objects = docker.Volume(f"{name}-objects", name=f"{name}-objects", opts=pulumi.ResourceOptions(parent=self))
        return docker.Container(
            f"{name}-object-store",
            name=f"{name}-object-store",
            image=self._images["object-store"].image_id,
            command=seaweedfs_mini_args(),
            envs=[  # concat keeps the secrets secret
                pulumi.Output.concat(f"{SSE_KEY_ENV}=", sse_key),
                pulumi.Output.concat(f"{ADMIN_PASSWORD_ENV}=", admin_password),
            ],
            uploads=[
                docker.ContainerUploadArgs(
                    file=IDENTITIES_PATH,
                    content=identities,
                    owner=str(SEAWEEDFS_UID),
                    group=str(SEAWEEDFS_GID),
                    permissions="0600",
                )
            ],
            volumes=[docker.ContainerVolumeArgs(volume_name=objects.name, container_path="/data")],
            networks_advanced=[
                docker.ContainerNetworksAdvancedArgs(name=self._backend.name, aliases=["object-store"]),
                # publishing a port needs a network that is not internal
                docker.ContainerNetworksAdvancedArgs(name=self._frontend.name),
            ],
            ports=[
                docker.ContainerPortArgs(internal=S3_PORT, external=self._settings.object_store_port, ip="127.0.0.1")
            ],
            healthcheck=_health(health.object_store_alive(S3_PORT, SEAWEEDFS_HEALTH_PATH)),
            restart="unless-stopped",
            wait=True,
            wait_timeout=120,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _cache(self) -> docker.Container:
        config: pulumi.Output[str] = pulumi.Output.secret(
            self._creds.redis_password.apply(lambda pw: render_redis_config(password=pw))
        )
        return docker.Container(
            f"{self._name}-redis",
            name=f"{self._name}-redis",
            image=self._images["redis"].image_id,
            command=["redis-server", REDIS_CONFIG],
            uploads=[
                docker.ContainerUploadArgs(
                    file=REDIS_CONFIG, content=config, owner=REDIS_UID, group=REDIS_GID, permissions="0600"
                )
            ],
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=self._backend.name, aliases=["redis"])],
            healthcheck=_health(health.redis_alive(REDIS_CONFIG)),
            restart="unless-stopped",
            wait=True,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _config(self, mirror: tuple[int, SelfHostedMirror] | None = None) -> pulumi.Output[str]:
        """A registry's config.yml (a mirror's with `mirror`), secret: it holds every credential."""
        s, creds = self._settings, self._creds
        return pulumi.Output.secret(
            pulumi.Output.all(
                creds.http_secret,
                self.storage.bucket_name,
                creds.object_store_access_key,
                creds.object_store_secret_key,
                creds.redis_password,
            ).apply(
                lambda v: local_registry_config(
                    s,
                    http_secret=v[0],
                    bucket=v[1],
                    s3_keys=(v[2], v[3]),
                    redis_password=v[4],
                    mirror=mirror,
                )
            )
        )

    def _registry(self, index: int) -> docker.Container:
        """One of N identical instances: any of them can serve any request."""
        s = self._settings
        config = docker.ContainerUploadArgs(file=CONFIG_PATH[s.version], content=self._config(), permissions="0600")
        return self._registry_container(f"registry-{index}", f"registry-{index}", [config], [])

    def _mirror(self, index: int, mirror: SelfHostedMirror, instance: int) -> docker.Container:
        """An instance of mirror `index`: distribution in proxy mode on the mirror's own storage root
        and Redis database; trusting only `caCertificate` when the upstream has a private CA (Go's
        SSL_CERT_FILE replaces the system roots, crypto/x509 root_unix.go)."""
        s = self._settings
        uploads = [
            docker.ContainerUploadArgs(
                file=CONFIG_PATH[s.version], content=self._config((index, mirror)), permissions="0600"
            )
        ]
        envs = []
        if mirror.ca_certificate is not None:
            ca = upstream_ca_path(s.version)
            uploads.append(docker.ContainerUploadArgs(file=ca, content=mirror.ca_certificate, permissions="0644"))
            envs.append(f"SSL_CERT_FILE={ca}")
        return self._registry_container(
            f"mirror-{mirror.name}-{instance}",
            f"mirror-{index}-{instance}",
            uploads,
            envs,
            # kept serving while its upstream is down; `pulumi up` does not wait for the upstream
            script=mirror_serve_script(CONFIG_PATH[s.version]),
        )

    def _registry_container(
        self,
        role: str,
        alias: str,
        uploads: list[docker.ContainerUploadArgs],
        envs: list[str],
        script: str | None = None,
    ) -> docker.Container:
        """A distribution container `<name>-<role>` on the internal network, known there as `alias`;
        `script` (shell) replaces the image's entrypoint (`registry serve <config>`), and `pulumi up`
        then does not wait for it to be healthy."""
        s = self._settings
        name = f"{self._name}-{role}"
        depends: list[pulumi.Resource] = [self.storage, *([self.redis] if self.redis is not None else [])]
        return docker.Container(
            name,
            name=name,
            image=self._images[s.version].image_id,
            entrypoints=["/bin/sh", "-c"] if script else None,
            command=[script] if script else None,
            uploads=uploads,
            envs=[*(f"{k}={v}" for k, v in REGISTRY_ENVIRONMENT.items()), *envs],
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=self._backend.name, aliases=[alias])],
            healthcheck=_health(health.registry_alive(REGISTRY_PORT)),
            restart="unless-stopped",
            wait=script is None,
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends),
        )

    def _edge(self, certificate: Tls) -> docker.Container:
        """TLS, auth with the pull/push split, failover across the registries."""
        s = self._settings
        nginx_conf = render_nginx_config(
            server_names=s.edge_names,
            public_port=s.port,
            upstreams=[f"registry-{i}:{REGISTRY_PORT}" for i in range(s.replicas)],
            grants=s.edge_grants,
            expiries=login_expiries(s.users),
            listen_port=EDGE_PORT,
            health_port=EDGE_HEALTH_PORT,
            mirrors=edge_mirrors(
                s.mirrors,
                lambda k: [f"mirror-{k}-{i}:{REGISTRY_PORT}" for i in range(mirror_instances(s.replicas))],
                s.version,
                EDGE_FILES,
            ),
            runtime=EDGE_RUNTIME,
            # each registry's debug listener (METRICS_PORT) is on the backend network only, published nowhere
            metrics=EdgeMetrics(
                EDGE_METRICS_PORT, [f"registry-{i}:{METRICS_PORT}" for i in range(s.replicas)], s.admins
            ),
        )
        files = EDGE_FILES
        return docker.Container(
            f"{self._name}-edge",
            name=f"{self._name}-edge",
            image=self._images["edge"].image_id,
            uploads=[
                docker.ContainerUploadArgs(file="/etc/nginx/nginx.conf", content=nginx_conf, permissions="0644"),
                docker.ContainerUploadArgs(file=files.certificate, content=certificate.cert_pem, permissions="0644"),
                docker.ContainerUploadArgs(
                    file=files.certificate_key, content=certificate.private_key_pem, permissions="0600"
                ),
                # the master (root) opens it, workers (group nginx) read it on every request
                docker.ContainerUploadArgs(
                    file=files.htpasswd, content=self._creds.htpasswd, group=NGINX_GID, permissions="0640"
                ),
                *_edge_mirror_uploads(s.mirrors),
            ],
            ports=[
                docker.ContainerPortArgs(internal=EDGE_PORT, external=s.port),
                docker.ContainerPortArgs(internal=EDGE_METRICS_PORT, external=s.metrics_port, ip="127.0.0.1"),
                *(docker.ContainerPortArgs(internal=r.edge_port, external=r.port) for r in root_mirrors(s.mirrors)),
            ],
            networks_advanced=[
                docker.ContainerNetworksAdvancedArgs(name=self._frontend.name),
                docker.ContainerNetworksAdvancedArgs(name=self._backend.name),
            ],
            healthcheck=_health(health.edge_alive(EDGE_HEALTH_PORT)),
            restart="unless-stopped",
            wait=True,
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[*self.registries, *(c for cs in self.mirrors.values() for c in cs)]
            ),
        )


def _edge_mirror_uploads(mirrors: Sequence[SelfHostedMirror]) -> list[docker.ContainerUploadArgs]:
    """What the edge explains mirror failures with: mirror_login.js, each mirror's upstream login
    (a secret the workers read) and private CA."""
    if not mirrors:
        return []
    uploads = [
        docker.ContainerUploadArgs(file=EDGE_FILES.mirror_script, content=mirror_login_script(), permissions="0644")
    ]
    for index, mirror in enumerate(mirrors):
        login = upstream_authorization(mirror)
        if login is not None:
            uploads.append(
                docker.ContainerUploadArgs(
                    file=EDGE_FILES.mirror_login(index),
                    content=pulumi.Output.secret(login),
                    group=NGINX_GID,
                    permissions="0640",
                )
            )
        if mirror.ca_certificate is not None:
            uploads.append(
                docker.ContainerUploadArgs(
                    file=EDGE_FILES.mirror_ca(index), content=mirror.ca_certificate, permissions="0644"
                )
            )
    return uploads


def _health(command: list[str]) -> docker.ContainerHealthcheckArgs:
    return docker.ContainerHealthcheckArgs(
        tests=command,
        interval=f"{health.INTERVAL_SECONDS}s",
        timeout=f"{health.TIMEOUT_SECONDS}s",
        retries=health.RETRIES,
        start_period=f"{health.START_PERIOD_SECONDS}s",
    )
