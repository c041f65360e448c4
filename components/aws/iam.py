"""IAM policy documents for the registry's tasks, as plain data (tests read them as written).

Nothing here grants an action on "*": the task role reaches one bucket prefix (and its key),
the execution role one log group and one secret. The images come from ECR Public, which
needs no IAM permission, so the execution role has no ECR statement either.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi

from components.policy_documents import SERVICE_USE_ACTIONS, document, key_policy

# what distribution's S3 driver calls (see its storage-driver docs): listing, multipart uploads, CRUD
S3_BUCKET_ACTIONS = ["s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads"]
S3_OBJECT_ACTIONS = [
    "s3:GetObject",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:ListMultipartUploadParts",
    "s3:AbortMultipartUpload",
]
KMS_DATA_ACTIONS = ["kms:Decrypt", "kms:GenerateDataKey"]  # SSE-KMS reads and writes
# what `registry garbage-collect` calls: registry/storage/garbagecollect.go MarkAndSweep walks and reads
# (driver Walk/List: ListObjectsV2; GetContent, Stat: GetObject, HeadObject) and vacuum.go deletes
# (driver Delete: ListObjectsV2 + DeleteObjects); it writes nothing, so no PutObject, no multipart
GC_BUCKET_ACTIONS = ["s3:ListBucket"]
GC_OBJECT_ACTIONS = ["s3:GetObject", "s3:DeleteObject"]


def ecs_tasks_trust(account_id: str, region: str) -> dict[str, Any]:
    """Only ECS tasks of this account and region may assume the role (confused-deputy guard)."""
    return document(
        {
            "Effect": "Allow",
            "Principal": {"Service": "ecs-tasks.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {
                "ArnLike": {"aws:SourceArn": f"arn:aws:ecs:{region}:{account_id}:*"},
                "StringEquals": {"aws:SourceAccount": account_id},
            },
        }
    )


def task_policy(
    bucket_arn: pulumi.Input[str], root_directories: Sequence[str], kms_key_arn: pulumi.Input[str] | None
) -> dict[str, Any]:
    """The registry's own permissions: its bucket, only below its root directories (the registry's
    and each mirror's), and the bucket's key."""
    objects = [pulumi.Output.concat(bucket_arn, "/", root.strip("/"), "/*") for root in root_directories]
    statements: list[dict[str, Any]] = [
        {"Sid": "ListRegistryBucket", "Effect": "Allow", "Action": S3_BUCKET_ACTIONS, "Resource": bucket_arn},
        {
            "Sid": "ReadWriteRegistryObjects",
            "Effect": "Allow",
            "Action": S3_OBJECT_ACTIONS,
            "Resource": objects[0] if len(objects) == 1 else objects,
        },
    ]
    if kms_key_arn is not None:
        statements.append(
            {"Sid": "UseBucketKey", "Effect": "Allow", "Action": KMS_DATA_ACTIONS, "Resource": kms_key_arn}
        )
    return document(*statements)


def gc_policy(
    bucket_arn: pulumi.Input[str], root_directory: str, kms_key_arn: pulumi.Input[str] | None
) -> dict[str, Any]:
    """The garbage-collection task: list, read and delete below the registry's root, decrypt with its key."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": "ListRegistryObjects",
            "Effect": "Allow",
            "Action": GC_BUCKET_ACTIONS,
            "Resource": bucket_arn,
            "Condition": {"StringLike": {"s3:prefix": [f"{root_directory.strip('/')}/*"]}},
        },
        {
            "Sid": "ReadAndDeleteRegistryObjects",
            "Effect": "Allow",
            "Action": GC_OBJECT_ACTIONS,
            "Resource": pulumi.Output.concat(bucket_arn, "/", root_directory.strip("/"), "/*"),
        },
    ]
    if kms_key_arn is not None:
        statements.append(
            {"Sid": "ReadEncryptedObjects", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": kms_key_arn}
        )
    return document(*statements)


def execution_policy(log_group_arn: pulumi.Input[str], secret_arn: pulumi.Input[str]) -> dict[str, Any]:
    """What ECS needs to start a task: write its log streams, read its one secret."""
    return document(
        {
            "Sid": "WriteTaskLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": pulumi.Output.concat(log_group_arn, ":*"),
        },
        {
            "Sid": "ReadTaskSecrets",
            "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": secret_arn,
        },
    )


def flow_logs_trust(account_id: str, region: str) -> dict[str, Any]:
    """VPC Flow Logs of this account and region may assume the role (confused-deputy guard)."""
    return document(
        {
            "Effect": "Allow",
            "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": account_id},
                "ArnLike": {"aws:SourceArn": f"arn:aws:ec2:{region}:{account_id}:vpc-flow-log/*"},
            },
        }
    )


