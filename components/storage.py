"""The S3 bucket behind every registry instance, with what keeps its data safe and its bill bounded.

distribution only ever adds delete markers to a versioned bucket and leaves aborted
multipart uploads behind, so the lifecycle rules here are what actually frees space:
noncurrent versions expire, orphaned delete markers go, incomplete uploads are aborted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.config import Storage


@dataclass(frozen=True)
class StorageReplica:
    """A copy of every object in a second region (S3 replication; versioning on both sides)."""

    provider: pulumi.ProviderResource  # an aws provider for the replica's region
    kms_key_arn: pulumi.Input[str] | None = None  # SSE-KMS key in that region; None: SSE-S3


@dataclass(frozen=True)
class ObjectStorageArgs:
    settings: Storage
    kms_key_arn: pulumi.Input[str] | None = None  # SSE-KMS with this key; None: SSE-S3 (AES256)
    public_access_block: bool = True  # False only for S3-compatible servers that lack the API
    ownership_controls: bool = True
    protect: bool = False  # production: refuse to delete the bucket
    replica: StorageReplica | None = None
    bucket_prefix: str = "registry-"
    expire_objects_after_days: int | None = None  # logs: current objects go too; never for images


class ObjectStorage(pulumi.ComponentResource):
    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    region: pulumi.Output[str]
    replica_bucket_arn: pulumi.Output[str] | None
    replication_role_arn: pulumi.Output[str] | None

    def __init__(self, name: str, args: ObjectStorageArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("registry:storage:ObjectStorage", name, None, opts)
        bucket, versioning = self._bucket(name, args, args.kms_key_arn, pulumi.ResourceOptions(parent=self))
        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.region = bucket.region
        self.replica_bucket_arn = self.replication_role_arn = None
        if args.replica is not None:
            if versioning is None:
                raise ValueError("S3 replication needs versioning on the source bucket")
            self.replica_bucket_arn = self._replicate(name, args, bucket, versioning, args.replica)
        self.register_outputs(
            {
                "bucket_name": self.bucket_name,
                "bucket_arn": self.bucket_arn,
                "replica_bucket_arn": self.replica_bucket_arn,
            }
        )

    def _bucket(
        self, prefix: str, args: ObjectStorageArgs, kms_key_arn: pulumi.Input[str] | None, child: pulumi.ResourceOptions
    ) -> tuple[aws.s3.Bucket, aws.s3.BucketVersioning | None]:
        """A bucket with versioning, default encryption, no public access and the lifecycle rules."""
        cfg = args.settings
        bucket = aws.s3.Bucket(
            f"{prefix}-bucket",
            bucket_prefix=args.bucket_prefix,
            force_destroy=cfg.force_destroy,
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(protect=args.protect)),
        )
        versioning = None
        if cfg.versioning:
            versioning = aws.s3.BucketVersioning(
                f"{prefix}-versioning",
                bucket=bucket.id,
                versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
                opts=child,
            )
        kms = kms_key_arn is not None
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{prefix}-encryption",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="aws:kms" if kms else "AES256",
                        kms_master_key_id=kms_key_arn,
                    ),
                    bucket_key_enabled=kms,
                )
            ],
            opts=child,
        )
        if args.public_access_block:
            aws.s3.BucketPublicAccessBlock(
                f"{prefix}-public-access-block",
                bucket=bucket.id,
                block_public_acls=True,
                block_public_policy=True,
                ignore_public_acls=True,
                restrict_public_buckets=True,
                opts=child,
            )
        if args.ownership_controls:
            aws.s3.BucketOwnershipControls(
                f"{prefix}-ownership",
                bucket=bucket.id,
                rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
                opts=child,
            )
        aws.s3.BucketLifecycleConfiguration(
            f"{prefix}-lifecycle",
            bucket=bucket.id,
            rules=lifecycle_rules(cfg, args.expire_objects_after_days),
            opts=pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(depends_on=[versioning] if versioning else [])
            ),
        )
        return bucket, versioning

    def _replicate(
        self,
        name: str,
        args: ObjectStorageArgs,
        source: aws.s3.Bucket,
        source_versioning: aws.s3.BucketVersioning,
        replica: StorageReplica,
    ) -> pulumi.Output[str]:
        """Replica bucket in the other region, the role S3 assumes, and the rule copying every object."""
        if (args.kms_key_arn is None) != (replica.kms_key_arn is None):
            raise ValueError("encrypt the replica like the source: give both KMS keys or neither")
        child = pulumi.ResourceOptions(parent=self)
        target, target_versioning = self._bucket(
            f"{name}-replica",
            args,
            replica.kms_key_arn,
            pulumi.ResourceOptions(parent=self, provider=replica.provider),
        )
        role = aws.iam.Role(
            f"{name}-replication-role",
            description="S3 replication of the registry bucket",
            assume_role_policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sts:AssumeRole"}
                    ],
                }
            ),
            opts=child,
        )
        self.replication_role_arn = role.arn
        policy = aws.iam.RolePolicy(
            f"{name}-replication-policy",
            role=role.id,
            policy=pulumi.Output.json_dumps(
                replication_policy(source.arn, target.arn, args.kms_key_arn, replica.kms_key_arn)
            ),
            opts=child,
        )
        aws.s3.BucketReplicationConfig(
            f"{name}-replication",
            bucket=source.id,
            role=role.arn,
            rules=[_replication_rule(target.arn, kms=args.kms_key_arn is not None, replica_key=replica.kms_key_arn)],
            # S3 refuses the rule until both buckets are versioned and the role may act
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[r for r in (policy, source_versioning, target_versioning) if r]
            ),
        )
        return target.arn


def _replication_rule(
    target_arn: pulumi.Input[str], *, kms: bool, replica_key: pulumi.Input[str] | None
) -> aws.s3.BucketReplicationConfigRuleArgs:
    """Every object, delete markers included (GC and upload cleanup only add those: the copy must match)."""
    return aws.s3.BucketReplicationConfigRuleArgs(
        id="replicate-everything",
        status="Enabled",
        filter=aws.s3.BucketReplicationConfigRuleFilterArgs(prefix=""),
        delete_marker_replication=aws.s3.BucketReplicationConfigRuleDeleteMarkerReplicationArgs(status="Enabled"),
        destination=aws.s3.BucketReplicationConfigRuleDestinationArgs(
            bucket=target_arn,
            storage_class="STANDARD",
            encryption_configuration=aws.s3.BucketReplicationConfigRuleDestinationEncryptionConfigurationArgs(
                replica_kms_key_id=replica_key
            )
            if replica_key is not None
            else None,
        ),
        source_selection_criteria=aws.s3.BucketReplicationConfigRuleSourceSelectionCriteriaArgs(
            sse_kms_encrypted_objects=aws.s3.BucketReplicationConfigRuleSourceSelectionCriteriaSseKmsEncryptedObjectsArgs(
                status="Enabled"
            )
        )
        if kms
        else None,
    )


def replication_policy(
    source_arn: pulumi.Input[str],
    replica_arn: pulumi.Input[str],
    source_key_arn: pulumi.Input[str] | None,
    replica_key_arn: pulumi.Input[str] | None,
) -> dict[str, Any]:
    """Least privilege for S3 replication: read versions here, write replicas there."""
    statements: list[dict[str, Any]] = [
        {"Effect": "Allow", "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"], "Resource": source_arn},
        {
            "Effect": "Allow",
            "Action": ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging"],
            "Resource": pulumi.Output.concat(source_arn, "/*"),
        },
        {
            "Effect": "Allow",
            "Action": ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
            "Resource": pulumi.Output.concat(replica_arn, "/*"),
        },
    ]
    if source_key_arn is not None and replica_key_arn is not None:
        statements += [
            {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": source_key_arn},
            {"Effect": "Allow", "Action": "kms:Encrypt", "Resource": replica_key_arn},
        ]
    return {"Version": "2012-10-17", "Statement": statements}


def lifecycle_rules(
    cfg: Storage, expire_objects_after_days: int | None = None
) -> list[aws.s3.BucketLifecycleConfigurationRuleArgsDict]:
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
    if expire_objects_after_days is not None:
        # S3 refuses `days` and `expired_object_delete_marker` in one rule's expiration: a rule of its own
        rules.append(
            {
                "id": "expire-objects",
                "status": "Enabled",
                "filter": every_object,
                "expiration": {"days": expire_objects_after_days},
            }
        )
    return rules
