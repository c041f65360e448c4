"""Verify an image's cosign signature over the registry API, without cosign: what
`tools.verify --require-signature` runs against the stack's public key.

Follows cosign v2.5.0's classic layout (no new bundle format, no referrers; the version `make
system-deps` installs): the signatures of `sha256:<hex>` are the layers of the manifest tagged
`sha256-<hex>.sig` (pkg/oci/remote remote.go normalize, SignatureTagSuffix); each layer blob is the
simple-signing payload (media type application/vnd.dev.cosign.simplesigning.v1+json, pkg/types) and
its annotation `dev.cosignproject.cosign/signature` holds the base64 ASN.1 ECDSA signature over
SHA-256 of that payload (pkg/oci/static signature.go, sigstore pkg/signature ecdsa.go); the payload's
`critical.image.docker-manifest-digest` must be the image's digest (pkg/cosign verifiers.go
SimpleClaimVerifier). No transparency log is consulted (`cosign verify --insecure-ignore-tlog`).
"""

from __future__ import annotations

import base64
import binascii
import json

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tools.oci_image import MANIFEST_TYPES, sha256_digest

SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
SIMPLE_SIGNING_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"


class SignatureError(Exception):
    """The image carries no valid signature by the key; the message says what was found."""


def signature_tag(digest: str) -> str:
    return digest.replace(":", "-", 1) + ".sig"


def resolve(client: httpx.Client, repository: str, reference: str) -> str:
    """The manifest digest a tag (or digest) names, as the registry stores it."""
    response = client.head(f"/v2/{repository}/manifests/{reference}", headers={"Accept": MANIFEST_TYPES})
    if response.status_code != 200 or not response.headers.get("Docker-Content-Digest"):
        raise SignatureError(f"{repository}:{reference} is not in the registry ({response.status_code})")
    return str(response.headers["Docker-Content-Digest"])


def verify_signature(client: httpx.Client, repository: str, reference: str, public_key_pem: str) -> str:
    """What was verified, or SignatureError: one signature of `repository@digest` by the key."""
    key = serialization.load_pem_public_key(public_key_pem.encode())
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise SignatureError("the public key is not an ECDSA key (cosign's keys and the stack's are P-256)")
    digest = resolve(client, repository, reference)
    tag = signature_tag(digest)
    answer = client.get(f"/v2/{repository}/manifests/{tag}", headers={"Accept": MANIFEST_TYPES})
    if answer.status_code == 404:
        raise SignatureError(f"{repository}@{digest} has no cosign signature (no tag {tag})")
    if answer.status_code != 200:
        raise SignatureError(f"reading {repository}:{tag} answered {answer.status_code}")
    seen = 0
    for layer in json.loads(answer.content).get("layers", []):
        signature = (layer.get("annotations") or {}).get(SIGNATURE_ANNOTATION)
        if layer.get("mediaType") != SIMPLE_SIGNING_TYPE or not signature:
            continue
        seen += 1
        payload = client.get(f"/v2/{repository}/blobs/{layer['digest']}")
        if payload.status_code != 200 or sha256_digest(payload.content) != layer["digest"]:
            continue
        try:
            key.verify(base64.b64decode(signature), payload.content, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, binascii.Error, ValueError):
            continue
        signed = json.loads(payload.content).get("critical", {}).get("image", {}).get("docker-manifest-digest")
        if signed != digest:
            raise SignatureError(f"a valid signature by the key names {signed}, not {digest}: it was copied")
        return f"{repository}@{digest[:19]} signed by the key ({tag}, {seen} of its signatures checked)"
    raise SignatureError(f"none of the {seen} signature(s) of {repository}@{digest[:19]} verifies with the key")
