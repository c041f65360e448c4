"""The `local` target under the recording mocks: what it declares, wired how, with secrets kept secret."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from components import health, images
from components.renderers.distribution import mirror_serve_script
from components.renderers.nginx import basic_authorization, mirror_login_script
from components.renderers.seaweedfs import seaweedfs_mini_args
from tests.conftest import ROOT, RunStack, provider_modules_loaded_by
from tools.mock_program import ProgramRun, Registration, Secret, plaintext_leaks, unwrap

CONTAINER = "docker:index/container:Container"


@pytest.fixture(scope="module")
def local() -> ProgramRun:
    from tools.mock_program import run_program

    return run_program(ROOT, "local")


def registries(run: ProgramRun) -> list[Registration]:
    found = [r for r in run.of_type(CONTAINER) if re.fullmatch(r"registry-registry-\d+", r.name)]
    return sorted(found, key=lambda r: int(r.name.rsplit("-", 1)[1]))


def upload(container: Registration, path: str) -> Any:
    uploads = container.inputs["uploads"]
    assert isinstance(uploads, Secret), f"{container.name} uploads hold secrets and must be secret"
    matches = [u for u in unwrap(uploads) if u["file"] == path]
    assert len(matches) == 1, f"{container.name} has no upload {path}"
    return matches[0]


def registry_config(container: Registration, path: str = "/etc/distribution/config.yml") -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(upload(container, path)["content"])
    return config


def test_declares_exactly_replicas_registry_containers(local: ProgramRun) -> None:
    assert [r.name for r in registries(local)] == [f"registry-registry-{i}" for i in range(3)]
    assert local.outputs["registryInstances"] == 3


def test_registries_share_secret_storage_and_redis(local: ProgramRun) -> None:
    configs = [registry_config(r) for r in registries(local)]
    assert all(c == configs[0] for c in configs), "every instance must get the identical config"
    cfg = configs[0]
    secret = unwrap(local.named("registry-credentials-http-secret").outputs["result"])
    assert cfg["http"]["secret"] == secret
    assert cfg["storage"]["s3"]["bucket"] == local.outputs["bucket"]
    assert cfg["storage"]["s3"]["regionendpoint"] == "http://object-store:8333"
    assert cfg["storage"]["s3"]["accesskey"] == unwrap(
        local.named("registry-credentials-object-store-access-key").outputs["result"]
    )
    assert cfg["storage"]["cache"] == {"blobdescriptor": "redis"}
    assert cfg["redis"]["addrs"] == ["redis:6379"] and "tls" not in cfg["redis"]  # plaintext on the internal network
    assert cfg["redis"]["password"] == unwrap(local.named("registry-credentials-redis-password").outputs["result"])
    assert cfg["storage"]["redirect"] == {"disable": True}
    assert cfg["storage"]["s3"]["forcepathstyle"] is True  # 3.x defaults to virtual-host style
    # the debug listener (it publishes the configuration, secrets included, at /debug/vars) on the backend
    # network only: published nowhere; the edge passes on /metrics alone (test_edge_serves_metrics_to_admins_only)
    assert cfg["http"]["debug"] == {"addr": ":5001", "prometheus": {"enabled": True, "path": "/metrics"}}
    assert all("ports" not in r.inputs for r in registries(local))


def test_registry_containers_are_private_pinned_and_health_checked(local: ProgramRun) -> None:
    backend = local.named("registry-backend")
    assert backend.inputs["internal"] is True
    for i, reg in enumerate(registries(local)):
        assert "ports" not in reg.inputs, "registries must not be published to the host"
        assert reg.inputs["networksAdvanced"] == [{"name": "registry-backend", "aliases": [f"registry-{i}"]}]
        assert reg.inputs["healthcheck"]["tests"] == health.registry_alive(5000)
        assert reg.inputs["restart"] == "unless-stopped"
        assert reg.inputs["wait"] is True
        assert upload(reg, "/etc/distribution/config.yml")["permissions"] == "0600"  # the registry runs as root
    image = local.named("registry-image-3")
    assert image.inputs["name"] == images.REGISTRY["3"] == "registry:3.0.0"


def test_edge_lists_every_registry_and_publishes_the_port(local: ProgramRun) -> None:
    edge = local.named("registry-edge")
    conf = upload(edge, "/etc/nginx/nginx.conf")["content"]
    assert re.findall(r"server (registry-\d+:5000) ", conf) == [f"registry-{i}:5000" for i in range(3)]
    assert "listen 443 ssl;" in conf and "server_name localhost 127.0.0.1 [::1];" in conf
    assert "default $host:5443;" in conf  # upload Locations carry the published port
    assert edge.inputs["healthcheck"]["tests"] == health.edge_alive(8081)
    assert local.named("registry-image-edge").inputs["name"] == images.EDGE == "nginx:1.30.4-alpine"
    assert edge.inputs["ports"] == [
        {"internal": 443.0, "external": 5443.0},
        {"internal": 9443.0, "external": 9443.0, "ip": "127.0.0.1"},  # the admins' metrics: this host only
    ]
    assert {n["name"] for n in edge.inputs["networksAdvanced"]} == {"registry-frontend", "registry-backend"}
    registry_urns = {r.urn for r in registries(local)}
    assert registry_urns <= set(edge.dependencies), "the edge starts after every registry"


def test_edge_auth_files_hold_every_user_and_the_conf_their_grants(local: ProgramRun) -> None:
    edge = local.named("registry-edge")
    users = upload(edge, "/etc/nginx/auth/htpasswd")
    assert [line.split(":")[0] for line in users["content"].splitlines()] == ["admin", "ci", "dev"]
    assert all(line.split(":", 1)[1].startswith("$6$") for line in users["content"].splitlines())
    assert (users["group"], users["permissions"]) == ("101", "0640")  # nginx's workers, nobody else
    conf = upload(edge, "/etc/nginx/nginx.conf")["content"]
    grants = conf.split('map "$remote_user:$edge_action:$edge_repository" $edge_grant {', 1)[1].split("}", 1)[0]
    assert [line.strip() for line in grants.strip().splitlines()] == [
        "default 0;",
        '"~^admin:(?:pull|push|delete):[a-z0-9][a-z0-9._/-]*$" 1;',
        '"~^ci:(?:pull|push):[a-z0-9][a-z0-9._/-]*$" 1;',
        '"~^dev:(?:pull):[a-z0-9][a-z0-9._/-]*$" 1;',
    ]
    assert upload(edge, "/etc/nginx/tls/server.key")["permissions"] == "0600"
    cert = upload(edge, "/etc/nginx/tls/server.crt")["content"]
    assert cert == unwrap(local.named("registry-tls-server").outputs["certPem"])


def test_object_store_only_on_loopback_with_versioned_bucket(local: ProgramRun) -> None:
    store = local.named("registry-object-store")
    assert store.inputs["ports"] == [{"internal": 8333.0, "external": 8333.0, "ip": "127.0.0.1"}]
    assert local.named("registry-image-object-store").inputs["name"] == "chrislusf/seaweedfs:4.48"
    versioning = local.named("registry-storage-versioning")
    assert versioning.inputs["versioningConfiguration"] == {"status": "Enabled"}
    bucket = local.named("registry-storage-bucket")
    assert bucket.inputs["forceDestroy"] is False
    assert store.urn in set(bucket.dependencies) | set(local.named("registry-storage").dependencies)


def test_object_store_runs_weed_mini_bound_everywhere_with_deletion_guards(local: ProgramRun) -> None:
    store = local.named("registry-object-store")
    command = store.inputs["command"]
    assert command == seaweedfs_mini_args()
    assert command[:2] == ["mini", "-dir=/data"]  # mini runs the admin server and the s3_lifecycle worker
    for flag in (
        "-ip.bind=0.0.0.0",  # S3 on the backend network and on the published port alike
        "-s3.port=8333",
        "-s3.config=/etc/seaweedfs/s3.json",
        "-s3.allowDeleteBucketNotEmpty=false",  # `pulumi destroy` stops at a bucket with images
        "-s3.autoCreateBucket=false",
        "-master.telemetry=false",
    ):
        assert flag in command, flag
    assert store.inputs["healthcheck"]["tests"] == [
        "CMD", "curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8333/healthz"
    ]  # fmt: skip
    assert {n["name"] for n in store.inputs["networksAdvanced"]} == {"registry-backend", "registry-frontend"}


def test_object_store_identities_are_readable_by_the_user_weed_runs_as(local: ProgramRun) -> None:
    identities = upload(local.named("registry-object-store"), "/etc/seaweedfs/s3.json")
    assert (identities["owner"], identities["group"], identities["permissions"]) == ("1000", "1000", "0600")
    [identity] = json.loads(identities["content"])["identities"]
    assert identity["credentials"] == [
        {
            "accessKey": unwrap(local.named("registry-credentials-object-store-access-key").outputs["result"]),
            "secretKey": unwrap(local.named("registry-credentials-object-store-secret-key").outputs["result"]),
        }
    ]
    assert identity["actions"] == ["Admin", "Read", "Write", "List", "Tagging"]


def test_object_store_gets_its_encryption_key_and_admin_password_as_secrets(local: ProgramRun) -> None:
    envs = local.named("registry-object-store").inputs["envs"]
    assert isinstance(envs, Secret) or all(isinstance(e, Secret) for e in envs)
    values = dict(e.split("=", 1) for e in unwrap(envs))
    sse_key = unwrap(local.named("registry-credentials-object-store-sse-key").outputs["result"])
    assert values["WEED_S3_SSE_KEY"] == sse_key and len(sse_key) == 64
    admin = unwrap(local.named("registry-credentials-object-store-admin-password").outputs["result"])
    assert values["WEED_ADMIN_PASSWORD"] == admin
    # the bucket's default encryption works only because of that key: say so, and hand it out as a secret
    encryption = local.named("registry-storage-encryption").inputs["rules"][0]
    assert encryption["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}
    assert isinstance(local.outputs["objectStoreSseKey"], Secret)
    assert unwrap(local.outputs["objectStoreSseKey"]) == sse_key
    assert "losing the key makes every stored image unreadable" in local.outputs["objectStoreEncryption"]


def test_bucket_resources_go_through_the_object_store_provider(local: ProgramRun) -> None:
    provider = local.named("registry-object-store-api")
    assert json.loads(provider.inputs["endpoints"]) == [{"s3": "http://127.0.0.1:8333"}]
    assert provider.inputs["s3UsePathStyle"] == "true"  # provider inputs travel as strings
    assert provider.inputs["skipCredentialsValidation"] == provider.inputs["skipRequestingAccountId"] == "true"
    assert isinstance(provider.inputs["secretKey"], Secret)
    for bucket_resource in (r for r in local.resources if r.type.startswith("aws:s3/")):
        assert bucket_resource.provider.startswith(provider.urn + "::"), bucket_resource.name


def test_lifecycle_rules_free_what_the_registry_leaves_behind(local: ProgramRun) -> None:
    rules = {r["id"]: r for r in local.named("registry-storage-lifecycle").inputs["rules"]}
    assert rules["abort-incomplete-multipart-uploads"]["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 7.0}
    assert rules["expire-noncurrent-versions"]["noncurrentVersionExpiration"] == {"noncurrentDays": 30.0}
    assert rules["remove-expired-delete-markers"]["expiration"] == {"expiredObjectDeleteMarker": True}
    assert all(r["status"] == "Enabled" and r["filter"] == {"prefix": ""} for r in rules.values())
    versioning_urn = local.named("registry-storage-versioning").urn
    assert versioning_urn in local.named("registry-storage-lifecycle").dependencies


def test_redis_requires_the_generated_password(local: ProgramRun) -> None:
    redis = local.named("registry-redis")
    conf = upload(redis, "/usr/local/etc/redis/redis.conf")
    password = unwrap(local.named("registry-credentials-redis-password").outputs["result"])
    assert f'requirepass "{password}"' in conf["content"].splitlines()
    assert (conf["owner"], conf["group"], conf["permissions"]) == ("999", "1000", "0600")  # user redis reads it
    assert "ports" not in redis.inputs
    assert redis.inputs["healthcheck"]["tests"] == health.redis_alive("/usr/local/etc/redis/redis.conf")
    assert password not in " ".join(redis.inputs["healthcheck"]["tests"])
    assert local.named("registry-image-redis").inputs["name"] == images.REDIS == "redis:7.4.11-alpine"


def test_generated_secrets_never_appear_in_plaintext(local: ProgramRun) -> None:
    generated = {unwrap(r.outputs["result"]) for r in local.of_type("random:index/randomPassword:RandomPassword")} | {
        unwrap(r.outputs["privateKeyPem"]) for r in local.of_type("tls:index/privateKey:PrivateKey")
    }
    # 3 users, http secret, redis, object store key, SSE key, admin, signing key password; 3 private keys
    assert len(generated) == 12
    for resource in local.resources:
        assert plaintext_leaks(resource.inputs, generated) == [], f"{resource.name} inputs"
        assert plaintext_leaks(resource.outputs, generated) == [], f"{resource.name} outputs"
    assert plaintext_leaks(local.outputs, generated) == []
    assert isinstance(local.outputs["passwords"], Secret)
    assert set(unwrap(local.outputs["passwords"])) == {"admin", "ci", "dev"}


def test_outputs_tell_users_how_to_connect(local: ProgramRun) -> None:
    out = local.outputs
    assert out["url"] == "https://localhost:5443"
    assert out["users"] == [
        {"name": "admin", "access": "admin"},
        {"name": "ci", "access": "push"},
        {"name": "dev", "access": "pull"},
    ]
    assert out["caCertificate"] == unwrap(local.named("registry-tls-ca").outputs["certPem"])
    assert "docker login localhost:5443 --username ci --password-stdin" in out["loginCommand"]
    assert out["loginCommands"] == {
        name: f"pulumi stack output passwords --show-secrets | jq -r '.\"{name}\"' | "
        f"docker login localhost:5443 --username {name} --password-stdin"
        for name in ("admin", "ci", "dev")
    }
    assert "/etc/docker/certs.d/localhost:5443/ca.crt" in " ".join(out["caInstallSteps"])


def test_maintenance_output_names_where_gc_freezes_collects_and_flushes(local: ProgramRun) -> None:
    """What tools.maintenance needs, and that each name is the container the program declared."""
    edge, first_registry = local.named("registry-edge"), local.named("registry-registry-0")
    assert local.outputs["maintenance"] == {
        "target": "local",
        "cacheContainer": unwrap(local.named("registry-redis").inputs["name"]),
        "cacheConfig": "/usr/local/etc/redis/redis.conf",
        "edgeContainer": unwrap(edge.inputs["name"]),
        "freezeFlag": "/var/run/registry-maintenance/writes-frozen",
        "registryContainer": unwrap(first_registry.inputs["name"]),
        "registryConfig": "/etc/distribution/config.yml",
        "objectStoreEndpoint": "http://127.0.0.1:8333",
        "registryUrl": "https://localhost:5443",
        "caCertificate": unwrap(local.named("registry-tls-ca").outputs["certPem"]),
        "retention": None,
        "metricsUrl": "https://localhost:9443",
        "instances": 3,
    }
    conf = upload(edge, "/etc/nginx/nginx.conf")["content"]
    assert "if (!-f /var/run/registry-maintenance/writes-frozen) {" in conf  # the flag the edge checks
    config = yaml.safe_load(upload(first_registry, "/etc/distribution/config.yml")["content"])
    assert "s3" in config["storage"]  # the config gc runs with


def snapshot(run: ProgramRun) -> dict[str, Any]:
    return {r.name: unwrap(r.inputs) for r in run.resources}


def test_changing_replicas_changes_only_what_it_should(run_stack: RunStack, local: ProgramRun) -> None:
    five = run_stack("local", overrides={"registry:replicas": "5"})
    before, after = snapshot(local), snapshot(five)
    assert set(after) - set(before) == {"registry-registry-3", "registry-registry-4"}
    assert set(before) - set(after) == set()
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"registry-edge"}, "only the edge's upstream list may change"
    conf = upload(five.named("registry-edge"), "/etc/nginx/nginx.conf")["content"]
    assert len(re.findall(r"server registry-\d+:5000 ", conf)) == 5


def test_version_2_stays_selectable_with_its_image_and_config_shape(run_stack: RunStack) -> None:
    run = run_stack("local", overrides={"registry:version": "2"})
    assert run.named("registry-image-2").inputs["name"] == "registry:2.8.3"
    cfg = registry_config(registries(run)[0], "/etc/docker/registry/config.yml")
    assert cfg["redis"]["addr"] == "redis:6379" and "forcepathstyle" not in cfg["storage"]["s3"]
    assert cfg["http"]["debug"]["addr"] == ":5001"  # 2.8 has the same debug listener, reached the same way


def test_cache_disabled_deploys_no_redis_and_nothing_waits_for_it(run_stack: RunStack) -> None:
    run = run_stack("local", overrides={"registry:cache": '{"enabled": false}'})
    assert [r.name for r in run.resources if "redis" in r.name and r.type.startswith("docker:")] == []
    cfg = registry_config(registries(run)[0])
    assert cfg["storage"]["cache"] == {"blobdescriptor": "inmemory"} and "redis" not in cfg
    for registry in registries(run):
        containers = [d for d in registry.dependencies if "docker:index/container:Container" in d]
        assert containers == [], f"{registry.name} waits for {containers}"
    with_cache = run_stack("local")
    assert any(d.endswith("::registry-redis") for d in registries(with_cache)[0].dependencies)


def test_ipv6_domain_gives_bracketed_urls_and_login(run_stack: RunStack) -> None:
    run = run_stack("local", overrides={"registry:domain": "::1"})
    assert run.outputs["url"] == "https://[::1]:5443"
    assert "docker login [::1]:5443 --username ci" in run.outputs["loginCommand"]
    assert "/etc/docker/certs.d/[::1]:5443/ca.crt" in " ".join(run.outputs["caInstallSteps"])
    conf = upload(run.named("registry-edge"), "/etc/nginx/nginx.conf")["content"]
    assert "server_name localhost [::1] 127.0.0.1;" in conf


def test_a_stack_without_push_users_warns_before_deploying(
    run_stack: RunStack, caplog: pytest.LogCaptureFixture
) -> None:
    run_stack("local", overrides={"registry:users": '[{"name": "dev", "access": "pull"}]'})
    assert any(
        r.levelname == "WARNING" and r.getMessage().startswith("registry:users: no user may push")
        for r in caplog.records
    )


def test_versioning_off_drops_versioning_and_noncurrent_rules(run_stack: RunStack) -> None:
    run = run_stack("local", overrides={"registry:storage": '{"versioning": false}'})
    assert run.of_type("aws:s3/bucketVersioning:BucketVersioning") == []
    rules = run.named("registry-storage-lifecycle").inputs["rules"]
    assert [r["id"] for r in rules] == ["abort-incomplete-multipart-uploads"]


def test_local_program_imports_only_the_sdks_it_uses() -> None:
    modules = provider_modules_loaded_by("local")
    packages = {m.split(".")[0] for m in modules}
    assert packages == {"pulumi_aws", "pulumi_docker", "pulumi_random", "pulumi_tls"}
    aws_services = {m.split(".")[1] for m in modules if m.startswith("pulumi_aws.") and m.count(".") >= 1}
    assert not aws_services & {"ec2", "ecs", "lb", "alb", "elasticache", "iam", "acm", "kms"}, aws_services


def test_retention_reaches_the_maintenance_output_as_configured(run_stack: RunStack) -> None:
    run = run_stack("local", overrides={"registry:retention": '{"keepTagged": 5, "protectedTags": ["v*"]}'})
    assert run.outputs["maintenance"]["retention"] == {
        "keepTagged": 5,
        "untaggedDays": None,
        "protectedTags": ["v*"],
        "dryRun": False,
    }


# ---------------------------------------------------------------- mirrors

UPSTREAM_CA = "-----BEGIN CERTIFICATE-----\nMIIBcorp\n-----END CERTIFICATE-----\n"
MIRRORS = [
    {"name": "docker-hub", "upstream": "docker.io", "username": "someone", "accessToken": "dckr_pat_SECRET1"},
    {"name": "corp", "upstream": "https://registry.corp.example:5000", "caCertificate": UPSTREAM_CA, "port": 6000},
]


@pytest.fixture(scope="module")
def mirrored() -> ProgramRun:
    from tools.mock_program import run_program

    return run_program(
        ROOT, "local", overrides={"registry:mirrors": json.dumps(MIRRORS)}, secret_keys=["registry:mirrors"]
    )


def mirror_containers(run: ProgramRun) -> dict[str, Registration]:
    return {r.name: r for r in run.of_type(CONTAINER) if r.name.startswith("registry-mirror-")}


def test_each_mirror_gets_two_private_proxy_instances_on_its_own_root_and_database(mirrored: ProgramRun) -> None:
    found = mirror_containers(mirrored)
    assert sorted(found) == [f"registry-mirror-{m}-{i}" for m in ("corp", "docker-hub") for i in (0, 1)]
    for index, mirror in enumerate(("docker-hub", "corp")):
        configs = [registry_config(found[f"registry-mirror-{mirror}-{i}"]) for i in (0, 1)]
        assert configs[0] == configs[1]  # one cache, two instances
        config = configs[0]
        assert config["storage"]["s3"]["rootdirectory"] == f"/mirrors/{mirror}"
        assert config["storage"]["s3"]["bucket"] == mirrored.outputs["bucket"]
        assert config["redis"]["db"] == index + 1
        assert config["proxy"]["ttl"] == "168h"
        for i in (0, 1):
            container = found[f"registry-mirror-{mirror}-{i}"]
            assert "ports" not in container.inputs
            assert container.inputs["networksAdvanced"] == [
                {"name": "registry-backend", "aliases": [f"mirror-{index}-{i}"]}
            ]
            assert container.inputs["healthcheck"]["tests"] == health.registry_alive(5000)
            # distribution exits at start while its upstream is down: a shell keeps starting it, and
            # `pulumi up` does not wait for an upstream that may be unreachable
            assert container.inputs["entrypoints"] == ["/bin/sh", "-c"]
            assert container.inputs["command"] == [mirror_serve_script("/etc/distribution/config.yml")]
            assert container.inputs["wait"] is False and container.inputs["restart"] == "unless-stopped"
    hub = registry_config(found["registry-mirror-docker-hub-0"])["proxy"]
    assert hub == {
        "remoteurl": "https://registry-1.docker.io",
        "username": "someone",
        "password": "dckr_pat_SECRET1",
        "ttl": "168h",
    }
    corp = found["registry-mirror-corp-0"]
    assert registry_config(corp)["proxy"] == {"remoteurl": "https://registry.corp.example:5000", "ttl": "168h"}
    assert upload(corp, "/etc/distribution/upstream-ca.crt")["content"] == UPSTREAM_CA
    assert "SSL_CERT_FILE=/etc/distribution/upstream-ca.crt" in corp.inputs["envs"]
    assert not [e for e in found["registry-mirror-docker-hub-0"].inputs["envs"] if e.startswith("SSL_CERT_FILE")]


def test_the_edge_serves_each_mirror_pull_only_and_publishes_their_own_ports(mirrored: ProgramRun) -> None:
    edge = mirrored.named("registry-edge")
    assert edge.inputs["ports"] == [
        {"internal": 443, "external": 5443},
        {"internal": 9443, "external": 9443, "ip": "127.0.0.1"},
        {"internal": 8444, "external": 5444},  # the Docker Hub mirror's default
        {"internal": 8445, "external": 6000},
    ]
    conf = upload(edge, "/etc/nginx/nginx.conf")["content"]
    assert "server mirror-0-0:5000 max_fails=1 fail_timeout=10s;" in conf
    assert "server mirror-0-1:5000 max_fails=1 fail_timeout=10s backup;" in conf
    assert "location /v2/docker-hub/ {" in conf and "location /v2/corp/ {" in conf
    assert "listen 8444 ssl;" in conf and "listen 8445 ssl;" in conf
    assert {c.urn for c in mirror_containers(mirrored).values()} <= set(edge.dependencies)


def test_the_edge_gets_the_njs_module_each_mirror_login_and_ca(mirrored: ProgramRun) -> None:
    """What mirror_login.js reads to say why a mirror found nothing (components/renderers/nginx.py)."""
    edge = mirrored.named("registry-edge")
    assert upload(edge, "/etc/nginx/mirror_login.js")["content"] == mirror_login_script()
    login = upload(edge, "/etc/nginx/mirrors/0.login")
    assert login["content"] == basic_authorization("someone", "dckr_pat_SECRET1")
    assert (login["group"], login["permissions"]) == ("101", "0640")  # workers (group nginx) read it
    assert upload(edge, "/etc/nginx/mirrors/1-ca.crt")["content"] == UPSTREAM_CA
    assert not [u for u in unwrap(edge.inputs["uploads"]) if u["file"] == "/etc/nginx/mirrors/1.login"]
    conf = upload(edge, "/etc/nginx/nginx.conf")["content"]
    assert "resolver 127.0.0.11 valid=30s;" in conf  # Docker's DNS: nginx reads no resolv.conf
    assert 'set $mirror_upstream "https://registry.corp.example:5000";' in conf
    assert "js_fetch_trusted_certificate /etc/nginx/mirrors/1-ca.crt;" in conf


def test_the_mirror_token_stays_secret_everywhere(mirrored: ProgramRun) -> None:
    token = {"dckr_pat_SECRET1"}
    for resource in mirrored.resources:
        assert plaintext_leaks(resource.inputs, token) == [], f"{resource.name} inputs"
        assert plaintext_leaks(resource.outputs, token) == [], f"{resource.name} outputs"
    assert plaintext_leaks(mirrored.outputs, token) == []


def test_outputs_say_how_to_pull_through_each_mirror_from_every_client(mirrored: ProgramRun) -> None:
    out = mirrored.outputs
    assert out["mirrors"]["docker-hub"]["example"] == "docker pull localhost:5443/docker-hub/library/alpine:3"
    assert out["mirrors"]["corp"]["rootUrl"] == "https://localhost:6000"
    assert out["dockerDaemonJson"] == {"registry-mirrors": ["https://localhost:5444"]}
    assert set(out["containerdHostsToml"]) == {"docker.io", "registry.corp.example:5000"}
    steps = out["caInstallSteps"]
    for host in ("localhost:5443", "localhost:5444", "localhost:6000"):
        assert f"sudo mkdir -p /etc/docker/certs.d/{host}" in steps


def test_webhooks_go_into_every_registrys_secret_config_with_their_headers() -> None:
    from tools.mock_program import run_program

    token = "Bearer local-hook-SECRET"
    hooks = [{"name": "ci", "url": "https://hooks.example.com/r", "headers": {"Authorization": token}}]
    run = run_program(
        ROOT, "local", overrides={"registry:notifications": json.dumps(hooks)}, secret_keys=["registry:notifications"]
    )
    for container in registries(run):
        [endpoint] = registry_config(container)["notifications"]["endpoints"]  # uploads are a Secret (upload())
        assert (endpoint["url"], endpoint["headers"]) == ("https://hooks.example.com/r", {"Authorization": [token]})
    leaks = [f"{r.name}{leak}" for r in run.resources for leak in plaintext_leaks(r.inputs, {token})]
    assert leaks + plaintext_leaks(run.outputs, {token}) == []


def test_edge_serves_metrics_to_admins_only(local: ProgramRun) -> None:
    conf = upload(local.named("registry-edge"), "/etc/nginx/nginx.conf")["content"]
    assert "listen 9443 ssl;" in conf
    for index in range(3):
        assert (
            f"location = /metrics/registry/{index} {{\n            proxy_pass http://registry-{index}:5001/metrics;"
            in conf
        )
    assert '"admin" 1;' in conf.split("map $remote_user $edge_metrics_reader")[1].split("}")[0]
    metrics = local.outputs["metrics"]
    assert metrics["url"] == "https://localhost:9443" and metrics["readers"] == ["admin"]
    scrape = yaml.safe_load(metrics["prometheusScrapeConfig"])["scrape_configs"]
    assert [(job["job_name"], job["metrics_path"]) for job in scrape] == [
        (f"registry-{i}", f"/metrics/registry/{i}") for i in range(3)
    ]
    assert scrape[0]["basic_auth"] == {"username": "admin", "password_file": "admin.password"}
    assert scrape[0]["static_configs"] == [{"targets": ["localhost:9443"]}] and scrape[0]["scheme"] == "https"
