"""registry:signing on every target under the recording mocks, and the config rules that go with it."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import nacl.secret
import pytest
from cryptography.hazmat.primitives import serialization

from components.aws_signing import SIGN_ACTIONS, VERIFY_ACTIONS
from components.config import ConfigError, load_settings
from components.renderers.signing import COSIGN_KEY_PEM_TYPE, SCRYPT, cosign_outputs, cosign_private_key
from tests.conftest import ROOT
from tools.mock_program import ACCOUNT, ProgramRun, Secret, run_program, unwrap

CI = "arn:aws:iam::123456789012:role/ci"
DEPLOY = "arn:aws:iam::123456789012:role/deploy"
# the ecr stack: team CIs push (sign), deploy pulls (verifies), team b's cleanup only deletes (neither)
CI_A, CI_B = "arn:aws:iam::123456789012:role/ci-team-a", "arn:aws:iam::123456789012:role/ci-team-b"


@pytest.fixture(scope="module")
def runs() -> dict[str, ProgramRun]:
    """The shipped stacks, each with registry:signing enabled."""
    return {stack: run_program(ROOT, stack) for stack in ("local", "prod", "ecr", "gar")}


def decrypt(cosign_key: str, password: str) -> bytes:
    """What cosign's LoadPrivateKey does (go-securesystemslib encrypted.Decrypt): the PKCS#8 DER."""
    lines = cosign_key.strip().splitlines()
    assert lines[0] == f"-----BEGIN {COSIGN_KEY_PEM_TYPE}-----" and lines[-1] == f"-----END {COSIGN_KEY_PEM_TYPE}-----"
    document = json.loads(base64.b64decode("".join(lines[1:-1])))
    assert document["kdf"]["name"] == "scrypt" and document["kdf"]["params"] == SCRYPT == {"N": 65536, "r": 8, "p": 1}
    assert document["cipher"]["name"] == "nacl/secretbox"
    salt, nonce = base64.b64decode(document["kdf"]["salt"]), base64.b64decode(document["cipher"]["nonce"])
    assert (len(salt), len(nonce)) == (32, 24)
    key = hashlib.scrypt(password.encode(), salt=salt, n=65536, r=8, p=1, dklen=32, maxmem=128 * 1024 * 1024)
    return nacl.secret.SecretBox(key).decrypt(base64.b64decode(document["ciphertext"]), nonce)


# ---------------------------------------------------------------- local


def test_local_hands_out_cosigns_key_file_and_password_as_secrets(runs: dict[str, ProgramRun]) -> None:
    run = runs["local"]
    key = run.named("registry-signing-key")
    assert (key.inputs["algorithm"], key.inputs["ecdsaCurve"]) == ("ECDSA", "P256")
    out = run.outputs
    assert isinstance(out["signingKey"], Secret) and isinstance(out["signingKeyPassword"], Secret)
    pkcs8 = decrypt(unwrap(out["signingKey"]), unwrap(out["signingKeyPassword"]))
    private = serialization.load_der_private_key(pkcs8, password=None)
    tls_key = serialization.load_pem_private_key(unwrap(key.outputs["privateKeyPem"]).encode(), password=None)
    assert private.private_numbers() == tls_key.private_numbers()  # type: ignore[union-attr]
    assert out["signing"]["publicKey"] == key.outputs["publicKeyPem"]
    assert out["signing"]["cosignKey"] == "cosign.key"
    assert out["signing"]["sign"] == (
        "cosign sign --key cosign.key --tlog-upload=false localhost:5443/<repository>@sha256:<digest>"
    )
    assert out["signing"]["verify"] == (
        "cosign verify --key cosign.pub --insecure-ignore-tlog=true localhost:5443/<repository>@sha256:<digest>"
    )
    password = run.named("registry-signing-password")
    assert password.inputs["length"] == 32 and password.inputs["special"] is False


def test_the_key_file_is_the_same_for_the_same_key_and_password() -> None:
    pem = run_program(ROOT, "local").named("registry-signing-key").outputs["privateKeyPem"]
    first = cosign_private_key(unwrap(pem), "pw")
    assert cosign_private_key(unwrap(pem), "pw") == first  # no diff on every `pulumi up`
    assert cosign_private_key(unwrap(pem), "other") != first
    assert all(len(line) <= 64 for line in first.splitlines())  # as Go's pem.EncodeToMemory


# ---------------------------------------------------------------- aws and ecr


def key_policy(run: ProgramRun) -> dict[str, dict[str, Any]]:
    policy = json.loads(unwrap(run.named("registry-signing-key").inputs["policy"]))
    return {s["Sid"]: s for s in policy["Statement"]}


@pytest.mark.parametrize(("stack", "signers", "verifiers"), [("prod", [CI], [DEPLOY]), ("ecr", [CI_A, CI_B], [DEPLOY])])
def test_an_asymmetric_kms_key_signs_for_the_signers_and_verifies_for_the_verifiers(
    runs: dict[str, ProgramRun], stack: str, signers: list[str], verifiers: list[str]
) -> None:
    run = runs[stack]
    key = unwrap(run.named("registry-signing-key").inputs)
    assert (key["keyUsage"], key["customerMasterKeySpec"], key["enableKeyRotation"]) == (
        "SIGN_VERIFY",
        "ECC_NIST_P256",
        False,
    )
    statements = key_policy(run)
    assert statements["AccountAdministersTheKey"]["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    assert {s["Principal"]["AWS"]: s["Action"] for s in statements.values() if s["Sid"].startswith("Signer")} == {
        arn: SIGN_ACTIONS for arn in signers
    }
    assert {s["Principal"]["AWS"]: s["Action"] for s in statements.values() if s["Sid"].startswith("Verifier")} == {
        arn: VERIFY_ACTIONS for arn in verifiers
    }
    assert SIGN_ACTIONS == ["kms:Sign", "kms:GetPublicKey", "kms:DescribeKey"]
    assert VERIFY_ACTIONS == ["kms:GetPublicKey", "kms:DescribeKey"]  # cosign verifies locally, never kms:Verify
    alias = run.named("registry-signing-alias")
    assert alias.inputs["name"] == f"alias/registry-{stack}-signing"
    assert alias.inputs["targetKeyId"] == run.named("registry-signing-key").outputs["keyId"]
    assert run.outputs["signing"]["cosignKey"] == f"awskms:///alias/registry-{stack}-signing"
    assert run.outputs["signing"]["publicKey"].startswith("-----BEGIN PUBLIC KEY-----")
    assert run.outputs["signing"]["region"] == "eu-west-1"


