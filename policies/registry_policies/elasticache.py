"""ElastiCache: the Redis every registry instance shares as its blob-descriptor cache."""

from __future__ import annotations

from collections.abc import Iterator

from pulumi_policy import ResourceValidationArgs

from .common import MANDATORY, Config, as_list, resource_policy

REPLICATION_GROUPS = {"aws:elasticache/replicationGroup:ReplicationGroup"}


def _at_rest(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    flag = args.props.get("atRestEncryptionEnabled")
    # valkey groups are encrypted at rest unless told otherwise; redis ones only when asked
    if flag is not True and not (flag is None and args.props.get("engine") == "valkey"):
        yield f"{args.name}: set at_rest_encryption_enabled=True (optionally with kms_key_id)"


def _in_transit(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    if args.props.get("transitEncryptionEnabled") is not True:
        yield f"{args.name}: set transit_encryption_enabled=True and connect with TLS (distribution 3: redis.tls)"
    elif args.props.get("transitEncryptionMode") == "preferred":
        yield f"{args.name}: transit_encryption_mode 'preferred' still accepts plaintext; set it to 'required'"


def _auth(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    has_token = args.props.get("authToken") or args.props.get("authTokenWoVersion")
    if not has_token and not as_list(args.props.get("userGroupIds")):
        yield f"{args.name}: set auth_token from a generated secret (or user_group_ids for RBAC) so the cache needs a password"


def _failover(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    if args.props.get("automaticFailoverEnabled") is not True:
        yield (
            f"{args.name}: set automatic_failover_enabled=True with num_cache_clusters >= 2 across zones; "
            "every registry instance depends on this cache"
        )


POLICIES = [
    resource_policy(
        name="elasticache-encryption-at-rest",
        description="ElastiCache replication groups encrypt data at rest (CKV_AWS_29).",
        types=REPLICATION_GROUPS,
        check=_at_rest,
        level=MANDATORY,
    ),
    resource_policy(
        name="elasticache-encryption-in-transit",
        description="ElastiCache replication groups require TLS for every connection (CKV_AWS_30).",
        types=REPLICATION_GROUPS,
        check=_in_transit,
        level=MANDATORY,
    ),
    resource_policy(
        name="elasticache-auth-token",
        description="ElastiCache replication groups require authentication with an auth token or RBAC users (CKV_AWS_31).",
        types=REPLICATION_GROUPS,
        check=_auth,
        level=MANDATORY,
    ),
    resource_policy(
        name="elasticache-automatic-failover-in-production",
        description="ElastiCache replication groups in production stacks fail over automatically to a replica (CKV2_AWS_50).",
        types=REPLICATION_GROUPS,
        check=_failover,
        level=MANDATORY,
        production_only=True,
    ),
]
