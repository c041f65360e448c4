"""AWS-only rules of the config model: each case changes one thing from a minimal valid aws config."""

from __future__ import annotations

import json
from typing import cast

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


def assert_refused_naming(changes: dict[str, object], key: str, says: str) -> None:
    """Exactly one problem, naming `key` first and saying `says`."""
    with pytest.raises(ConfigError) as caught:
        aws_settings(**changes)
    assert len(caught.value.problems) == 1, caught.value.problems
    problem = caught.value.problems[0]
    assert problem.startswith(f"{key}:"), problem
    assert says in problem, problem


def test_minimal_aws_config_gets_documented_defaults() -> None:
    s = aws_settings()
    assert (s.version, s.replicas, s.autoscaling_max, s.production) == ("3", 2, 4, False)
    assert s.allowed_cidrs == ["0.0.0.0/0"] and s.network is None
    assert s.log_retention_days == 30
    assert (s.storage.encryption, s.storage.kms_key_arn, s.storage.replica_region) == ("s3", None, None)
    assert s.cache.node_type == "cache.t4g.micro"
    assert s.tls.mode == "self-signed"


def test_values_arrive_as_cli_strings() -> None:
    s = aws_settings(replicas="4", maxReplicas="10", logRetentionDays="400", production="true")
    assert (s.replicas, s.autoscaling_max, s.log_retention_days, s.production) == (4, 10, 400, True)


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
    assert_refused_naming(changes, key, says)


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


# ---------------------------------------------------------------- registry:regions

ZONE = "Z0123456789ABCDEFGHIJ"
KEY_EU = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
KEY_US = "arn:aws:kms:us-east-1:123456789012:key/22222222-3333-4444-5555-666666666666"
KEY_AP = "arn:aws:kms:ap-southeast-1:123456789012:key/33333333-4444-5555-6666-777777777777"
# the smallest config registry:regions accepts: an ACM certificate in a Route 53 zone, two secondaries
MINIMAL_REGIONS: dict[str, object] = {
    "tls": {"mode": "acm", "hostedZoneId": ZONE},
    "regions": {"primary": "eu-west-1", "secondaries": ["us-east-1", "ap-southeast-1"]},
}
# the same with the bucket under a given key: then each secondary names its replica's key
MINIMAL_REGIONS_KMS: dict[str, object] = {
    **MINIMAL_REGIONS,
    "storage": {"encryption": "kms", "kmsKeyArn": KEY_EU},
    "regions": {
        "primary": "eu-west-1",
        "secondaries": ["us-east-1", "ap-southeast-1"],
        "kmsKeyArns": {"us-east-1": KEY_US, "ap-southeast-1": KEY_AP},
    },
}


def with_changed(base: dict[str, object], section: str, **changes: object) -> dict[str, object]:
    """`base` with one key of one section changed (a value of None removes the key)."""
    changed = {**base}
    value = dict(cast(dict[str, object], base.get(section, {})))
    for key, new in changes.items():
        if new is None:
            value.pop(key, None)
        else:
            value[key] = new
    changed[section] = value
    return changed


def test_minimal_regions_get_documented_defaults() -> None:
    s = aws_settings(**MINIMAL_REGIONS)
    assert s.regions is not None
    assert (s.regions.primary, s.regions.secondaries) == ("eu-west-1", ["us-east-1", "ap-southeast-1"])
    assert (s.regions.replication_time_control, s.regions.promoted, s.regions.kms_key_arns) == (True, None, {})
    assert s.pull_domain == "pull.registry.example.com"
    # every region's edge answers both names (the ALB keeps the Host header)
    assert s.edge_names[:2] == ["registry.example.com", "pull.registry.example.com"]
    assert aws_settings().pull_domain is None and "pull.registry.example.com" not in aws_settings().edge_names


def test_regions_with_given_keys_and_a_promoted_secondary_are_valid() -> None:
    s = aws_settings(**with_changed(MINIMAL_REGIONS_KMS, "regions", promoted="us-east-1", pullDomain="cdn.example.com"))
    assert s.regions is not None and s.regions.kms_key_arns == {"us-east-1": KEY_US, "ap-southeast-1": KEY_AP}
    assert (s.regions.promoted, s.pull_domain) == ("us-east-1", "cdn.example.com")


