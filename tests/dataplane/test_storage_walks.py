"""The pair the targets deploy sees everything it stores: `_catalog` and `tags/list` (page by page
too) are complete, garbage collection frees what nothing references, upload purging removes
abandoned uploads. The same checks run for every build and store in `make bench`
(bench/compatibility.py); here on the default distribution build and SeaweedFS release, which the
local target deploys, and on moto, standing in for the S3 of the aws target."""

from __future__ import annotations

import pytest

from components.images import DATA_PLANE_BUILD
from testbench.sandbox import ObjectStore, Sandbox, local_settings
from testbench.storage_walks import CHECKS, run_checks
from tests.dataplane.helpers import DEFAULT_VERSION

pytestmark = pytest.mark.dataplane


@pytest.mark.parametrize("store", ["seaweedfs", "moto"])
def test_every_storage_walk_of_the_default_build_sees_everything_stored(store: ObjectStore) -> None:
    settings = local_settings(replicas=1, version=DEFAULT_VERSION).model_copy(update={"mirrors": []})
    with Sandbox(settings, object_store=store) as sandbox:
        assert run_checks(sandbox, DATA_PLANE_BUILD[DEFAULT_VERSION]) == dict.fromkeys(CHECKS, "ok")
