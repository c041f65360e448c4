"""The aws target's registry config, run by the build it deploys, against a Redis that speaks only
TLS as ElastiCache's in-transit encryption does (no client certificate asked for).

distribution 3.0.0 turns TLS to Redis on only with a client pair configured and verifies the
server against the system roots (components/renderers/distribution.py RedisTls): here
SSL_CERT_FILE holds the test CA, on aws the image's bundle holds Amazon's roots. And what a client
sees while that Redis is gone: a manifest DELETE answers 500 UNKNOWN having deleted nothing (the
cache's Clear runs before storage is touched: registry/storage/linkedblobstore.go Delete), pulls
go on from storage, and the same DELETE succeeds once Redis is back.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from components.aws.registry import registry_config_text
from components.config import AwsSettings, load_settings
from components.renderers.distribution import SECRET_ENV
from components.renderers.redis import render_redis_config
from testbench.sandbox import (
    LOOPBACK,
    Sandbox,
    free_port,
    generate_password,
    http_status,
    local_settings,
    write_certificates,
)
from tests.conftest import ROOT
from tools.maintenance.retention import RegistryApi
from tools.oci_image import MANIFEST_TYPE, OciImage, build_image
from tools.redis_client import redis_command
from tools.stack_config import load_project, load_stack_config
from tools.verify import pull_image, push_image

pytestmark = pytest.mark.dataplane


@dataclass(frozen=True)
class TlsCache:
    address: str  # localhost:<port>: the name its certificate carries
    password: str
    config: Path
    verify: ssl.SSLContext

    def command(self, *args: str) -> str | None:
        return redis_command(self.address, self.password, *args, tls=self.verify)


@dataclass(frozen=True)
class AwsRegistry:
    url: str
    cache: TlsCache


def tls_cache(box: Sandbox, work: Path) -> TlsCache:
    write_certificates(work, common_name="localhost", dns_names=["localhost"], ip_addresses=[LOOPBACK], validity_days=2)
    port, password = free_port(), generate_password(32)
    config = work / "redis.conf"
    tls_only = [f"tls-port {port}", "tls-auth-clients no"]  # ElastiCache asks for no client certificate
    tls_only += [f"tls-cert-file {work / 'server.crt'}", f"tls-key-file {work / 'server.key'}"]
    config.write_text(render_redis_config(password=password, port=0, bind=LOOPBACK) + "\n".join(tls_only) + "\n")
    return TlsCache(f"localhost:{port}", password, config, ssl.create_default_context(cafile=str(work / "ca.crt")))


def start_cache(box: Sandbox, cache: TlsCache) -> None:
    box.spawn("redis-tls", ["redis-server", str(cache.config)], ready=lambda: cache.command("PING") == "PONG")


def aws_config(box: Sandbox, cache: TlsCache, client: Path, port: int) -> dict[str, object]:
    """What the prod stack's tasks run, with only the addresses this machine has: the sandbox's
    S3 section (endpoint and keys instead of the task role), this Redis, a loopback port."""
    raw, secret = load_stack_config(load_project(ROOT), "prod")
    settings = load_settings(raw, frozenset(secret))
    assert isinstance(settings, AwsSettings)
    config = yaml.safe_load(registry_config_text(settings, bucket="b", region="eu-west-1", redis_address=cache.address))
    assert config["redis"]["tls"] == {
        "certificate": "/etc/distribution/redis-client.crt",
        "key": "/etc/distribution/redis-client.key",
    }
    config["redis"]["tls"] = {"certificate": str(client / "server.crt"), "key": str(client / "server.key")}
    config["storage"]["s3"] = yaml.safe_load((box.dir / "registry-0.yml").read_text())["storage"]["s3"]
    config["http"]["addr"] = f"{LOOPBACK}:{port}"
    return config


@pytest.fixture(scope="module")
def box() -> Iterator[Sandbox]:
    with Sandbox(local_settings(replicas=1)) as running:
        yield running


@pytest.fixture(scope="module")
def aws_registry(box: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> AwsRegistry:
    cache = tls_cache(box, tmp_path_factory.mktemp("redis-tls"))
    start_cache(box, cache)
    client = tmp_path_factory.mktemp("redis-client")  # any pair: it only switches TLS on
    write_certificates(client, common_name="client", dns_names=["client"], ip_addresses=[], validity_days=2)
    port = free_port()
    path = tmp_path_factory.mktemp("aws-registry") / "config.yml"
    path.write_text(yaml.safe_dump(aws_config(box, cache, client, port)))
    names = SECRET_ENV["3"]
    environment = {
        names["http_secret"]: generate_password(32),
        names["redis_password"]: cache.password,
        "SSL_CERT_FILE": str(cache.config.parent / "ca.crt"),  # the image's bundle, on aws
    }
    url = f"http://{LOOPBACK}:{port}"
    box.spawn(
        "registry-aws",
        [box.registry_binary, "serve", str(path)],
        environment,
        ready=lambda: http_status(f"{url}/v2/") == 200,
    )
    return AwsRegistry(url, cache)


def pushed(registry: AwsRegistry, repository: str) -> OciImage:
    image = build_image([8192, 1024])
    with httpx.Client(base_url=registry.url, timeout=30) as client:
        push_image(client, repository, "v1", image)
        pull_image(client, repository, "v1", image)
    return image


def test_the_aws_config_fills_a_tls_only_redis_and_deletes(aws_registry: AwsRegistry) -> None:
    cache = aws_registry.cache
    assert redis_command(cache.address, cache.password, "PING") is None, "the cache takes no plaintext"
    image = pushed(aws_registry, "tls/cached")
    assert int(cache.command("DBSIZE") or 0) > 0, "the registry wrote its blob descriptors over TLS"
    with httpx.Client(base_url=aws_registry.url, timeout=30) as client:
        # the cache's Clear step runs over the verified connection (FIELD-NOTES: 500 when it cannot)
        assert client.delete(f"/v2/tls/cached/manifests/{image.manifest_digest}").status_code == 202
        assert client.head(f"/v2/tls/cached/manifests/{image.manifest_digest}").status_code == 404


def test_while_redis_is_gone_a_delete_deletes_nothing_and_succeeds_once_it_is_back(
    box: Sandbox, aws_registry: AwsRegistry
) -> None:
    image = pushed(aws_registry, "tls/outage")
    manifest = f"/v2/tls/outage/manifests/{image.manifest_digest}"
    box.kill("redis-tls")
    try:
        with httpx.Client(base_url=aws_registry.url, timeout=60) as client:
            refused = client.delete(manifest)
            assert refused.status_code == 500 and refused.json()["errors"][0]["code"] == "UNKNOWN"
            assert client.get(manifest, headers={"Accept": MANIFEST_TYPE}).status_code == 200
            pull_image(client, "tls/outage", "v1", image)  # served from storage meanwhile
    finally:
        start_cache(box, aws_registry.cache)
    with httpx.Client(base_url=aws_registry.url, timeout=60) as client:
        assert client.get(manifest, headers={"Accept": MANIFEST_TYPE}).status_code == 200, "nothing was deleted"
        # Redis came back empty: until the descriptor is cached again a DELETE may answer 404
        # MANIFEST_UNKNOWN, deleting nothing; retention's DELETE checks a 404 with a HEAD, which caches it
        assert RegistryApi(aws_registry.url).delete("tls/outage", image.manifest_digest) is True
        assert client.head(manifest).status_code == 404
