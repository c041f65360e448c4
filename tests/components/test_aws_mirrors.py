"""registry:mirrors on aws under the recording mocks: a proxy-mode container per mirror in every
task, the edge's pull-only locations, a listener of its own for a mirror with a port, and the
network, IAM and secrets that go with them."""

from __future__ import annotations

import json

import pytest
import yaml

from components import health
from components.aws.registry import registry_config_text
from components.aws.service import STOP_TIMEOUT_SECONDS, task_size
from components.config import AwsSettings, load_settings
from components.renderers.distribution import mirror_serve_script
from components.renderers.nginx import basic_authorization, mirror_login_script
from tests.components.test_aws import EGRESS, INGRESS, LISTENER, containers, env, group_ids, plain, statements
from tests.conftest import ROOT
from tools.mock_program import ProgramRun, Secret, plaintext_leaks, run_program, unwrap

TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
CA = "-----BEGIN CERTIFICATE-----\nMIIBcorp\n-----END CERTIFICATE-----\n"
TOKEN = "dckr_pat_SECRET1"
MIRRORS = [
    {"name": "docker-hub", "upstream": "docker.io", "username": "someone", "accessToken": TOKEN},
    {"name": "corp", "upstream": "https://registry.corp.example:5000", "caCertificate": CA},
]


@pytest.fixture(scope="module")
def prod() -> ProgramRun:
    return run_program(
        ROOT, "prod", overrides={"registry:mirrors": json.dumps(MIRRORS)}, secret_keys=["registry:mirrors"]
    )


def settings(run: ProgramRun) -> AwsSettings:
    from tools.stack_config import load_project, load_stack_config

    raw, _ = load_stack_config(load_project(ROOT), "prod")
    loaded = load_settings({**raw, "registry:mirrors": json.dumps(MIRRORS)}, frozenset({"registry:mirrors"}))
    assert isinstance(loaded, AwsSettings)
    return loaded


def test_every_task_runs_a_proxy_container_per_mirror_that_never_takes_the_task_down(prod: ProgramRun) -> None:
    task = plain(prod.named("registry-service-task"))
    assert (task["cpu"], task["memory"]) == task_size(2) == ("512", "2048")
    assert {"name": "mirror-0-config"} in task["volumes"] and {"name": "mirror-1-config"} in task["volumes"]
    found = containers(prod)
    assert list(found) == ["registry", "edge", "mirror-0", "mirror-1"]
    bucket = prod.named("registry-storage-bucket").outputs["bucket"]
    cache = prod.named("registry-cache-redis").outputs["primaryEndpointAddress"] + ":6379"
    for index in (0, 1):
        mirror = found[f"mirror-{index}"]
        assert mirror["essential"] is False  # an upstream outage must not stop the registry's task
        assert mirror["image"] == found["registry"]["image"]
        assert mirror["readonlyRootFilesystem"] is True
        assert mirror["mountPoints"] == [
            {"sourceVolume": f"mirror-{index}-config", "containerPath": "/etc/distribution"}
        ]
        assert mirror["healthCheck"]["command"] == health.registry_alive(5001 + index)
        assert mirror["stopTimeout"] == STOP_TIMEOUT_SECONDS
        assert mirror["logConfiguration"]["options"]["awslogs-stream-prefix"] == f"mirror-{index}"
        assert mirror["command"][0].endswith(mirror_serve_script("/etc/distribution/config.yml"))
        expected = registry_config_text(
            settings(prod), bucket=bucket, region="eu-west-1", redis_address=cache, mirror=index
        )
        assert env(mirror)["CONFIG_YML"] == expected
        config = yaml.safe_load(expected)
        assert config["http"]["addr"] == f"127.0.0.1:{5001 + index}"
        assert config["redis"]["db"] == index + 1 and config["redis"]["tls"] == {
            "certificate": "/etc/distribution/redis-client.crt",
            "key": "/etc/distribution/redis-client.key",
        }
        script = mirror["command"][0].splitlines()
        assert "printf '%s' \"$REDIS_TLS_KEY\" > /etc/distribution/redis-client.key" in script
        assert "chmod 644 /etc/distribution/redis-client.key" not in script, "the key stays 0600"
        assert "password" not in config["proxy"] and "secret" not in config["http"]


