"""The `signing` stack output every target gives: cosign's key reference, the public key, and the
exact commands that sign in CI and verify at deploy time.

cosign facts these follow (sigstore/cosign v2.5.0, the version `make system-deps` installs):
`cosign sign` uploads to the public Rekor log unless `--tlog-upload=false` (cmd/cosign/cli/options/
sign.go); `cosign verify --insecure-ignore-tlog=true` then skips the log (cli/verify/verify.go);
`verify --key` takes a plain PEM public key (pkg/signature/keys.go VerifierForKeyRef) as well as
the KMS reference; `sign --key` takes only cosign's own encrypted key file (pkg/cosign/keys.go
LoadPrivateKey), which cosign_private_key renders.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import nacl.secret
import pulumi
from cryptography.hazmat.primitives import serialization

IMAGE = "{registry}/<repository>@sha256:<digest>"


def cosign_outputs(
    *, key: str, public_key_pem: pulumi.Input[str], registry: str, verify_key: str | None = None
) -> dict[str, Any]:
    """The `signing` stack output: `key` is what `cosign sign --key` takes; `verify_key` what
    `cosign verify --key` takes when it differs (a public key file)."""
    image = IMAGE.format(registry=registry)
    return {
        "cosignKey": key,
        "publicKey": public_key_pem,
        "sign": f"cosign sign --key {key} --tlog-upload=false {image}",
        "verify": f"cosign verify --key {verify_key or key} --insecure-ignore-tlog=true {image}",
        "verifyOffline": (
            "pulumi stack output signing --json | jq -r .publicKey > cosign.pub && "
            f"cosign verify --key cosign.pub --insecure-ignore-tlog=true {image}"
        ),
    }


COSIGN_KEY_PEM_TYPE = "ENCRYPTED SIGSTORE PRIVATE KEY"  # pkg/cosign/keys.go SigstorePrivateKeyPemType
SCRYPT = {"N": 65536, "r": 8, "p": 1}  # go-securesystemslib encrypted: standardParams, the default


def cosign_private_key(private_key_pem: str, password: str) -> str:
    """`private_key_pem` as the `cosign.key` file `cosign generate-key-pair` writes (pkg/cosign/keys.go
    marshalKeyPair): PKCS#8 DER sealed with nacl/secretbox under a scrypt key of `password`, as
    go-securesystemslib v0.9.0 encrypted.Encrypt does, in JSON (byte fields base64) inside a PEM
    block. Salt and nonce derive from the key and password, so the same inputs give the same file
    (one plaintext per key: no nonce is reused with another message)."""
    key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    pkcs8 = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    seed = hashlib.sha256(password.encode() + pkcs8).digest()
    salt = hashlib.sha256(b"salt" + seed).digest()  # 32 bytes (saltSize)
    nonce = hashlib.sha256(b"nonce" + seed).digest()[: nacl.secret.SecretBox.NONCE_SIZE]  # 24 (boxNonceSize)
    box_key = hashlib.scrypt(
        password.encode(), salt=salt, n=SCRYPT["N"], r=SCRYPT["r"], p=SCRYPT["p"], dklen=32, maxmem=128 * 1024 * 1024
    )
    sealed = nacl.secret.SecretBox(box_key).encrypt(pkcs8, nonce).ciphertext  # tag + ciphertext, as secretbox.Seal
    document = {
        "kdf": {"name": "scrypt", "params": SCRYPT, "salt": _b64(salt)},
        "cipher": {"name": "nacl/secretbox", "nonce": _b64(nonce)},
        "ciphertext": _b64(sealed),
    }
    body = _b64(json.dumps(document, separators=(",", ":")).encode())
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]  # as Go's pem.EncodeToMemory
    return "\n".join([f"-----BEGIN {COSIGN_KEY_PEM_TYPE}-----", *lines, f"-----END {COSIGN_KEY_PEM_TYPE}-----", ""])


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
