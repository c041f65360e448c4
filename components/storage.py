"""The S3 bucket behind every registry instance, with what keeps its data safe and its bill bounded.

distribution only ever adds delete markers to a versioned bucket and leaves aborted
multipart uploads behind, so the lifecycle rules here are what actually frees space:
noncurrent versions expire, orphaned delete markers go, incomplete uploads are aborted.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.config import Storage


@dataclass(frozen=True)
class ObjectStorageArgs:
    settings: Storage
    kms_key_arn: pulumi.Input[str] | None = None  # SSE-KMS with this key; None: SSE-S3 (AES256)
    public_access_block: bool = True  # False only for S3-compatible servers that lack the API
    ownership_controls: bool = True
    protect: bool = False  # production: refuse to delete the bucket


class ObjectStorage(pulumi.ComponentResource):
    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    region: pulumi.Output[str]

    def __init__(self, name: str, args: ObjectStorageArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("registry:storage:ObjectStorage", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        cfg = args.settings
        bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket_prefix="registry-",
            force_destroy=cfg.force_destroy,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        rules_depend_on: list[pulumi.Resource] = []
        if cfg.versioning:
            rules_depend_on.append(
                aws.s3.BucketVersioning(
                    f"{name}-versioning",
                    bucket=bucket.id,
                    versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
                    opts=child,
                )
            )
        kms = args.kms_key_arn is not None
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="aws:kms" if kms else "AES256",
                        kms_master_key_id=args.kms_key_arn,
                    ),
                    bucket_key_enabled=kms,
                )
            ],
            opts=child,
        )
        if args.public_access_block:
            aws.s3.BucketPublicAccessBlock(
                f"{name}-public-access-block",
                bucket=bucket.id,
                block_public_acls=True,
                block_public_policy=True,
                ignore_public_acls=True,
                restrict_public_buckets=True,
                opts=child,
            )
        if args.ownership_controls:
            aws.s3.BucketOwnershipControls(
                f"{name}-ownership",
                bucket=bucket.id,
                rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
                opts=child,
            )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket.id,
            rules=lifecycle_rules(cfg),
            opts=pulumi.ResourceOptions(parent=self, depends_on=rules_depend_on),
        )
        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.region = bucket.region
        self.register_outputs({"bucket_name": self.bucket_name, "bucket_arn": self.bucket_arn})


def lifecycle_rules(cfg: Storage) -> list[aws.s3.BucketLifecycleConfigurationRuleArgsDict]:
    """The bucket's lifecycle rules as plain data (the sandbox applies the same rules to its S3)."""
    every_object: aws.s3.BucketLifecycleConfigurationRuleFilterArgsDict = {"prefix": ""}
    rules: list[aws.s3.BucketLifecycleConfigurationRuleArgsDict] = [
        {
            "id": "abort-incomplete-multipart-uploads",
            "status": "Enabled",
            "filter": every_object,
            "abort_incomplete_multipart_upload": {"days_after_initiation": cfg.abort_incomplete_upload_days},
        }
    ]
    if cfg.versioning:
        rules += [
            {
                "id": "expire-noncurrent-versions",
                "status": "Enabled",
                "filter": every_object,
                "noncurrent_version_expiration": {"noncurrent_days": cfg.noncurrent_version_days},
            },
            {
                "id": "remove-expired-delete-markers",
                "status": "Enabled",
                "filter": every_object,
                "expiration": {"expired_object_delete_marker": True},
            },
        ]
    return rules