@pytest.mark.parametrize(
    ("changes", "key", "says"),
    [
        pytest.param(
            with_changed(MINIMAL_REGIONS, "regions", secondaries=["us-east-1", "us-east-1"]),
            "registry:regions.secondaries",
            "more than once",
            id="duplicate-secondary",
        ),
        pytest.param(
            with_changed(MINIMAL_REGIONS, "regions", secondaries=["us-east-1", "eu-west-1"]),
            "registry:regions.secondaries",
            "lists the primary eu-west-1",
            id="primary-among-secondaries",
        ),
        pytest.param(
            with_changed(MINIMAL_REGIONS, "regions", secondaries=["us-east-1", "Singapore"]),
            "registry:regions.secondaries",
            "'Singapore' is not an AWS region name",
            id="bad-secondary-region",
        ),
        pytest.param(
            with_changed(MINIMAL_REGIONS, "regions", primary="Ireland"),
            "registry:regions.primary",
            "'Ireland' is not an AWS region name",
            id="bad-primary-region",
        ),
        pytest.param(
            with_changed(MINIMAL_REGIONS, "regions", secondaries=[]),
            "registry:regions.secondaries",
            "at least 1",
            id="no-secondary",
        ),
        pytest.param(
            {**MINIMAL_REGIONS, "storage": {"versioning": False}},
            "registry:storage.versioning",
            "a secondary would have no replica bucket",
            id="regions-without-versioning",
        ),
        pytest.param(
            {**MINIMAL_REGIONS, "storage": {"replicaRegion": "eu-central-1"}},
            "registry:storage.replicaRegion",
            "move eu-central-1 into regions.secondaries, which also serves it",
            id="replica-region-and-regions",
        ),
        pytest.param(
            with_changed(MINIMAL_REGIONS, "tls", mode="self-signed"),
            "registry:tls.mode",
            "needs 'acm' with tls.hostedZoneId",
            id="regions-without-acm",
        ),
        pytest.param(
            with_changed(MINIMAL_REGIONS, "tls", hostedZoneId=None),
            "registry:tls.hostedZoneId",
            "Route 53 zone",
            id="regions-without-zone",
        ),
        pytest.param(
            with_changed(MINIMAL_REGIONS_KMS, "regions", kmsKeyArns={"us-east-1": KEY_US}),
            "registry:regions.kmsKeyArns",
            "has no key for ap-southeast-1: a region without a replica bucket key",
            id="secondary-without-replica-key",
        ),
        pytest.param(
            with_changed(
                MINIMAL_REGIONS_KMS,
                "regions",
                kmsKeyArns={"us-east-1": KEY_US, "ap-southeast-1": KEY_AP, "eu-central-1": KEY_EU},
            ),
            "registry:regions.kmsKeyArns",
            "has a key for eu-central-1, which is not a secondary",
            id="key-for-a-region-that-is-not-secondary",
        ),
        pytest.param(
            with_changed(MINIMAL_REGIONS_KMS, "regions", kmsKeyArns={"us-east-1": KEY_US, "ap-southeast-1": KEY_US}),
            "registry:regions.kmsKeyArns.ap-southeast-1",
            "is not the ARN of a KMS key in ap-southeast-1",
            id="key-of-another-region",
        ),
        pytest.param(
            with_changed(MINIMAL_REGIONS_KMS, "storage", kmsKeyArn=None),
            "registry:regions.kmsKeyArns",
            "only used with storage.kmsKeyArn",
            id="replica-keys-without-a-bucket-key",
        ),
        pytest.param(
            with_changed(MINIMAL_REGIONS_KMS, "storage", kmsKeyArn=KEY_US),
            "registry:storage.kmsKeyArn",
            "not the ARN of a KMS key in the primary region eu-west-1",
            id="bucket-key-outside-the-primary",
        ),
        pytest.param(
            with_changed(MINIMAL_REGIONS, "regions", promoted="eu-central-1"),
            "registry:regions.promoted",
            "(eu-central-1) is not a secondary",
            id="promoted-not-a-secondary",
        ),
        pytest.param(
            with_changed(MINIMAL_REGIONS, "regions", pullDomain="registry.example.com"),
            "registry:regions.pullDomain",
            "stays the push name",
            id="pull-domain-is-the-push-domain",
        ),
        pytest.param(
            with_changed(MINIMAL_REGIONS, "regions", pullDomain="https://pull.example.com"),
            "registry:regions.pullDomain",
            "not a DNS name",
            id="pull-domain-not-a-dns-name",
        ),
        pytest.param(
            with_changed(MINIMAL_REGIONS, "regions", bogus="1"),
            "registry:regions.bogus",
            "unknown key",
            id="unknown-regions-key",
        ),
    ],
)
def test_regions_rule_names_the_key(changes: dict[str, object], key: str, says: str) -> None:
    assert_refused_naming(changes, key, says)


