"""What Checkov found on the aws program, closed: flow logs, key policies, a customer key for the
task secret and ALB access logs (production), under the recording mocks."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.aws.iam import KMS_DATA_ACTIONS
from components.policy_documents import KMS_ADMIN_ACTIONS
from tests.conftest import ROOT
from tools.mock_program import ACCOUNT, ELB_ACCOUNT, ProgramRun, Registration, aws_id, run_program, unwrap

ROOT_PRINCIPAL = f"arn:aws:iam::{ACCOUNT}:root"


@pytest.fixture(scope="module")
def prod() -> ProgramRun:
    return run_program(ROOT, "prod")


@pytest.fixture(scope="module")
def dev() -> ProgramRun:
    return run_program(ROOT, "dev")


def document(value: Any) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(unwrap(value))
    return parsed


def statements_by_sid(policy: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in policy["Statement"]}


def arn_of(run: ProgramRun, name: str) -> str:
    return str(run.named(name).outputs["arn"])


# ---------------------------------------------------------------- VPC flow logs (CKV2_AWS_11)


def test_production_vpc_records_all_traffic_to_its_own_log_group(prod: ProgramRun) -> None:
    [flow] = prod.of_type("aws:ec2/flowLog:FlowLog")
    vpc = prod.named("registry-network-vpc")
    assert flow.inputs["vpcId"] == aws_id("vpc", vpc.name)
    assert (flow.inputs["trafficType"], flow.inputs["logDestinationType"]) == ("ALL", "cloud-watch-logs")
    logs = prod.named("registry-network-flow-logs")
    assert flow.inputs["logDestination"] == logs.outputs["arn"]
    assert logs.inputs["retentionInDays"] == 365.0  # registry:logRetentionDays
    role = prod.named("registry-network-flow-logs-role")
    assert flow.inputs["iamRoleArn"] == role.outputs["arn"]
    [trust] = document(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT}
    assert trust["Condition"]["ArnLike"] == {"aws:SourceArn": f"arn:aws:ec2:eu-west-1:{ACCOUNT}:vpc-flow-log/*"}
    policy = statements_by_sid(document(prod.named("registry-network-flow-logs-policy").inputs["policy"]))
    assert policy["WriteFlowLogs"]["Resource"] == f"{logs.outputs['arn']}:*"
    assert policy["FindTheLogGroup"]["Resource"] == logs.outputs["arn"]
    assert prod.named("registry-network-flow-logs-policy").urn in flow.dependencies


def test_dev_has_no_flow_logs(dev: ProgramRun) -> None:
    assert dev.of_type("aws:ec2/flowLog:FlowLog") == []


# ---------------------------------------------------------------- KMS key policies (CKV2_AWS_64)


def key_policies(run: ProgramRun) -> dict[str, dict[str, Any]]:
    """Key resource name -> its effective policy: inline, or from the KeyPolicy that targets it."""
    keys = {k.outputs["keyId"]: k for k in run.of_type("aws:kms/key:Key")}
    found = {k.name: document(k.inputs["policy"]) for k in keys.values() if "policy" in k.inputs}
    for attached in run.of_type("aws:kms/keyPolicy:KeyPolicy"):
        found[keys[attached.inputs["keyId"]].name] = document(attached.inputs["policy"])
    return found


def test_every_created_key_has_an_explicit_policy(prod: ProgramRun) -> None:
    names = {k.name for k in prod.of_type("aws:kms/key:Key")}
    assert names == {
        "registry-storage-key",
        "registry-replica-key",
        "registry-service-secrets-key",
        "registry-signing-key",  # registry:signing (test_signing.py)
        "registry-logs-key",  # the log groups and the alert topic (test_aws_observability.py)
    }
    assert set(key_policies(prod)) == names


def test_the_account_administers_but_does_not_use_the_keys(prod: ProgramRun) -> None:
    for name, policy in key_policies(prod).items():
        admin = statements_by_sid(policy)["AccountAdministersTheKey"]
        assert admin["Principal"] == {"AWS": ROOT_PRINCIPAL} and admin["Action"] == KMS_ADMIN_ACTIONS, name
        assert not any(a.startswith(("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey")) for a in admin["Action"])
        for statement in policy["Statement"]:
            assert statement["Effect"] == "Allow"
            assert "kms:*" not in statement["Action"] and statement["Principal"] != "*", name


def test_only_the_roles_that_need_the_bucket_keys_use_them(prod: ProgramRun) -> None:
    policies = key_policies(prod)
    task_role = arn_of(prod, "registry-service-task-role")
    replication = arn_of(prod, "registry-storage-replication-role")
    storage = statements_by_sid(policies["registry-storage-key"])
    assert set(storage) == {
        "AccountAdministersTheKey",
        "RegistryTasksReadAndWriteImages",
        "GarbageCollectionReadsImages",
        "ReplicationReadsImages",
        "UseOnlyThroughS3",
    }
    # operators' tools.maintenance (retention, backup, restore) read images through S3 with their own IAM
    assert storage["UseOnlyThroughS3"]["Condition"] == {
        "StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com", "kms:CallerAccount": "123456789012"}
    }
    assert storage["UseOnlyThroughS3"]["Principal"] == {"AWS": ROOT_PRINCIPAL}
    assert storage["RegistryTasksReadAndWriteImages"]["Principal"] == {"AWS": task_role}
    gc = storage["GarbageCollectionReadsImages"]
    assert gc["Principal"] == {"AWS": arn_of(prod, "registry-service-gc-role")} and gc["Action"] == ["kms:Decrypt"]
    assert storage["RegistryTasksReadAndWriteImages"]["Action"] == KMS_DATA_ACTIONS
    assert storage["ReplicationReadsImages"] == {
        "Sid": "ReplicationReadsImages",
        "Effect": "Allow",
        "Principal": {"AWS": replication},
        "Action": ["kms:Decrypt"],
        "Resource": "*",
    }
    replica = statements_by_sid(policies["registry-replica-key"])
    assert set(replica) == {"AccountAdministersTheKey", "ReplicationWritesReplicas"}
    assert replica["ReplicationWritesReplicas"]["Principal"] == {"AWS": replication}
    # the replica key lives in the replica region, and so does its policy
    [replica_policy] = [
        p for p in prod.of_type("aws:kms/keyPolicy:KeyPolicy") if p.name == "registry-replica-key-policy"
    ]
    assert replica_policy.provider.split("::")[-2].endswith("registry-aws-replica")


def test_production_secret_is_encrypted_with_its_own_key(prod: ProgramRun, dev: ProgramRun) -> None:
    key = prod.named("registry-service-secrets-key")
    secret = prod.named("registry-service-secrets")
    assert secret.inputs["kmsKeyId"] == key.outputs["arn"]
    assert key.protect and key.inputs["enableKeyRotation"] is True
    policy = statements_by_sid(document(key.inputs["policy"]))
    execution = policy["ExecutionRoleReadsTheSecret"]
    assert execution["Principal"] == {"AWS": arn_of(prod, "registry-service-execution-role")}
    assert execution["Action"] == ["kms:Decrypt"]
    through = policy["UseOnlyThroughSecretsmanager"]
    assert through["Principal"] == {"AWS": ROOT_PRINCIPAL}
    assert through["Condition"] == {
        "StringEquals": {"kms:ViaService": "secretsmanager.eu-west-1.amazonaws.com", "kms:CallerAccount": ACCOUNT}
    }
    assert "kmsKeyId" not in dev.named("registry-service-secrets").inputs  # dev: the AWS managed key


# ---------------------------------------------------------------- ALB access logs (CKV_AWS_91)


def access_log_resource(run: ProgramRun, suffix: str) -> Registration:
    return run.named(f"registry-lb-access-logs-{suffix}")


def test_production_alb_writes_access_logs_to_their_own_bucket(prod: ProgramRun) -> None:
    alb = prod.named("registry-lb-alb")
    bucket = access_log_resource(prod, "bucket")
    assert alb.inputs["accessLogs"] == {"bucket": bucket.outputs["bucket"], "enabled": True}
    assert prod.named("registry-lb-access-logs-policy").urn in alb.dependencies
    assert bucket.inputs["bucketPrefix"] == "registry-alb-logs-"
    assert access_log_resource(prod, "versioning").inputs["versioningConfiguration"] == {"status": "Enabled"}
    [rule] = access_log_resource(prod, "encryption").inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}  # all ALB log delivery supports
    block = access_log_resource(prod, "public-access-block").inputs
    assert all(
        block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )


def test_access_logs_expire_with_the_log_retention(prod: ProgramRun) -> None:
    rules = {r["id"]: r for r in access_log_resource(prod, "lifecycle").inputs["rules"]}
    assert rules["expire-objects"]["expiration"] == {"days": 365.0}
    assert rules["expire-noncurrent-versions"]["noncurrentVersionExpiration"] == {"noncurrentDays": 1.0}
    assert rules["abort-incomplete-multipart-uploads"]["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 1.0}
    assert rules["remove-expired-delete-markers"]["expiration"] == {"expiredObjectDeleteMarker": True}


def test_only_log_delivery_writes_and_only_under_this_accounts_prefix(prod: ProgramRun) -> None:
    bucket_arn = access_log_resource(prod, "bucket").outputs["arn"]
    policy = statements_by_sid(document(prod.named("registry-lb-access-logs-policy").inputs["policy"]))
    logs = f"{bucket_arn}/AWSLogs/{ACCOUNT}/*"
    assert policy["ElbAccountDelivers"]["Principal"] == {"AWS": f"arn:aws:iam::{ELB_ACCOUNT}:root"}
    assert policy["LogDeliveryServiceDelivers"]["Principal"] == {
        "Service": "logdelivery.elasticloadbalancing.amazonaws.com"
    }
    for sid in ("ElbAccountDelivers", "LogDeliveryServiceDelivers"):
        assert (policy[sid]["Action"], policy[sid]["Resource"]) == ("s3:PutObject", logs)
    deny = policy["DenyPlainHttp"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_dev_alb_keeps_no_access_logs(dev: ProgramRun) -> None:
    assert "accessLogs" not in dev.named("registry-lb-alb").inputs
    assert [r.name for r in dev.resources if "access-logs" in r.name] == []
