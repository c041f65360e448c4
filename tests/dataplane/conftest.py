"""One sandbox (3 registries, Redis, moto S3, nginx edge) shared by every data-plane test.

Missing binaries make the tests fail with what to install: CI installs them; a skip would
count an untested data plane as passed.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.dataplane.helpers import edge_client
from tools.oci_image import OciImage, build_image
from tools.sandbox import Sandbox, SandboxUser, local_settings
from tools.skopeo import Skopeo, SkopeoMissing
from tools.verify import push_image

REPLICAS = 3


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(local_settings(replicas=REPLICAS)) as running:
        yield running


@pytest.fixture(scope="session")
def skopeo(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Skopeo:
    try:
        return Skopeo(tmp_path_factory.mktemp("skopeo-certs"), sandbox.ca_file)
    except SkopeoMissing as err:
        pytest.fail(str(err))


@pytest.fixture(scope="session")
def pusher(sandbox: Sandbox) -> SandboxUser:
    return sandbox.user("push")


@pytest.fixture(scope="session")
def reader(sandbox: Sandbox) -> SandboxUser:
    return sandbox.user("pull")


@pytest.fixture(scope="module")
def small_image(sandbox: Sandbox, pusher: SandboxUser) -> tuple[str, OciImage]:
    """A small image pushed through the edge once per module: (repository, image), tag `v1`."""
    image = build_image([256 * 1024, 4096])
    repository = f"fixture/{image.manifest_digest[7:19]}"
    with edge_client(sandbox, pusher) as client:
        push_image(client, repository, "v1", image)
    return repository, image
