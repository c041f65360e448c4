"""IAM policy documents for the registry's tasks, as plain data (tests read them as written).

Nothing here grants an action on "*": the task role reaches one bucket prefix (and its key),
the execution role one log group and one secret. The images come from ECR Public, which
needs no IAM permission, so the execution role has no ECR statement either.
"""

from __future__ import annotations

from typing import Any

import pulumi

from components.policy_documents import document

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
    bucket_arn: pulumi.Input[str], root_directory: str, kms_key_arn: pulumi.Input[str] | None
) -> dict[str, Any]:
    """The registry's own permissions: its bucket, only below its root directory, and the bucket's key."""
    statements: list[dict[str, Any]] = [
        {"Sid": "ListRegistryBucket", "Effect": "Allow", "Action": S3_BUCKET_ACTIONS, "Resource": bucket_arn},
        {
            "Sid": "ReadWriteRegistryObjects",
            "Effect": "Allow",
            "Action": S3_OBJECT_ACTIONS,
            "Resource": pulumi.Output.concat(bucket_arn, "/", root_directory.strip("/"), "/*"),
        },
    ]
    if kms_key_arn is not None:
        statements.append(
            {"Sid": "UseBucketKey", "Effect": "Allow", "Action": KMS_DATA_ACTIONS, "Resource": kms_key_arn}
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