def test_prod_protects_its_signing_key(runs: dict[str, ProgramRun]) -> None:
    assert runs["prod"].named("registry-signing-key").protect is True


# ---------------------------------------------------------------- gar


def test_gar_makes_a_cloud_kms_signing_key_pushers_sign_pullers_verify(runs: dict[str, ProgramRun]) -> None:
    run = runs["gar"]
    key = unwrap(run.named("registry-signing-key").inputs)
    assert key["purpose"] == "ASYMMETRIC_SIGN" and key["versionTemplate"]["algorithm"] == "EC_SIGN_P256_SHA256"
    assert "rotationPeriod" not in key
    ring = run.named("registry-signing-keyring").inputs
    assert (ring["name"], ring["location"]) == ("registry-gar-signing", "europe")
    grants = {
        (r.inputs["member"], r.inputs["role"])
        for r in run.of_type("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember")
        if r.name.startswith("registry-signing-")
    }
    ci_a, ci_b, deploy = (
        f"serviceAccount:{n}@registry-example-prod.iam.gserviceaccount.com"
        for n in ("ci-team-a", "ci-team-b", "deploy")
    )
    assert grants == {
        (ci_a, "roles/cloudkms.signerVerifier"),
        (ci_a, "roles/cloudkms.viewer"),
        (ci_b, "roles/cloudkms.signerVerifier"),
        (ci_b, "roles/cloudkms.viewer"),
        (deploy, "roles/cloudkms.publicKeyViewer"),
        (deploy, "roles/cloudkms.viewer"),
    }  # cleanup-team-b may only delete: no key
    assert "cloudkms.googleapis.com" in {r.inputs["service"] for r in run.of_type("gcp:projects/service:Service")}
    assert run.outputs["signing"]["cosignKey"] == (
        "gcpkms://projects/registry-example-prod/locations/europe/keyRings/registry-gar-signing/cryptoKeys/cosign"
    )


def test_signing_off_declares_no_key(runs: dict[str, ProgramRun]) -> None:
    run = run_program(ROOT, "dev")
    assert "signing" not in run.outputs and not run.of_type("aws:kms/alias:Alias")


def test_the_commands_name_the_key_and_keep_off_the_public_log() -> None:
    out = cosign_outputs(key="awskms:///alias/k", public_key_pem="PEM", registry="r.example.com")
    assert (
        out["sign"]
        == "cosign sign --key awskms:///alias/k --tlog-upload=false r.example.com/<repository>@sha256:<digest>"
    )
    assert out["verify"].startswith("cosign verify --key awskms:///alias/k --insecure-ignore-tlog=true ")
    assert "cosign verify --key cosign.pub --insecure-ignore-tlog=true" in out["verifyOffline"]


# ---------------------------------------------------------------- config


@pytest.mark.parametrize(
    ("raw", "key", "says"),
    [
        (
            {"registry:target": "aws", "registry:domain": "r.example.com", "registry:signing": '{"enabled": true}'},
            "registry:signing.signers",
            "nobody could sign",
        ),
        (
            {
                "registry:target": "aws",
                "registry:domain": "r.example.com",
                "registry:signing": f'{{"signers": ["{CI}"]}}',
            },
            "registry:signing.enabled",
            "set signing.enabled to true",
        ),
        (
            {"registry:target": "aws", "registry:domain": "r.example.com", "registry:signing": '{"signers": ["*"]}'},
            "registry:signing.signers[0]",
            "not an IAM principal ARN",
        ),
        (
            {
                "registry:target": "ecr",
                "registry:repositories": '[{"name": "a/b"}]',
                "registry:signing": '{"enabled": true}',
            },
            "registry:access",
            "grants nobody push, so nobody could sign",
        ),
        (
            {
                "registry:target": "gar",
                "gcp:project": "p-12345",
                "registry:location": "europe",
                "registry:repositories": '[{"name": "a/b"}]',
                "registry:signing": '{"enabled": true}',
            },
            "registry:access",
            "grants nobody push, so nobody could sign",
        ),
        (
            {
                "registry:target": "ecr",
                "registry:repositories": '[{"name": "a/b"}]',
                "registry:access": f'[{{"repositories": ["*"], "pull": ["{DEPLOY}"], "delete": ["{CI}"]}}]',
                "registry:signing": '{"enabled": true}',
            },
            "registry:access",
            "grants nobody push",  # deleting is not pushing: nobody signs
        ),
        (
            {"registry:target": "local", "registry:signing": '{"signers": []}'},
            "registry:signing.signers",
            "unknown key",
        ),
    ],
)
def test_a_signing_key_nobody_may_use_is_refused(raw: dict[str, str], key: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(raw)
    [problem] = caught.value.problems
    assert problem.startswith(f"{key}: ") and says in problem, problem
