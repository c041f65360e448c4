"""retention: `registry:retention` on the local target, as ecr's lifecycle policy applies it.

Per repository: images (manifests, each with every tag that points at it) tagged with a
`protectedTags` pattern stay; of the other tagged images the `keepTagged` most recently pushed
stay and the rest are deleted; untagged manifests older than `untaggedDays` are deleted. What an
image needs stays with it: its cosign signature, attestation and SBOM (tags
`sha256-<digest>.sig|.att|.sbom`, and the OCI referrers tag `sha256-<digest>`), manifests whose
`subject` it is (deleted with it however young), and, for a multi-arch index, its children. Other
young untagged manifests stay: a multi-arch push uploads its children before the index that tags them.

The plan is computed once from one listing of the bucket (storage.py: the API can list neither
untagged manifests nor push times) and printed; the dry run stops there, the real run deletes
exactly those manifests through the registry API (`DELETE /v2/<name>/manifests/<digest>`,
which removes the manifest's tags with it) and nothing else. Their blobs go at the next `gc`.
"""

from __future__ import annotations

import datetime
import functools
import json
import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any, Protocol

import httpx

from components.config import Retention
from tools.maintenance.storage import Revision, Tag
from tools.maintenance.target import MaintenanceError
from tools.oci_image import MANIFEST_TYPES

# cosign's tags (sig, att, sbom) and the OCI 1.1 referrers tag schema, for the image sha256:<hex>
ATTACHMENT_TAG = re.compile(r"^sha256-([0-9a-f]{64})(?:\.[a-z]+)?$")

ReadManifest = Callable[[str, str], Mapping[str, Any]]  # (repository, digest) -> the manifest


class Listing(Protocol):
    """What retention reads from storage (storage.RegistryStore)."""

    def manifests(self) -> tuple[list[Tag], list[Revision]]: ...

    def tags_of(self, repository: str) -> dict[str, set[str]]: ...


class Deleter(Protocol):
    """What retention asks of the registry API (RegistryApi)."""

    def manifest(self, repository: str, digest: str) -> Mapping[str, Any]: ...

    def delete(self, repository: str, digest: str) -> bool: ...


@dataclass(frozen=True)
class Deletion:
    repository: str
    digest: str
    tags: tuple[str, ...]
    pushed: datetime.datetime
    reason: str

    def line(self) -> str:
        tagged = f"tags {', '.join(self.tags)}" if self.tags else "untagged"
        return f"delete {self.repository}@{self.digest} ({tagged}; pushed {self.pushed:%Y-%m-%d %H:%M}): {self.reason}"


@dataclass
class _Repository:
    name: str
    revisions: dict[str, Revision] = field(default_factory=dict)
    tags: dict[str, list[Tag]] = field(default_factory=lambda: defaultdict(list))  # digest -> its image tags
    attachments: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # subject -> manifests
    attachment_tags: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))  # manifest -> tags


def plan(
    retention: Retention,
    tags: Iterable[Tag],
    revisions: Iterable[Revision],
    read_manifest: ReadManifest,
    now: datetime.datetime,
) -> list[Deletion]:
    """Every manifest retention deletes, in repository order; read_manifest is asked only about
    manifests whose references decide what stays."""
    repositories: dict[str, _Repository] = {}
    for revision in revisions:
        repositories.setdefault(revision.repository, _Repository(revision.repository)).revisions[revision.digest] = (
            revision
        )
    for tag in tags:
        repository = repositories.get(tag.repository)
        if repository is None or tag.digest not in repository.revisions:
            continue  # a tag whose manifest is gone: nothing to delete
        attachment = ATTACHMENT_TAG.match(tag.name)
        if attachment:
            repository.attachments[f"sha256:{attachment.group(1)}"].add(tag.digest)
            repository.attachment_tags[tag.digest].append(tag.name)
        else:
            repository.tags[tag.digest].append(tag)
    read_once = functools.cache(read_manifest)  # an old referrer is read for its subject, then maybe kept
    deletions: list[Deletion] = []
    for name in sorted(repositories):
        deletions += _plan_repository(repositories[name], retention, read_once, now)
    return deletions


