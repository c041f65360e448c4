"""testbench.conformance without Go or a registry: what it refuses to build from, when it rebuilds, how it reads a report."""

from __future__ import annotations

import hashlib
import re
import textwrap
from pathlib import Path

import pytest

from testbench import conformance
from testbench.conformance import BuildError, Report, SuiteError

# shaped like ginkgo v2.11's reporters/junit_report.go output with OmitLeafNodeType (the suite's setting)
JUNIT = """\
<?xml version="1.0" encoding="UTF-8"?>
  <testsuites tests="6" disabled="2" errors="1" failures="2" time="0.5">
      <testsuite name="conformance tests" package="/r" tests="6" disabled="1" skipped="1" errors="1" failures="2">
          <properties>
              <property name="SuiteSucceeded" value="false"></property>
          </properties>
          <testcase name="OCI Distribution Conformance Tests Pull Setup Populate registry with test blob"
                    classname="conformance tests" status="passed" time="0.01">
              <system-err>some timeline</system-err>
          </testcase>
          <testcase name="OCI Distribution Conformance Tests Push Blob Upload Chunked Out-of-order blob upload should return 416"
                    classname="conformance tests" status="failed" time="0.02">
              <failure message="Expected&#xA;    &lt;int&gt;: 202&#xA;to equal&#xA;    &lt;int&gt;: 416" type="failed">[FAILED] at 02_push_test.go:190</failure>
          </testcase>
          <testcase name="OCI Distribution Conformance Tests Pull Setup Get tag name from environment"
                    classname="conformance tests" status="skipped" time="0">
              <skipped message="skipped - you have skipped this test."></skipped>
          </testcase>
          <testcase name="OCI Distribution Conformance Tests Pending one" classname="conformance tests" status="pending" time="0">
              <skipped message="pending"></skipped>
          </testcase>
          <testcase name="OCI Distribution Conformance Tests Panics" classname="conformance tests" status="panicked" time="0">
              <error message="runtime error: nil pointer" type="panicked">stack</error>
          </testcase>
          <testcase name="OCI Distribution Conformance Tests Timed out" classname="conformance tests" status="timedout" time="9">
              <failure message="" type="timedout">A node timed out&#xA;at setup.go:1</failure>
          </testcase>
      </testsuite>
  </testsuites>
"""


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def vendor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A vendor folder whose bundle and (fake) build script are what the pins name."""
    folder = tmp_path / "vendor"
    folder.mkdir()
    (folder / conformance.ARCHIVE).write_bytes(b"not really a tarball")
    (folder / conformance.SCRIPT).write_text(
        textwrap.dedent("""\
            set -eu
            test ! -e "$BUILD"
            env | grep -E '^(GOCACHE|INSTALL_DEPS)=' > "$(dirname "$OUT_BIN")/build-env"
            echo "$1" > "$OUT_BIN"
        """)
    )
    monkeypatch.setattr(conformance, "ARCHIVE_SHA256", sha256(folder / conformance.ARCHIVE))
    monkeypatch.setattr(conformance, "SCRIPT_SHA256", sha256(folder / conformance.SCRIPT))
    return folder


def no_build(*args: object) -> None:
    raise AssertionError("built although it should not have")


def test_a_wrong_archive_is_refused_naming_the_file_and_both_checksums(
    vendor: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = vendor / conformance.ARCHIVE
    archive.write_bytes(b"something else")
    monkeypatch.setattr(conformance, "_build", no_build)
    with pytest.raises(BuildError) as refused:
        conformance.install(tmp_path / "tools", vendor)
    message = str(refused.value)
    assert str(archive) in message
    assert f"expected {conformance.ARCHIVE_SHA256}" in message
    assert f"sha256 {sha256(archive)}" in message


def test_a_wrong_build_script_is_refused_before_anything_runs(
    vendor: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = vendor / conformance.SCRIPT
    script.write_text("echo tampered\n")
    monkeypatch.setattr(conformance, "_build", no_build)
    with pytest.raises(
        BuildError, match=re.escape(f"{script} has sha256 {sha256(script)}, expected {conformance.SCRIPT_SHA256}")
    ):
        conformance.install(tmp_path / "tools", vendor)


def test_a_missing_archive_names_where_it_was_looked_for_and_the_override(vendor: Path, tmp_path: Path) -> None:
    (vendor / conformance.ARCHIVE).unlink()
    with pytest.raises(BuildError, match=re.escape(f"{vendor / conformance.ARCHIVE} is missing")) as refused:
        conformance.install(tmp_path / "tools", vendor)
    assert "REGISTRY_VENDOR_DIR" in str(refused.value)


def test_the_pins_are_the_vendored_files_checksums() -> None:
    assert conformance.ARCHIVE_SHA256 == "347ca9ee2819299872247f6ebbc8f7a63b688faeb297eb6699293eaf3095045d"
    assert conformance.SCRIPT_SHA256 == "9974234af31d77433b6fdf2024cbb54d4bfc51789941e07732ec7ce61641683d"


def test_install_runs_the_script_on_the_bundle_and_stamps_the_build(vendor: Path, tmp_path: Path) -> None:
    tools = tmp_path / "tools"
    done = conformance.install(tools, vendor)
    built = tools / "conformance" / "conformance.test"
    assert "built from" in done
    assert built.read_text().strip() == str(vendor / conformance.ARCHIVE)
    assert sorted((tools / "conformance" / "build-env").read_text().splitlines()) == [
        f"GOCACHE={tools / 'conformance' / 'go-cache'}",
        "INSTALL_DEPS=1",
    ]
    stamp = (tools / "conformance" / ".source").read_text()
    assert conformance.ARCHIVE_SHA256 in stamp
    assert conformance.SCRIPT_SHA256 in stamp
    assert conformance.binary(tools) == built


def test_a_current_build_is_left_alone(vendor: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tools = tmp_path / "tools"
    conformance.install(tools, vendor)
    monkeypatch.setattr(conformance, "_build", no_build)
    (vendor / conformance.ARCHIVE).unlink()  # not even looked at
    assert "already built" in conformance.install(tools, vendor)


def test_a_stale_stamp_means_a_rebuild(vendor: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tools = tmp_path / "tools"
    target = tools / "conformance" / "conformance.test"
    target.parent.mkdir(parents=True)
    target.write_text("old build")
    (target.parent / ".source").write_text("oci-conformance-1.1.0-src.tar.gz sha256:0000\n")
    builds: list[Path] = []

    def build(archive: Path, script: Path, tools: Path, target: Path) -> None:
        builds.append(archive)
        target.write_text("new build")

    monkeypatch.setattr(conformance, "_build", build)
    with pytest.raises(BuildError, match="make system-deps"):
        conformance.binary(tools)
    assert "built from" in conformance.install(tools, vendor)
    assert builds == [vendor / conformance.ARCHIVE]
    assert conformance.binary(tools).read_text() == "new build"


def test_a_failed_build_leaves_nothing_that_passes_for_built(
    vendor: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tools = tmp_path / "tools"
    conformance.install(tools, vendor)
    (vendor / conformance.ARCHIVE).write_bytes(b"new")  # a new pin, with a build that breaks
    monkeypatch.setattr(conformance, "ARCHIVE_SHA256", sha256(vendor / conformance.ARCHIVE))
    (vendor / conformance.SCRIPT).write_text("echo 'go: compile error' >&2; exit 2\n")
    monkeypatch.setattr(conformance, "SCRIPT_SHA256", sha256(vendor / conformance.SCRIPT))
    with pytest.raises(BuildError, match=r"failed \(2\): go: compile error"):
        conformance.install(tools, vendor)
    assert not (tools / "conformance" / "conformance.test").exists()
    with pytest.raises(BuildError, match="make system-deps"):
        conformance.binary(tools)


def test_junit_is_read_into_passed_failed_and_skipped(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    junit.write_text(JUNIT)
    report = conformance.parse_junit(junit)
    prefix = "OCI Distribution Conformance Tests "
    assert report.passed == [prefix + "Pull Setup Populate registry with test blob"]
    assert report.failed == {
        prefix + "Push Blob Upload Chunked Out-of-order blob upload should return 416": (
            "Expected <int>: 202 to equal <int>: 416"
        ),
        prefix + "Panics": "runtime error: nil pointer",
        prefix + "Timed out": "A node timed out at setup.go:1",
    }
    assert report.skipped == [prefix + "Pull Setup Get tag name from environment", prefix + "Pending one"]
    assert report.totals == (1, 3, 2)
    assert report.summary() == "1 passed, 3 failed, 2 skipped"


def test_an_empty_report_sums_to_zero() -> None:
    assert Report().summary() == "0 passed, 0 failed, 0 skipped"


def fake_suite(tools: Path, body: str) -> None:
    """A built conformance.test that is a shell script, stamped as current."""
    suite = tools / "conformance" / "conformance.test"
    suite.parent.mkdir(parents=True)
    suite.write_text("#!/bin/sh\n" + body)
    suite.chmod(0o755)
    (suite.parent / ".source").write_text(conformance._stamp())


def test_run_hands_the_suite_its_settings_and_a_failing_exit_is_still_a_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tools, workdir = tmp_path / "tools", tmp_path / "work"
    (tmp_path / "junit.xml").write_text(JUNIT)
    fake_suite(tools, f'env > "$OCI_REPORT_DIR/env"\ncp {tmp_path / "junit.xml"} "$OCI_REPORT_DIR/"\nexit 1\n')
    monkeypatch.setenv("AWS_CA_BUNDLE", "/elsewhere.pem")
    monkeypatch.setenv("OCI_TAG_LIST", "a,b")  # would skip the discovery setup if it reached the suite
    report = conformance.run(
        "https://registry.test:5000",
        namespace="conformance/a",
        cross_mount_namespace="conformance/b",
        username="robot",
        password="secret",
        ca_file=Path("/ca.pem"),
        workdir=workdir,
        tools=tools,
    )
    assert report.summary() == "1 passed, 3 failed, 2 skipped"
    env = dict(line.split("=", 1) for line in (workdir / "env").read_text().splitlines() if "=" in line)
    assert {k: v for k, v in env.items() if k.startswith("OCI_")} == {
        "OCI_ROOT_URL": "https://registry.test:5000",
        "OCI_NAMESPACE": "conformance/a",
        "OCI_CROSSMOUNT_NAMESPACE": "conformance/b",
        "OCI_USERNAME": "robot",
        "OCI_PASSWORD": "secret",
        "OCI_TEST_PULL": "1",
        "OCI_TEST_PUSH": "1",
        "OCI_TEST_CONTENT_DISCOVERY": "1",
        "OCI_TEST_CONTENT_MANAGEMENT": "1",
        "OCI_DELETE_MANIFEST_BEFORE_BLOBS": "1",
        "OCI_HIDE_SKIPPED_WORKFLOWS": "0",
        "OCI_DEBUG": "0",
        "OCI_REPORT_DIR": str(workdir),
    }
    assert env["SSL_CERT_FILE"] == "/ca.pem"
    assert "AWS_CA_BUNDLE" not in env


def test_no_credentials_means_none_are_sent() -> None:
    env = conformance.suite_environment(
        "http://127.0.0.1:5000",
        namespace="a",
        cross_mount_namespace="b",
        username=None,
        password=None,
        ca_file=None,
        report_dir=Path("/r"),
    )
    assert "OCI_USERNAME" not in env
    assert "OCI_PASSWORD" not in env


def test_a_run_without_a_report_is_an_error_with_the_end_of_its_output(tmp_path: Path) -> None:
    tools, workdir = tmp_path / "tools", tmp_path / "work"
    workdir.mkdir()
    (workdir / "junit.xml").write_text(JUNIT)  # an earlier run's: must not be taken for this one's
    fake_suite(tools, "echo 'panic: cannot reach registry' >&2\nexit 1\n")
    with pytest.raises(SuiteError, match=r"wrote no .*junit\.xml \(exit 1\): panic: cannot reach registry"):
        conformance.run("http://127.0.0.1:1", namespace="a", cross_mount_namespace="b", workdir=workdir, tools=tools)


def test_a_relative_workdir_is_where_the_report_is_looked_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tools = tmp_path / "tools"
    (tmp_path / "junit.xml").write_text(JUNIT)
    fake_suite(tools, f'cp {tmp_path / "junit.xml"} "$OCI_REPORT_DIR/"\n')
    monkeypatch.chdir(tmp_path)
    report = conformance.run(
        "http://127.0.0.1:1", namespace="a", cross_mount_namespace="b", workdir=Path("report"), tools=tools
    )
    assert report.totals.passed == 1
    assert (tmp_path / "report" / "junit.xml").is_file()


def test_running_an_unbuilt_suite_names_the_make_target(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match="make system-deps"):
        conformance.run(
            "http://127.0.0.1:1", namespace="a", cross_mount_namespace="b", workdir=tmp_path, tools=tmp_path
        )
