"""registry:signing: the key images are signed with (cosign), as infrastructure of the stack.

Every target outputs `signing` (the key reference cosign takes, the public key, how to sign and
verify) so CI signs and deploy time verifies the same way; where the key lives is the target's:
a generated key pair on local (this module), an asymmetric KMS key on aws and ecr
(components/aws_signing.py), a Cloud KMS key on gar (components/gar/registry.py).

cosign facts these follow (sigstore/cosign v2.5.0, the version `make system-deps` installs):
`sign --key` takes only cosign's encrypted key format (pkg/cosign/keys.go LoadPrivateKey), so the
stack renders the key in it (components/renderers/signing.py); `cosign import-key-pair` would do the
same, but Debian's cosign 2.5.0 refuses every key there ("unsupported public key type").
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_random as random
import pulumi_tls as tls

from components.renderers.signing import cosign_outputs, cosign_private_key


class SigningKeyPair(pulumi.ComponentResource):
    """local: an ECDSA P-256 key pair (what `cosign generate-key-pair` makes) kept in the stack's
    state, handed out as cosign's own key file encrypted with a generated password; both are
    Pulumi secrets (pulumi-tls declares private_key_pem secret, random the password)."""

    cosign_key: pulumi.Output[str]
    password: pulumi.Output[str]
    public_key_pem: pulumi.Output[str]

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None):
        super().__init__("registry:signing:SigningKeyPair", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        key = tls.PrivateKey(f"{name}-key", algorithm="ECDSA", ecdsa_curve="P256", opts=child)
        password = random.RandomPassword(f"{name}-password", length=32, special=False, opts=child)
        self.password = pulumi.Output.secret(password.result)
        self.cosign_key = pulumi.Output.secret(
            pulumi.Output.all(key.private_key_pem, password.result).apply(lambda v: cosign_private_key(v[0], v[1]))
        )
        self.public_key_pem = key.public_key_pem
        self.register_outputs({"public_key_pem": self.public_key_pem})


def local_signing_outputs(pair: SigningKeyPair, registry: str) -> dict[str, Any]:
    """local: the cosign key file and its password as secret outputs, and how to use them."""
    return {
        "signing": {
            **cosign_outputs(
                key="cosign.key", public_key_pem=pair.public_key_pem, registry=registry, verify_key="cosign.pub"
            ),
            "writeKey": [
                "pulumi stack output --show-secrets signingKey > cosign.key && chmod 600 cosign.key",
                "pulumi stack output signing --json | jq -r .publicKey > cosign.pub",
                "export COSIGN_PASSWORD=$(pulumi stack output --show-secrets signingKeyPassword)",
            ],
        },
        "signingKey": pair.cosign_key,
        "signingKeyPassword": pair.password,
    }
