"""tools.cosign against a registry double: what makes a signature count, and what does not."""

from __future__ import annotations

import base64
import json

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tools.cosign import SIGNATURE_ANNOTATION, SIMPLE_SIGNING_TYPE, SignatureError, signature_tag, verify_signature
from tools.oci_image import MANIFEST_TYPE, sha256_digest

IMAGE = "sha256:" + "a" * 64
KEY = ec.generate_private_key(ec.SECP256R1())
PUBLIC = (
    KEY.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
)


def payload(digest: str) -> bytes:
    """cosign's simple-signing payload (sigstore pkg/signature/payload Cosign.SimpleContainerImage)."""
    return json.dumps(
        {
            "critical": {
                "identity": {"docker-reference": "registry/app"},
                "image": {"docker-manifest-digest": digest},
                "type": "cosign container image signature",
            },
            "optional": None,
        }
    ).encode()


def registry(body: bytes, signature: bytes, media_type: str = SIMPLE_SIGNING_TYPE) -> httpx.Client:
    blob = sha256_digest(body)
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "layers": [
            {
                "mediaType": media_type,
                "digest": blob,
                "size": len(body),
                "annotations": {SIGNATURE_ANNOTATION: base64.b64encode(signature).decode()},
            }
        ],
    }

    def answer(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/v2/app/manifests/v1":
            return httpx.Response(200, headers={"Docker-Content-Digest": IMAGE})
        if path == f"/v2/app/manifests/{signature_tag(IMAGE)}":
            return httpx.Response(200, content=json.dumps(manifest).encode())
        if path == f"/v2/app/blobs/{blob}":
            return httpx.Response(200, content=body)
        return httpx.Response(404)

    return httpx.Client(base_url="https://registry", transport=httpx.MockTransport(answer))


def sign(body: bytes) -> bytes:
    return KEY.sign(body, ec.ECDSA(hashes.SHA256()))


def test_the_tag_is_the_digest_with_a_dash_and_sig() -> None:
    assert signature_tag(IMAGE) == "sha256-" + "a" * 64 + ".sig"


def test_a_signature_by_the_key_over_a_payload_naming_the_image_verifies() -> None:
    body = payload(IMAGE)
    assert "signed by the key" in verify_signature(registry(body, sign(body)), "app", "v1", PUBLIC)


def test_another_keys_signature_a_tampered_payload_or_another_layer_type_do_not() -> None:
    body = payload(IMAGE)
    other = ec.generate_private_key(ec.SECP256R1()).sign(body, ec.ECDSA(hashes.SHA256()))
    with pytest.raises(SignatureError, match="none of the 1 signature"):
        verify_signature(registry(body, other), "app", "v1", PUBLIC)
    with pytest.raises(SignatureError, match="none of the 1 signature"):
        verify_signature(registry(body.replace(b"registry/app", b"registry/evil"), sign(body)), "app", "v1", PUBLIC)
    with pytest.raises(SignatureError, match="none of the 0 signature"):
        verify_signature(registry(body, sign(body), media_type="application/json"), "app", "v1", PUBLIC)


def test_a_valid_signature_copied_from_another_image_is_refused() -> None:
    body = payload("sha256:" + "b" * 64)
    with pytest.raises(SignatureError, match="it was copied"):
        verify_signature(registry(body, sign(body)), "app", "v1", PUBLIC)


def test_an_unsigned_or_missing_image_says_so() -> None:
    client = httpx.Client(base_url="https://registry", transport=httpx.MockTransport(lambda r: httpx.Response(404)))
    with pytest.raises(SignatureError, match="is not in the registry"):
        verify_signature(client, "app", "v1", PUBLIC)