def test_the_upstream_token_and_ca_reach_only_their_mirror(prod: ProgramRun) -> None:
    hub, corp = containers(prod)["mirror-0"], containers(prod)["mirror-1"]
    secret = prod.named("registry-service-secrets").outputs["arn"]
    assert hub["secrets"] == [
        {"name": "REGISTRY_PROXY_PASSWORD", "valueFrom": f"{secret}:mirror0Token::"},
        {"name": "REGISTRY_REDIS_OPTIONS_PASSWORD", "valueFrom": f"{secret}:redisPassword::"},
        {"name": "REDIS_TLS_CERT", "valueFrom": f"{secret}:redisClientCert::"},
        {"name": "REDIS_TLS_KEY", "valueFrom": f"{secret}:redisClientKey::"},
    ]
    assert [s["name"] for s in corp["secrets"]] == [
        "REGISTRY_REDIS_OPTIONS_PASSWORD",
        "REDIS_TLS_CERT",
        "REDIS_TLS_KEY",
    ]
    value = prod.named("registry-service-secrets-value").inputs["secretString"]
    assert isinstance(value, Secret) and json.loads(unwrap(value))["mirror0Token"] == TOKEN
    assert env(corp)["UPSTREAM_CA"] == CA and env(corp)["SSL_CERT_FILE"] == "/etc/distribution/upstream-ca.crt"
    script = corp["command"][0].splitlines()
    written = script.index("printf '%s' \"$UPSTREAM_CA\" > /etc/distribution/upstream-ca.crt")
    # SSL_CERT_FILE replaces Go's roots: the system's are added, which ElastiCache's certificate chains to
    assert script.index("cat /etc/ssl/certs/ca-certificates.crt >> /etc/distribution/upstream-ca.crt") > written
    assert "SSL_CERT_FILE" not in env(hub) and "ca-certificates.crt" not in hub["command"][0]
    leaks = [f"{r.name}{leak}" for r in prod.resources for leak in plaintext_leaks(r.inputs, {TOKEN})]
    assert leaks + plaintext_leaks(prod.outputs, {TOKEN}) == []


def test_the_docker_hub_mirror_gets_a_listener_of_its_own_to_the_edges_mirror_port(prod: ProgramRun) -> None:
    [target_group] = [r for r in prod.of_type(TARGET_GROUP) if r.name == "registry-lb-mirror-docker-hub"]
    group = plain(target_group)
    assert (group["port"], group["protocol"], group["targetType"]) == (8444, "HTTPS", "ip")
    assert group["healthCheck"]["path"] == "/healthz" and group["healthCheck"]["port"] == "traffic-port"
    [listener] = [r for r in prod.of_type(LISTENER) if r.name == "registry-lb-mirror-docker-hub"]
    https = plain(prod.named("registry-lb-https"))
    assert plain(listener)["port"] == 5444 and plain(listener)["protocol"] == "HTTPS"
    assert plain(listener)["sslPolicy"] == https["sslPolicy"]
    assert plain(listener)["certificateArn"] == https["certificateArn"]
    assert plain(listener)["defaultActions"] == [{"type": "forward", "targetGroupArn": target_group.outputs["arn"]}]
    service = plain(prod.named("registry-service-service"))
    mirror_targets = {"targetGroupArn": target_group.outputs["arn"], "containerName": "edge", "containerPort": 8444}
    assert mirror_targets in service["loadBalancers"]
    assert {"containerPort": 8444, "protocol": "tcp"} in containers(prod)["edge"]["portMappings"]
    assert not [r for r in prod.of_type(LISTENER) if r.name == "registry-lb-mirror-corp"]  # no port: prefix only


def test_the_edge_routes_each_prefix_and_the_root_port_to_its_mirror_container(prod: ProgramRun) -> None:
    conf = env(containers(prod)["edge"])["NGINX_CONF"]
    assert "upstream mirror_0 {\n        server 127.0.0.1:5001 max_fails=1 fail_timeout=10s;" in conf
    assert "upstream mirror_1 {\n        server 127.0.0.1:5002 max_fails=1 fail_timeout=10s;" in conf
    assert "location /v2/docker-hub/ {" in conf and "location /v2/corp/ {" in conf
    assert "listen 8444 ssl;" in conf and "listen 8445" not in conf


