"""The OCI distribution-spec conformance suite (v1.1.1), built from a pinned source bundle and run against a registry.

    python3 -m testbench.conformance install      # build .tools/conformance/conformance.test unless it is current
    python3 -m testbench.conformance path         # where the built suite is
    python3 -m testbench.conformance run URL --namespace NS --cross-mount-namespace NS2 [--workdir DIR]

The suite cannot be fetched here, so it is built from ../shared/vendor (or REGISTRY_VENDOR_DIR):
oci-conformance-1.1.1-src.tar.gz (the suite, ginkgo, gomega and reggie) and build-oci-conformance.sh,
which compiles it with Debian bookworm's golang-go 1.19 and the Debian -dev packages it lists
(INSTALL_DEPS=1 apt-get installs them). Both files' sha256 are pinned below and checked before
anything runs; the build lands in .tools/conformance/ with a stamp of both checksums, so a second
install costs nothing. A run reads the suite's junit.xml. Standard library only.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from testbench.registry_builds import TOOLS, VENDOR_DIR, BuildError, verified

ARCHIVE = "oci-conformance-1.1.1-src.tar.gz"
ARCHIVE_SHA256 = "347ca9ee2819299872247f6ebbc8f7a63b688faeb297eb6699293eaf3095045d"
SCRIPT = "build-oci-conformance.sh"
SCRIPT_SHA256 = "9974234af31d77433b6fdf2024cbb54d4bfc51789941e07732ec7ce61641683d"
BUILD_TIMEOUT = 3600  # apt-get install of Go and the -dev packages, then a cold compile
RUN_TIMEOUT = 3600  # ginkgo's own default suite timeout is 1h


class SuiteError(RuntimeError):
    """The suite did not get as far as writing its report; the message carries the end of its output."""


class Totals(NamedTuple):
    passed: int
    failed: int
    skipped: int


@dataclass(frozen=True)
class Report:
    """What one run of the suite found, from its junit.xml; `failed` maps a test to its failure message, on one line."""

    passed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    @property
    def totals(self) -> Totals:
        return Totals(len(self.passed), len(self.failed), len(self.skipped))

    def summary(self) -> str:
        passed, failed, skipped = self.totals
        return f"{passed} passed, {failed} failed, {skipped} skipped"


def binary(tools: Path = TOOLS) -> Path:
    """The built suite; BuildError naming the fix when it is not built (or built from other sources)."""
    path = _target(tools)
    if not _is_current(path):
        raise BuildError(
            "the OCI conformance suite is not built: run `make system-deps` (or `python3 -m testbench.conformance install`)"
        )
    return path


def install(tools: Path = TOOLS, vendor: Path = VENDOR_DIR) -> str:
    """Build the suite unless the build there is from the pinned bundle and script already; what was done."""
    target = _target(tools)
    if _is_current(target):
        return f"conformance suite: already built ({target})"
    needed_for, pinned_in = "the OCI conformance suite is built from it", "testbench/conformance.py"
    archive = verified(vendor / ARCHIVE, ARCHIVE_SHA256, needed_for=needed_for, pinned_in=pinned_in)
    script = verified(vendor / SCRIPT, SCRIPT_SHA256, needed_for=needed_for, pinned_in=pinned_in)
    stamp = target.parent / ".source"
    stamp.unlink(missing_ok=True)  # a failed rebuild must not leave an old stamp vouching for a new binary
    try:
        _build(archive, script, tools, target)
    except BuildError:
        target.unlink(missing_ok=True)
        raise
    stamp.write_text(_stamp())
    return f"conformance suite: built from {archive.name} with {script.name} ({target})"


def _build(archive: Path, script: Path, tools: Path, target: Path) -> None:
    """Run the vendor build script in a scratch folder; the Go cache persists so a rebuild is quick."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="oci-conformance-") as work:
        env = {
            **os.environ,
            "OUT_BIN": str(target),
            "BUILD": str(Path(work) / "build"),  # the script refuses an existing folder it did not make
            "GOCACHE": str(tools / "conformance" / "go-cache"),
            "INSTALL_DEPS": "1",
            "DEBIAN_FRONTEND": "noninteractive",
        }
        what = f"building the OCI conformance suite with {script}"
        done = _run(["bash", str(script), str(archive)], Path(work), env, BUILD_TIMEOUT, what, BuildError)
    if done.returncode != 0 or not target.is_file():
        raise BuildError(
            f"building the OCI conformance suite with {script} failed ({done.returncode}): {done.stdout.strip()[-2000:]}"
        )


def _target(tools: Path) -> Path:
    return tools / "conformance" / "conformance.test"


def _stamp() -> str:
    """What a cached build was made from; another bundle or build script means a new build."""
    return f"{ARCHIVE} sha256:{ARCHIVE_SHA256} {SCRIPT} sha256:{SCRIPT_SHA256}\n"


def _is_current(path: Path) -> bool:
    stamp = path.parent / ".source"
    return path.is_file() and stamp.is_file() and stamp.read_text() == _stamp()


