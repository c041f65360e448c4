"""retention's plan against a table of stores (the real run is in tests/dataplane/test_retention.py)."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

import httpx
import pytest

from components.config import Retention
from tools.maintenance import retention
from tools.maintenance.retention import RegistryApi, apply_retention, plan
from tools.maintenance.storage import Revision, Tag
from tools.maintenance.target import MaintenanceError

NOW = datetime.datetime(2026, 12, 2, 12, 0, tzinfo=datetime.UTC)
REPO = "team/app"


def digest(name: str) -> str:
    return "sha256:" + name.encode().hex().ljust(64, "0")[:64]


def days_ago(days: float) -> datetime.datetime:
    return NOW - datetime.timedelta(days=days)


class Store:
    """Manifests by short name: `tag(name, manifest, age)` and `untagged(manifest, age)`."""

    def __init__(self) -> None:
        self.tags: list[Tag] = []
        self.revisions: dict[str, Revision] = {}
        self.documents: dict[str, dict[str, Any]] = {}

    def manifest(self, name: str, age: float, **document: Any) -> str:
        d = digest(name)
        self.revisions.setdefault(d, Revision(REPO, d, days_ago(age)))
        self.documents[d] = document
        return d

    def tag(self, tag: str, name: str, age: float, **document: Any) -> str:
        d = self.manifest(name, age, **document)
        self.tags.append(Tag(REPO, tag, d, days_ago(age)))
        return d

    def read(self, repository: str, d: str) -> Mapping[str, Any]:
        assert repository == REPO
        return self.documents[d]

    def deleted(self, retention: Retention) -> set[str]:
        return {x.digest for x in plan(retention, self.tags, self.revisions.values(), self.read, NOW)}


def names(*short: str) -> set[str]:
    return {digest(s) for s in short}


def test_the_newest_keep_tagged_images_stay_and_older_ones_go() -> None:
    store = Store()
    for age, name in enumerate(["d", "c", "b", "a"]):  # a is oldest
        store.tag(f"build-{name}", name, age)
    assert store.deleted(Retention(keep_tagged=2)) == names("b", "a")


def test_protected_tags_stay_and_do_not_count_towards_keep_tagged() -> None:
    store = Store()
    store.tag("v1.0", "release", 30)
    store.tag("build-2", "new", 1)
    store.tag("build-1", "old", 2)
    assert store.deleted(Retention(keep_tagged=1, protected_tags=["v*"])) == names("old")


def test_an_image_with_several_tags_is_one_image_pushed_when_its_newest_tag_was() -> None:
    store = Store()
    store.tag("build-1", "shared", 10)
    store.tag("latest", "shared", 0.5)  # re-tagged today
    store.tag("build-2", "other", 1)
    assert store.deleted(Retention(keep_tagged=1)) == names("other")


def test_signatures_follow_their_image() -> None:
    store = Store()
    kept, gone = store.tag("build-2", "kept", 1), store.tag("build-1", "gone", 2)
    for subject, sig in ((kept, "kept-sig"), (gone, "gone-sig")):
        for suffix in (".sig", ".att", ".sbom", ""):
            store.tag(f"sha256-{subject[7:]}{suffix}", sig + suffix, 1.5)
    deleted = plan(Retention(keep_tagged=1), store.tags, store.revisions.values(), store.read, NOW)
    assert {d.digest for d in deleted} == names("gone", "gone-sig.sig", "gone-sig.att", "gone-sig.sbom", "gone-sig")
    [signature] = [d for d in deleted if d.digest == digest("gone-sig.sig")]
    assert signature.tags == (f"sha256-{gone[7:]}.sig",) and signature.reason == f"attached to deleted {gone}"


def test_a_kept_index_keeps_its_children_and_a_deleted_ones_old_children_go() -> None:
    store = Store()
    for child in ("kept-amd64", "kept-arm64", "gone-amd64"):
        store.manifest(child, 20)
    children = [{"digest": digest(c)} for c in ("kept-amd64", "kept-arm64")]
    store.tag("build-2", "kept-index", 1, manifests=children)
    store.tag("build-1", "gone-index", 20, manifests=[{"digest": digest("gone-amd64")}])
    assert store.deleted(Retention(keep_tagged=1, untagged_days=7)) == names("gone-index", "gone-amd64")


@pytest.mark.parametrize(
    ("untagged_days", "deleted"),
    [(7, {"old"}), (None, set())],
    ids=["old-untagged-goes", "no-untagged-days-keeps-every-untagged"],
)
def test_untagged_manifests_go_only_when_older_than_untagged_days(untagged_days: int | None, deleted: set[str]) -> None:
    store = Store()
    store.manifest("old", 8)
    store.manifest("young", 6)  # e.g. a multi-arch child whose index is still being pushed
    store.tag("latest", "tagged", 30)
    retention = Retention(keep_tagged=5, untagged_days=untagged_days)
    assert store.deleted(retention) == names(*deleted)


def test_a_referrer_of_a_kept_image_stays_however_old() -> None:
    store = Store()
    image = store.tag("latest", "image", 30)
    store.manifest("sbom-referrer", 30, subject={"digest": image})
    store.manifest("orphan-referrer", 30, subject={"digest": digest("elsewhere")})
    assert store.deleted(Retention(untagged_days=7)) == names("orphan-referrer")


def test_an_orphaned_signature_stays() -> None:
    store = Store()
    store.tag(f"sha256-{digest('not-here')[7:]}.sig", "orphan-sig", 40)
    assert store.deleted(Retention(keep_tagged=1, untagged_days=1)) == set()


def test_a_tag_whose_manifest_is_gone_is_ignored() -> None:
    store = Store()
    store.tags.append(Tag(REPO, "dangling", digest("missing"), days_ago(1)))
    store.tag("latest", "image", 1)
    assert store.deleted(Retention(keep_tagged=1)) == set()


def test_images_pushed_in_the_same_second_are_ordered_by_tag_name() -> None:
    """S3 LastModified has one-second resolution; the dry run and the real run must agree."""
    store = Store()
    store.tag("build-b", "b", 1)
    store.tag("build-a", "a", 1)
    assert store.deleted(Retention(keep_tagged=1)) == names("a")


def test_the_referrers_index_of_a_kept_image_keeps_the_signatures_it_lists() -> None:
    """notation on a registry without the referrers API (2.8): the tag `sha256-<digest>` names an
    index of the image's signatures, which are untagged manifests themselves."""
    store = Store()
    image = store.tag("latest", "image", 30)
    store.manifest("notation-signature", 30, subject={"digest": image})
    store.tag(f"sha256-{image[7:]}", "referrers", 30, manifests=[{"digest": digest("notation-signature")}])
    store.manifest("stray", 30)
    assert store.deleted(Retention(untagged_days=7)) == names("stray")
    store.documents[digest("notation-signature")] = {}  # no subject: only the referrers index holds it
    assert store.deleted(Retention(untagged_days=7)) == names("stray")


