"""One sandbox (3 registries, Redis, SeaweedFS, nginx edge) shared by the data-plane tests.

Every test runs the version the local stack renders by default (`registry_version`); a module
marked `both_versions` runs again on distribution 2.8 for stacks that set `registry:version: "2"`.
Missing binaries make the tests fail with what to install: CI installs them; a skip would
count an untested data plane as passed.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from testbench.sandbox import Sandbox, SandboxUser, local_settings
from tests.dataplane.helpers import DEFAULT_VERSION, edge_client
from tools.oci_image import OciImage, build_image
from tools.skopeo import Skopeo, SkopeoMissing
from tools.verify import push_image

REPLICAS = 3


@pytest.fixture(scope="session")
def registry_version(request: pytest.FixtureRequest) -> str:
    """`registry:version` of every sandbox a test starts: the stack's default unless parametrized."""
    return str(getattr(request, "param", DEFAULT_VERSION))


@pytest.fixture(scope="session")
def sandbox(registry_version: str) -> Iterator[Sandbox]:
    with Sandbox(local_settings(replicas=REPLICAS, version=registry_version)) as running:
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
def admin(sandbox: Sandbox) -> SandboxUser:
    """access admin: may also delete (push users may not) and list the catalog."""
    return sandbox.user("admin")


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
