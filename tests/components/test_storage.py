"""The bucket component: encryption, deletion safety and lifecycle as configured (local stack)."""

from __future__ import annotations

from tests.conftest import RunStack


def test_default_encryption_and_no_force_destroy(run_stack: RunStack) -> None:
    run = run_stack("local")
    rule = run.named("registry-storage-encryption").inputs["rules"][0]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}
    assert rule["bucketKeyEnabled"] is False
    bucket = run.named("registry-storage-bucket")
    assert bucket.inputs["bucketPrefix"] == "registry-" and bucket.inputs["forceDestroy"] is False
    assert not bucket.protect  # protection is for production stacks on aws
    component = run.named("registry-storage")
    assert {r.name for r in run.children_of(component)} == {
        "registry-storage-bucket",
        "registry-storage-versioning",
        "registry-storage-encryption",
        "registry-storage-lifecycle",
    }


def test_lifecycle_days_follow_config(run_stack: RunStack) -> None:
    run = run_stack(
        "local",
        overrides={
            "registry:storage": '{"noncurrentVersionDays": 90, "abortIncompleteUploadDays": 14, "forceDestroy": true}'
        },
    )
    rules = {r["id"]: r for r in run.named("registry-storage-lifecycle").inputs["rules"]}
    assert rules["expire-noncurrent-versions"]["noncurrentVersionExpiration"] == {"noncurrentDays": 90.0}
    assert rules["abort-incomplete-multipart-uploads"]["abortIncompleteMultipartUpload"] == {
        "daysAfterInitiation": 14.0
    }
    assert run.named("registry-storage-bucket").inputs["forceDestroy"] is True
