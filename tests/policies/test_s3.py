"""S3 policies: one passing and one failing case each (resource args built from plain dicts)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pulumi_policy import PolicyResource

from tests.policies.support import provider, resource, resource_args, run, stack_args

BUCKET = "aws:s3/bucket:Bucket"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
ENCRYPTION = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
ALL_OBJECTS = {"prefix": ""}


def bucket(name: str = "registry-1234", **props: Any) -> PolicyResource:
    return resource(BUCKET, {"bucket": name, **props}, name="bucket")


def attached(type_: str, target: PolicyResource, name: str, **props: Any) -> PolicyResource:
    return resource(type_, {"bucket": target.props["bucket"], **props}, name=name, dependencies=[target])


def safe_bucket(b: PolicyResource) -> list[PolicyResource]:
    return [
        b,
        attached("aws:s3/bucketVersioning:BucketVersioning", b, "v", versioningConfiguration={"status": "Enabled"}),
        attached(ENCRYPTION, b, "e", rules=[{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}}]),
        attached(
            "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
            b,
            "pab",
            blockPublicAcls=True,
            blockPublicPolicy=True,
            ignorePublicAcls=True,
            restrictPublicBuckets=True,
        ),
        attached(LIFECYCLE, b, "l", rules=[]),
    ]


STACK_RULES = [
    "s3-bucket-require-versioning",
    "s3-bucket-require-encryption",
    "s3-bucket-require-public-access-block",
    "s3-bucket-require-lifecycle",
]


@pytest.mark.parametrize("policy", STACK_RULES)
def test_a_bucket_with_all_its_configuration_passes(policy: str) -> None:
    assert run(policy, stack_args(safe_bucket(bucket()))) == []


@pytest.mark.parametrize(
    ("policy", "missing", "fix"),
    [
        ("s3-bucket-require-versioning", "v", "BucketVersioning"),
        ("s3-bucket-require-encryption", "e", "BucketServerSideEncryptionConfiguration"),
        ("s3-bucket-require-public-access-block", "pab", "BucketPublicAccessBlock"),
        ("s3-bucket-require-lifecycle", "l", "BucketLifecycleConfiguration"),
    ],
)
def test_a_bucket_without_one_piece_fails_naming_the_bucket_and_the_fix(policy: str, missing: str, fix: str) -> None:
    resources = [r for r in safe_bucket(bucket()) if r.name != missing]
    [message] = run(policy, stack_args(resources)) or []
    assert message.startswith("bucket (Bucket)") and fix in message


def test_configuration_of_another_bucket_does_not_count() -> None:
    mine = resource(BUCKET, {"bucket": "mine"}, name="mine")
    other = resource(BUCKET, {"bucket": "other"}, name="other")
    versioning = attached(
        "aws:s3/bucketVersioning:BucketVersioning", other, "v", versioningConfiguration={"status": "Enabled"}
    )
    [message] = run("s3-bucket-require-versioning", stack_args([mine, other, versioning])) or []
    assert message.startswith("mine (Bucket)")


def test_the_engine_property_dependencies_link_a_bucket_whose_name_is_not_known_yet() -> None:
    b = resource(BUCKET, {}, name="bucket")
    versioning = resource(
        "aws:s3/bucketVersioning:BucketVersioning", {"versioningConfiguration": {"status": "Enabled"}}, name="v"
    )
    versioning.property_dependencies["bucket"] = [b]
    assert run("s3-bucket-require-versioning", stack_args([b, versioning])) == []


def test_suspended_versioning_fails() -> None:
    b = bucket()
    v = attached("aws:s3/bucketVersioning:BucketVersioning", b, "v", versioningConfiguration={"status": "Suspended"})
    assert len(run("s3-bucket-require-versioning", stack_args([b, v])) or []) == 1


def test_a_public_access_block_with_a_setting_off_fails_naming_it() -> None:
    resources = safe_bucket(bucket())
    block = next(r for r in resources if r.name == "pab")
    block.props["restrictPublicBuckets"] = False  # type: ignore[index]
    [message] = run("s3-bucket-require-public-access-block", stack_args(resources)) or []
    assert "pab" in message and "restrictPublicBuckets" in message


def test_a_bucket_on_an_s3_compatible_server_needs_no_public_access_block() -> None:
    local = provider(props={"endpoints": json.dumps([{"s3": "http://127.0.0.1:8333"}])})
    b = resource(BUCKET, {"bucket": "registry"}, name="bucket", provider=local)
    assert run("s3-bucket-require-public-access-block", stack_args([b])) == []
    on_aws = resource(BUCKET, {"bucket": "registry"}, name="bucket", provider=provider(props={"region": "eu-west-1"}))
    assert len(run("s3-bucket-require-public-access-block", stack_args([on_aws])) or []) == 1


def lifecycle(*rules: dict[str, Any]) -> Any:
    return resource_args(LIFECYCLE, {"bucket": "registry", "rules": list(rules)}, name="lifecycle")


ABORT = {
    "id": "abort",
    "status": "Enabled",
    "filter": ALL_OBJECTS,
    "abortIncompleteMultipartUpload": {"daysAfterInitiation": 7.0},
}
NONCURRENT = {
    "id": "nc",
    "status": "Enabled",
    "filter": ALL_OBJECTS,
    "noncurrentVersionExpiration": {"noncurrentDays": 30.0},
}


def test_lifecycle_rules_that_abort_uploads_and_expire_noncurrent_versions_pass() -> None:
    assert run("s3-lifecycle-abort-incomplete-multipart-uploads", lifecycle(ABORT, NONCURRENT)) == []
    assert run("s3-lifecycle-expire-noncurrent-versions", lifecycle(ABORT, NONCURRENT)) == []


def test_lifecycle_without_the_rules_fails() -> None:
    [message] = run("s3-lifecycle-abort-incomplete-multipart-uploads", lifecycle(NONCURRENT)) or []
    assert "lifecycle" in message and "abort_incomplete_multipart_upload" in message
    [message] = run("s3-lifecycle-expire-noncurrent-versions", lifecycle(ABORT)) or []
    assert "noncurrent_version_expiration" in message


def test_a_disabled_or_prefix_limited_rule_does_not_count() -> None:
    assert run("s3-lifecycle-abort-incomplete-multipart-uploads", lifecycle({**ABORT, "status": "Disabled"}))
    assert run("s3-lifecycle-abort-incomplete-multipart-uploads", lifecycle({**ABORT, "filter": {"prefix": "logs/"}}))


def test_the_longest_allowed_delay_is_a_parameter() -> None:
    slow = {**ABORT, "abortIncompleteMultipartUpload": {"daysAfterInitiation": 90.0}}
    [message] = run("s3-lifecycle-abort-incomplete-multipart-uploads", lifecycle(slow)) or []
    assert "within 30 days (now 90)" in message
    args = resource_args(LIFECYCLE, {"rules": [slow]}, name="lifecycle", config={"maxDays": 120})
    assert run("s3-lifecycle-abort-incomplete-multipart-uploads", args) == []


def encrypted_bucket(algorithm: str, name: str = "registry-1234", **kwargs: Any) -> list[PolicyResource]:
    target = bucket(name)
    rules = [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": algorithm}}]
    config = resource(
        ENCRYPTION, {"bucket": name, "rules": rules}, name=f"{name}-encryption", dependencies=[target], **kwargs
    )
    return [target, config]


def test_kms_encryption_passes_and_s3_managed_keys_are_flagged() -> None:
    assert run("s3-bucket-encryption-use-kms", stack_args(encrypted_bucket("aws:kms"))) == []
    [message] = run("s3-bucket-encryption-use-kms", stack_args(encrypted_bucket("AES256"))) or []
    assert "encryption" in message and "aws:kms" in message


def test_kms_does_not_apply_to_an_s3_compatible_server() -> None:
    local = provider(props={"endpoints": json.dumps([{"s3": "http://127.0.0.1:8333"}])})
    assert run("s3-bucket-encryption-use-kms", stack_args(encrypted_bucket("AES256", provider=local))) == []


def test_kms_does_not_apply_to_a_bucket_receiving_alb_access_logs() -> None:
    """ALB log delivery supports SSE-S3 only; other SSE-S3 buckets of the stack are still flagged."""
    logs = encrypted_bucket("AES256", name="registry-alb-logs-1")
    images = encrypted_bucket("AES256", name="registry-images-1")
    alb = resource(
        "aws:lb/loadBalancer:LoadBalancer",
        {"accessLogs": {"bucket": "registry-alb-logs-1", "enabled": True}},
        name="alb",
        dependencies=[logs[0]],
    )
    [message] = run("s3-bucket-encryption-use-kms", stack_args([*logs, *images, alb])) or []
    assert message.startswith("registry-images-1-encryption:")
    disabled = resource(
        "aws:lb/loadBalancer:LoadBalancer",
        {"accessLogs": {"bucket": "registry-alb-logs-1", "enabled": False}},
        name="alb",
        dependencies=[logs[0]],
    )
    assert len(run("s3-bucket-encryption-use-kms", stack_args([*logs, disabled])) or []) == 1


def bucket_policy(statement: dict[str, Any]) -> Any:
    document = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    return resource_args("aws:s3/bucketPolicy:BucketPolicy", {"bucket": "registry", "policy": document}, name="policy")


def test_a_bucket_policy_for_named_principals_passes() -> None:
    statement = {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/r"}, "Action": "s3:GetObject"}
    assert run("s3-bucket-no-public-policy", bucket_policy(statement)) == []
    deny_all = {"Effect": "Deny", "Principal": "*", "Action": "s3:*"}
    assert run("s3-bucket-no-public-policy", bucket_policy(deny_all)) == []


@pytest.mark.parametrize("principal", ["*", {"AWS": "*"}, {"AWS": ["arn:aws:iam::1:root", "*"]}])
def test_a_bucket_policy_open_to_anyone_fails(principal: Any) -> None:
    statement = {"Sid": "Public", "Effect": "Allow", "Principal": principal, "Action": "s3:GetObject"}
    [message] = run("s3-bucket-no-public-policy", bucket_policy(statement)) or []
    assert "policy" in message and "Public" in message
