"""registry:signing on aws and ecr: an asymmetric KMS key (ECC_NIST_P256, SIGN_VERIFY) under an alias.

cosign takes it as `awskms:///alias/<name>` (sigstore pkg/signature/kms/aws client.go, aliasNameRE).
Signing calls GetPublicKey and DescribeKey (fetchCMK) and then Sign; verifying with the KMS
reference calls GetPublicKey and DescribeKey and checks the signature locally, never kms:Verify
(signer.go VerifySignature without WithRemoteVerification, which cosign v2.5.0 never passes). So
signers get exactly those three actions and verifiers the two; anyone can also verify offline with
the public key the stack outputs. Asymmetric keys cannot rotate automatically.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components import policy_documents
from components.renderers.signing import cosign_outputs

SIGN_ACTIONS = ["kms:Sign", "kms:GetPublicKey", "kms:DescribeKey"]
VERIFY_ACTIONS = ["kms:GetPublicKey", "kms:DescribeKey"]


@dataclass(frozen=True)
class AwsSigningKeyArgs:
    alias: str  # without `alias/`
    account_id: str
    signers: Sequence[str]  # IAM principal ARNs
    verifiers: Sequence[str]
    protect: bool = False


class AwsSigningKey(pulumi.ComponentResource):
    """Needs an `aws` provider from the caller."""

    key_ref: str  # what cosign --key takes
    public_key_pem: pulumi.Output[str]

    def __init__(self, name: str, args: AwsSigningKeyArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("registry:aws_signing:AwsSigningKey", name, None, opts)
        users = [(f"Signer{i}Signs", arn, SIGN_ACTIONS) for i, arn in enumerate(args.signers)]
        users += [(f"Verifier{i}Verifies", arn, VERIFY_ACTIONS) for i, arn in enumerate(args.verifiers)]
        key = aws.kms.Key(
            f"{name}-key",
            description="registry image signing (cosign)",
            key_usage="SIGN_VERIFY",
            customer_master_key_spec="ECC_NIST_P256",
            enable_key_rotation=False,  # AWS rotates no asymmetric key
            deletion_window_in_days=30,
            policy=pulumi.Output.json_dumps(policy_documents.key_policy(args.account_id, users)),
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        aws.kms.Alias(
            f"{name}-alias",
            name=f"alias/{args.alias}",
            target_key_id=key.key_id,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.key_ref = f"awskms:///alias/{args.alias}"
        self.public_key_pem = aws.kms.get_public_key_output(
            key_id=key.arn, opts=pulumi.InvokeOutputOptions(parent=self)
        ).public_key_pem
        self.register_outputs({"key_ref": self.key_ref, "public_key_pem": self.public_key_pem})


def signing_outputs(
    *,
    account_id: str,
    signers: Sequence[str],
    verifiers: Sequence[str],
    registry: str,
    region: str,
    provider: pulumi.ProviderResource,
    protect: bool = False,
) -> dict[str, Any]:
    """registry:signing on aws and ecr: the key `registry-<stack>-signing` and the `signing` output
    (cosign needs the key's region: AWS_REGION)."""
    key = AwsSigningKey(
        "registry-signing",
        AwsSigningKeyArgs(
            alias=f"registry-{pulumi.get_stack()}-signing",
            account_id=account_id,
            signers=signers,
            verifiers=verifiers,
            protect=protect,
        ),
        opts=pulumi.ResourceOptions(providers={"aws": provider}),
    )
    return {
        "signing": cosign_outputs(key=key.key_ref, public_key_pem=key.public_key_pem, registry=registry)
        | {"region": region}
    }