def _plan_repository(
    repo: _Repository, retention: Retention, read_manifest: ReadManifest, now: datetime.datetime
) -> list[Deletion]:
    def pushed(digest: str) -> datetime.datetime:
        return max([t.pushed for t in repo.tags[digest]], default=repo.revisions[digest].pushed)

    def protected(digest: str) -> bool:
        return any(fnmatchcase(t.name, p) for t in repo.tags[digest] for p in retention.protected_tags)

    images = [d for d in repo.tags if not protected(d)]
    # push times are S3 LastModified, to the second: ties go to the greater tag name, so every
    # run (and the dry run) picks the same images
    images.sort(key=lambda d: (pushed(d), max(t.name for t in repo.tags[d])), reverse=True)
    beyond = images[retention.keep_tagged :] if retention.keep_tagged is not None else []
    roots = {d for d in repo.tags if d not in beyond}
    attached = {m for manifests in repo.attachments.values() for m in manifests}
    untagged = [d for d in repo.revisions if d not in repo.tags and d not in attached]
    referrers = _referrers(repo.name, untagged, read_manifest)
    # an untagged manifest naming a subject that is here follows it (kept with it, deleted with it)
    following = {m for subject, ms in referrers.items() if subject in repo.revisions for m in ms}
    old: set[str] = set()
    if retention.untagged_days is not None:
        cutoff = now - datetime.timedelta(days=retention.untagged_days)
        old = {d for d in untagged if repo.revisions[d].pushed < cutoff}
    roots |= set(untagged) - old - following
    # orphaned attachments (their image is not here) stay, as on ecr
    roots |= {m for subject, ms in repo.attachments.items() if subject not in repo.revisions for m in ms}
    kept = _keep_closure(repo, roots, referrers, read_manifest)

    deletions = [
        Deletion(
            repo.name,
            d,
            tuple(sorted(t.name for t in repo.tags[d])),
            pushed(d),
            f"beyond keepTagged ({retention.keep_tagged})",
        )
        for d in beyond
        if d not in kept
    ]
    deletions += [
        Deletion(repo.name, d, (), repo.revisions[d].pushed, f"untagged for more than {retention.untagged_days} days")
        for d in sorted(old, key=lambda d: repo.revisions[d].pushed)
        if d not in kept
    ]
    gone = {d.digest for d in deletions}
    deletions += [
        Deletion(
            repo.name,
            m,
            tuple(sorted(repo.attachment_tags[m])),
            repo.revisions[m].pushed,
            f"attached to deleted {subject}",
        )
        for subject, manifests in sorted(repo.attachments.items())
        if subject in gone
        for m in sorted(manifests)
        if m not in kept and m not in gone
    ]
    return deletions + _referrers_of_deleted(repo, referrers, kept, {d.digest for d in deletions})


def _referrers(repository: str, untagged: Iterable[str], read_manifest: ReadManifest) -> dict[str, set[str]]:
    """subject -> the untagged manifests that name it (referrers pushed through the referrers API)."""
    found: dict[str, set[str]] = defaultdict(set)
    for digest in untagged:
        subject = (read_manifest(repository, digest).get("subject") or {}).get("digest")
        if subject:
            found[subject].add(digest)
    return found


def _referrers_of_deleted(
    repo: _Repository, referrers: Mapping[str, set[str]], kept: set[str], gone: set[str]
) -> list[Deletion]:
    """Untagged referrers go with the manifest they refer to, whatever their age (and theirs, in turn)."""
    deletions: list[Deletion] = []
    pending = sorted(gone)
    while pending:
        subject = pending.pop(0)
        for m in sorted(referrers.get(subject, ())):
            if m not in kept and m not in gone:
                gone.add(m)
                pending.append(m)
                deletions.append(Deletion(repo.name, m, (), repo.revisions[m].pushed, f"refers to deleted {subject}"))
    return deletions


