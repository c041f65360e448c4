"""registry:regions under the recording mocks: the global stack as shipped (eu-west-1 primary, us-east-1
and ap-southeast-1 read-only secondaries), and the same with a promoted secondary, given keys, and
the primary's mirrors and scheduled gc (which no secondary gets)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from components.aws.iam import KMS_DATA_ACTIONS, S3_BUCKET_ACTIONS, S3_OBJECT_ACTIONS
from components.renderers.distribution import READONLY_VARIABLE
from tests.components.test_aws import env, one, plain
from tests.conftest import ROOT, refused_run
from tools.mock_program import ProgramRun, Registration, run_program, unwrap
from tools.stack_config import load_project, load_stack_config

PRIMARY = "eu-west-1"
SECONDARIES = ["us-east-1", "ap-southeast-1"]
ZONE = "Z0123456789ABCDEFGHIJ"
PUSH, PULL = "registry.example.com", "pull.registry.example.com"
RECORD = "aws:route53/record:Record"
REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
KEY_US = "arn:aws:kms:us-east-1:123456789012:key/22222222-3333-4444-5555-666666666666"
KEY_AP = "arn:aws:kms:ap-southeast-1:123456789012:key/33333333-4444-5555-6666-777777777777"
KEY_EU = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"


def regions_config(**changes: Any) -> dict[str, str]:
    """The global stack's registry:regions with `changes`, as the CLI would pass it."""
    raw, _ = load_stack_config(load_project(ROOT), "global")
    return {"registry:regions": json.dumps({**json.loads(raw["registry:regions"]), **changes})}


@pytest.fixture(scope="module")
def glob() -> ProgramRun:
    return run_program(ROOT, "global")


@pytest.fixture(scope="module")
def promoted() -> ProgramRun:
    return run_program(ROOT, "global", overrides=regions_config(promoted="us-east-1"))


@pytest.fixture(scope="module")
def given_keys() -> ProgramRun:
    return run_program(
        ROOT,
        "global",
        overrides={
            "registry:storage": json.dumps({"encryption": "kms", "kmsKeyArn": KEY_EU}),
            **regions_config(kmsKeyArns={"us-east-1": KEY_US, "ap-southeast-1": KEY_AP}),
        },
    )


@pytest.fixture(scope="module")
def busy() -> ProgramRun:
    """The primary with a mirror and scheduled gc: what a secondary must not copy."""
    mirrors = [{"name": "docker-hub", "upstream": "docker.io"}]
    return run_program(
        ROOT,
        "global",
        overrides={
            "registry:mirrors": json.dumps(mirrors),
            "registry:maintenance": json.dumps({"schedule": "0 3 * * 0", "gc": True}),
        },
    )


def prefix(region: str) -> str:
    """Resource names of each region's AwsRegistry: the primary's as before regions existed."""
    return "registry" if region == PRIMARY else f"registry-{region}"


def provider_of(run: ProgramRun, region: str) -> Registration:
    return run.named("registry-aws" if region == PRIMARY else f"registry-aws-{region}")


def uses(r: Registration, provider: Registration) -> bool:
    return r.provider.startswith(provider.urn + "::")


def task_containers(run: ProgramRun, region: str) -> dict[str, dict[str, Any]]:
    task = plain(run.named(f"{prefix(region)}-service-task"))
    return {c["name"]: c for c in json.loads(task["containerDefinitions"])}


def statements(r: Registration) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads(plain(r)["policy"])["Statement"]
    return found


def resources_of(statement: dict[str, Any]) -> list[str]:
    resource = statement["Resource"]
    return resource if isinstance(resource, list) else [resource]


def alb(run: ProgramRun, region: str) -> dict[str, Any]:
    return run.named(f"{prefix(region)}-lb-alb").outputs


# ---------------------------------------------------------------- providers and the secondary role


def test_each_secondary_runs_under_an_aws_provider_for_its_region(glob: ProgramRun) -> None:
    for region in SECONDARIES:
        provider = provider_of(glob, region)
        assert provider.inputs["region"] == region
        own = [r for r in glob.resources if r.custom and r.name.startswith(f"registry-{region}-")]
        replica = [r for r in glob.resources if r.custom and r.name.startswith(f"registry-storage-replica-{region}-")]
        assert len(own) > 50 and len(replica) == 6  # its whole registry, and its replica bucket's six pieces
        assert [
            r.name for r in [*own, *replica, glob.named(f"registry-replica-key-{region}")] if not uses(r, provider)
        ] == []
    # and nothing of the primary's moved to another region
    primary = provider_of(glob, PRIMARY)
    assert all(uses(r, primary) for r in glob.resources if r.custom and r.name.startswith("registry-service-"))


