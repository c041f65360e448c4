"""testbench.registry_builds without Go: what it refuses to build from, what it caches, what it pins."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from components.images import DATA_PLANE_BUILD, REGISTRY
from testbench import registry_builds
from testbench.registry_builds import SOURCES, BuildError, Source
from tests.conftest import ROOT

SHARED_SUMS = ROOT.parent / "shared" / "vendor" / "SHA256SUMS"


def fake_source(archive: Path) -> Source:
    return Source("9.9.9", archive.name, hashlib.sha256(archive.read_bytes()).hexdigest(), "0" * 40)


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    path = tmp_path / "vendor" / "distribution-9.9.9.tar.gz"
    path.parent.mkdir()
    path.write_bytes(b"an archive")
    return path


def test_a_wrong_archive_is_refused_naming_the_file_the_expected_and_the_found_checksum(archive: Path) -> None:
    source = fake_source(archive)
    archive.write_bytes(b"something else")
    found = hashlib.sha256(b"something else").hexdigest()
    with pytest.raises(BuildError) as refused:
        registry_builds.verified_archive(source, archive.parent)
    assert str(archive) in str(refused.value)
    assert f"has sha256 {found}, expected {source.sha256}" in str(refused.value)


def test_a_missing_archive_names_the_commit_and_where_to_put_it(tmp_path: Path, archive: Path) -> None:
    source = fake_source(archive)
    with pytest.raises(
        BuildError, match=r"is missing: distribution 9\.9\.9 is built from it \(git archive of commit 0{40}\)"
    ):
        registry_builds.verified_archive(source, tmp_path / "elsewhere")
    with pytest.raises(BuildError, match="REGISTRY_VENDOR_DIR"):
        registry_builds.verified_archive(source, tmp_path / "elsewhere")


def test_a_build_with_a_current_stamp_is_not_built_again(
    tmp_path: Path, archive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = fake_source(archive)
    monkeypatch.setitem(SOURCES, source.build, source)
    builds: list[Path] = []

    def build(source: Source, archive: Path, tools: Path, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("#!/bin/sh\n")
        builds.append(target)

    monkeypatch.setattr(registry_builds, "_build", build)
    tools = tmp_path / "tools"
    with pytest.raises(BuildError, match="is not built: run `make system-deps`"):
        registry_builds.binary("9.9.9", tools)
    [done] = registry_builds.install(["9.9.9"], tools, archive.parent)
    assert done.startswith("registry 9.9.9: built from distribution-9.9.9.tar.gz")
    assert registry_builds.binary("9.9.9", tools) == tools / "distribution" / "9.9.9" / "registry"
    assert registry_builds.install(["9.9.9"], tools, archive.parent)[0].startswith("registry 9.9.9: already built")
    assert len(builds) == 1
    # another archive (or Go, or test-bench program) makes the stamp stale: built again
    (tools / "distribution" / "9.9.9" / ".source").write_text("distribution-9.9.9.tar.gz sha256:old\n")
    with pytest.raises(BuildError, match="is not built"):
        registry_builds.binary("9.9.9", tools)
    registry_builds.install(["9.9.9"], tools, archive.parent)
    assert len(builds) == 2


def test_an_unknown_build_names_the_known_ones() -> None:
    with pytest.raises(
        BuildError, match=r"no pinned source for distribution '3\.9\.9'; known: 3\.1\.1, 3\.0\.0, main-0d6b721"
    ):
        registry_builds.binary("3.9.9")


def test_the_pins_are_the_shared_archives_checksums() -> None:
    """The same sha256 as ../shared/vendor/SHA256SUMS, which CI has beside the checkout."""
    sums = {name: digest for digest, name in (line.split() for line in SHARED_SUMS.read_text().splitlines() if line)}
    assert {s.archive: s.sha256 for s in SOURCES.values()} == {
        name: digest for name, digest in sums.items() if name.startswith("distribution-")
    }


def test_the_data_plane_builds_the_release_each_version_deploys() -> None:
    """What the sandbox runs for `registry:version: "3"` is the release the targets' image pins."""
    for version, build in DATA_PLANE_BUILD.items():
        assert REGISTRY[version] == f"registry:{build}"
        assert build in SOURCES


def test_the_go_build_never_reaches_a_network_or_another_toolchain(tmp_path: Path) -> None:
    environment = registry_builds.go_environment(tmp_path)
    assert environment["GOFLAGS"] == "-mod=vendor -buildvcs=false"
    assert (environment["GOPROXY"], environment["GOTOOLCHAIN"], environment["CGO_ENABLED"]) == ("off", "local", "0")
