"""KMS keys and the secrets they protect.

A key without an explicit policy gets AWS's default, which lets any principal of the account that
IAM allows use it; a key policy names who administers and who uses the key. The policy may be
inline (`aws.kms.Key(policy=...)`) or a separate `aws.kms.KeyPolicy`, needed when the roles that use
the key are created after it.
"""

from __future__ import annotations

from collections.abc import Iterator

from pulumi_policy import PolicyResource, ResourceValidationArgs, StackValidationArgs

from .common import (
    MANDATORY,
    Config,
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

KEYS = {"aws:kms/key:Key"}
KEY_POLICIES = {"aws:kms/keyPolicy:KeyPolicy"}
SECRETS = {"aws:secretsmanager/secret:Secret"}


def _explicit_policy(args: StackValidationArgs, _: Config) -> Iterator[tuple[str, PolicyResource | None]]:
    attached = of_types(args.resources, KEY_POLICIES)
    for key in of_types(args.resources, KEYS):
        documents = [prop_value(key, "policy")] if prop_value(key, "policy") else []
        documents += [prop_value(p, "policy") for p in attached if key in linked(p, "keyId", [key], ["id", "keyId"])]
        if not documents:
            yield (
                f"{label(key)} has no key policy of its own, so AWS's default lets any principal IAM allows use "
                "it; give it a policy (inline or aws.kms.KeyPolicy) naming its administrators and its users",
                key,
            )
        for document in documents:
            for statement in map(as_mapping, as_list(as_mapping(json_document(document)).get("Statement"))):
                actions = as_list(statement.get("Action"))
                if statement.get("Effect") == "Allow" and ("kms:*" in actions or "*" in actions):
                    yield (
                        f"{label(key)}: statement {statement.get('Sid') or '?'} allows every KMS action; grant "
                        "administration and use separately, each to the principals that need it",
                        key,
                    )


def _customer_key(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    if not args.props.get("kmsKeyId"):
        yield (
            f"{args.name}: encrypt a production secret with a customer managed key (kms_key_id), whose "
            "key policy says who may read it, instead of the account's aws/secretsmanager key"
        )


POLICIES = [
    stack_policy(
        name="kms-key-explicit-policy",
        description="Every KMS key has an explicit key policy that grants no principal every KMS action (CKV2_AWS_64).",
        check=_explicit_policy,
        level=MANDATORY,
    ),
    resource_policy(
        name="secretsmanager-secret-customer-key-in-production",
        description="Secrets Manager secrets of production stacks are encrypted with a customer managed KMS key (CKV_AWS_149).",
        types=SECRETS,
        check=_customer_key,
        level=MANDATORY,
        production_only=True,
    ),
]
