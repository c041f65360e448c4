"""backup and restore: a consistent copy of the registry's storage, and the way back from it.

backup: with writes frozen (freeze.py on the edge, alb.py on aws, as for gc) list the version of
every image object a reader gets now, then lift the freeze and copy exactly those versions: a
versioned bucket keeps them whatever is pushed or collected meanwhile, so writes stop only for
the listing (an unversioned bucket is copied with writes frozen throughout). Each object goes to
`objects/<key>` with the sha256 taken while it streams; `backup.json`, written last, lists every
object with its size and sha256, so a copy without it is one that did not finish.

restore: reads the whole copy back against its manifest before writing anything and refuses it
naming the first missing or corrupt object; refuses a store that already holds images unless
--overwrite (then objects the backup lacks stay: nothing is deleted); writes blobs, then links,
tag links last, with writes frozen; flushes the blob-descriptor cache (cache.py); the caller then
pulls every tag back (tools/verify.py `check_every_tag`).
"""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import shutil
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol, TypeVar
from urllib.parse import urlsplit

from tools.maintenance.site import MaintenanceSite
from tools.maintenance.storage import BLOB_DATA, TAG_LINK, RegistryStore, StoredVersion
from tools.maintenance.target import MaintenanceError

FORMAT = "registry-backup/1"
MANIFEST = "backup.json"
OBJECTS = "objects/"
WORKERS = 8  # objects copied at once: most are small links, where a request's latency dominates
_T = TypeVar("_T")
_R = TypeVar("_R")


class Location(Protocol):
    """Where a backup lives: a directory or an S3 prefix."""

    def exists(self, name: str) -> bool: ...
    def size(self, name: str) -> int | None: ...
    def reader(self, name: str) -> IO[bytes]: ...
    def write(self, name: str, stream: IO[bytes]) -> None: ...
    def holds_anything(self) -> bool: ...


@dataclass(frozen=True)
class Directory:
    path: Path

    def exists(self, name: str) -> bool:
        return (self.path / name).is_file()

    def size(self, name: str) -> int | None:
        file = self.path / name
        return file.stat().st_size if file.is_file() else None

    def reader(self, name: str) -> IO[bytes]:
        return (self.path / name).open("rb")

    def write(self, name: str, stream: IO[bytes]) -> None:
        file = self.path / name
        file.parent.mkdir(parents=True, exist_ok=True)
        with file.open("wb") as out:
            shutil.copyfileobj(stream, out, 1024 * 1024)

    def holds_anything(self) -> bool:
        return self.path.exists() and any(self.path.iterdir())

    def __str__(self) -> str:
        return str(self.path)


class S3Prefix:
    """s3://bucket/prefix with the caller's own AWS credentials (AWS_ENDPOINT_URL_S3 for any S3 API)."""

    def __init__(self, url: str, client: Any = None):
        parts = urlsplit(url)
        self.bucket, self.prefix = parts.netloc, parts.path.strip("/") + "/" if parts.path.strip("/") else ""
        if client is None:
            import boto3

            client = boto3.client("s3")
        self.client = client

    def exists(self, name: str) -> bool:
        return self.size(name) is not None

    def size(self, name: str) -> int | None:
        try:
            return int(self.client.head_object(Bucket=self.bucket, Key=self.prefix + name)["ContentLength"])
        except self.client.exceptions.ClientError:
            return None

    def reader(self, name: str) -> IO[bytes]:
        body: IO[bytes] = self.client.get_object(Bucket=self.bucket, Key=self.prefix + name)["Body"]
        return body

    def write(self, name: str, stream: IO[bytes]) -> None:
        self.client.upload_fileobj(stream, self.bucket, self.prefix + name)

    def holds_anything(self) -> bool:
        return bool(self.client.list_objects_v2(Bucket=self.bucket, Prefix=self.prefix, MaxKeys=1).get("KeyCount"))

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


def location(text: str) -> Location:
    return S3Prefix(text) if text.startswith("s3://") else Directory(Path(text))


class Hashing:
    """A stream that hashes (sha256) and counts what is read through it."""

    def __init__(self, stream: IO[bytes]):
        self.stream, self.sha256, self.size = stream, hashlib.sha256(), 0

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        self.sha256.update(data)
        self.size += len(data)
        return data


@dataclass(frozen=True)
class Entry:
    key: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Outcome:
    """What a backup or restore moved, and how long writes were refused for it."""

    objects: int
    bytes: int
    seconds: float
    frozen_seconds: float

    def rate(self) -> str:
        mib = self.bytes / 2**20
        return f"{mib:.1f} MiB in {self.seconds:.2f}s ({mib / max(self.seconds, 1e-6):.1f} MiB/s)"