def suite_environment(
    root_url: str,
    *,
    namespace: str,
    cross_mount_namespace: str,
    username: str | None,
    password: str | None,
    ca_file: Path | None,
    report_dir: Path,
) -> dict[str, str]:
    """The suite's settings, every workflow on; nothing inherited from the caller's OCI_* changes what runs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCI_") and k != "AWS_CA_BUNDLE"}
    # names confirmed in the bundle's distribution-spec/conformance/setup.go (envVar* constants, init())
    env |= {
        "OCI_ROOT_URL": root_url,
        "OCI_NAMESPACE": namespace,
        "OCI_CROSSMOUNT_NAMESPACE": cross_mount_namespace,
        "OCI_TEST_PULL": "1",
        "OCI_TEST_PUSH": "1",
        "OCI_TEST_CONTENT_DISCOVERY": "1",
        "OCI_TEST_CONTENT_MANAGEMENT": "1",  # the workflow that deletes tags, manifests and blobs
        "OCI_DELETE_MANIFEST_BEFORE_BLOBS": "1",  # setup.go's default when unset (its README says otherwise)
        "OCI_HIDE_SKIPPED_WORKFLOWS": "0",
        "OCI_DEBUG": "0",
        "OCI_REPORT_DIR": str(report_dir),  # junit.xml and report.html land here
    }
    if username is not None:
        env["OCI_USERNAME"] = username
    if password is not None:
        env["OCI_PASSWORD"] = password
    if ca_file is not None:
        # Go's crypto/x509 reads it on Linux; v1.1.1's client also sets InsecureSkipTLSVerify (setup.go init)
        env["SSL_CERT_FILE"] = str(ca_file)
    return env


def run(
    root_url: str,
    *,
    namespace: str,
    cross_mount_namespace: str,
    username: str | None = None,
    password: str | None = None,
    ca_file: Path | None = None,
    workdir: Path,
    tools: Path = TOOLS,
) -> Report:
    """Run every workflow against `root_url`; failing tests are the Report's business, not an error."""
    suite = binary(tools)
    workdir = workdir.resolve()  # the suite runs in it: a relative OCI_REPORT_DIR would land one level down
    workdir.mkdir(parents=True, exist_ok=True)
    junit = workdir / "junit.xml"
    junit.unlink(missing_ok=True)  # a report left by an earlier run must not pass for this one's
    env = suite_environment(
        root_url,
        namespace=namespace,
        cross_mount_namespace=cross_mount_namespace,
        username=username,
        password=password,
        ca_file=ca_file,
        report_dir=workdir,
    )
    done = _run([str(suite), "-ginkgo.no-color"], workdir, env, RUN_TIMEOUT, "the conformance suite", SuiteError)
    if not junit.is_file():
        raise SuiteError(f"the conformance suite wrote no {junit} (exit {done.returncode}): {_tail(done.stdout)}")
    return parse_junit(junit)


def parse_junit(path: Path) -> Report:
    """ginkgo v2's junit.xml (reporters/junit_report.go): one testcase per spec, its state in `status`."""
    report = Report()
    for case in ET.parse(path).iter("testcase"):
        name = case.get("name", "")
        status = case.get("status") or _status_of(case)
        if status == "passed":
            report.passed.append(name)
        elif status in ("skipped", "pending"):
            report.skipped.append(name)
        else:  # failed, timedout, aborted (<failure>), panicked, interrupted (<error>)
            report.failed.setdefault(name, _failure_line(case, status))
    return report


def _status_of(case: ET.Element) -> str:
    """A testcase without ginkgo's status attribute: plain junit says it with child elements."""
    if case.find("failure") is not None or case.find("error") is not None:
        return "failed"
    return "skipped" if case.find("skipped") is not None else "passed"


def _failure_line(case: ET.Element, status: str, size: int = 300) -> str:
    """The failure's message on one line: gomega's first line alone is just "Expected"."""
    for tag in ("failure", "error"):
        element = case.find(tag)
        if element is None:
            continue
        for text in (element.get("message", ""), element.text or ""):
            if line := " ".join(text.split()):
                return line[:size]
    return status


def _run(
    command: list[str], cwd: Path, env: dict[str, str], timeout: float, what: str, error: type[RuntimeError]
) -> subprocess.CompletedProcess[str]:
    """`command` with its output merged; `error` naming `what` and the end of its output when it runs too long."""
    try:
        return subprocess.run(
            command,
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as err:
        raise error(f"{what} ran over {timeout:.0f}s: {_tail(err.stdout)}") from None


def _tail(output: str | bytes | None, size: int = 3000) -> str:
    if isinstance(output, bytes):
        output = output.decode(errors="replace")
    return (output or "").strip()[-size:] or "(no output)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m testbench.conformance", description=(__doc__ or "").split("\n\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("install", help="build the suite unless it is built from the pinned sources already")
    sub.add_parser("path", help="where the built suite is")
    run_parser = sub.add_parser("run", help="run every workflow against a registry; exit 1 when a test fails")
    run_parser.add_argument("root_url")
    run_parser.add_argument("--namespace", required=True)
    run_parser.add_argument("--cross-mount-namespace", required=True)
    run_parser.add_argument("--ca-file", type=Path)
    run_parser.add_argument("--workdir", type=Path, default=Path("conformance-report"))
    args = parser.parse_args(argv)
    try:
        if args.command == "install":
            print(install())
        elif args.command == "path":
            print(binary())
        else:
            return _report(args)
    except (BuildError, SuiteError) as err:
        print(f"conformance: {err}", file=sys.stderr)
        return 1
    return 0


def _report(args: argparse.Namespace) -> int:
    """The CLI's run: credentials from OCI_USERNAME/OCI_PASSWORD, never from the command line."""
    report = run(
        args.root_url,
        namespace=args.namespace,
        cross_mount_namespace=args.cross_mount_namespace,
        username=os.environ.get("OCI_USERNAME"),
        password=os.environ.get("OCI_PASSWORD"),
        ca_file=args.ca_file,
        workdir=args.workdir,
    )
    for name, message in report.failed.items():
        print(f"FAILED {name}: {message}")
    print(report.summary())
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
