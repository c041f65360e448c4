"""The S3 bucket behind every registry instance, with what keeps its data safe and its bill bounded.

distribution only ever adds delete markers to a versioned bucket and leaves aborted
multipart uploads behind, so the lifecycle rules here are what actually frees space:
noncurrent versions expire, orphaned delete markers go, incomplete uploads are aborted.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
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
    region: str | None = None  # with several replicas (ObjectStorageArgs.replicas): names its resources


@dataclass(frozen=True)
class ReplicaBucket:
    """A replica bucket of ObjectStorageArgs.replicas, as the region that serves it needs it."""

    name: pulumi.Output[str]
    arn: pulumi.Output[str]


@dataclass(frozen=True)
class ObjectStorageArgs:
    settings: Storage
    kms_key_arn: pulumi.Input[str] | None = None  # SSE-KMS with this key; None: SSE-S3 (AES256)
    public_access_block: bool = True  # False only for S3-compatible servers that lack the API
    ownership_controls: bool = True
    protect: bool = False  # production: refuse to delete the bucket
    replica: StorageReplica | None = None
    # registry:regions: a replica bucket in each region, each served there (one replication rule per
    # destination); never together with `replica`
    replicas: Sequence[StorageReplica] = ()
    replication_time_control: bool = False  # S3 RTC on the `replicas` rules
    bucket_prefix: str = "registry-"
    expire_objects_after_days: int | None = None  # logs: current objects go too; never for images


class ObjectStorage(pulumi.ComponentResource):
    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    region: pulumi.Output[str]
    replica_bucket_arn: pulumi.Output[str] | None
    replication_role_arn: pulumi.Output[str] | None
    replica_buckets: dict[str, ReplicaBucket]  # region -> its bucket, for ObjectStorageArgs.replicas

    def __init__(self, name: str, args: ObjectStorageArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("registry:storage:ObjectStorage", name, None, opts)
        bucket, versioning = self._bucket(name, args, args.kms_key_arn, pulumi.ResourceOptions(parent=self))
        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.region = bucket.region
        self.replica_bucket_arn = self.replication_role_arn = None
        self.replica_buckets = {}
        if args.replica is not None and args.replicas:
            raise ValueError("give one replica or several replicas, not both")
        if args.replica is not None or args.replicas:
            if versioning is None:
                raise ValueError("S3 replication needs versioning on the source bucket")
            targets = self._replicate(name, args, bucket, versioning)
            if args.replica is not None:
                self.replica_bucket_arn = targets[0].arn
            else:
                self.replica_buckets = {r.region or "": t for r, t in zip(args.replicas, targets, strict=True)}
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
    ) -> list[ReplicaBucket]:
        """A replica bucket in each other region, the role S3 assumes, and the rules copying every object
        there. One `replica`: the rule and names as they always were. Several `replicas` (registry:regions):
        one rule per destination: replication to several destination buckets needs a unique `priority` on each
        rule and a `filter` (the `rules` note of https://www.pulumi.com/registry/packages/aws/api-docs/s3/bucketreplicationconfig),
        and a rule with a `filter` must say `delete_marker_replication`
        (https://docs.aws.amazon.com/AmazonS3/latest/API/API_ReplicationRule.html)."""
        replicas = [args.replica] if args.replica is not None else list(args.replicas)
        child = pulumi.ResourceOptions(parent=self)
        targets, target_versionings = self._replica_buckets(name, args, replicas)
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
                replication_policy(
                    source.arn, [t.arn for t in targets], args.kms_key_arn, [r.kms_key_arn for r in replicas]
                )
            ),
            opts=child,
        )
        aws.s3.BucketReplicationConfig(
            f"{name}-replication",
            bucket=source.id,
            role=role.arn,
            rules=self._rules(args, replicas, targets),
            # S3 refuses the rules until every bucket is versioned and the role may act
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[r for r in (policy, source_versioning, *target_versionings) if r]
            ),
        )
        return targets

    def _replica_buckets(
        self, name: str, args: ObjectStorageArgs, replicas: Sequence[StorageReplica]
    ) -> tuple[list[ReplicaBucket], list[aws.s3.BucketVersioning | None]]:
        """Each replica's bucket in its region, encrypted like the source (same lifecycle, versioned)."""
        targets, versionings = [], []
        for replica in replicas:
            if (args.kms_key_arn is None) != (replica.kms_key_arn is None):
                raise ValueError("encrypt the replica like the source: give both KMS keys or neither")
            prefix = f"{name}-replica" if args.replica is not None else f"{name}-replica-{replica.region}"
            target, versioning = self._bucket(
                prefix, args, replica.kms_key_arn, pulumi.ResourceOptions(parent=self, provider=replica.provider)
            )
            targets.append(ReplicaBucket(name=target.bucket, arn=target.arn))
            versionings.append(versioning)
        return targets, versionings

    @staticmethod
    def _rules(
        args: ObjectStorageArgs, replicas: Sequence[StorageReplica], targets: Sequence[ReplicaBucket]
    ) -> list[aws.s3.BucketReplicationConfigRuleArgs]:
        kms = args.kms_key_arn is not None
        if args.replica is not None:
            return [_replication_rule(targets[0].arn, kms=kms, replica_key=args.replica.kms_key_arn)]
        return [
            _replication_rule(
                target.arn,
                kms=kms,
                replica_key=replica.kms_key_arn,
                rule_id=f"replicate-to-{replica.region}",
                priority=len(replicas) - k,  # unique per rule; the first secondary listed ranks highest
                time_control=args.replication_time_control,
            )
            for k, (replica, target) in enumerate(zip(replicas, targets, strict=True))
        ]