def test_the_network_opens_the_mirror_port_and_the_upstreams_port_only(prod: ProgramRun) -> None:
    ids = group_ids(prod)
    mirror_in = [plain(r) for r in prod.of_type(INGRESS) if plain(r).get("fromPort") == 5444]
    assert mirror_in and all(r["securityGroupId"] == ids["load-balancer"] for r in mirror_in)
    hop = [plain(r) for r in prod.of_type(INGRESS) if plain(r).get("fromPort") == 8444]
    assert hop == [
        {
            "securityGroupId": ids["tasks"],
            "description": "edge (a mirror's root)",
            "ipProtocol": "tcp",
            "fromPort": 8444,
            "toPort": 8444,
            "referencedSecurityGroupId": ids["load-balancer"],
        }
    ]
    upstream = [plain(r) for r in prod.of_type(EGRESS) if plain(r).get("fromPort") == 5000]
    assert [(r["securityGroupId"], r["cidrIpv4"]) for r in upstream] == [(ids["tasks"], "0.0.0.0/0")]


def test_the_task_role_reaches_each_mirrors_prefix_besides_the_registrys(prod: ProgramRun) -> None:
    bucket = prod.named("registry-storage-bucket").outputs["arn"]
    [objects] = [
        s for s in statements(prod.named("registry-service-task-policy")) if s["Sid"] == "ReadWriteRegistryObjects"
    ]
    assert objects["Resource"] == [f"{bucket}/registry/*", f"{bucket}/mirrors/docker-hub/*", f"{bucket}/mirrors/corp/*"]
    gc = statements(prod.named("registry-service-gc-policy"))
    assert all("mirrors" not in json.dumps(s) for s in gc)  # gc sweeps the registry's root only


def test_outputs_give_each_client_its_way_through_the_mirrors(prod: ProgramRun) -> None:
    out = prod.outputs
    assert out["mirrors"]["docker-hub"]["rootUrl"] == "https://registry.example.com:5444"
    assert out["dockerDaemonJson"] == {"registry-mirrors": ["https://registry.example.com:5444"]}
    hosts = out["containerdHostsToml"]["docker.io"]
    assert '[host."https://registry.example.com/v2/docker-hub"]' in hosts and "ca =" not in hosts  # ACM: public CA


def test_the_edge_explains_mirror_failures_with_njs_the_login_and_the_ca(prod: ProgramRun) -> None:
    """mirror_login.js asks the upstream why a mirror found nothing: the edge needs the script, each
    mirror's login (from the task secret, never its environment) and private CA."""
    edge = containers(prod)["edge"]
    secret = prod.named("registry-service-secrets").outputs["arn"]
    assert {"name": "MIRROR_0_LOGIN", "valueFrom": f"{secret}:mirror0Login::"} in edge["secrets"]
    assert "MIRROR_1_LOGIN" not in json.dumps(edge)  # corp has no login
    assert env(edge)["MIRROR_JS"] == mirror_login_script() and env(edge)["MIRROR_1_CA"] == CA
    script = edge["command"][0].splitlines()
    for variable, path in [
        ("MIRROR_JS", "/etc/nginx/registry/mirror_login.js"),
        ("MIRROR_0_LOGIN", "/etc/nginx/registry/0.login"),
        ("MIRROR_1_CA", "/etc/nginx/registry/1-ca.crt"),
    ]:
        assert f"printf '%s' \"${variable}\" > {path}" in script
        assert f"chmod 644 {path}" in script  # nginx workers (user nginx) read them
    value = unwrap(prod.named("registry-service-secrets-value").inputs["secretString"])
    assert json.loads(value)["mirror0Login"] == basic_authorization("someone", TOKEN)
    conf = env(edge)["NGINX_CONF"]
    assert "resolver 169.254.169.253 valid=30s;" in conf
    assert "js_import mirror_login from /etc/nginx/registry/mirror_login.js;" in conf
    assert 'set $mirror_login "/etc/nginx/registry/0.login";' in conf
    assert "js_fetch_trusted_certificate /etc/nginx/registry/1-ca.crt;" in conf
