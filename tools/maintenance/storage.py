"""distribution's storage, read straight from the bucket (its layout: registry/storage/paths.go).

    <root>/docker/registry/v2/blobs/sha256/<ab>/<hex>/data                          a blob
    <root>/docker/registry/v2/repositories/<name>/_manifests/tags/<tag>/current/link  a tag -> digest
    <root>/docker/registry/v2/repositories/<name>/_manifests/revisions/sha256/<hex>/link  a manifest

The registry's API cannot list untagged manifests nor say when a tag was pushed; the bucket can:
a link object's LastModified is when the push wrote it. Backup and point-in-time restore read and
write the objects themselves: every key under the root except uploads under way (`_uploads/`,
which distribution can always restart), so what a backup holds is exactly the images.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.config

V2 = "docker/registry/v2/"
BLOB_DATA = re.compile(r"blobs/sha256/[0-9a-f]{2}/([0-9a-f]{64})/data$")
TAG_LINK = re.compile(r"^repositories/(.+)/_manifests/tags/([^/]+)/current/link$")
REVISION_LINK = re.compile(r"^repositories/(.+)/_manifests/revisions/sha256/([0-9a-f]{64})/link$")
UPLOADS = re.compile(r"^repositories/.+/_uploads/")


@dataclass(frozen=True)
class StoredVersion:
    """One version (or delete marker) of an object under the root; `key` is relative to it."""

    key: str
    version_id: str | None  # None: the bucket is not versioned
    modified: datetime.datetime
    size: int
    deleted: bool  # a delete marker: the key did not exist from `modified` on
    latest: bool


@dataclass(frozen=True)
class Tag:
    repository: str
    name: str
    digest: str
    pushed: datetime.datetime


@dataclass(frozen=True)
class Revision:
    """A manifest stored in a repository, tagged or not."""

    repository: str
    digest: str
    pushed: datetime.datetime


class RegistryStore:
    """What distribution keeps under its storage root, read with the registry's own S3 settings."""

    def __init__(self, s3: Mapping[str, Any]):
        self.client = boto3.client(
            "s3",
            endpoint_url=s3.get("regionendpoint") or None,
            region_name=s3.get("region"),
            aws_access_key_id=s3.get("accesskey") or None,
            aws_secret_access_key=s3.get("secretkey") or None,
            # an S3 API of our own (SeaweedFS) is addressed by path, as distribution does with a regionendpoint
            config=botocore.config.Config(s3={"addressing_style": "path" if s3.get("regionendpoint") else "auto"}),
        )
        self.bucket = str(s3["bucket"])
        root = str(s3.get("rootdirectory") or "").strip("/")
        self.root = f"{root}/{V2}" if root else V2
        self.prefix = f"{self.root}blobs/"

    def versioned(self) -> bool:
        return bool(self.client.get_bucket_versioning(Bucket=self.bucket).get("Status") == "Enabled")

    def current_objects(self, versioned: bool | None = None) -> dict[str, StoredVersion]:
        """key -> the version a reader gets now, for every image object (no uploads under way).
        `versioned`: what versioned() says, when the caller asked already."""
        if not (self.versioned() if versioned is None else versioned):
            return {v.key: v for v in self._listed()}
        return {v.key: v for v in self.versions() if v.latest and not v.deleted}

    def versions(self) -> list[StoredVersion]:
        """Every version and delete marker of every image object, each key's newest first."""
        found: list[StoredVersion] = []
        for page in self.client.get_paginator("list_object_versions").paginate(Bucket=self.bucket, Prefix=self.root):
            for deleted, kind in ((False, "Versions"), (True, "DeleteMarkers")):
                for entry in page.get(kind, []):
                    key = entry["Key"].removeprefix(self.root)
                    if not UPLOADS.match(key):
                        found.append(_version(key, entry, deleted))
        # S3 lists a key's versions newest first and its markers apart: order them by time, the
        # current one first among equals (LastModified has whole seconds)
        found.sort(key=lambda v: (v.key, -v.modified.timestamp(), not v.latest))
        return found

    def _listed(self) -> list[StoredVersion]:
        return [
            StoredVersion(key, None, entry["LastModified"], int(entry["Size"]), False, True)
            for key, entry in self._objects()
            if not UPLOADS.match(key)
        ]

    def _objects(self, below: str = "") -> Iterator[tuple[str, Mapping[str, Any]]]:
        """(key relative to the root, listing entry) of every current object under the root's `below`."""
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.root + below)
        for page in pages:
            for entry in page.get("Contents", []):
                yield entry["Key"].removeprefix(self.root), entry

    def read(self, key: str, version_id: str | None = None) -> Any:
        """A readable stream of one object (of one version of it)."""
        extra = {"VersionId": version_id} if version_id else {}
        return self.client.get_object(Bucket=self.bucket, Key=self.root + key, **extra)["Body"]

    def write(self, key: str, stream: Any) -> None:
        """Store `stream` as the object `key` (multipart for large objects: boto3's managed transfer)."""
        self.client.upload_fileobj(stream, self.bucket, self.root + key)

    def bring_back(self, key: str, version_id: str) -> None:
        """Make an earlier version of `key` its current one again: a server-side copy of it onto
        the key, so the version that was current stays too, as a noncurrent version."""
        source = {"Bucket": self.bucket, "Key": self.root + key, "VersionId": version_id}
        self.client.copy(source, self.bucket, self.root + key)

    def remove(self, key: str) -> None:
        """Delete `key`: in a versioned bucket a delete marker, its data kept as a noncurrent version."""
        self.client.delete_object(Bucket=self.bucket, Key=self.root + key)

    def record_run(self, operation: str, lines: list[str]) -> None:
        """What a maintenance run reported, kept beside the images (`<root>/maintenance/<operation>.json`,
        outside the tree distribution walks) for tools.status."""
        at = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        body = json.dumps({"operation": operation, "at": at, "report": lines}).encode()
        self.client.put_object(Bucket=self.bucket, Key=self._record_key(operation), Body=body)

    def last_run(self, operation: str) -> dict[str, Any] | None:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self._record_key(operation))["Body"].read()
        except self.client.exceptions.NoSuchKey:
            return None
        record: dict[str, Any] = json.loads(body)
        return record

    def _record_key(self, operation: str) -> str:
        return f"{self.root.removesuffix(V2)}maintenance/{operation}.json"

    def blob_sizes(self) -> dict[str, int]:
        """digest -> size of every stored blob."""
        sizes: dict[str, int] = {}
        for key, entry in self._objects("blobs/"):
            match = BLOB_DATA.search(key)
            if match:
                sizes[f"sha256:{match.group(1)}"] = int(entry["Size"])
        return sizes

    def manifests(self) -> tuple[list[Tag], list[Revision]]:
        """Every tag (with the digest its link names) and every stored manifest, with push times."""
        tags: list[Tag] = []
        revisions: list[Revision] = []
        for key, entry in self._objects("repositories/"):
            if tag := TAG_LINK.match(key):
                tags.append(Tag(tag.group(1), tag.group(2), self.link(key), entry["LastModified"]))
            elif revision := REVISION_LINK.match(key):
                revisions.append(Revision(revision.group(1), f"sha256:{revision.group(2)}", entry["LastModified"]))
        return tags, revisions

    def tag_names(self) -> list[tuple[str, str]]:
        """(repository, tag) of every tag, from the listing alone (no link is read)."""
        return [(t.group(1), t.group(2)) for key, _ in self._objects("repositories/") if (t := TAG_LINK.match(key))]

    def tags_of(self, repository: str) -> dict[str, set[str]]:
        """digest -> the tags that point at it now, in one repository."""
        now: dict[str, set[str]] = {}
        for key, _ in self._objects(f"repositories/{repository}/_manifests/tags/"):
            tag = TAG_LINK.match(key)
            if tag and tag.group(1) == repository:
                now.setdefault(self.link(key), set()).add(tag.group(2))
        return now

    def link(self, key: str, version_id: str | None = None) -> str:
        """What a link object (of one version of it) names: a digest."""
        return str(self.read(key, version_id).read().decode().strip())

    def noncurrent_bytes(self, digests: set[str]) -> int:
        total = 0
        for page in self.client.get_paginator("list_object_versions").paginate(Bucket=self.bucket, Prefix=self.prefix):
            for version in page.get("Versions", []):
                match = BLOB_DATA.search(version["Key"])
                if match and not version.get("IsLatest") and f"sha256:{match.group(1)}" in digests:
                    total += int(version.get("Size", 0))
        return total

    def noncurrent_days(self) -> int | None:
        try:
            rules = self.client.get_bucket_lifecycle_configuration(Bucket=self.bucket).get("Rules", [])
        except self.client.exceptions.ClientError:
            return None
        days = [
            int(rule["NoncurrentVersionExpiration"]["NoncurrentDays"])
            for rule in rules
            if rule.get("Status") == "Enabled" and "NoncurrentDays" in rule.get("NoncurrentVersionExpiration", {})
        ]
        return min(days) if days else None


def _version(key: str, entry: Mapping[str, Any], deleted: bool) -> StoredVersion:
    version_id = entry.get("VersionId")
    return StoredVersion(
        key=key,
        version_id=None if version_id is None else str(version_id),  # "null": written before versioning
        modified=entry["LastModified"],
        size=int(entry.get("Size", 0)),
        deleted=deleted,
        latest=bool(entry.get("IsLatest")),
    )