class Api:
    def __init__(self) -> None:
        self.deleted: list[str] = []

    def manifest(self, repository: str, d: str) -> Mapping[str, Any]:
        return {}

    def delete(self, repository: str, d: str) -> bool:
        self.deleted.append(d)
        return True


class Listing:
    """What the bucket says: at plan time, and again just before the deletes."""

    def __init__(self, store: Store, tagged_now: dict[str, set[str]]):
        self.store, self.tagged_now = store, tagged_now

    def manifests(self) -> tuple[list[Tag], list[Revision]]:
        return self.store.tags, list(self.store.revisions.values())

    def tags_of(self, repository: str) -> dict[str, set[str]]:
        return self.tagged_now


def test_a_manifest_tagged_again_since_the_plan_is_not_deleted() -> None:
    store = Store()
    store.tag("build-2", "new", 1)
    old = store.tag("build-1", "old", 2)
    older = store.tag("build-0", "older", 3)
    api = Api()
    target = {"target": "sandbox", "retention": {"keepTagged": 1}}
    lines = apply_retention(target, Listing(store, {old: {"build-1", "latest"}}), api, dry_run=False, now=NOW)
    assert api.deleted == [older]
    assert f"kept {REPO}@{old}: tagged build-1, latest since the plan" in lines
    assert lines[-1] == "deleted 1 manifests of 3; run `gc` to free their blobs"