def test_a_secondary_is_the_same_component_in_a_secondary_role(glob: ProgramRun) -> None:
    primary = {r.type for r in glob.resources if not r.custom and r.name.startswith("registry-") and r.parent}
    for region in SECONDARIES:
        registry = glob.named(f"registry-{region}")
        assert registry.type == "registry:aws:AwsRegistry"
        children = {r.type for r in glob.children_of(registry)}
        # and custom resources: the replica key's policy, the region's own logs key
        assert children <= primary | {"aws:kms/keyPolicy:KeyPolicy", "aws:kms/key:Key"}
        # no bucket of its own, no Redis: it serves the replica the primary's storage made
        assert "registry:storage:ObjectStorage" not in children and "registry:aws_cache:AwsCache" not in children


# ---------------------------------------------------------------- replication


def test_the_bucket_replicates_to_each_secondary_one_rule_each(glob: ProgramRun) -> None:
    config = one(glob, REPLICATION)
    inputs = plain(config)
    source = glob.named("registry-storage-bucket")
    assert uses(config, provider_of(glob, PRIMARY))
    assert inputs["bucket"] == source.outputs["bucket"]
    assert inputs["role"] == glob.named("registry-storage-replication-role").outputs["arn"]
    rules = {rule["id"]: rule for rule in inputs["rules"]}
    assert set(rules) == {f"replicate-to-{region}" for region in SECONDARIES}
    # S3 multi-destination replication: a unique priority, a filter and delete-marker replication per rule
    assert len({rule["priority"] for rule in rules.values()}) == len(SECONDARIES)
    for region in SECONDARIES:
        rule = rules[f"replicate-to-{region}"]
        replica = glob.named(f"registry-storage-replica-{region}-bucket")
        key = glob.named(f"registry-replica-key-{region}")
        assert (rule["status"], rule["filter"]) == ("Enabled", {"prefix": ""})
        assert rule["deleteMarkerReplication"] == {"status": "Enabled"}
        assert rule["sourceSelectionCriteria"] == {"sseKmsEncryptedObjects": {"status": "Enabled"}}
        destination = rule["destination"]
        assert destination["bucket"] == replica.outputs["arn"]
        assert destination["encryptionConfiguration"] == {"replicaKmsKeyId": key.outputs["arn"]}
        assert destination["replicationTime"] == {"status": "Enabled", "time": {"minutes": 15.0}}
        assert destination["metrics"] == {"status": "Enabled", "eventThreshold": {"minutes": 15.0}}
        versioning = glob.named(f"registry-storage-replica-{region}-versioning")
        assert plain(versioning)["versioningConfiguration"] == {"status": "Enabled"}
        assert versioning.urn in config.dependencies  # S3 refuses the rule before the replica is versioned
        sse = plain(glob.named(f"registry-storage-replica-{region}-encryption"))["rules"][0]
        assert sse["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"] == key.outputs["arn"]
        assert replica.protect and key.protect  # production


def test_replication_time_control_can_be_turned_off() -> None:
    run = run_program(ROOT, "global", overrides=regions_config(replicationTimeControl=False))
    for rule in plain(one(run, REPLICATION))["rules"]:
        assert "replicationTime" not in rule["destination"] and "metrics" not in rule["destination"]
        assert rule["deleteMarkerReplication"] == {"status": "Enabled"}


def test_the_replication_role_writes_every_replica_and_encrypts_with_each_key(glob: ProgramRun) -> None:
    granted = {
        (resource, action)
        for statement in statements(glob.named("registry-storage-replication-policy"))
        for resource in resources_of(statement)
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    }
    for region in SECONDARIES:
        replica = glob.named(f"registry-storage-replica-{region}-bucket").outputs["arn"]
        key = glob.named(f"registry-replica-key-{region}").outputs["arn"]
        for action in ("s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"):
            assert (f"{replica}/*", action) in granted
        assert (key, "kms:Encrypt") in granted
    assert (glob.named("registry-storage-key").outputs["arn"], "kms:Decrypt") in granted


def test_each_created_replica_key_lets_replication_write_and_its_region_read(glob: ProgramRun) -> None:
    replication = glob.named("registry-storage-replication-role").outputs["arn"]
    for region in SECONDARIES:
        policy = glob.named(f"registry-{region}-replica-key-policy")
        assert uses(policy, provider_of(glob, region))
        assert plain(policy)["keyId"] == glob.named(f"registry-replica-key-{region}").outputs["keyId"]
        users = {s["Sid"]: s for s in statements(policy)}
        assert users["ReplicationWritesReplicas"]["Principal"] == {"AWS": replication}
        task_role = glob.named(f"registry-{region}-service-task-role").outputs["arn"]
        assert users["RegistryTasksReadAndWriteImages"]["Principal"] == {"AWS": task_role}
        assert users["RegistryTasksReadAndWriteImages"]["Action"] == KMS_DATA_ACTIONS


