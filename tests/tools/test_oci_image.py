"""The generated images are valid OCI: digests, diff_ids and the layout skopeo reads."""

from __future__ import annotations

import gzip
import hashlib
import json
import tarfile
from io import BytesIO
from pathlib import Path

import pytest

from tools.oci_image import CONFIG_TYPE, LAYER_TYPE, MANIFEST_TYPE, build_image, sha256_digest, write_oci_layout


def test_manifest_describes_config_and_layers() -> None:
    image = build_image([1000, 20])
    manifest = json.loads(image.manifest)
    assert manifest["mediaType"] == MANIFEST_TYPE
    assert manifest["config"] == {"mediaType": CONFIG_TYPE, "digest": image.config.digest, "size": image.config.size}
    assert [(d["mediaType"], d["digest"], d["size"]) for d in manifest["layers"]] == [
        (LAYER_TYPE, layer.digest, layer.size) for layer in image.layers
    ]
    assert image.manifest_digest == "sha256:" + hashlib.sha256(image.manifest).hexdigest()


def test_layers_are_gzipped_tars_whose_diff_ids_are_in_the_config() -> None:
    image = build_image([5000])
    tar = gzip.decompress(image.layers[0].data)
    with tarfile.open(fileobj=BytesIO(tar)) as archive:
        member = archive.getmember("payload.bin")
        assert member.size == 5000
    assert json.loads(image.config.data)["rootfs"]["diff_ids"] == [sha256_digest(tar)]


def test_every_image_is_new() -> None:
    assert build_image([64]).layers[0].digest != build_image([64]).layers[0].digest


def test_an_image_needs_a_layer() -> None:
    with pytest.raises(ValueError, match="layer"):
        build_image([])


def test_oci_layout_holds_every_blob_under_its_digest(tmp_path: Path) -> None:
    image = build_image([100])
    reference = write_oci_layout(image, tmp_path, "v1")
    assert reference == f"oci:{tmp_path}:v1"
    assert json.loads((tmp_path / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads((tmp_path / "index.json").read_text())
    (entry,) = index["manifests"]
    assert entry["digest"] == image.manifest_digest
    assert entry["annotations"]["org.opencontainers.image.ref.name"] == "v1"
    for path in (tmp_path / "blobs" / "sha256").iterdir():
        assert sha256_digest(path.read_bytes()) == f"sha256:{path.name}"
    assert len(list((tmp_path / "blobs" / "sha256").iterdir())) == len(image.blobs) + 1