def flow_logs_policy(log_group_arn: pulumi.Input[str]) -> dict[str, Any]:
    """Flow Logs write streams of one log group."""
    return document(
        {
            "Sid": "WriteFlowLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            "Resource": pulumi.Output.concat(log_group_arn, ":*"),
        },
        {
            "Sid": "FindTheLogGroup",
            "Effect": "Allow",
            "Action": "logs:DescribeLogGroups",
            "Resource": log_group_arn,
        },
    )


def access_logs_bucket_policy(
    bucket_arn: pulumi.Input[str], account_id: str, elb_account_arn: pulumi.Input[str]
) -> dict[str, Any]:
    """ALB access log delivery (ELB user guide, "Attach a policy to your S3 bucket"): the region's ELB
    account (regions before August 2022) or the log delivery service (newer regions) may put
    objects under AWSLogs/<account>/ only; nothing reaches the bucket without TLS."""
    logs = pulumi.Output.concat(bucket_arn, f"/AWSLogs/{account_id}/*")
    return document(
        {
            "Sid": "ElbAccountDelivers",
            "Effect": "Allow",
            "Principal": {"AWS": elb_account_arn},
            "Action": "s3:PutObject",
            "Resource": logs,
        },
        {
            "Sid": "LogDeliveryServiceDelivers",
            "Effect": "Allow",
            "Principal": {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": logs,
        },
        {
            "Sid": "DenyPlainHttp",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [bucket_arn, pulumi.Output.concat(bucket_arn, "/*")],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
    )


# the ARNs each service assumes a role for (confused-deputy guard, as ecs_tasks_trust)
_SOURCE_ARNS = {
    "states": "arn:aws:states:{region}:{account}:stateMachine:*",
    "scheduler": "arn:aws:scheduler:{region}:{account}:schedule/*/*",
}


def service_trust(service: str, account_id: str, region: str) -> dict[str, Any]:
    """Only `service` acting for this account and region may assume the role."""
    return document(
        {
            "Effect": "Allow",
            "Principal": {"Service": f"{service}.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {
                "ArnLike": {"aws:SourceArn": _SOURCE_ARNS[service].format(region=region, account=account_id)},
                "StringEquals": {"aws:SourceAccount": account_id},
            },
        }
    )


def gc_state_machine_policy(
    *,
    account_id: str,
    region: str,
    listener_arn: pulumi.Input[str],
    cluster_arn: pulumi.Input[str],
    cluster_name: pulumi.Input[str],
    task_definitions: list[pulumi.Input[str]],
    passed_roles: list[pulumi.Input[str]],
    freeze_tag: str,
) -> dict[str, Any]:
    """What components/aws/maintenance.py's states call, on exactly what they touch: rules on one
    listener (deleted only when they carry the freeze tag), two task definitions in one cluster,
    the roles those tasks run as, and the EventBridge rule through which runTask.sync learns that
    a task stopped (Step Functions guide, "IAM policies for Amazon ECS/AWS Fargate")."""
    return document(
        *_freeze_rule_statements(listener_arn, freeze_tag),
        *_maintenance_task_statements(region, account_id, cluster_arn, cluster_name, task_definitions, passed_roles),
    )


def _freeze_rule_statements(listener_arn: pulumi.Input[str], freeze_tag: str) -> list[dict[str, Any]]:
    """Create rules on one listener, tag them as created, delete only those tagged a freeze."""
    rules = pulumi.Output.from_input(listener_arn).apply(
        lambda arn: arn.replace(":listener/", ":listener-rule/", 1) + "/*"
    )
    return [
        {
            "Sid": "CreateFreezeRules",
            "Effect": "Allow",
            "Action": "elasticloadbalancing:CreateRule",
            "Resource": listener_arn,
        },
        {
            "Sid": "TagFreezeRulesAsTheyAreCreated",
            "Effect": "Allow",
            "Action": "elasticloadbalancing:AddTags",
            "Resource": rules,
            "Condition": {"StringEquals": {"elasticloadbalancing:CreateAction": "CreateRule"}},
        },
        {
            "Sid": "DeleteOnlyFreezeRules",
            "Effect": "Allow",
            "Action": "elasticloadbalancing:DeleteRule",
            "Resource": rules,
            "Condition": {"StringEquals": {f"aws:ResourceTag/{freeze_tag}": "write-freeze"}},
        },
    ]


def _maintenance_task_statements(
    region: str,
    account_id: str,
    cluster_arn: pulumi.Input[str],
    cluster_name: pulumi.Input[str],
    task_definitions: list[pulumi.Input[str]],
    passed_roles: list[pulumi.Input[str]],
) -> list[dict[str, Any]]:
    """Run the gc and flush tasks in one cluster as their roles, and follow them to the end (.sync)."""
    return [
        {
            "Sid": "RunTheMaintenanceTasks",
            "Effect": "Allow",
            "Action": "ecs:RunTask",
            "Resource": task_definitions,
            "Condition": {"ArnEquals": {"ecs:cluster": cluster_arn}},
        },
        {
            "Sid": "FollowTheMaintenanceTasks",
            "Effect": "Allow",
            "Action": ["ecs:DescribeTasks", "ecs:StopTask"],
            "Resource": pulumi.Output.concat(f"arn:aws:ecs:{region}:{account_id}:task/", cluster_name, "/*"),
        },
        {
            "Sid": "PassTheTaskRoles",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": passed_roles,
            "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
        },
        {
            "Sid": "LearnWhenTasksStop",
            "Effect": "Allow",
            "Action": ["events:PutTargets", "events:PutRule", "events:DescribeRule"],
            "Resource": f"arn:aws:events:{region}:{account_id}:rule/StepFunctionsGetEventsForECSTaskRule",
        },
    ]


def start_execution_policy(state_machine_arn: pulumi.Input[str]) -> dict[str, Any]:
    """EventBridge Scheduler starts one state machine."""
    return document(
        {
            "Sid": "StartTheGcStateMachine",
            "Effect": "Allow",
            "Action": "states:StartExecution",
            "Resource": state_machine_arn,
        }
    )


# what CloudWatch Logs does with a log group's key ("Encrypt log data in CloudWatch Logs using AWS KMS":
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html)
LOGS_KEY_ACTIONS = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
# what a CloudWatch alarm needs to publish to a topic under the key ("Enable compatibility between event
# sources from AWS services and encrypted topics": https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html)
ALARM_TOPIC_KEY_ACTIONS = ["kms:Decrypt", "kms:GenerateDataKey*"]


def logs_key_policy(account_id: str, region: str, log_groups: Sequence[str]) -> dict[str, Any]:
    """The stack's key for its logs and its alert topic (CKV2_AWS_64: explicit). CloudWatch Logs of this
    region uses it only for `log_groups` (names, or `<prefix>*` for a group Pulumi names), which the
    encryption context of every call names (kms:EncryptionContext:aws:logs:arn); CloudWatch alarms of
    this account encrypt their notifications with it. Readers of the logs need no key permission:
    CloudWatch Logs decrypts for them."""
    policy = key_policy(account_id)
    arns = [f"arn:aws:logs:{region}:{account_id}:log-group:{group}" for group in log_groups]
    policy["Statement"] += [
        {
            "Sid": "CloudWatchLogsEncryptsTheRegistryLogs",
            "Effect": "Allow",
            "Principal": {"Service": f"logs.{region}.amazonaws.com"},
            "Action": LOGS_KEY_ACTIONS,
            "Resource": "*",
            "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": arns}},
        },
        {
            "Sid": "CloudWatchAlarmsPublishToTheAlertTopic",
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": ALARM_TOPIC_KEY_ACTIONS,
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
        },
    ]
    return policy


# what ElastiCache does with the key of an encrypted replication group: data keys, and grants it makes for
# its nodes (https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/at-rest-encryption.html)
CACHE_KEY_ACTIONS = [*SERVICE_USE_ACTIONS, "kms:CreateGrant", "kms:ListGrants"]


def cache_key_policy(account_id: str, region: str) -> dict[str, Any]:
    """registry:cache.customerKey: principals of the account (the deploying identity, ElastiCache's
    service-linked role) use the key only through ElastiCache of this region."""
    service = f"elasticache.{region}.amazonaws.com"
    policy = key_policy(account_id, through_service=service)
    through = policy["Statement"][-1]
    through["Action"] = CACHE_KEY_ACTIONS
    return policy