def test_given_replica_keys_are_used_as_given(given_keys: ProgramRun) -> None:
    rules = {r["id"]: r for r in plain(one(given_keys, REPLICATION))["rules"]}
    for region, key in (("us-east-1", KEY_US), ("ap-southeast-1", KEY_AP)):
        assert rules[f"replicate-to-{region}"]["destination"]["encryptionConfiguration"] == {"replicaKmsKeyId": key}
        task_policy = statements(given_keys.named(f"registry-{region}-service-task-policy"))
        assert {"Sid": "UseBucketKey", "Effect": "Allow", "Action": KMS_DATA_ACTIONS, "Resource": key} in task_policy
    # a key the user gives keeps the policy its owner gave it: none is made here
    assert not [r.name for r in given_keys.of_type("aws:kms/key:Key") if "replica" in r.name]
    assert not [r.name for r in given_keys.of_type("aws:kms/keyPolicy:KeyPolicy") if "replica" in r.name]


# ---------------------------------------------------------------- what a secondary runs


def test_a_secondary_registry_is_read_only_by_its_environment(glob: ProgramRun) -> None:
    primary = env(task_containers(glob, PRIMARY)["registry"])
    assert READONLY_VARIABLE not in primary
    for region in SECONDARIES:
        registry = env(task_containers(glob, region)["registry"])
        assert registry[READONLY_VARIABLE] == '{"enabled": true}'
        # the switch is that variable of the container named "registry" (what promote flips): config.yml's
        # maintenance section is the primary's, which the variable overrides
        maintenance = "\n  maintenance:\n    uploadpurging:"
        assert maintenance in registry["CONFIG_YML"]
        section = registry["CONFIG_YML"].split(maintenance, 1)[1].split("\nhttp:", 1)[0]
        assert section == primary["CONFIG_YML"].split(maintenance, 1)[1].split("\nhttp:", 1)[0]


def test_the_promoted_secondary_is_writable_and_takes_the_push_name(promoted: ProgramRun) -> None:
    assert env(task_containers(promoted, "us-east-1")["registry"])[READONLY_VARIABLE] == '{"enabled": false}'
    assert env(task_containers(promoted, "ap-southeast-1")["registry"])[READONLY_VARIABLE] == '{"enabled": true}'
    push = plain(promoted.named("registry-dns-push"))
    target = alb(promoted, "us-east-1")
    assert push["aliases"] == [{"name": target["dnsName"], "zoneId": target["zoneId"], "evaluateTargetHealth": True}]
    assert promoted.outputs["regions"]["promoted"] == "us-east-1"


def test_secondaries_have_no_cache_no_mirrors_and_no_gc(busy: ProgramRun) -> None:
    caches = busy.of_type("aws:elasticache/replicationGroup:ReplicationGroup")
    assert [r.name for r in caches] == ["registry-cache-redis"]  # the primary's only
    machines = busy.of_type("aws:sfn/stateMachine:StateMachine")
    assert [r.name for r in machines] == ["registry-maintenance-gc"]
    assert {"registry", "edge", "mirror-0"} == set(task_containers(busy, PRIMARY))
    primary = yaml.safe_load(env(task_containers(busy, PRIMARY)["registry"])["CONFIG_YML"])
    assert primary["storage"]["cache"] == {"blobdescriptor": "redis"}
    for region in SECONDARIES:
        names = {r.name for r in busy.resources if r.name.startswith(f"registry-{region}-")}
        assert not {n for n in names if "gc" in n or "cache" in n or "maintenance" in n or "mirror" in n}
        defs = task_containers(busy, region)
        assert set(defs) == {"registry", "edge"}  # no pull-through cache: it would write
        registry = defs["registry"]
        # no blob-descriptor cache at all: not Redis, nor the in-memory one distribution keeps without Redis
        storage = yaml.safe_load(env(registry)["CONFIG_YML"])["storage"]
        assert "cache" not in storage and "redis" not in yaml.safe_load(env(registry)["CONFIG_YML"])
        assert [s["name"] for s in registry["secrets"]] == ["REGISTRY_HTTP_SECRET"]
        nginx = env(defs["edge"])["NGINX_CONF"]
        assert "upstream mirror_0" not in nginx and "/v2/docker-hub/" not in nginx
        assert "upstream mirror_0" in env(task_containers(busy, PRIMARY)["edge"])["NGINX_CONF"]
        ports = {
            plain(r)["port"]
            for r in busy.of_type("aws:lb/listener:Listener")
            if r.name.startswith(f"registry-{region}-")
        }
        assert ports == {443.0, 80.0}
    assert "regions" in busy.outputs["maintenance"] and busy.outputs["maintenance"]["gcStateMachine"]


