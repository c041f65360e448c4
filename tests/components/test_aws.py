"""The `aws` target under the recording mocks: the prod and dev stacks as shipped, input by input."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from pulumi.runtime.mocks import MockCallArgs

from components import health, images
from components.aws.iam import KMS_DATA_ACTIONS, S3_BUCKET_ACTIONS, S3_OBJECT_ACTIONS
from components.config import AwsSettings, load_settings
from components.renderers.access import access_maps
from components.renderers.nginx import render_nginx_config
from tests.conftest import ROOT, RunStack, provider_modules_loaded_by
from tools.mock_program import (
    ACCOUNT,
    CALLS,
    ProgramRun,
    Registration,
    Secret,
    aws_id,
    plaintext_leaks,
    run_program,
    unwrap,
)
from tools.stack_config import load_project, load_stack_config

LISTENER = "aws:lb/listener:Listener"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
SUBNET = "aws:ec2/subnet:Subnet"
RECORD = "aws:route53/record:Record"


@pytest.fixture(scope="module")
def prod() -> ProgramRun:
    return run_program(ROOT, "prod")


@pytest.fixture(scope="module")
def dev() -> ProgramRun:
    return run_program(ROOT, "dev")


def one(run: ProgramRun, type_: str) -> Registration:
    matches = run.of_type(type_)
    assert len(matches) == 1, f"expected one {type_}, found {[r.name for r in matches]}"
    return matches[0]


def plain(r: Registration) -> dict[str, Any]:
    value: dict[str, Any] = unwrap(r.inputs)
    return value


def containers(run: ProgramRun) -> dict[str, dict[str, Any]]:
    task = plain(run.named("registry-service-task"))
    return {c["name"]: c for c in json.loads(task["containerDefinitions"])}


def env(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container["environment"]}


def subnet_zones(run: ProgramRun, tier: str) -> dict[str, str]:
    """subnet id -> zone for the subnets of one tier."""
    return {
        aws_id("subnet", r.name): r.inputs["availabilityZone"]
        for r in run.of_type(SUBNET)
        if r.inputs["tags"]["tier"] == tier
    }


def group_ids(run: ProgramRun) -> dict[str, str]:
    """Security group ids by role, read from where each is used (so the wiring is checked too)."""
    ids = {
        "load-balancer": plain(one(run, "aws:lb/loadBalancer:LoadBalancer"))["securityGroups"][0],
        "tasks": plain(one(run, "aws:ecs/service:Service"))["networkConfiguration"]["securityGroups"][0],
    }
    caches = run.of_type("aws:elasticache/replicationGroup:ReplicationGroup")
    if caches:
        ids["cache"] = plain(caches[0])["securityGroupIds"][0]
    for role, sg in ids.items():
        assert sg == aws_id("sg", f"registry-firewall-{role}")
    return ids


def generated_secrets(run: ProgramRun) -> set[str]:
    """Every secret value the stack generates, and the secret file contents made from them."""
    values = {unwrap(r.outputs["result"]) for r in run.of_type("random:index/randomPassword:RandomPassword")}
    values |= {unwrap(r.outputs["privateKeyPem"]) for r in run.of_type("tls:index/privateKey:PrivateKey")}
    stored = json.loads(unwrap(one(run, "aws:secretsmanager/secretVersion:SecretVersion").inputs["secretString"]))
    values |= {value for key, value in stored.items() if key != "redisClientCert"}  # a certificate is public
    values |= set(stored["htpasswd"].splitlines())
    return values


# ---------------------------------------------------------------- load balancer and certificates


@pytest.mark.parametrize("stack", ["prod", "dev"])
def test_https_listener_uses_a_tls12_plus_policy_and_forwards_to_the_edge(stack: str, request: Any) -> None:
    run: ProgramRun = request.getfixturevalue(stack)
    listeners = {plain(r)["port"]: plain(r) for r in run.of_type(LISTENER)}
    # dev ships a Docker Hub mirror, which has a listener of its own (test_aws_mirrors.py)
    assert set(listeners) == ({443.0, 80.0, 5444.0} if stack == "dev" else {443.0, 80.0})
    https = listeners[443.0]
    assert https["protocol"] == "HTTPS"
    assert https["sslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    target_group = run.named("registry-lb-edge")
    assert https["defaultActions"] == [{"type": "forward", "targetGroupArn": target_group.outputs["arn"]}]
    alb = one(run, "aws:lb/loadBalancer:LoadBalancer")
    assert https["loadBalancerArn"] == listeners[80.0]["loadBalancerArn"] == alb.outputs["arn"]


@pytest.mark.parametrize("stack", ["prod", "dev"])
def test_http_only_redirects_to_https(stack: str, request: Any) -> None:
    run: ProgramRun = request.getfixturevalue(stack)
    http = next(plain(r) for r in run.of_type(LISTENER) if plain(r)["port"] == 80.0)
    assert http["protocol"] == "HTTP"
    assert "certificateArn" not in http
    assert http["defaultActions"] == [
        {"type": "redirect", "redirect": {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"}}
    ]


def test_load_balancer_is_public_strict_and_patient(prod: ProgramRun, dev: ProgramRun) -> None:
    for run in (prod, dev):
        alb = plain(one(run, "aws:lb/loadBalancer:LoadBalancer"))
        assert alb["loadBalancerType"] == "application"
        assert alb["internal"] is False
        assert alb["dropInvalidHeaderFields"] is True
        assert alb["idleTimeout"] == 900.0  # large layers: the edge's proxy timeouts are 900 s too
        assert sorted(alb["subnets"]) == sorted(subnet_zones(run, "public"))
    assert plain(one(prod, "aws:lb/loadBalancer:LoadBalancer"))["enableDeletionProtection"] is True
    assert plain(one(dev, "aws:lb/loadBalancer:LoadBalancer"))["enableDeletionProtection"] is False


def test_target_group_checks_the_edge_the_way_it_answers(prod: ProgramRun) -> None:
    tg = plain(one(prod, "aws:lb/targetGroup:TargetGroup"))
    assert (tg["protocol"], tg["port"], tg["targetType"]) == ("HTTPS", 8443.0, "ip")
    assert tg["vpcId"] == aws_id("vpc", "registry-network-vpc")
    check = tg["healthCheck"]
    assert (check["protocol"], check["port"], check["path"], check["matcher"]) == (
        "HTTPS",
        "traffic-port",
        "/healthz",
        "200",
    )
    # the edge answers /healthz without auth on its TLS port, proxied to the registry's `/`
    nginx = env(containers(prod)["edge"])["NGINX_CONF"]
    location = nginx.split("location = /healthz {", 1)[1].split("}", 1)[0]
    assert "auth_basic" not in location and "proxy_pass http://registry/;" in location
    assert "listen 8443 ssl;" in nginx


def test_prod_issues_an_acm_certificate_validated_in_route53(prod: ProgramRun) -> None:
    cert = one(prod, "aws:acm/certificate:Certificate")
    assert plain(cert) == {"domainName": "registry.example.com", "validationMethod": "DNS"}
    option = cert.outputs["domainValidationOptions"][0]
    records = {r.name: plain(r) for r in prod.of_type(RECORD)}
    validation = records["registry-certificate-validation"]
    assert validation["zoneId"] == "Z0123456789ABCDEFGHIJ"
    assert (validation["name"], validation["type"], validation["records"]) == (
        option["resourceRecordName"],
        option["resourceRecordType"],
        [option["resourceRecordValue"]],
    )
    validated = plain(one(prod, "aws:acm/certificateValidation:CertificateValidation"))
    fqdn = validation["name"].rstrip(".")  # Route 53 reports names without the root dot
    assert validated == {"certificateArn": cert.outputs["arn"], "validationRecordFqdns": [fqdn]}
    https = next(plain(r) for r in prod.of_type(LISTENER) if plain(r)["port"] == 443.0)
    assert https["certificateArn"] == cert.outputs["arn"]
    alb = one(prod, "aws:lb/loadBalancer:LoadBalancer").outputs
    alias = records["registry-lb-alias"]
    assert (alias["zoneId"], alias["name"], alias["type"]) == ("Z0123456789ABCDEFGHIJ", "registry.example.com", "A")
    assert alias["aliases"] == [{"name": alb["dnsName"], "zoneId": alb["zoneId"], "evaluateTargetHealth": True}]
    assert "caCertificate" not in prod.outputs  # a public CA signs it


def test_dev_imports_the_self_signed_certificate(dev: ProgramRun) -> None:
    cert = one(dev, "aws:acm/certificate:Certificate")
    server = one(dev, "tls:index/locallySignedCert:LocallySignedCert").outputs["certPem"]
    ca = dev.named("registry-tls-ca").outputs["certPem"]
    assert cert.inputs["certificateBody"] == server
    assert cert.inputs["certificateChain"] == ca
    assert isinstance(cert.inputs["privateKey"], Secret)
    assert unwrap(cert.inputs["privateKey"]) == unwrap(dev.named("registry-tls-server-key").outputs["privateKeyPem"])
    assert not dev.of_type(RECORD), "dev has no hosted zone: the user points a CNAME"
    assert dev.outputs["caCertificate"] == ca
    alb = one(dev, "aws:lb/loadBalancer:LoadBalancer").outputs
    assert dev.outputs["dnsRecord"] == f"create: registry-dev.example.com. CNAME {alb['dnsName']}."
    sans = plain(one(dev, "tls:index/certRequest:CertRequest"))["dnsNames"]
    assert "registry-dev.example.com" in sans


# ---------------------------------------------------------------- service and tasks


def test_service_runs_replicas_across_zones_privately_with_safe_deploys(prod: ProgramRun) -> None:
    service_reg = one(prod, "aws:ecs/service:Service")
    service = plain(service_reg)
    assert service["desiredCount"] == 3.0
    assert service["launchType"] == "FARGATE"
    assert service["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    assert service["deploymentMinimumHealthyPercent"] == 100.0
    assert service["deploymentMaximumPercent"] == 200.0
    network = service["networkConfiguration"]
    assert network["assignPublicIp"] is False
    private = subnet_zones(prod, "private")
    assert sorted(network["subnets"]) == sorted(private)
    assert sorted(private.values()) == ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
    assert service["availabilityZoneRebalancing"] == "ENABLED"
    tg = one(prod, "aws:lb/targetGroup:TargetGroup").outputs["arn"]
    assert service["loadBalancers"] == [{"targetGroupArn": tg, "containerName": "edge", "containerPort": 8443.0}]
    assert service_reg.ignore_changes == ["desiredCount"]  # autoscaling owns the count once running
    assert service["taskDefinition"] == prod.named("registry-service-task").outputs["arn"]


def test_autoscaling_tracks_cpu_and_requests_between_replicas_and_max(prod: ProgramRun) -> None:
    target = plain(one(prod, "aws:appautoscaling/target:Target"))
    cluster = one(prod, "aws:ecs/cluster:Cluster").outputs["name"]
    service = one(prod, "aws:ecs/service:Service").outputs["name"]
    assert target["resourceId"] == f"service/{cluster}/{service}"
    assert (target["minCapacity"], target["maxCapacity"]) == (3.0, 9.0)
    assert target["scalableDimension"] == "ecs:service:DesiredCount"
    policies = {
        plain(p)["targetTrackingScalingPolicyConfiguration"]["predefinedMetricSpecification"][
            "predefinedMetricType"
        ]: plain(p)
        for p in prod.of_type("aws:appautoscaling/policy:Policy")
    }
    assert set(policies) == {"ECSServiceAverageCPUUtilization", "ALBRequestCountPerTarget"}
    for policy in policies.values():
        assert policy["policyType"] == "TargetTrackingScaling"
        assert policy["resourceId"] == target["resourceId"]
    alb = one(prod, "aws:lb/loadBalancer:LoadBalancer").outputs["arnSuffix"]
    tg = one(prod, "aws:lb/targetGroup:TargetGroup").outputs["arnSuffix"]
    requests = policies["ALBRequestCountPerTarget"]["targetTrackingScalingPolicyConfiguration"]
    assert requests["predefinedMetricSpecification"]["resourceLabel"] == f"{alb}/{tg}"


def test_task_runs_pinned_registry_3_and_the_local_edge(prod: ProgramRun) -> None:
    task = plain(prod.named("registry-service-task"))
    assert task["requiresCompatibilities"] == ["FARGATE"]
    assert (task["networkMode"], task["cpu"], task["memory"]) == ("awsvpc", "512", "1024")
    assert task["runtimePlatform"] == {"operatingSystemFamily": "LINUX", "cpuArchitecture": "ARM64"}
    assert task["family"] == "registry-prod"
    defs = containers(prod)
    assert set(defs) == {"registry", "edge"}
    # the local target's registry 3 and edge, through ECR Public's Docker official images
    assert defs["registry"]["image"] == "public.ecr.aws/docker/library/registry:3.0.0"  # images.REGISTRY
    assert defs["edge"]["image"] == "public.ecr.aws/docker/library/nginx:1.30.4-alpine"
    assert defs["registry"]["image"].endswith(images.REGISTRY["3"]) and defs["edge"]["image"].endswith(images.EDGE)
    assert defs["registry"]["healthCheck"]["command"] == health.registry_alive(5000)
    assert defs["edge"]["healthCheck"]["command"] == health.edge_alive(8081)
    for container in defs.values():
        assert not container["image"].endswith(":latest") and ":" in container["image"].rsplit("/", 1)[1]
        assert container["essential"] is True
        assert container["readonlyRootFilesystem"] is True
        assert container["logConfiguration"] == {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": prod.named("registry-service-logs").outputs["name"],
                "awslogs-region": "eu-west-1",
                "awslogs-stream-prefix": container["name"],
            },
        }
    assert defs["edge"]["portMappings"] == [{"containerPort": 8443, "protocol": "tcp"}]
    assert "portMappings" not in defs["registry"], "only the edge in the same task reaches the registry"
    assert defs["edge"]["dependsOn"] == [{"containerName": "registry", "condition": "HEALTHY"}]


def test_secrets_reach_containers_only_from_secrets_manager(prod: ProgramRun) -> None:
    secret_arn = one(prod, "aws:secretsmanager/secret:Secret").outputs["arn"]
    defs = containers(prod)
    assert defs["registry"]["secrets"] == [
        {"name": "REGISTRY_HTTP_SECRET", "valueFrom": f"{secret_arn}:httpSecret::"},
        {"name": "REGISTRY_REDIS_OPTIONS_PASSWORD", "valueFrom": f"{secret_arn}:redisPassword::"},
        {"name": "REDIS_TLS_CERT", "valueFrom": f"{secret_arn}:redisClientCert::"},
        {"name": "REDIS_TLS_KEY", "valueFrom": f"{secret_arn}:redisClientKey::"},
    ]
    assert defs["edge"]["secrets"] == [
        {"name": "TLS_KEY", "valueFrom": f"{secret_arn}:tlsKey::"},
        {"name": "HTPASSWD", "valueFrom": f"{secret_arn}:htpasswd::"},
    ]
    version = one(prod, "aws:secretsmanager/secretVersion:SecretVersion")
    assert isinstance(version.inputs["secretString"], Secret)
    stored = json.loads(unwrap(version.inputs["secretString"]))
    assert set(stored) == {"httpSecret", "redisPassword", "redisClientCert", "redisClientKey", "htpasswd", "tlsKey"}
    assert stored["httpSecret"] == unwrap(prod.named("registry-credentials-http-secret").outputs["result"])
    assert stored["redisClientKey"] == unwrap(prod.named("registry-cache-client-key").outputs["privateKeyPem"])
    assert stored["redisClientCert"] == prod.named("registry-cache-client").outputs["certPem"]
    assert stored["redisPassword"] == unwrap(prod.named("registry-credentials-redis-password").outputs["result"])
    assert [line.split(":")[0] for line in stored["htpasswd"].splitlines()] == [
        "ci",
        "ci-team-a",
        "deploy",
        "dev",
        "ops",
    ]
    task = prod.named("registry-service-task")
    leaks = plaintext_leaks(task.inputs, generated_secrets(prod))
    assert leaks == [], "no secret value in the task definition (environment, command, anything)"
    # a changed secret means a new version id, hence a new task definition and rolled tasks
    for container in defs.values():
        assert env(container)["SECRETS_VERSION"] == version.outputs["versionId"]


def test_containers_write_their_files_and_exec_the_server(prod: ProgramRun) -> None:
    defs = containers(prod)
    registry = defs["registry"]
    assert registry["entryPoint"] == ["/bin/sh", "-c"]
    assert registry["command"][0].splitlines() == [
        "set -eu",
        "umask 077",
        "printf '%s' \"$CONFIG_YML\" > /etc/distribution/config.yml",
        "chmod 644 /etc/distribution/config.yml",
        "printf '%s' \"$REDIS_TLS_CERT\" > /etc/distribution/redis-client.crt",
        "chmod 644 /etc/distribution/redis-client.crt",
        "printf '%s' \"$REDIS_TLS_KEY\" > /etc/distribution/redis-client.key",  # stays 0600 (umask 077)
        "unset CONFIG_YML REDIS_TLS_CERT REDIS_TLS_KEY",
        "exec registry serve /etc/distribution/config.yml",
    ]
    assert registry["mountPoints"] == [{"sourceVolume": "registry-config", "containerPath": "/etc/distribution"}]
    edge = defs["edge"]["command"][0].splitlines()
    assert "printf '%s' \"$TLS_KEY\" > /etc/nginx/registry/server.key" in edge
    assert "chmod 644 /etc/nginx/registry/server.key" not in edge, "the key stays 0600"
    assert "chmod 644 /etc/nginx/registry/htpasswd" in edge  # nginx workers read it per request
    assert edge[-1] == "exec nginx -e stderr -c /etc/nginx/registry/nginx.conf -g 'daemon off;'"
    nginx = env(defs["edge"])["NGINX_CONF"]
    for path in ("server.crt", "server.key", "htpasswd"):
        assert f"/etc/nginx/registry/{path};" in nginx
    grants = nginx.split('map "$remote_user:$edge_action:$edge_repository" $edge_grant {', 1)[1].split("}", 1)[0]
    assert [line.strip() for line in grants.strip().splitlines()] == [
        "default 0;",
        '"~^ci:(?:pull|push):[a-z0-9][a-z0-9._/-]*$" 1;',
        '"~^ci\\-team\\-a:(?:pull|push):team\\-a/[a-z0-9._/-]*$" 1;',
        '"~^deploy:(?:pull):[a-z0-9][a-z0-9._/-]*$" 1;',
        '"~^dev:(?:pull):[a-z0-9][a-z0-9._/-]*$" 1;',
        '"~^ops:(?:pull|push|delete):[a-z0-9][a-z0-9._/-]*$" 1;',
    ]
    assert "server_name registry.example.com localhost 127.0.0.1 [::1];" in nginx
    assert "default $host;" in nginx  # clients reach the ALB on 443
    # the real client address from the ALB's X-Forwarded-For, trusting only the ALB's own subnets
    cidrs = [r.inputs["cidrBlock"] for r in prod.of_type("aws:ec2/subnet:Subnet") if "public" in r.name]
    assert len(cidrs) == 3
    real_ip = [line.strip() for line in nginx.splitlines() if "real_ip" in line]
    assert sorted(real_ip[:3]) == sorted(f"set_real_ip_from {cidr};" for cidr in cidrs)
    assert real_ip[3:] == ["real_ip_header X-Forwarded-For;", "real_ip_recursive on;"]
    assert "pid /var/cache/nginx/nginx.pid;" in nginx  # the root filesystem is read-only
    assert "server 127.0.0.1:5000 " in nginx
    volumes = plain(prod.named("registry-service-task"))["volumes"]
    assert sorted(v["name"] for v in volumes) == ["edge-cache", "edge-config", "registry-config"]
    assert (
        env(defs["edge"])["TLS_CERT"] == one(prod, "tls:index/locallySignedCert:LocallySignedCert").outputs["certPem"]
    )


def test_registry_config_is_distribution_3_with_tls_redis_s3_role_and_no_secrets(prod: ProgramRun) -> None:
    text = env(containers(prod)["registry"])["CONFIG_YML"]
    bucket = prod.outputs["bucket"]
    redis = one(prod, "aws:elasticache/replicationGroup:ReplicationGroup").outputs["primaryEndpointAddress"]
    assert text.splitlines() == [
        "version: 0.1",
        "log:",
        "  level: info",
        "  formatter: json",
        "  fields:",
        "    service: registry",
        "storage:",
        "  s3:",
        f"    bucket: {bucket}",
        "    region: eu-west-1",
        "    rootdirectory: /registry",
        "    encrypt: false",  # the bucket's SSE-KMS default applies (the header would override it)
        "  cache:",
        "    blobdescriptor: redis",
        "  delete:",
        "    enabled: true",
        "  redirect:",
        "    disable: true",
        "  maintenance:",
        "    uploadpurging:",
        "      enabled: true",
        "      age: 168h",
        "      interval: 24h",
        "      dryrun: false",
        "    readonly:",
        "      enabled: false",
        "http:",
        "  addr: 127.0.0.1:5000",
        "  relativeurls: false",
        "  headers:",
        "    X-Content-Type-Options:",
        "    - nosniff",
        "health:",
        "  storagedriver:",
        "    enabled: true",
        "    interval: 10s",
        "    threshold: 3",
        "redis:",
        "  addrs:",
        f"  - {redis}:6379",
        "  db: 0",
        "  dialtimeout: 1s",
        "  readtimeout: 1s",
        "  writetimeout: 1s",
        "  maxidleconns: 16",
        "  poolsize: 64",
        "  connmaxidletime: 300s",
        # the pair alone turns TLS on in 3.0.0, verified against the image's system roots
        # (registry/handlers/app.go configureRedis; components/renderers/distribution.py RedisTls)
        "  tls:",
        "    certificate: /etc/distribution/redis-client.crt",
        "    key: /etc/distribution/redis-client.key",
    ]
    parsed = yaml.safe_load(text)
    assert "accesskey" not in parsed["storage"]["s3"] and "secretkey" not in parsed["storage"]["s3"]
    assert "secret" not in parsed["http"] and "password" not in parsed["redis"]  # both come from SECRET_ENV


# ---------------------------------------------------------------- cache and storage


def test_redis_fails_over_across_zones_encrypted_with_the_generated_token(prod: ProgramRun) -> None:
    group = one(prod, "aws:elasticache/replicationGroup:ReplicationGroup")
    cfg = plain(group)
    assert cfg["automaticFailoverEnabled"] is True and cfg["multiAzEnabled"] is True
    assert cfg["numCacheClusters"] == 2.0
    assert cfg["atRestEncryptionEnabled"] is True and cfg["transitEncryptionEnabled"] is True
    assert cfg["transitEncryptionMode"] == "required"
    assert cfg["nodeType"] == "cache.t4g.small"
    assert (cfg["engine"], cfg["port"]) == ("redis", 6379.0)
    assert isinstance(group.inputs["authToken"], Secret)
    assert cfg["authToken"] == unwrap(prod.named("registry-credentials-redis-password").outputs["result"])
    subnets = plain(one(prod, "aws:elasticache/subnetGroup:SubnetGroup"))["subnetIds"]
    assert sorted(subnets) == sorted(subnet_zones(prod, "private"))
    params = plain(one(prod, "aws:elasticache/parameterGroup:ParameterGroup"))
    assert params["parameters"] == [{"name": "maxmemory-policy", "value": "allkeys-lru"}]
    assert cfg["parameterGroupName"] == one(prod, "aws:elasticache/parameterGroup:ParameterGroup").outputs["name"]
    assert group.protect is True
    # distribution 3.0.0's switch for TLS: a client pair nobody verifies, so made once and kept
    client = prod.named("registry-cache-client")
    assert client.parent == prod.named("registry-cache").urn
    assert plain(client)["allowedUses"] == ["digital_signature", "client_auth"]
    assert plain(client)["validityPeriodHours"] == 20 * 365 * 24
    assert plain(client)["privateKeyPem"] == unwrap(prod.named("registry-cache-client-key").outputs["privateKeyPem"])
    assert "earlyRenewalHours" not in plain(client)


def test_bucket_is_versioned_kms_encrypted_private_and_protected_in_prod(prod: ProgramRun) -> None:
    bucket = prod.named("registry-storage-bucket")
    assert bucket.protect is True and plain(bucket)["forceDestroy"] is False
    assert plain(prod.named("registry-storage-versioning"))["versioningConfiguration"] == {"status": "Enabled"}
    key = prod.named("registry-storage-key")
    assert plain(key)["enableKeyRotation"] is True and key.protect is True
    rule = plain(prod.named("registry-storage-encryption"))["rules"][0]
    assert rule == {
        "applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key.outputs["arn"]},
        "bucketKeyEnabled": True,
    }
    assert plain(prod.named("registry-storage-public-access-block")) == {
        "bucket": bucket.outputs["bucket"],
        "blockPublicAcls": True,
        "blockPublicPolicy": True,
        "ignorePublicAcls": True,
        "restrictPublicBuckets": True,
    }
    assert plain(prod.named("registry-storage-ownership"))["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    rules = {r["id"]: r for r in plain(prod.named("registry-storage-lifecycle"))["rules"]}
    assert rules["expire-noncurrent-versions"]["noncurrentVersionExpiration"] == {"noncurrentDays": 30.0}
    assert rules["abort-incomplete-multipart-uploads"]["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 7.0}
    assert rules["remove-expired-delete-markers"]["expiration"] == {"expiredObjectDeleteMarker": True}


def test_dev_bucket_uses_sse_s3_and_nothing_is_protected(dev: ProgramRun) -> None:
    rule = plain(dev.named("registry-storage-encryption"))["rules"][0]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}
    assert plain(dev.named("registry-storage-bucket"))["forceDestroy"] is True
    # the only key: the logs' and alert topic's (test_aws_observability.py), never the bucket's
    assert [k.name for k in dev.of_type("aws:kms/key:Key")] == ["registry-logs-key"]
    assert [r.name for r in dev.resources if r.protect] == []
    assert plain(one(dev, "aws:secretsmanager/secret:Secret"))["recoveryWindowInDays"] == 0.0


def test_prod_replicates_the_bucket_to_the_replica_region(prod: ProgramRun) -> None:
    replica_provider = prod.named("registry-aws-replica")
    assert replica_provider.inputs["region"] == "eu-central-1"
    replica = prod.named("registry-storage-replica-bucket")
    assert replica.provider.startswith(replica_provider.urn) and replica.protect is True
    assert plain(prod.named("registry-storage-replica-versioning"))["versioningConfiguration"] == {"status": "Enabled"}
    replica_key = prod.named("registry-replica-key")
    assert replica_key.provider.startswith(replica_provider.urn)
    encryption = plain(prod.named("registry-storage-replica-encryption"))["rules"][0]
    assert encryption["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"] == replica_key.outputs["arn"]
    config = plain(one(prod, "aws:s3/bucketReplicationConfig:BucketReplicationConfig"))
    role = prod.named("registry-storage-replication-role")
    assert config["role"] == role.outputs["arn"]
    assert config["bucket"] == prod.outputs["bucket"]
    (rule,) = config["rules"]
    assert rule["status"] == "Enabled" and rule["deleteMarkerReplication"] == {"status": "Enabled"}
    assert rule["destination"]["bucket"] == replica.outputs["arn"]
    assert rule["destination"]["encryptionConfiguration"] == {"replicaKmsKeyId": replica_key.outputs["arn"]}
    assert rule["sourceSelectionCriteria"] == {"sseKmsEncryptedObjects": {"status": "Enabled"}}
    trust = json.loads(plain(role)["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "s3.amazonaws.com"}
    policy = json.loads(plain(prod.named("registry-storage-replication-policy"))["policy"])
    source = prod.named("registry-storage-bucket").outputs["arn"]
    grants = {(s["Resource"], a) for s in policy["Statement"] for a in _list(s["Action"])}
    source_key = prod.named("registry-storage-key").outputs["arn"]
    # exactly what S3 replication of SSE-KMS objects needs: read versions and the source key here,
    # write replicas and the replica key there
    assert grants == {
        (source, "s3:GetReplicationConfiguration"),
        (source, "s3:ListBucket"),
        (f"{source}/*", "s3:GetObjectVersionForReplication"),
        (f"{source}/*", "s3:GetObjectVersionAcl"),
        (f"{source}/*", "s3:GetObjectVersionTagging"),
        (f"{replica.outputs['arn']}/*", "s3:ReplicateObject"),
        (f"{replica.outputs['arn']}/*", "s3:ReplicateDelete"),
        (f"{replica.outputs['arn']}/*", "s3:ReplicateTags"),
        (source_key, "kms:Decrypt"),
        (replica_key.outputs["arn"], "kms:Encrypt"),
    }


# ---------------------------------------------------------------- IAM


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements(r: Registration, key: str = "policy") -> list[dict[str, Any]]:
    doc: list[dict[str, Any]] = json.loads(plain(r)[key])["Statement"]
    return doc


def test_no_policy_grants_any_action_on_any_resource(prod: ProgramRun) -> None:
    for r in prod.of_type("aws:iam/rolePolicy:RolePolicy"):
        for s in statements(r):
            actions, resources = _list(s["Action"]), _list(s["Resource"])
            assert "*" not in actions and not any(a.endswith(":*") for a in actions), r.name
            assert "*" not in resources, r.name


def test_task_role_reaches_only_the_registry_prefix_and_its_key(prod: ProgramRun, dev: ProgramRun) -> None:
    bucket = prod.named("registry-storage-bucket").outputs["arn"]
    key = prod.named("registry-storage-key").outputs["arn"]
    assert statements(prod.named("registry-service-task-policy")) == [
        {"Sid": "ListRegistryBucket", "Effect": "Allow", "Action": S3_BUCKET_ACTIONS, "Resource": bucket},
        {
            "Sid": "ReadWriteRegistryObjects",
            "Effect": "Allow",
            "Action": S3_OBJECT_ACTIONS,
            "Resource": f"{bucket}/registry/*",
        },
        {"Sid": "UseBucketKey", "Effect": "Allow", "Action": KMS_DATA_ACTIONS, "Resource": key},
    ]
    assert [s["Sid"] for s in statements(dev.named("registry-service-task-policy"))] == [
        "ListRegistryBucket",
        "ReadWriteRegistryObjects",
    ]
    task = plain(prod.named("registry-service-task"))
    assert task["taskRoleArn"] == prod.named("registry-service-task-role").outputs["arn"]
    assert task["executionRoleArn"] == prod.named("registry-service-execution-role").outputs["arn"]


def test_execution_role_writes_its_logs_and_reads_its_secret_only(prod: ProgramRun) -> None:
    logs = prod.named("registry-service-logs").outputs["arn"]
    secret = one(prod, "aws:secretsmanager/secret:Secret").outputs["arn"]
    assert statements(prod.named("registry-service-execution-policy")) == [
        {
            "Sid": "WriteTaskLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"{logs}:*",
        },
        {"Sid": "ReadTaskSecrets", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": secret},
    ]
    for role in ("registry-service-task-role", "registry-service-execution-role"):
        (trust,) = statements(prod.named(role), "assumeRolePolicy")
        assert trust["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
        assert trust["Condition"] == {
            "ArnLike": {"aws:SourceArn": f"arn:aws:ecs:eu-west-1:{ACCOUNT}:*"},
            "StringEquals": {"aws:SourceAccount": ACCOUNT},
        }
    assert plain(prod.named("registry-service-logs"))["retentionInDays"] == 365.0


# ---------------------------------------------------------------- network


def test_security_groups_admit_only_each_hop(prod: ProgramRun) -> None:
    sg = group_ids(prod)
    for group in prod.of_type("aws:ec2/securityGroup:SecurityGroup"):
        assert "ingress" not in group.inputs and "egress" not in group.inputs, "rules are separate resources"
        assert group.inputs["vpcId"] == aws_id("vpc", "registry-network-vpc")

    def rules(type_: str) -> set[tuple[Any, ...]]:
        return {
            (
                r.inputs["securityGroupId"],
                r.inputs["fromPort"],
                r.inputs["toPort"],
                r.inputs["ipProtocol"],
                r.inputs.get("cidrIpv4") or r.inputs.get("referencedSecurityGroupId"),
            )
            for r in prod.of_type(type_)
        }

    assert rules(INGRESS) == {
        (sg["load-balancer"], 443.0, 443.0, "tcp", "0.0.0.0/0"),
        (sg["load-balancer"], 80.0, 80.0, "tcp", "0.0.0.0/0"),
        (sg["tasks"], 8443.0, 8443.0, "tcp", sg["load-balancer"]),
        (sg["cache"], 6379.0, 6379.0, "tcp", sg["tasks"]),
    }
    assert rules(EGRESS) == {
        (sg["load-balancer"], 8443.0, 8443.0, "tcp", sg["tasks"]),
        (sg["tasks"], 443.0, 443.0, "tcp", "0.0.0.0/0"),
        (sg["tasks"], 6379.0, 6379.0, "tcp", sg["cache"]),
    }


def test_allowed_cidrs_limit_who_reaches_the_load_balancer(run_stack: RunStack) -> None:
    run = run_stack("dev", overrides={"registry:allowedCidrs": '["203.0.113.0/24", "198.51.100.7/32"]'})
    sources = {(r.inputs["fromPort"], r.inputs["cidrIpv4"]) for r in run.of_type(INGRESS) if "cidrIpv4" in r.inputs}
    # 5444: the Docker Hub mirror's own listener the dev stack ships
    assert sources == {(p, c) for p in (443.0, 80.0, 5444.0) for c in ("203.0.113.0/24", "198.51.100.7/32")}


def test_prod_vpc_has_a_nat_per_zone_and_an_s3_gateway(prod: ProgramRun, dev: ProgramRun) -> None:
    public = subnet_zones(prod, "public")
    nats = {r.name: plain(r) for r in prod.of_type("aws:ec2/natGateway:NatGateway")}
    assert sorted(n["subnetId"] for n in nats.values()) == sorted(public)
    private_routes = [plain(r) for r in prod.of_type("aws:ec2/route:Route") if "natGatewayId" in r.inputs]
    assert sorted(r["natGatewayId"] for r in private_routes) == sorted(aws_id("nat", n) for n in nats)
    endpoint = plain(one(prod, "aws:ec2/vpcEndpoint:VpcEndpoint"))
    assert (endpoint["serviceName"], endpoint["vpcEndpointType"]) == ("com.amazonaws.eu-west-1.s3", "Gateway")
    assert sorted(endpoint["routeTableIds"]) == sorted(
        aws_id("rtb", f"registry-network-private-{z}") for z in ("eu-west-1a", "eu-west-1b", "eu-west-1c")
    )
    assert all(
        plain(s)["mapPublicIpOnLaunch"] is False for s in prod.of_type(SUBNET) if s.inputs["tags"]["tier"] == "public"
    )
    # dev: one NAT gateway shared by every zone's private route
    (dev_nat,) = dev.of_type("aws:ec2/natGateway:NatGateway")
    dev_routes = [plain(r) for r in dev.of_type("aws:ec2/route:Route") if "natGatewayId" in r.inputs]
    assert len(dev_routes) == 3 and {r["natGatewayId"] for r in dev_routes} == {aws_id("nat", dev_nat.name)}


def test_existing_network_is_used_as_given(run_stack: RunStack) -> None:
    network = {
        "vpcId": "vpc-0a1b2c3d4e5f60718",
        "publicSubnetIds": ["subnet-0000000000000000a", "subnet-0000000000000000b"],
        "privateSubnetIds": ["subnet-0000000000000000c", "subnet-0000000000000000d"],
    }
    run = run_stack("dev", overrides={"registry:network": json.dumps(network)})
    created = [r.type for r in run.resources if r.type.startswith("aws:ec2/") and "securityGroup" not in r.type]
    assert created == [], "nothing of the VPC is created"
    assert plain(one(run, "aws:ecs/service:Service"))["networkConfiguration"]["subnets"] == network["privateSubnetIds"]
    assert plain(one(run, "aws:lb/loadBalancer:LoadBalancer"))["subnets"] == network["publicSubnetIds"]
    assert {r.inputs["vpcId"] for r in run.of_type("aws:ec2/securityGroup:SecurityGroup")} == {network["vpcId"]}
    assert plain(one(run, "aws:elasticache/subnetGroup:SubnetGroup"))["subnetIds"] == network["privateSubnetIds"]
    # the edge trusts X-Forwarded-For only from the load balancer's subnets, looked up by id
    nginx = env(containers(run)["edge"])["NGINX_CONF"]
    trusted = [line.strip() for line in nginx.splitlines() if line.strip().startswith("set_real_ip_from")]
    get_subnet = CALLS["aws:ec2/getSubnet:getSubnet"]
    looked_up = [
        get_subnet(MockCallArgs("aws:ec2/getSubnet:getSubnet", {"id": i}, ""))["cidrBlock"]
        for i in network["publicSubnetIds"]
    ]
    assert len(set(looked_up)) == 2 and trusted == [f"set_real_ip_from {cidr};" for cidr in looked_up]


# ---------------------------------------------------------------- config changes


def test_changing_replicas_changes_the_service_and_its_scaling(run_stack: RunStack, prod: ProgramRun) -> None:
    run = run_stack("prod", overrides={"registry:replicas": "5", "registry:maxReplicas": "12"})
    assert plain(one(run, "aws:ecs/service:Service"))["desiredCount"] == 5.0
    target = plain(one(run, "aws:appautoscaling/target:Target"))
    assert (target["minCapacity"], target["maxCapacity"]) == (5.0, 12.0)
    # nothing else moves: same resources, same task definition
    assert sorted(r.name for r in run.resources) == sorted(r.name for r in prod.resources)
    assert plain(run.named("registry-service-task")) == plain(prod.named("registry-service-task"))
    dev_default = run_stack("dev", overrides={"registry:replicas": "3", "registry:maxReplicas": "6"})
    assert plain(one(dev_default, "aws:appautoscaling/target:Target"))["maxCapacity"] == 6.0


def test_changing_the_region_moves_everything_region_bound(run_stack: RunStack) -> None:
    run = run_stack("dev", overrides={"aws:region": "us-west-1"})
    assert run.named("registry-aws").inputs["region"] == "us-west-1"
    assert sorted(subnet_zones(run, "private").values()) == ["us-west-1a", "us-west-1b"]  # a two-zone region
    assert sorted(subnet_zones(run, "public").values()) == ["us-west-1a", "us-west-1b"]
    assert plain(one(run, "aws:ec2/vpcEndpoint:VpcEndpoint"))["serviceName"] == "com.amazonaws.us-west-1.s3"
    registry = containers(run)["registry"]
    assert registry["logConfiguration"]["options"]["awslogs-region"] == "us-west-1"
    assert yaml.safe_load(env(registry)["CONFIG_YML"])["storage"]["s3"]["region"] == "us-west-1"
    (trust,) = statements(run.named("registry-service-task-role"), "assumeRolePolicy")
    assert trust["Condition"]["ArnLike"]["aws:SourceArn"] == f"arn:aws:ecs:us-west-1:{ACCOUNT}:*"
    assert run.outputs["region"] == "us-west-1"


def test_cache_disabled_drops_redis_and_its_secret(run_stack: RunStack) -> None:
    run = run_stack("dev", overrides={"registry:cache": '{"enabled": false}'})
    assert not [r for r in run.resources if r.type.startswith("aws:elasticache/")]
    assert "registry-firewall-cache" not in [r.name for r in run.resources]
    registry = containers(run)["registry"]
    assert [s["name"] for s in registry["secrets"]] == ["REGISTRY_HTTP_SECRET"]
    config = yaml.safe_load(env(registry)["CONFIG_YML"])
    assert config["storage"]["cache"] == {"blobdescriptor": "inmemory"} and "redis" not in config
    stored = json.loads(unwrap(one(run, "aws:secretsmanager/secretVersion:SecretVersion").inputs["secretString"]))
    assert "redisPassword" not in stored
    assert "registry-service-cache-flush" not in [r.name for r in run.resources]
    assert run.outputs["maintenance"]["cacheFlushTask"] is None


def test_a_one_off_task_flushes_the_cache_over_tls(prod: ProgramRun) -> None:
    task = plain(prod.named("registry-service-cache-flush"))
    assert task["family"] == "registry-prod-cache-flush" and task["requiresCompatibilities"] == ["FARGATE"]
    assert task["executionRoleArn"] == prod.named("registry-service-execution-role").outputs["arn"]
    assert "taskRoleArn" not in task  # it calls no AWS API
    bundle, flush = json.loads(task["containerDefinitions"])
    assert bundle["image"] == "public.ecr.aws/docker/library/nginx:1.30.4-alpine" and bundle["essential"] is False
    assert bundle["command"] == ["cp /etc/ssl/certs/ca-certificates.crt /ca-bundle/ca-certificates.crt"]
    assert flush["image"] == "public.ecr.aws/docker/library/redis:7.4.11-alpine"
    assert flush["dependsOn"] == [{"containerName": "ca-bundle", "condition": "SUCCESS"}]
    host = one(prod, "aws:elasticache/replicationGroup:ReplicationGroup").outputs["primaryEndpointAddress"]
    assert flush["command"] == [
        f"redis-cli --tls --cacert /ca-bundle/ca-certificates.crt -h {host} -p 6379 --no-auth-warning FLUSHDB"
        " | grep -qx OK"
    ]
    secret_arn = one(prod, "aws:secretsmanager/secret:Secret").outputs["arn"]
    assert flush["secrets"] == [{"name": "REDISCLI_AUTH", "valueFrom": f"{secret_arn}:redisPassword::"}]
    assert all(c["readonlyRootFilesystem"] is True for c in (bundle, flush))
    maintenance = dict(prod.outputs["maintenance"])
    private = {aws_id("subnet", r.name) for r in prod.of_type(SUBNET) if r.inputs["tags"]["tier"] == "private"}
    assert set(maintenance.pop("subnets")) == private
    assert maintenance == {
        "target": "aws",
        "region": "eu-west-1",
        "cluster": prod.named("registry-service-cluster").outputs["name"],
        "cacheFlushTask": prod.named("registry-service-cache-flush").outputs["arn"],
        "gcTask": prod.named("registry-service-gc").outputs["arn"],
        "logGroup": prod.named("registry-service-logs").outputs["name"],
        "listener": prod.named("registry-lb-https").outputs["arn"],
        "securityGroups": [aws_id("sg", "registry-firewall-tasks")],
        "bucket": prod.named("registry-storage-bucket").outputs["bucket"],
        "rootDirectory": "/registry",
        "registryUrl": "https://registry.example.com",
        "caCertificate": None,  # tls.mode acm: a public CA, the system trust store verifies
        "retention": None,
        "gcStateMachine": None,  # registry:maintenance is not set: nothing is scheduled
    }


def test_garbage_collection_is_a_task_of_its_own_with_the_services_config(prod: ProgramRun) -> None:
    task = plain(prod.named("registry-service-gc"))
    assert task["family"] == "registry-prod-gc" and task["requiresCompatibilities"] == ["FARGATE"]
    assert (task["cpu"], task["memory"], task["networkMode"]) == ("1024", "2048", "awsvpc")
    assert task["executionRoleArn"] == prod.named("registry-service-execution-role").outputs["arn"]
    assert task["taskRoleArn"] == prod.named("registry-service-gc-role").outputs["arn"]
    assert task["volumes"] == [{"name": "registry-config"}]
    [gc] = json.loads(task["containerDefinitions"])
    assert gc["image"] == containers(prod)["registry"]["image"]
    assert gc["entryPoint"] == ["/bin/sh", "-c"] and gc["readonlyRootFilesystem"] is True
    assert gc["command"] == [
        "\n".join(
            [
                "set -eu",
                "umask 077",
                "printf '%s' \"$CONFIG_YML\" > /etc/distribution/config.yml",
                "chmod 644 /etc/distribution/config.yml",
                "unset CONFIG_YML",
                # never --delete-untagged (distribution#3178); --dry-run only when RunTask sets GC_DRY_RUN
                "exec registry garbage-collect /etc/distribution/config.yml ${GC_DRY_RUN:+--dry-run}",
            ]
        )
    ]
    # the service's own file: the same bucket, root directory and driver settings
    assert env(gc) == {"CONFIG_YML": env(containers(prod)["registry"])["CONFIG_YML"], "OTEL_TRACES_EXPORTER": "none"}
    assert "secrets" not in gc  # garbage-collect needs no http secret and no Redis
    logs = gc["logConfiguration"]["options"]
    assert logs["awslogs-stream-prefix"] == "gc" and logs["awslogs-group"] == prod.outputs["logGroup"]


def test_the_gc_role_lists_reads_and_deletes_only_below_the_registry_root(prod: ProgramRun) -> None:
    role = plain(prod.named("registry-service-gc-role"))
    assert json.loads(role["assumeRolePolicy"])["Statement"][0]["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
    policy = json.loads(plain(prod.named("registry-service-gc-policy"))["policy"])
    bucket = prod.named("registry-storage-bucket").outputs["arn"]
    key = prod.named("registry-storage-key").outputs["arn"]
    assert policy["Statement"] == [
        {
            "Sid": "ListRegistryObjects",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": bucket,
            "Condition": {"StringLike": {"s3:prefix": ["registry/*"]}},
        },
        {
            "Sid": "ReadAndDeleteRegistryObjects",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:DeleteObject"],
            "Resource": f"{bucket}/registry/*",
        },
        {"Sid": "ReadEncryptedObjects", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": key},
    ]


def test_missing_region_is_refused_with_the_fix(run_stack: RunStack) -> None:
    from tools.stack_config import load_project, load_stack_config

    config, _ = load_stack_config(load_project(ROOT), "dev")
    del config["aws:region"]
    with pytest.raises(Exception, match=r"pulumi config set aws:region"):
        run_stack("dev", config=config)


# ---------------------------------------------------------------- secrets, outputs, structure


@pytest.mark.parametrize("stack", ["prod", "dev"])
def test_no_generated_secret_appears_unwrapped(stack: str, request: Any) -> None:
    run: ProgramRun = request.getfixturevalue(stack)
    secrets = generated_secrets(run)
    assert len(secrets) >= 8  # passwords, http secret, Redis token, keys, htpasswd lines
    leaks = [f"{r.name}.inputs{leak}" for r in run.resources for leak in plaintext_leaks(r.inputs, secrets)]
    leaks += [f"{r.name}.outputs{leak}" for r in run.resources for leak in plaintext_leaks(r.outputs, secrets)]
    leaks += [f"stack{leak}" for leak in plaintext_leaks(run.outputs, secrets)]
    assert leaks == []


def test_outputs_tell_users_how_to_log_in(prod: ProgramRun) -> None:
    out = prod.outputs
    assert out["url"] == "https://registry.example.com"
    assert out["users"] == [
        {"name": "ops", "access": "admin"},
        {"name": "ci", "access": "push"},
        {"name": "ci-team-a", "repositories": {"team-a/*": ["push"]}, "expiresAt": "2027-06-30T00:00:00+00:00"},
        {"name": "deploy", "access": "pull"},
        {"name": "dev", "access": "pull"},
    ]
    assert isinstance(out["passwords"], Secret)
    assert set(unwrap(out["passwords"])) == {"ops", "ci", "ci-team-a", "deploy", "dev"}
    assert "docker login registry.example.com --username ci" in out["loginCommand"]
    assert out["loadBalancerDnsName"] == one(prod, "aws:lb/loadBalancer:LoadBalancer").outputs["dnsName"]
    assert "dnsRecord" not in out  # the alias record is created


def test_components_follow_the_structure(prod: ProgramRun) -> None:
    by_urn = {r.urn: r for r in prod.resources}
    components = [r for r in prod.resources if not r.custom]
    for component in components:
        module = component.type.split(":")[1]
        assert component.type.startswith("registry:") and module, component.type
    for r in prod.resources:
        parent = by_urn.get(r.parent)
        if parent is not None and parent.type.startswith("registry:") and r.type != "pulumi:providers:aws":
            assert r.name.startswith(f"{parent.name}-"), f"{r.name} under {parent.name}"
        if r.type.startswith("aws:"):
            assert parent is not None and not parent.custom, f"{r.name} must live in a component"
    providers = {r.urn for r in prod.of_type("pulumi:providers:aws")}
    assert all(r.provider.rsplit("::", 1)[0] in providers for r in prod.resources if r.type.startswith("aws:"))


def test_aws_program_imports_only_the_sdks_it_uses() -> None:
    packages = {m.split(".")[0] for m in provider_modules_loaded_by("prod")}
    assert packages == {"pulumi_aws", "pulumi_random", "pulumi_tls"}


def test_the_aws_edge_enforces_registry_access_with_the_maps_the_local_edge_runs(prod: ProgramRun) -> None:
    """tests/dataplane/test_access.py proves these maps and locations in a real nginx; aws renders the same."""
    raw, secret = load_stack_config(load_project(ROOT), "prod")
    settings = load_settings(raw, frozenset(secret))
    assert isinstance(settings, AwsSettings)
    nginx = env(containers(prod)["edge"])["NGINX_CONF"]
    assert access_maps(settings.edge_grants) in nginx
    local_edge = render_nginx_config(
        server_names=["x"], public_port=443, upstreams=["r:1"], grants=settings.edge_grants
    )
    for location in (
        "        location = /_edge/authorize {",
        "        location @denied {",
        "        location @invalid_path {",
    ):
        assert block_of(nginx, location) == block_of(local_edge, location)
    registry = block_of(nginx, "        location /v2/ {")
    for line in ("if ($edge_route = invalid) {", "if ($edge_form_body) {", "auth_request /_edge/authorize;"):
        assert line in registry


def block_of(conf: str, opening: str) -> str:
    start = conf.index(opening)
    return conf[start : conf.index("\n        }\n", start)]