def _replication_rule(
    target_arn: pulumi.Input[str],
    *,
    kms: bool,
    replica_key: pulumi.Input[str] | None,
    rule_id: str = "replicate-everything",
    priority: int | None = None,
    time_control: bool = False,
) -> aws.s3.BucketReplicationConfigRuleArgs:
    """Every object, delete markers included. distribution's deletes (gc, tag and manifest deletes, upload
    cleanup) only add delete markers to the versioned bucket; replicating them keeps each replica answering
    as the primary does (a deleted tag is gone everywhere), while the replica's own versioning keeps the
    noncurrent versions for storage.noncurrentVersionDays, so nothing is lost that the primary keeps.
    `time_control`: S3 Replication Time Control (99.99% of objects within 15 minutes), which S3 accepts
    only together with replication metrics; 15 is the only value either takes
    (https://docs.aws.amazon.com/AmazonS3/latest/API/API_ReplicationTime.html, API_Metrics.html)."""
    return aws.s3.BucketReplicationConfigRuleArgs(
        id=rule_id,
        status="Enabled",
        priority=priority,
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
            replication_time=aws.s3.BucketReplicationConfigRuleDestinationReplicationTimeArgs(
                status="Enabled",
                time=aws.s3.BucketReplicationConfigRuleDestinationReplicationTimeTimeArgs(minutes=15),
            )
            if time_control
            else None,
            metrics=aws.s3.BucketReplicationConfigRuleDestinationMetricsArgs(
                status="Enabled",
                event_threshold=aws.s3.BucketReplicationConfigRuleDestinationMetricsEventThresholdArgs(minutes=15),
            )
            if time_control
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
    replica_arns: Sequence[pulumi.Input[str]],
    source_key_arn: pulumi.Input[str] | None,
    replica_key_arns: Sequence[pulumi.Input[str] | None],
) -> dict[str, Any]:
    """Least privilege for S3 replication: read versions here, write replicas (and encrypt with their
    keys) in every replica bucket."""
    replicas = [pulumi.Output.concat(arn, "/*") for arn in replica_arns]
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
            "Resource": _one_or_list(replicas),
        },
    ]
    replica_keys = [key for key in replica_key_arns if key is not None]
    if source_key_arn is not None and replica_keys:
        statements += [
            {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": source_key_arn},
            {"Effect": "Allow", "Action": "kms:Encrypt", "Resource": _one_or_list(replica_keys)},
        ]
    return {"Version": "2012-10-17", "Statement": statements}


def _one_or_list(values: Sequence[pulumi.Input[str]]) -> pulumi.Input[str] | list[pulumi.Input[str]]:
    """A policy's Resource: the value itself when there is one (as the single-replica policy always was)."""
    return values[0] if len(values) == 1 else list(values)


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