def test_regions_only_apply_to_target_aws() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({"registry:regions": json.dumps(MINIMAL_REGIONS["regions"])})
    assert caught.value.problems == [
        "registry:regions: only applies to target aws, not local; remove it (`pulumi config rm registry:regions`)"
    ]


# ---------------------------------------------------------------- registry:alerts, cache.customerKey, log retention


def test_alerts_default_to_no_address_and_documented_thresholds() -> None:
    s = aws_settings()
    assert (s.alerts.emails, s.alerts.p99_latency_seconds, s.alerts.five_xx_percent) == ([], 2.0, 5.0)
    assert s.cache.customer_key is False
    tuned = aws_settings(alerts={"emails": ["ops@example.com"], "p99LatencySeconds": "0.5", "fiveXxPercent": "1"})
    assert (tuned.alerts.emails, tuned.alerts.p99_latency_seconds, tuned.alerts.five_xx_percent) == (
        ["ops@example.com"],
        0.5,
        1.0,
    )


@pytest.mark.parametrize(
    ("changes", "key", "says"),
    [
        pytest.param(
            {"alerts": {"emails": ["ops@example.com", "ops at example.com"]}},
            "registry:alerts.emails[1]",
            "('ops at example.com') is not an email address like ops@example.com",
            id="email-not-an-address",
        ),
        pytest.param(
            {"alerts": {"emails": ["ops@localhost"]}},
            "registry:alerts.emails[0]",
            "is not an email address",
            id="email-without-a-domain",
        ),
        pytest.param(
            {"alerts": {"emails": ["ops@example.com", "OPS@example.com"]}},
            "registry:alerts.emails[1]",
            "repeats alerts.emails[0]",
            id="email-twice",
        ),
        pytest.param(
            {"alerts": {"p99LatencySeconds": "0"}},
            "registry:alerts.p99LatencySeconds",
            "greater than 0",
            id="p99-zero",
        ),
        pytest.param(
            {"alerts": {"p99LatencySeconds": "901"}},
            "registry:alerts.p99LatencySeconds",
            "less than or equal to 900",
            id="p99-beyond-the-idle-timeout",
        ),
        pytest.param(
            {"alerts": {"fiveXxPercent": "101"}},
            "registry:alerts.fiveXxPercent",
            "less than or equal to 100",
            id="5xx-over-100",
        ),
        pytest.param({"alerts": {"email": ["a@b.co"]}}, "registry:alerts.email", "did you mean", id="misspelled-key"),
        pytest.param(
            {"production": "true", "logRetentionDays": "90"},
            "registry:logRetentionDays",
            "(90) is below 365 days on a production stack",
            id="production-retention-below-a-year",
        ),
    ],
)
def test_alerts_and_retention_rules_name_the_key(changes: dict[str, object], key: str, says: str) -> None:
    assert_refused_naming(changes, key, says)


def test_production_keeps_logs_a_year_unless_told_longer() -> None:
    assert aws_settings(production="true").log_retention_days == 365
    assert aws_settings(production="true", logRetentionDays="731").log_retention_days == 731
    assert aws_settings(production="false").log_retention_days == 30
    assert aws_settings(logRetentionDays="7").log_retention_days == 7


def test_production_without_alert_addresses_is_warned_about() -> None:
    [warning] = aws_settings(production="true").warnings
    assert warning.startswith("registry:alerts.emails: none on a production stack")
    assert aws_settings(production="true", alerts={"emails": ["ops@example.com"]}).warnings == []
    assert aws_settings().warnings == []  # not production: no mail expected


@pytest.mark.parametrize("target", ["local", "ecr", "gar"])
def test_alerts_only_apply_to_target_aws(target: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({"registry:target": target, "registry:alerts": json.dumps({"emails": ["ops@example.com"]})})
    assert (
        "registry:alerts: only applies to target aws, not "
        f"{target}; remove it (`pulumi config rm registry:alerts`)" in caught.value.problems
    )


def test_cache_customer_key_is_an_aws_key() -> None:
    assert aws_settings(cache={"customerKey": True}).cache.customer_key is True
    with pytest.raises(ConfigError) as caught:
        load_settings({"registry:cache": json.dumps({"customerKey": True})})
    assert caught.value.problems[0].startswith("registry:cache.customerKey: unknown key")