def take_backup(target: Mapping[str, Any], site: MaintenanceSite, store: RegistryStore, to: Location) -> Outcome:
    """Copy the store's images to `to`; MaintenanceError (with writes open again) if a step fails."""
    if to.holds_anything():
        raise MaintenanceError(f"{to} is not empty: give each backup a place of its own (e.g. backups/$(date +%F))")
    started = time.monotonic()
    site.lift_stale()
    versioned = store.versioned()
    with site.write_freeze(target, None) as freeze:
        snapshot = sorted(store.current_objects(versioned).values(), key=lambda v: v.key)
        taken_at = datetime.datetime.now(datetime.UTC)
        entries = [] if versioned else _copy_out(store, snapshot, to)
    if versioned:
        entries = _copy_out(store, snapshot, to)
    manifest = {
        "format": FORMAT,
        "takenAt": taken_at.isoformat().replace("+00:00", "Z"),
        "source": {"bucket": store.bucket, "root": store.root},
        "objects": [{"key": e.key, "size": e.size, "sha256": e.sha256} for e in entries],
    }
    to.write(MANIFEST, _bytes_stream(json.dumps(manifest, indent=1).encode()))
    return Outcome(len(entries), sum(e.size for e in entries), time.monotonic() - started, freeze.seconds)


def _copy_out(store: RegistryStore, snapshot: Sequence[StoredVersion], to: Location) -> list[Entry]:
    def copy(version: StoredVersion) -> Entry:
        stream = Hashing(store.read(version.key, version.version_id))
        to.write(OBJECTS + version.key, stream)  # type: ignore[arg-type]
        entry = Entry(version.key, stream.size, stream.sha256.hexdigest())
        blob = BLOB_DATA.search(version.key)
        if blob and blob.group(1) != entry.sha256:
            raise MaintenanceError(
                f"the store's blob {version.key} has sha256 {entry.sha256}: it is corrupt in the store, the backup "
                "stops here; delete the image that holds it (or push it again) and run backup again"
            )
        return entry

    return _parallel(copy, snapshot)


def read_backup(source: Location) -> list[Entry]:
    """The backup's objects after reading every one back; MaintenanceError naming the first bad one."""
    if not source.exists(MANIFEST):
        raise MaintenanceError(f"{source} has no {MANIFEST}: it is not a backup, or a backup that did not finish")
    manifest = json.loads(source.reader(MANIFEST).read())
    if manifest.get("format") != FORMAT:
        raise MaintenanceError(f"{source}/{MANIFEST} is format {manifest.get('format')!r}; this tool reads {FORMAT}")
    entries = [Entry(str(o["key"]), int(o["size"]), str(o["sha256"])) for o in manifest["objects"]]
    problems = _parallel(lambda e: _problem(source, e), entries)
    first = next((p for p in problems if p), None)
    if first:
        bad = sum(1 for p in problems if p)
        raise MaintenanceError(f"refused: {first} ({bad} of {len(entries)} objects are bad); nothing was written")
    return entries


def _problem(source: Location, entry: Entry) -> str | None:
    size = source.size(OBJECTS + entry.key)
    if size is None:
        return f"object {entry.key} is missing from the backup (a partial copy)"
    if size != entry.size:
        return f"object {entry.key} has {size} bytes, the backup's manifest says {entry.size} (truncated or changed)"
    stream = Hashing(source.reader(OBJECTS + entry.key))
    while stream.read(1024 * 1024):
        pass
    if stream.sha256.hexdigest() != entry.sha256:
        return f"object {entry.key} has sha256 {stream.sha256.hexdigest()}, the manifest says {entry.sha256} (corrupt)"
    return None


def restore_backup(
    target: Mapping[str, Any],
    site: MaintenanceSite,
    store: RegistryStore,
    source: Location,
    *,
    overwrite: bool = False,
) -> Outcome:
    """Write a verified backup into the store; MaintenanceError before anything is written if the
    backup is bad or the store holds images (unless `overwrite`)."""
    started = time.monotonic()
    entries = read_backup(source)
    held = store.current_objects()
    if held and not overwrite:
        raise MaintenanceError(
            f"the store already holds {len(held)} objects (bucket {store.bucket}): restoring would mix two "
            "registries; restore into an empty store, or pass --overwrite (objects the backup lacks stay, "
            "tags the backup has point where they pointed then)"
        )
    site.lift_stale()
    with site.write_freeze(target, None) as freeze:
        try:
            for group in write_order(entries):
                _parallel(lambda e: _write_back(store, source, e), group)
        finally:
            site.flush(target)  # whatever was written, the cache must not answer for what it held before
    return Outcome(len(entries), sum(e.size for e in entries), time.monotonic() - started, freeze.seconds)


def _write_back(store: RegistryStore, source: Location, entry: Entry) -> None:
    with source.reader(OBJECTS + entry.key) as stream:
        store.write(entry.key, stream)


def write_order(entries: Iterable[Entry]) -> list[list[Entry]]:
    """Blobs, then the links that name them, then tag links: a tag never points at what is not there yet."""
    groups: list[list[Entry]] = [[], [], []]
    for entry in entries:
        groups[0 if BLOB_DATA.search(entry.key) else 2 if TAG_LINK.match(entry.key) else 1].append(entry)
    return groups


def _parallel(work: Callable[[_T], _R], items: Sequence[_T]) -> list[_R]:
    with ThreadPoolExecutor(WORKERS) as pool:
        return list(pool.map(work, items))


def _bytes_stream(data: bytes) -> IO[bytes]:
    return io.BytesIO(data)