def _keep_closure(
    repo: _Repository, roots: set[str], subjects: Mapping[str, set[str]], read_manifest: ReadManifest
) -> set[str]:
    """`roots` and all they need: children of indexes, attachments, manifests whose subject they are."""
    kept: set[str] = set()
    pending = list(roots)
    while pending:
        digest = pending.pop()
        if digest in kept or digest not in repo.revisions:
            continue
        kept.add(digest)
        pending += repo.attachments.get(digest, ())
        pending += subjects.get(digest, ())
        manifest = read_manifest(repo.name, digest)
        pending += [child["digest"] for child in manifest.get("manifests", []) if "digest" in child]
    return kept


DELETE_ATTEMPTS = 4
DELETE_RETRY_SECONDS = 1.0


class RegistryApi:
    """The distribution API of the registry retention deletes through."""

    def __init__(self, url: str, *, auth: tuple[str, str] | None = None, verify: Any = True):
        self.client = httpx.Client(base_url=url, auth=auth, verify=verify, timeout=60)

    def manifest(self, repository: str, digest: str) -> Mapping[str, Any]:
        response = self.client.get(f"/v2/{repository}/manifests/{digest}", headers={"Accept": MANIFEST_TYPES})
        if response.status_code != 200:
            raise MaintenanceError(f"GET {repository}@{digest} answered {response.status_code}: {response.text[:200]}")
        document: Mapping[str, Any] = json.loads(response.content)
        return document

    def delete(self, repository: str, digest: str) -> bool:
        """True when deleted, False when it was gone already. distribution clears its blob-descriptor
        cache before storage (registry/storage/linkedblobstore.go Delete), so while that Redis is gone
        a DELETE answers 500 and, once it is back empty, 404 for a manifest it has not cached again
        (README, "Redis unreachable"); both delete nothing. A 404 is checked with a HEAD (which
        caches the manifest again), and either is tried again a few times before giving up."""
        path = f"/v2/{repository}/manifests/{digest}"
        for _ in range(DELETE_ATTEMPTS):
            response = self.client.delete(path)
            if response.status_code == 202:
                return True
            if response.status_code == 404:
                if self.client.head(path, headers={"Accept": MANIFEST_TYPES}).status_code != 200:
                    return False
            elif response.status_code < 500:
                break
            time.sleep(DELETE_RETRY_SECONDS)
        raise MaintenanceError(
            f"DELETE {repository}@{digest} answered {response.status_code}: {response.text[:200]}"
            + (" (the registry has storage.delete disabled)" if response.status_code == 405 else "")
        )


def apply_retention(
    target: Mapping[str, Any],
    store: Listing,
    api: Deleter,
    *,
    dry_run: bool,
    now: datetime.datetime | None = None,
) -> list[str]:
    """Plan from one listing, print it, and (unless a dry run) delete exactly that plan."""
    if not target.get("retention"):
        return ["this stack sets no registry:retention: nothing to delete"]
    retention = Retention.model_validate(target["retention"])
    dry_run = dry_run or retention.dry_run
    tags, revisions = store.manifests()
    deletions = plan(retention, tags, revisions, api.manifest, now or datetime.datetime.now(datetime.UTC))
    lines = [d.line() for d in deletions]
    if dry_run:
        return [*lines, f"dry run: {len(deletions)} manifests would be deleted of {len(revisions)}; nothing was"]
    deleted, skipped = 0, []
    for repository in dict.fromkeys(d.repository for d in deletions):
        # a push may have tagged a planned manifest since the listing: it stays (deleting by digest
        # would take the new tag with it). What is left is the time the batch below takes.
        tagged_now = store.tags_of(repository)
        for d in (d for d in deletions if d.repository == repository):
            if tagged_now.get(d.digest, set()) - set(d.tags):
                skipped.append(
                    f"kept {repository}@{d.digest}: tagged {', '.join(sorted(tagged_now[d.digest]))} since the plan"
                )
            else:
                deleted += api.delete(repository, d.digest)
    return [*lines, *skipped, f"deleted {deleted} manifests of {len(revisions)}; run `gc` to free their blobs"]
