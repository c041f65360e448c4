"""Small, unique OCI images made in memory, for verify, the data-plane tests and the benchmark.

Layers hold random bytes so every image is new to the registry (nothing is skipped as
"already there"). Layers are gzip with stored (level 0) deflate blocks: a valid
`tar+gzip` layer that clients such as skopeo do not recompress, and cheap to make at 200 MiB.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
INDEX_TYPE = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST_TYPE = "application/vnd.docker.distribution.manifest.list.v2+json"
INDEX_TYPES = (INDEX_TYPE, DOCKER_LIST_TYPE)  # manifests whose `manifests` are children
# what a client Accepts to get any manifest back as it was pushed (no conversion)
MANIFEST_TYPES = ", ".join((INDEX_TYPE, MANIFEST_TYPE, DOCKER_LIST_TYPE, DOCKER_MANIFEST_TYPE))


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Blob:
    media_type: str
    data: bytes

    @cached_property
    def digest(self) -> str:
        return sha256_digest(self.data)

    @property
    def size(self) -> int:
        return len(self.data)

    def descriptor(self) -> dict[str, object]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size}


@dataclass(frozen=True)
class OciImage:
    config: Blob
    layers: tuple[Blob, ...]

    @cached_property
    def manifest(self) -> bytes:
        document = {
            "schemaVersion": 2,
            "mediaType": MANIFEST_TYPE,
            "config": self.config.descriptor(),
            "layers": [layer.descriptor() for layer in self.layers],
        }
        return json.dumps(document, separators=(",", ":")).encode()

    @property
    def manifest_digest(self) -> str:
        return sha256_digest(self.manifest)

    @property
    def blobs(self) -> tuple[Blob, ...]:
        return (self.config, *self.layers)


def build_image(layer_sizes: Sequence[int]) -> OciImage:
    """An image whose layers each carry one file of that many random bytes."""
    if not layer_sizes:
        raise ValueError("an image needs at least one layer")
    tars = [_tar_of(os.urandom(size)) for size in layer_sizes]
    layers = tuple(Blob(LAYER_TYPE, gzip.compress(tar, compresslevel=0, mtime=0)) for tar in tars)
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [sha256_digest(tar) for tar in tars]},
    }
    return OciImage(config=Blob(CONFIG_TYPE, json.dumps(config).encode()), layers=layers)


def write_oci_layout(image: OciImage, directory: Path, tag: str) -> str:
    """Write an OCI image layout and return the `oci:DIR:TAG` reference skopeo copies from."""
    blobs = directory / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    for blob in (*image.blobs, Blob(MANIFEST_TYPE, image.manifest)):
        (blobs / blob.digest.removeprefix("sha256:")).write_bytes(blob.data)
    manifest = Blob(MANIFEST_TYPE, image.manifest).descriptor()
    manifest["annotations"] = {"org.opencontainers.image.ref.name": tag}
    index = {"schemaVersion": 2, "mediaType": INDEX_TYPE, "manifests": [manifest]}
    (directory / "index.json").write_text(json.dumps(index))
    (directory / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    return f"oci:{directory}:{tag}"


def _tar_of(payload: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("payload.bin")
        info.size = len(payload)
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(payload))
    return buffer.getvalue()
