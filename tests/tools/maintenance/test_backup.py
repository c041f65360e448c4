"""A backup's copy is read back against its manifest before a restore writes anything."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest

from tools.maintenance.backup import FORMAT, MANIFEST, OBJECTS, Directory, Entry, read_backup, write_order
from tools.maintenance.target import MaintenanceError

BLOB = "blobs/sha256/aa/" + "aa" * 32 + "/data"
LAYER_LINK = "repositories/app/_layers/sha256/" + "aa" * 32 + "/link"
REVISION = "repositories/app/_manifests/revisions/sha256/" + "bb" * 32 + "/link"
TAG = "repositories/app/_manifests/tags/v1/current/link"


def make_backup(root: Path, objects: dict[str, bytes]) -> Directory:
    place = Directory(root)
    for key, data in objects.items():
        place.write(OBJECTS + key, io.BytesIO(data))
    manifest = {
        "format": FORMAT,
        "objects": [{"key": k, "size": len(d), "sha256": hashlib.sha256(d).hexdigest()} for k, d in objects.items()],
    }
    place.write(MANIFEST, io.BytesIO(json.dumps(manifest).encode()))
    return place


OBJECTS_OF_ONE_IMAGE = {TAG: b"sha256:" + b"b" * 64, REVISION: b"sha256:" + b"b" * 64, BLOB: b"x" * 5000}


def test_a_whole_backup_reads_back(tmp_path: Path) -> None:
    entries = read_backup(make_backup(tmp_path, OBJECTS_OF_ONE_IMAGE))
    assert [e.key for e in entries] == list(OBJECTS_OF_ONE_IMAGE)
    assert entries[2] == Entry(BLOB, 5000, hashlib.sha256(b"x" * 5000).hexdigest())


def test_the_first_bad_object_in_the_manifest_is_named(tmp_path: Path) -> None:
    place = make_backup(tmp_path, OBJECTS_OF_ONE_IMAGE)
    (tmp_path / OBJECTS / BLOB).write_bytes(b"y" * 5000)  # same size, other bytes
    (tmp_path / OBJECTS / TAG).unlink()
    with pytest.raises(MaintenanceError, match=rf"refused: object {TAG} is missing .*\(2 of 3 objects are bad\)"):
        read_backup(place)


def test_a_corrupt_object_of_the_right_size_is_refused(tmp_path: Path) -> None:
    place = make_backup(tmp_path, OBJECTS_OF_ONE_IMAGE)
    (tmp_path / OBJECTS / BLOB).write_bytes(b"y" * 5000)
    with pytest.raises(MaintenanceError, match=rf"object {BLOB} has sha256 [0-9a-f]{{64}}, the manifest says"):
        read_backup(place)


def test_a_truncated_object_is_refused(tmp_path: Path) -> None:
    place = make_backup(tmp_path, OBJECTS_OF_ONE_IMAGE)
    (tmp_path / OBJECTS / BLOB).write_bytes(b"x" * 10)
    with pytest.raises(MaintenanceError, match=rf"object {BLOB} has 10 bytes, the backup's manifest says 5000"):
        read_backup(place)


def test_a_copy_without_its_manifest_did_not_finish(tmp_path: Path) -> None:
    make_backup(tmp_path, OBJECTS_OF_ONE_IMAGE)
    (tmp_path / MANIFEST).unlink()
    with pytest.raises(MaintenanceError, match="a backup that did not finish"):
        read_backup(Directory(tmp_path))


def test_another_format_is_refused(tmp_path: Path) -> None:
    (tmp_path / MANIFEST).write_text(json.dumps({"format": "something/2", "objects": []}))
    with pytest.raises(MaintenanceError, match="this tool reads registry-backup/1"):
        read_backup(Directory(tmp_path))


def test_restore_writes_blobs_then_links_then_tags() -> None:
    entries = [Entry(k, 1, "") for k in (TAG, REVISION, BLOB, LAYER_LINK)]
    assert [[e.key for e in group] for group in write_order(entries)] == [[BLOB], [REVISION, LAYER_LINK], [TAG]]
