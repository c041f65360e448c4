"""`local`: the registry on the Docker engine that runs `pulumi up`.

`deploy` is all `__main__.py` calls; the components live beside it (registry.py)."""

from __future__ import annotations

import os
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_docker as docker

from components.config import LocalSettings
from components.credentials import Credentials, CredentialsArgs
from components.endpoint import endpoint_outputs
from components.local.registry import OBJECT_STORE_KEY_WARNING, REDIS_CONFIG, LocalRegistry, LocalRegistryArgs
from components.renderers.distribution import CONFIG_PATH
from components.renderers.metrics import EDGE_STATUS_PATH, prometheus_scrape_config, registry_metrics_path
from components.renderers.mirrors import mirror_outputs
from components.renderers.nginx import EdgeFiles
from components.renderers.schedule import crontab_line
from components.renderers.seaweedfs import REGION as OBJECT_STORE_REGION
from components.signing import SigningKeyPair, local_signing_outputs
from components.tls import Tls, TlsArgs


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
    host = settings.host(settings.port)
    return {
        **endpoint_outputs(
            host=host,
            settings=settings,
            passwords=creds.passwords,
            ca_cert_pem=cert.ca_cert_pem,
        ),
        **mirror_outputs(settings.mirrors, host=host, root_host=settings.host, private_ca=True),
        **(
            local_signing_outputs(SigningKeyPair("registry-signing"), registry=host) if settings.signing.enabled else {}
        ),
        "registryInstances": len(registry.registries),
        "bucket": registry.storage.bucket_name,
        "objectStoreEncryption": OBJECT_STORE_KEY_WARNING,
        "metrics": _metrics_outputs(settings),
        # where `python -m tools.maintenance <flush-cache|gc> --stack <stack>` acts
        "maintenance": _maintenance_target(settings, registry, host, cert),
        "objectStoreSseKey": creds.object_store_sse_key,
        # registry:maintenance: nothing on this host runs it by itself; add the line with `crontab -e`
        "maintenanceCron": (
            crontab_line(settings.maintenance, project_dir=os.getcwd(), stack=pulumi.get_stack())
            if settings.maintenance is not None
            else None
        ),
    }


def _metrics_outputs(settings: LocalSettings) -> dict[str, Any]:
    """The admins' metrics listener on this host, and a Prometheus scrape config for it."""
    reader = settings.admins[0] if settings.admins else "<an admin>"
    return {
        "url": f"https://localhost:{settings.metrics_port}",
        "readers": settings.admins,
        "paths": [*(registry_metrics_path(i) for i in range(settings.replicas)), EDGE_STATUS_PATH],
        "prometheusScrapeConfig": prometheus_scrape_config(
            host="localhost", port=settings.metrics_port, instances=settings.replicas, user=reader, ca_file="ca.crt"
        ),
    }


def _maintenance_target(settings: LocalSettings, registry: LocalRegistry, host: str, cert: Tls) -> dict[str, Any]:
    """Where tools.maintenance and tools.status act: the containers, the flag, the store, the metrics."""
    return {
        "target": "local",
        "cacheContainer": registry.redis.name if registry.redis is not None else None,
        "cacheConfig": REDIS_CONFIG,
        "edgeContainer": registry.edge.name,
        "freezeFlag": EdgeFiles().freeze_flag,
        "registryContainer": registry.registries[0].name,
        "registryConfig": CONFIG_PATH[settings.version],
        "objectStoreEndpoint": f"http://127.0.0.1:{settings.object_store_port}",
        "registryUrl": f"https://{host}",
        "caCertificate": cert.ca_cert_pem,
        "retention": settings.retention.model_dump(by_alias=True) if settings.retention else None,
        "metricsUrl": f"https://localhost:{settings.metrics_port}",
        "instances": settings.replicas,
    }
