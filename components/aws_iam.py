"""IAM policy documents for the registry's tasks, as plain data (tests read them as written).

Nothing here grants an action on "*": the task role reaches one bucket prefix (and its key),
the execution role one log group and one secret. The images come from ECR Public, which
needs no IAM permission, so the execution role has no ECR statement either.
"""

from __future__ import annotations

from typing import Any

import pulumi

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


def document(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


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
