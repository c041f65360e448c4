"""S3: the bucket that holds every blob and manifest.

pulumi-aws 7 declares versioning, encryption, the public access block and lifecycle rules as
resources of their own, attached to a bucket by its name, so "this bucket has X" is a stack
rule (it needs to see both), while "this lifecycle configuration does Y" is a resource rule.
The deprecated `...V2` tokens and the bucket's inline arguments are understood too.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import PolicyProviderResource, PolicyResource, ResourceValidationArgs, StackValidationArgs

from .common import (
    ADVISORY,
    MANDATORY,
    Config,
    ResourceCheck,
    as_list,
    as_mapping,
    json_document,
    label,
    linked,
    of_types,
    prop_value,
    resource_policy,
    stack_policy,
)

LOAD_BALANCERS = {"aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer"}
BUCKETS = {"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"}
VERSIONING = {"aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2"}
ENCRYPTION = {
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
}
PUBLIC_ACCESS_BLOCK = {"aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"}
LIFECYCLE = {
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2",
}
BUCKET_POLICY = {"aws:s3/bucketPolicy:BucketPolicy"}
PUBLIC_ACCESS_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
KMS_ALGORITHMS = {"aws:kms", "aws:kms:dsse"}


def _attached(bucket: PolicyResource, resources: list[PolicyResource], types: set[str]) -> list[PolicyResource]:
    """The configuration resources of `types` whose `bucket` is this bucket."""
    return [r for r in of_types(resources, types) if bucket in linked(r, "bucket", [bucket], ["bucket", "id"])]


def _on_custom_endpoint(provider: PolicyProviderResource | None) -> bool:
    """True when the provider points S3 at another server (an S3-compatible store, not AWS)."""
    if provider is None:
        return False
    endpoints = json_document(provider.props.get("endpoints"))
    return any(as_mapping(e).get("s3") for e in as_list(endpoints))


# ---------------------------------------------------------------- stack rules: what each bucket has


def _versioning(args: StackValidationArgs, _: Config) -> Iterator[tuple[str, PolicyResource | None]]:
    for bucket in of_types(args.resources, BUCKETS):
        inline = as_mapping(prop_value(bucket, "versioning")).get("enabled") is True
        enabled = [
            v
            for v in _attached(bucket, args.resources, VERSIONING)
            if as_mapping(prop_value(v, "versioningConfiguration")).get("status") == "Enabled"
        ]
        if not inline and not enabled:
            yield (
                f"{label(bucket)} has no enabled versioning: add an aws.s3.BucketVersioning for it with "
                "versioning_configuration status 'Enabled', so overwritten or deleted images can be recovered",
                bucket,
            )


def _encryption(args: StackValidationArgs, _: Config) -> Iterator[tuple[str, PolicyResource | None]]:
    for bucket in of_types(args.resources, BUCKETS):
        configured = [
            c for c in _attached(bucket, args.resources, ENCRYPTION) if _sse_algorithms(prop_value(c, "rules"))
        ]
        inline = _sse_algorithms(as_mapping(prop_value(bucket, "serverSideEncryptionConfiguration")).get("rule"))
        if not configured and not inline:
            yield (
                f"{label(bucket)} has no default encryption: add an aws.s3.BucketServerSideEncryptionConfiguration "
                "with sse_algorithm 'aws:kms' or 'AES256'",
                bucket,
            )


def _sse_algorithms(rules: Any) -> set[str]:
    return {
        str(as_mapping(as_mapping(rule).get("applyServerSideEncryptionByDefault")).get("sseAlgorithm"))
        for rule in as_list(rules)
        if as_mapping(as_mapping(rule).get("applyServerSideEncryptionByDefault")).get("sseAlgorithm")
    }


def _public_access_block(args: StackValidationArgs, _: Config) -> Iterator[tuple[str, PolicyResource | None]]:
    for bucket in of_types(args.resources, BUCKETS):
        if _on_custom_endpoint(bucket.provider):
            continue  # S3-compatible servers have no public access block API; see the module docs
        blocks = _attached(bucket, args.resources, PUBLIC_ACCESS_BLOCK)
        if not blocks:
            yield (
                f"{label(bucket)} has no public access block: add an aws.s3.BucketPublicAccessBlock with "
                f"{', '.join(PUBLIC_ACCESS_FLAGS)} all True",
                bucket,
            )
            continue
        for block in blocks:
            off = [flag for flag in PUBLIC_ACCESS_FLAGS if prop_value(block, flag) is not True]
            if off:
                yield f"{label(block)} leaves {', '.join(off)} off: set them True", block


def _has_lifecycle(args: StackValidationArgs, _: Config) -> Iterator[tuple[str, PolicyResource | None]]:
    for bucket in of_types(args.resources, BUCKETS):
        if not _attached(bucket, args.resources, LIFECYCLE) and not prop_value(bucket, "lifecycleRules"):
            yield (
                f"{label(bucket)} has no lifecycle configuration: add an aws.s3.BucketLifecycleConfiguration that "
                "aborts incomplete multipart uploads and expires noncurrent versions, or storage grows forever",
                bucket,
            )


# ---------------------------------------------------------------- resource rules: what a configuration does


def _whole_bucket_rules(args: ResourceValidationArgs) -> list[Mapping[str, Any]]:
    """Enabled lifecycle rules that apply to every object (no prefix, tag or size filter)."""
    rules = []
    for rule in map(as_mapping, as_list(args.props.get("rules"))):
        narrowing = {k: v for k, v in as_mapping(rule.get("filter")).items() if v not in (None, "")}
        if rule.get("status") == "Enabled" and not narrowing and not rule.get("prefix"):
            rules.append(rule)
    return rules


def _lifecycle_rule(rule: str, days_field: str, argument: str, action: str, why: str) -> ResourceCheck:
    """A check that some whole-bucket rule sets `rule.days_field`, to at most the `maxDays` parameter."""

    def check(args: ResourceValidationArgs, config: Config) -> Iterator[str]:
        days = [as_mapping(r.get(rule)).get(days_field) for r in _whole_bucket_rules(args)]
        shortest = min((float(d) for d in days if d is not None), default=None)
        if shortest is None:
            yield (
                f"{args.name}: add an enabled rule for the whole bucket with {argument} "
                f"(<= {config['maxDays']:g} days); {why}"
            )
        elif shortest > config["maxDays"]:
            yield f"{args.name}: {action} within {config['maxDays']:g} days (now {shortest:g})"

    return check


_aborts_uploads = _lifecycle_rule(
    "abortIncompleteMultipartUpload",
    "daysAfterInitiation",
    "abort_incomplete_multipart_upload",
    "abort incomplete multipart uploads",
    "the registry leaves abandoned uploads behind",
)
_expires_noncurrent = _lifecycle_rule(
    "noncurrentVersionExpiration",
    "noncurrentDays",
    "noncurrent_version_expiration",
    "expire noncurrent versions",
    "deleted images otherwise stay billed as noncurrent versions",
)


def _uses_kms(args: StackValidationArgs, _: Config) -> Iterator[tuple[str, PolicyResource | None]]:
    buckets = of_types(args.resources, BUCKETS)
    # ALB access log delivery supports SSE-S3 only (ELB user guide, "Access logs"): those buckets are exempt
    log_buckets = [
        b
        for lb in of_types(args.resources, LOAD_BALANCERS)
        for b in linked(lb, "accessLogs", buckets, ["bucket"])
        if as_mapping(prop_value(lb, "accessLogs")).get("enabled") is True
    ]
    for config in of_types(args.resources, ENCRYPTION):
        if _on_custom_endpoint(config.provider):
            continue  # an S3-compatible server has no AWS KMS
        if any(b in log_buckets for b in linked(config, "bucket", buckets, ["bucket", "id"])):
            continue
        if not _sse_algorithms(prop_value(config, "rules")) & KMS_ALGORITHMS:
            yield (
                f"{config.name}: set sse_algorithm 'aws:kms' (registry:storage.encryption kms) to control and audit the key",
                config,
            )


def _no_public_policy(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    document = as_mapping(json_document(args.props.get("policy")))
    for i, statement in enumerate(map(as_mapping, as_list(document.get("Statement")))):
        if (
            statement.get("Effect") == "Allow"
            and _anyone(statement.get("Principal"))
            and not statement.get("Condition")
        ):
            yield (
                f"{args.name}: statement {statement.get('Sid') or i} allows any principal ('*') without a condition; "
                "name the principals (account, role ARNs) or add a condition"
            )


def _anyone(principal: Any) -> bool:
    if principal == "*":
        return True
    return any("*" in as_list(v) for v in as_mapping(principal).values())


POLICIES = [
    stack_policy(
        name="s3-bucket-require-versioning",
        description="Every S3 bucket has versioning enabled, so a deleted or overwritten image can be restored (CKV_AWS_21).",
        check=_versioning,
        level=MANDATORY,
    ),
    stack_policy(
        name="s3-bucket-require-encryption",
        description="Every S3 bucket has default server-side encryption configured (CKV_AWS_19).",
        check=_encryption,
        level=MANDATORY,
    ),
    stack_policy(
        name="s3-bucket-require-public-access-block",
        description="Every S3 bucket on AWS has a public access block with all four settings on (CKV2_AWS_6, CKV_AWS_53-56).",
        check=_public_access_block,
        level=MANDATORY,
    ),
    stack_policy(
        name="s3-bucket-require-lifecycle",
        description="Every S3 bucket has a lifecycle configuration, so storage the registry abandons is freed (CKV2_AWS_61).",
        check=_has_lifecycle,
        level=ADVISORY,
    ),
    resource_policy(
        name="s3-lifecycle-abort-incomplete-multipart-uploads",
        description="S3 lifecycle configurations abort incomplete multipart uploads for the whole bucket (CKV_AWS_300).",
        types=LIFECYCLE,
        check=_aborts_uploads,
        level=ADVISORY,
        params={"maxDays": {"type": "number", "minimum": 1, "default": 30}},
    ),
    resource_policy(
        name="s3-lifecycle-expire-noncurrent-versions",
        description="S3 lifecycle configurations expire noncurrent object versions for the whole bucket.",
        types=LIFECYCLE,
        check=_expires_noncurrent,
        level=ADVISORY,
        params={"maxDays": {"type": "number", "minimum": 1, "default": 365}},
    ),
    stack_policy(
        name="s3-bucket-encryption-use-kms",
        description="S3 default encryption on AWS uses a KMS key rather than S3-managed keys, except where ALB access logs are delivered (CKV_AWS_145).",
        check=_uses_kms,
        level=ADVISORY,
    ),
    resource_policy(
        name="s3-bucket-no-public-policy",
        description="S3 bucket policies grant nothing to any principal ('*') without a condition (CKV_AWS_70).",
        types=BUCKET_POLICY,
        check=_no_public_policy,
        level=MANDATORY,
    ),
]