def test_an_existing_vpc_is_the_primarys_and_each_secondary_creates_its_own() -> None:
    network = {
        "vpcId": "vpc-0a1b2c3d",
        "publicSubnetIds": ["subnet-0a1b2c3d", "subnet-1a1b2c3d"],
        "privateSubnetIds": ["subnet-2a1b2c3d", "subnet-3a1b2c3d"],
    }
    run = run_program(ROOT, "global", overrides={"registry:network": json.dumps(network)})
    assert sorted(r.name for r in run.of_type("aws:ec2/vpc:Vpc")) == [
        f"registry-{r}-network-vpc" for r in sorted(SECONDARIES)
    ]
    assert plain(run.named("registry-lb-alb"))["subnets"] == network["publicSubnetIds"]


def test_a_secondary_task_role_names_only_its_own_replica_bucket(glob: ProgramRun) -> None:
    buckets = {r.outputs["arn"] for r in glob.of_type("aws:s3/bucket:Bucket")}
    for region in SECONDARIES:
        replica = glob.named(f"registry-storage-replica-{region}-bucket").outputs["arn"]
        key = glob.named(f"registry-replica-key-{region}").outputs["arn"]
        policy = {s["Sid"]: s for s in statements(glob.named(f"registry-{region}-service-task-policy"))}
        assert policy["ListRegistryBucket"]["Resource"] == replica
        assert policy["ListRegistryBucket"]["Action"] == S3_BUCKET_ACTIONS
        # read, and write once promoted (the promote tool changes no IAM): only below the registry's root
        assert policy["ReadWriteRegistryObjects"]["Resource"] == f"{replica}/registry/*"
        assert policy["ReadWriteRegistryObjects"]["Action"] == S3_OBJECT_ACTIONS
        assert policy["UseBucketKey"]["Resource"] == key
        named = {b for s in policy.values() for r in resources_of(s) for b in buckets if r.startswith(b)}
        assert named == {replica}
        config = env(task_containers(glob, region)["registry"])["CONFIG_YML"]
        bucket_name = glob.named(f"registry-storage-replica-{region}-bucket").outputs["bucket"]
        assert f"bucket: {bucket_name}" in config and f"region: {region}" in config


# ---------------------------------------------------------------- certificates, health, DNS


@pytest.mark.parametrize("region", [PRIMARY, *SECONDARIES])
def test_every_region_serves_the_push_and_the_pull_name(glob: ProgramRun, region: str) -> None:
    name = prefix(region)
    push = glob.named(f"{name}-certificate-issued")
    pull = glob.named(f"{name}-pull-certificate-issued")
    assert plain(push) == {"domainName": PUSH, "validationMethod": "DNS"}  # the primary's: as before regions
    assert plain(pull) == {"domainName": PULL, "validationMethod": "DNS"}
    for cert in (push, pull):
        validation = plain(glob.named(cert.name.replace("-issued", "-validation")))
        option = cert.outputs["domainValidationOptions"][0]
        assert (validation["zoneId"], validation["name"]) == (ZONE, option["resourceRecordName"])
        assert uses(cert, provider_of(glob, region))  # ACM certificates are regional
    https = glob.named(f"{name}-lb-https")
    assert plain(https)["certificateArn"] == push.outputs["arn"]
    extra = plain(glob.named(f"{name}-lb-https-certificate-1"))
    assert extra == {"listenerArn": https.outputs["arn"], "certificateArn": pull.outputs["arn"]}
    # the edge behind answers both names
    nginx = env(task_containers(glob, region)["edge"])["NGINX_CONF"]
    assert f"server_name {PUSH} {PULL} localhost" in nginx