def test_dry_run_in_the_stack_config_deletes_nothing() -> None:
    store = Store()
    store.tag("build-1", "new", 1)
    store.tag("build-0", "old", 2)
    api = Api()
    target = {"target": "sandbox", "retention": {"keepTagged": 1, "dryRun": True}}
    lines = apply_retention(target, Listing(store, {}), api, dry_run=False, now=NOW)
    assert api.deleted == [] and lines[-1].startswith("dry run: 1 manifests would be deleted of 2")


def api_answering(
    monkeypatch: pytest.MonkeyPatch, deletes: list[int], head: int = 200
) -> tuple[RegistryApi, list[str]]:
    """A RegistryApi whose registry answers DELETEs with `deletes` in turn and every HEAD with `head`."""
    monkeypatch.setattr(retention, "DELETE_RETRY_SECONDS", 0.0)
    seen: list[str] = []
    answers = iter(deletes)

    def respond(request: httpx.Request) -> httpx.Response:
        seen.append(request.method)
        status = next(answers) if request.method == "DELETE" else head
        return httpx.Response(status, json={"errors": [{"code": "UNKNOWN"}]} if status >= 400 else None)

    api = RegistryApi("http://registry.test")
    api.client = httpx.Client(base_url="http://registry.test", transport=httpx.MockTransport(respond))
    return api, seen


def test_a_delete_refused_while_the_cache_is_gone_or_cold_is_tried_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """Redis unreachable: 500; Redis back empty: 404 for a manifest that exists. Neither deleted anything."""
    api, seen = api_answering(monkeypatch, [500, 404, 202])
    assert api.delete("team/app", "sha256:" + "a" * 64) is True
    assert seen == ["DELETE", "DELETE", "HEAD", "DELETE"]
    api, seen = api_answering(monkeypatch, [404], head=404)
    assert api.delete("team/app", "sha256:" + "a" * 64) is False  # gone already
    api, seen = api_answering(monkeypatch, [500] * retention.DELETE_ATTEMPTS)
    with pytest.raises(MaintenanceError, match="answered 500"):
        api.delete("team/app", "sha256:" + "a" * 64)
    api, seen = api_answering(monkeypatch, [405])
    with pytest.raises(MaintenanceError, match=r"storage\.delete disabled"):
        api.delete("team/app", "sha256:" + "a" * 64)
    assert seen == ["DELETE"]  # a refusal that is no outage is not retried


def test_a_young_referrer_goes_with_the_image_it_refers_to() -> None:
    """An SBOM or signature pushed through the referrers API is an untagged manifest naming its image
    as `subject`: deleting the image deletes it too, whatever its age and untaggedDays."""
    store = Store()
    store.tag("build-2", "kept", 1)
    gone = store.tag("build-1", "gone", 2)
    store.manifest("gone-sbom", 0.1, subject={"digest": gone})
    store.manifest("gone-sbom-signature", 0.1, subject={"digest": digest("gone-sbom")})
    store.manifest("young-stray", 0.1)
    deleted = plan(Retention(keep_tagged=1, untagged_days=7), store.tags, store.revisions.values(), store.read, NOW)
    assert {d.digest for d in deleted} == names("gone", "gone-sbom", "gone-sbom-signature")
    reasons = {d.digest: d.reason for d in deleted}
    assert reasons[digest("gone-sbom")] == f"refers to deleted {gone}"
    assert reasons[digest("gone-sbom-signature")] == f"refers to deleted {digest('gone-sbom')}"
    assert store.deleted(Retention(keep_tagged=1)) == names("gone", "gone-sbom", "gone-sbom-signature")
