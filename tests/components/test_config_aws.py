"""AWS-only rules of the config model: each case changes one thing from a minimal valid aws config."""

from __future__ import annotations

import json

import pytest

from components.config import LOG_RETENTION_DAYS, AwsSettings, ConfigError, load_settings

MINIMAL_AWS: dict[str, str] = {"registry:target": "aws", "registry:domain": "registry.example.com"}


def aws_settings(**changes: object) -> AwsSettings:
    raw = dict(MINIMAL_AWS)
    for key, value in changes.items():
        raw[f"registry:{key}"] = value if isinstance(value, str) else json.dumps(value)
    loaded = load_settings(raw)
    assert isinstance(loaded, AwsSettings)
    return loaded


def test_minimal_aws_config_gets_documented_defaults() -> None:
    s = aws_settings()
    assert (s.version, s.replicas, s.autoscaling_max, s.production) == ("3", 2, 4, False)
    assert s.allowed_cidrs == ["0.0.0.0/0"] and s.network is None
    assert s.log_retention_days == 30
    assert (s.storage.encryption, s.storage.kms_key_arn, s.storage.replica_region) == ("s3", None, None)
    assert s.cache.node_type == "cache.t4g.micro"
    assert s.tls.mode == "self-signed"


def test_values_arrive_as_cli_strings() -> None:
    s = aws_settings(replicas="4", maxReplicas="10", logRetentionDays="90", production="true")
    assert (s.replicas, s.autoscaling_max, s.log_retention_days, s.production) == (4, 10, 90, True)


@pytest.mark.parametrize(
    ("changes", "key", "says"),
    [
        pytest.param({"replicas": "1"}, "registry:replicas", "at least 2", id="one-replica"),
        pytest.param({"version": "2"}, "registry:version", "cannot speak TLS", id="version-2"),
        pytest.param(
            {"replicas": "4", "maxReplicas": "3"}, "registry:maxReplicas", "below replicas", id="max-below-replicas"
        ),
        pytest.param({"tls": {"mode": "acm"}}, "registry:tls.hostedZoneId", "Route 53 zone", id="acm-without-zone"),
        pytest.param(
            {"domain": "localhost", "tls": {"mode": "acm", "hostedZoneId": "Z0123456789ABCDEFGHIJ"}},
            "registry:tls.hostedZoneId",
            "real DNS name",
            id="acm-without-domain",
        ),
        pytest.param({"domain": "localhost"}, "registry:domain", "DNS name", id="self-signed-on-localhost"),
        pytest.param({"domain": "10.0.0.5"}, "registry:domain", "DNS name", id="ip-address-domain"),
        pytest.param({"allowedCidrs": ["2001:db8::/32"]}, "registry:allowedCidrs", "IPv4", id="ipv6-cidr"),
        pytest.param({"allowedCidrs": ["10.0.0.1/8"]}, "registry:allowedCidrs", "CIDR block", id="host-bits"),
        pytest.param({"allowedCidrs": []}, "registry:allowedCidrs", "at least 1", id="no-cidrs"),
        pytest.param({"logRetentionDays": "10"}, "registry:logRetentionDays", "3653", id="retention-not-offered"),
        pytest.param(
            {"retention": {"keepTagged": 5}, "maintenance": {"schedule": "0 3 * * 0", "retention": True}},
            "registry:maintenance.retention",
            "make retention STACK=<stack>",
            id="scheduled-retention-on-aws",
        ),
        pytest.param(
            {"storage": {"versioning": False, "replicaRegion": "eu-central-1"}},
            "registry:storage.replicaRegion",
            "needs versioning",
            id="replication-without-versioning",
        ),
        pytest.param(
            {"storage": {"replicaRegion": "Frankfurt"}}, "registry:storage.replicaRegion", "region", id="bad-region"
        ),
        pytest.param(
            {"storage": {"kmsKeyArn": "arn:aws:kms:eu-west-1:123456789012:key/x"}},
            "registry:storage.kmsKeyArn",
            "encryption 'kms'",
            id="key-without-kms",
        ),
        pytest.param({"cache": {"nodeType": "t4g.micro"}}, "registry:cache.nodeType", "pattern", id="node-type"),
        pytest.param(
            {
                "network": {
                    "vpcId": "vpc-0a1b2c3d",
                    "publicSubnetIds": ["subnet-0a1b2c3d"],
                    "privateSubnetIds": ["subnet-1a1b2c3d", "subnet-2a1b2c3d"],
                }
            },
            "registry:network.publicSubnetIds",
            "at least 2",
            id="network-one-zone",
        ),
        pytest.param({"port": "443"}, "registry:port", "only applies to target local", id="local-key-on-aws"),
    ],
)
def test_aws_rule_names_the_key(changes: dict[str, object], key: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        aws_settings(**changes)
    assert len(caught.value.problems) == 1, caught.value.problems
    problem = caught.value.problems[0]
    assert problem.startswith(f"{key}:"), problem
    assert says in problem, problem


def test_every_offered_retention_is_accepted() -> None:
    assert [aws_settings(logRetentionDays=str(d)).log_retention_days for d in LOG_RETENTION_DAYS] == list(
        LOG_RETENTION_DAYS
    )


def test_production_acm_kms_replica_config_is_valid() -> None:
    s = aws_settings(
        replicas="3",
        production="true",
        tls={"mode": "acm", "hostedZoneId": "Z0123456789ABCDEFGHIJ"},
        storage={"encryption": "kms", "replicaRegion": "eu-central-1"},
    )
    assert (s.tls.mode, s.storage.encryption, s.storage.replica_region, s.autoscaling_max) == (
        "acm",
        "kms",
        "eu-central-1",
        6,
    )