@pytest.mark.parametrize("region", [PRIMARY, *SECONDARIES])
def test_each_region_has_a_cloudwatch_alarm_health_check(glob: ProgramRun, region: str) -> None:
    name = prefix(region)
    alarm_reg = glob.named(f"{name}-health-alarm")
    alarm = plain(alarm_reg)
    assert uses(alarm_reg, provider_of(glob, region))  # the alarm lives beside its load balancer
    assert (alarm["namespace"], alarm["metricName"]) == ("AWS/ApplicationELB", "HealthyHostCount")
    target_group = glob.named(f"{name}-lb-edge").outputs["arnSuffix"]
    assert alarm["dimensions"] == {"TargetGroup": target_group, "LoadBalancer": alb(glob, region)["arnSuffix"]}
    assert (alarm["threshold"], alarm["comparisonOperator"], alarm["statistic"]) == (
        1.0,
        "LessThanThreshold",
        "Maximum",
    )
    assert (alarm["period"], alarm["evaluationPeriods"]) == (60.0, 2.0)
    assert alarm["name"] == f"registry-global-{region}-healthy-hosts"
    check = plain(glob.named(f"{name}-health-check"))
    assert check["type"] == "CLOUDWATCH_METRIC"
    assert (check["cloudwatchAlarmName"], check["cloudwatchAlarmRegion"]) == (alarm["name"], region)
    assert check["insufficientDataHealthStatus"] == "Unhealthy"  # a region that publishes nothing is down


@pytest.mark.parametrize("region", [PRIMARY, *SECONDARIES])
def test_the_pull_name_has_a_latency_record_per_region(glob: ProgramRun, region: str) -> None:
    record = plain(glob.named(f"registry-dns-pull-{region}"))
    target = alb(glob, region)
    assert (record["zoneId"], record["name"], record["type"]) == (ZONE, PULL, "A")
    assert record["setIdentifier"] == region
    assert record["latencyRoutingPolicies"] == [{"region": region}]
    assert record["aliases"] == [{"name": target["dnsName"], "zoneId": target["zoneId"], "evaluateTargetHealth": True}]
    # the mocks give a resource without a computed id the id "<name>-id"
    assert record["healthCheckId"] == f"{prefix(region)}-health-check-id"


def test_the_push_name_aliases_the_primary(glob: ProgramRun) -> None:
    records = [r for r in glob.of_type(RECORD) if plain(r)["name"] == PUSH]
    assert [r.name for r in records] == ["registry-dns-push"]  # not the load balancer's own alias any more
    push = plain(records[0])
    target = alb(glob, PRIMARY)
    assert (push["zoneId"], push["type"]) == (ZONE, "A")
    assert push["aliases"] == [{"name": target["dnsName"], "zoneId": target["zoneId"], "evaluateTargetHealth": True}]
    assert len([r for r in glob.of_type(RECORD) if plain(r)["name"] == PULL]) == 3


# ---------------------------------------------------------------- outputs and refusals


def test_the_regions_output_says_where_each_region_runs(glob: ProgramRun) -> None:
    def entry(region: str) -> dict[str, Any]:
        name = prefix(region)
        bucket = "registry-storage-bucket" if region == PRIMARY else f"registry-storage-replica-{region}-bucket"
        return {
            "region": region,
            "cluster": glob.named(f"{name}-service-cluster").outputs["name"],
            "service": glob.named(f"{name}-service-service").outputs["name"],
            "bucket": glob.named(bucket).outputs["bucket"],
            "loadBalancerDnsName": alb(glob, region)["dnsName"],
            "loadBalancerZoneId": alb(glob, region)["zoneId"],
            "healthCheckId": f"{name}-health-check-id",
            # each region's own alarms and dashboard (test_aws_observability.py)
            "dashboardUrl": f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
            f"#dashboards:name=registry-global-{region}",
            "alertTopicArn": glob.named(f"{name}-observability-alerts").outputs["arn"],
        }

    expected = {
        "primary": entry(PRIMARY),
        "secondaries": [entry(region) for region in SECONDARIES],
        "hostedZoneId": ZONE,
        "pushDomain": PUSH,
        "pullDomain": PULL,
        "promoted": None,
    }
    assert unwrap(glob.outputs["regions"]) == expected
    assert unwrap(glob.outputs["maintenance"]["regions"]) == expected
    assert glob.outputs["pullUrl"] == f"https://{PULL}"
    assert f"docker login {PULL} --username ci " in glob.outputs["pullLoginCommands"]["ci"]


def test_stacks_without_regions_have_no_regions_output() -> None:
    prod = run_program(ROOT, "prod")
    assert "regions" not in prod.outputs and "regions" not in prod.outputs["maintenance"]
    assert "pullUrl" not in prod.outputs


def test_the_primary_must_be_the_deployed_region() -> None:
    raw, _ = load_stack_config(load_project(ROOT), "global")
    message, declared = refused_run("global", {**raw, "aws:region": "eu-central-1"})
    assert "registry:regions.primary (eu-west-1) is not aws:region (eu-central-1)" in message
    assert declared == []  # refused before anything is declared
