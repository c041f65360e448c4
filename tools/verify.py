"""Post-deploy smoke test of a registry endpoint: TLS, auth, push, pull, pull-only user, cleanup.

    python -m tools.verify URL --user NAME --password-stdin [--ca FILE]
        [--pull-user NAME --pull-password-file F] [--repository NAME] [--json]
        [--require-signature REPOSITORY:TAG|REPOSITORY@DIGEST --public-key FILE] [--every-tag]

Every check is reported as PASS or FAIL; the exit status is non-zero if any failed. It pushes
a small generated OCI image (one layer with a monolithic upload, one with a chunked upload),
pulls it back verifying every digest, and deletes it again where the registry allows delete.
With --require-signature it also checks that the given image carries a valid cosign signature by
the stack's key (`pulumi stack output signing --json | jq -r .publicKey`; tools/cosign.py). The
image verify pushes is new and unsigned by construction, so the signed one is named: typically
what CI just pushed and signed. With --every-tag it pulls every tag of every repository the
catalog lists and checks each manifest's and blob's digest (what `tools.maintenance restore`
runs after a restore).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import secrets
import ssl
import sys
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

import httpx

from tools.cosign import SignatureError, verify_signature
from tools.oci_image import MANIFEST_TYPE, MANIFEST_TYPES, Blob, OciImage, build_image, sha256_digest

API_VERSION_HEADER = "Docker-Distribution-Api-Version"
CHUNK_SIZE = 64 * 1024  # the chunked layer goes up in several PATCH requests
TIMEOUT = httpx.Timeout(60.0, connect=10.0)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


class CheckFailed(Exception):
    """A check's expectation was not met; the message says what was seen instead."""


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str


def run_checks(
    url: str,
    push: Credentials,
    *,
    ca_file: Path | None = None,
    pull: Credentials | None = None,
    repository: str = "verify/smoke",
    signed: tuple[str, str] | None = None,
    every_tag: bool = False,
) -> list[Check]:
    """`signed`: (image reference, public key PEM) whose cosign signature must verify."""
    """Run every check in order; later checks that depend on a failed one fail as 'not run'."""
    base = url.rstrip("/") if "://" in url else f"https://{url.rstrip('/')}"
    verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=str(ca_file)) if ca_file else True
    image = build_image([CHUNK_SIZE * 2 + 1000, 4096])
    tag = f"verify-{secrets.token_hex(4)}"
    results: list[Check] = []

    def client(creds: Credentials | None) -> httpx.Client:
        auth = (creds.user, creds.password) if creds else None
        return httpx.Client(base_url=base, verify=verify, auth=auth, timeout=TIMEOUT)

    def check(name: str, run: Callable[[], str], needs: tuple[str, ...] = ()) -> bool:
        failed = [n for n in needs if not any(r.name == n and r.ok for r in results)]
        if failed:
            results.append(Check(name, False, f"not run: {', '.join(failed)} failed"))
            return False
        try:
            results.append(Check(name, True, run()))
        except (CheckFailed, httpx.HTTPError, ssl.SSLError) as err:
            results.append(Check(name, False, str(err) or type(err).__name__))
        return results[-1].ok

    with client(None) as anonymous, client(push) as pusher:
        check("tls", lambda: _tls(base, anonymous, ca_file))
        check("anonymous-refused", lambda: _refused(anonymous, "/v2/"), needs=("tls",))
        wrong = Credentials(push.user, push.password + "-wrong")
        with client(wrong) as intruder:
            check("wrong-password-refused", lambda: _refused(intruder, "/v2/"), needs=("tls",))
        check("login", lambda: _login(pusher), needs=("tls",))
        check("push", lambda: _push(pusher, repository, tag, image), needs=("login",))
        check("pull", lambda: _pull(pusher, repository, tag, image), needs=("push",))
        if pull is not None:
            with client(pull) as reader:
                check("pull-only-user-pulls", lambda: _pull(reader, repository, tag, image), needs=("push",))
                check("pull-only-user-cannot-push", lambda: _push_refused(reader, repository), needs=("tls",))
        check("cleanup", lambda: _cleanup(pusher, repository, tag, image), needs=("push",))
        if signed is not None:
            reader_creds = pull or push
            with client(reader_creds) as reader:  # verifying needs no more than pull access
                check("signature", lambda: _signature(reader, *signed), needs=("login",))
        if every_tag:
            check("every-tag", lambda: _every_tag(pusher), needs=("login",))
    return results


def _every_tag(client: httpx.Client) -> str:
    report = check_every_tag(client, catalog_tags(client))
    if report.failures:
        raise CheckFailed("; ".join(report.lines()))
    return report.lines()[0].removeprefix("PASS  ")


def _signature(client: httpx.Client, reference: str, public_key_pem: str) -> str:
    repository, separator, version = reference.partition("@")
    if not separator:
        repository, _, version = reference.rpartition(":")
    if not repository or not version:
        raise CheckFailed(f"{reference!r} is not REPOSITORY:TAG or REPOSITORY@DIGEST")
    try:
        return verify_signature(client, repository, version, public_key_pem)
    except SignatureError as err:
        raise CheckFailed(str(err)) from None


def _tls(base: str, client: httpx.Client, ca_file: Path | None) -> str:
    if urlsplit(base).scheme != "https":
        raise CheckFailed(f"{base} is not https")
    client.get("/v2/")
    return f"certificate verified against {ca_file or 'the system trust store'}"


def _refused(client: httpx.Client, path: str) -> str:
    response = client.get(path)
    if response.status_code != 401:
        raise CheckFailed(f"GET {path} answered {response.status_code}, expected 401")
    if response.headers.get(API_VERSION_HEADER) != "registry/2.0":
        raise CheckFailed(f"the 401 lacks '{API_VERSION_HEADER}: registry/2.0' (docker login needs it)")
    return f"401 with {API_VERSION_HEADER}"


def _login(client: httpx.Client) -> str:
    response = client.get("/v2/")
    if response.status_code != 200:
        raise CheckFailed(f"GET /v2/ with the right password answered {response.status_code}")
    return "200"


def _push(client: httpx.Client, repository: str, tag: str, image: OciImage) -> str:
    push_image(client, repository, tag, image)
    return f"{repository}:{tag} ({image.manifest_digest[:19]}), monolithic and chunked uploads"


def _pull(client: httpx.Client, repository: str, tag: str, image: OciImage) -> str:
    pull_image(client, repository, tag, image)
    return f"manifest and {len(image.blobs)} blobs, digests verified"


def push_image(client: httpx.Client, repository: str, tag: str, image: OciImage) -> None:
    """Config and later layers with monolithic uploads, the first layer chunked, then the manifest."""
    first, *rest = image.layers
    upload_monolithic(client, repository, image.config)
    upload_chunked(client, repository, first, CHUNK_SIZE)
    for layer in rest:
        upload_monolithic(client, repository, layer)
    response = client.put(
        f"/v2/{repository}/manifests/{tag}", content=image.manifest, headers={"Content-Type": MANIFEST_TYPE}
    )
    expect_status(response, 201, "PUT manifest")
    if response.headers.get("Docker-Content-Digest") != image.manifest_digest:
        raise CheckFailed(f"the registry stored the manifest as {response.headers.get('Docker-Content-Digest')}")


def pull_image(client: httpx.Client, repository: str, tag: str, image: OciImage) -> None:
    """GET the manifest by tag and every blob; raise CheckFailed unless all digests match."""
    response = client.get(f"/v2/{repository}/manifests/{tag}", headers={"Accept": MANIFEST_TYPE})
    expect_status(response, 200, "GET manifest")
    if sha256_digest(response.content) != image.manifest_digest:
        raise CheckFailed("the manifest pulled back differs from the one pushed")
    for blob in image.blobs:
        got = client.get(f"/v2/{repository}/blobs/{blob.digest}")
        expect_status(got, 200, f"GET blob {blob.digest[:19]}")
        if sha256_digest(got.content) != blob.digest:
            raise CheckFailed(f"blob {blob.digest[:19]} came back with digest {sha256_digest(got.content)[:19]}")


def _push_refused(client: httpx.Client, repository: str) -> str:
    response = client.post(f"/v2/{repository}/blobs/uploads/")
    if response.status_code != 403:
        raise CheckFailed(f"starting an upload answered {response.status_code}, expected 403 (denied)")
    return str(response.status_code)


def _cleanup(client: httpx.Client, repository: str, tag: str, image: OciImage) -> str:
    response = client.delete(f"/v2/{repository}/manifests/{image.manifest_digest}")
    if response.status_code == 405:
        return f"delete is disabled on this registry; left {repository}:{tag}"
    if response.status_code == 403:
        return f"this user may not delete {repository} (registry:access); left {repository}:{tag}: run as an admin"
    expect_status(response, 202, "DELETE manifest")
    for blob in image.blobs:
        expect_status(client.delete(f"/v2/{repository}/blobs/{blob.digest}"), 202, f"DELETE blob {blob.digest[:19]}")
    gone = client.get(f"/v2/{repository}/manifests/{image.manifest_digest}", headers={"Accept": MANIFEST_TYPE})
    if gone.status_code != 404:
        raise CheckFailed(f"the deleted manifest still answers {gone.status_code}")
    return f"manifest and {len(image.blobs)} blobs deleted"


# ---------------------------------------------------------------- every stored image


@dataclass(frozen=True)
class StoreCheck:
    """Every tag pulled back: the manifests (an index's children too) and each blob they name,
    each one's bytes checked against its digest."""

    tags: int
    repositories: int
    manifests: int
    blobs: int
    bytes: int
    failures: tuple[str, ...]

    def lines(self) -> list[str]:
        summary = (
            f"{self.tags} tags in {self.repositories} repositories: {self.manifests} manifests and {self.blobs} "
            f"blobs ({self.bytes} bytes) pulled, every digest checked"
        )
        if not self.failures:
            return [f"PASS  {summary}"]
        return [f"FAIL  {len(self.failures)} problems; {summary}", *(f"      {f}" for f in self.failures)]


def check_every_tag(client: httpx.Client, tags: Mapping[tuple[str, str], str | None]) -> StoreCheck:
    """Pull (repository, tag) -> expected manifest digest (None: whatever the tag names) and
    everything it references, once per repository and digest."""
    seen: set[tuple[str, str]] = set()
    failures: list[str] = []
    sizes: list[int] = []
    manifests = 0
    for (repository, tag), expected in sorted(tags.items()):
        try:
            manifests += _pull_tree(client, repository, tag, expected, seen, sizes)
        except (CheckFailed, httpx.HTTPError) as err:
            failures.append(f"{repository}:{tag}: {err}")
    return StoreCheck(len(tags), len({r for r, _ in tags}), manifests, len(sizes), sum(sizes), tuple(failures))


def _pull_tree(
    client: httpx.Client,
    repository: str,
    reference: str,
    expected: str | None,
    seen: set[tuple[str, str]],
    sizes: list[int],
) -> int:
    """Pull one manifest and what it names; the number of manifests pulled."""
    response = client.get(f"/v2/{repository}/manifests/{reference}", headers={"Accept": MANIFEST_TYPES})
    expect_status(response, 200, f"GET manifest {reference}")
    digest = sha256_digest(response.content)
    if digest != (expected or response.headers.get("Docker-Content-Digest", digest)):
        raise CheckFailed(f"manifest {reference} came back as {digest}, expected {expected}")
    document = json.loads(response.content)
    pulled = 1
    for child in document.get("manifests") or []:
        if (repository, child["digest"]) not in seen:
            seen.add((repository, child["digest"]))
            pulled += _pull_tree(client, repository, child["digest"], child["digest"], seen, sizes)
    for blob in [document.get("config"), *(document.get("layers") or [])]:
        if blob and (repository, blob["digest"]) not in seen:
            seen.add((repository, blob["digest"]))
            sizes.append(_pull_blob(client, repository, blob["digest"]))
    return pulled


def _pull_blob(client: httpx.Client, repository: str, digest: str) -> int:
    """Stream one blob and hash it; its size."""
    hashed, size = hashlib.sha256(), 0
    with client.stream("GET", f"/v2/{repository}/blobs/{digest}", follow_redirects=True) as response:
        expect_status(response, 200, f"GET blob {digest[:19]}")
        for chunk in response.iter_bytes(1024 * 1024):
            hashed.update(chunk)
            size += len(chunk)
    if f"sha256:{hashed.hexdigest()}" != digest:
        raise CheckFailed(f"blob {digest[:19]} came back with digest sha256:{hashed.hexdigest()[:12]}")
    return size


def catalog_tags(client: httpx.Client) -> dict[tuple[str, str], str | None]:
    """Every (repository, tag) the API lists (`_catalog` needs a user who may pull everything)."""
    return {
        (repository, tag): None
        for repository in follow_pages(client, "/v2/_catalog?n=1000", "repositories")
        for tag in follow_pages(client, f"/v2/{repository}/tags/list?n=1000", "tags")
    }


# ---------------------------------------------------------------- the blob upload protocol


def follow_pages(client: httpx.Client, first: str, key: str, limit: int = 10_000) -> list[str]:
    """Every entry of a paginated listing (`tags/list`, `_catalog`): each next page is where the
    previous page's `Link` header points (RFC 8288, distribution-spec "Listing Tags")."""
    entries: list[str] = []
    url: str | None = first
    while url is not None and len(entries) < limit:
        response = client.get(url)
        expect_status(response, 200, f"GET {url}")
        entries += response.json().get(key) or []
        link = response.headers.get("Link")
        url = link.split(">", 1)[0].removeprefix("<") if link else None
    return entries


def start_upload(client: httpx.Client, repository: str) -> str:
    """POST a new upload session; returns its Location (absolute, as the registry sends it)."""
    response = client.post(f"/v2/{repository}/blobs/uploads/")
    expect_status(response, 202, "start upload")
    return response.headers["Location"]


def upload_monolithic(client: httpx.Client, repository: str, blob: Blob) -> None:
    """POST then one PUT carrying the whole blob."""
    location = start_upload(client, repository)
    response = client.put(
        with_digest(location, blob.digest),
        content=blob.data,
        headers={"Content-Type": "application/octet-stream"},
    )
    expect_status(response, 201, "monolithic PUT")


def upload_chunked(client: httpx.Client, repository: str, blob: Blob, chunk_size: int) -> None:
    """POST, one PATCH per chunk (with Content-Range), then an empty PUT with the digest."""
    location = start_upload(client, repository)
    for offset in range(0, blob.size, chunk_size):
        chunk = blob.data[offset : offset + chunk_size]
        response = client.patch(
            location,
            content=chunk,
            headers={
                "Content-Type": "application/octet-stream",
                "Content-Range": f"{offset}-{offset + len(chunk) - 1}",
            },
        )
        expect_status(response, 202, f"PATCH at {offset}")
        location = response.headers["Location"]
    expect_status(client.put(with_digest(location, blob.digest)), 201, "closing PUT")


def with_digest(location: str, digest: str) -> httpx.URL:
    """Keep the upload's own query (`_state`): httpx's `params=` would replace it."""
    return httpx.URL(location).copy_merge_params({"digest": digest})


def expect_status(response: httpx.Response, status: int, what: str) -> None:
    if response.status_code != status:
        raise CheckFailed(f"{what} answered {response.status_code}, expected {status}: {response.text[:200]}")


# ---------------------------------------------------------------- command line


def main(argv: list[str] | None = None, stdin: IO[str] = sys.stdin, out: IO[str] = sys.stdout) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.verify", description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="the registry, e.g. https://registry.example.com:5443")
    parser.add_argument("--user", required=True, help="a user with push access")
    parser.add_argument("--password-stdin", action="store_true", required=True, help="read its password from stdin")
    parser.add_argument("--ca", type=Path, help="PEM CA to verify the certificate (default: system trust store)")
    parser.add_argument("--pull-user", help="a pull-only user: checks it can pull and cannot push")
    parser.add_argument("--pull-password-file", type=Path, help="file holding the pull-only user's password")
    parser.add_argument("--repository", default="verify/smoke", help="where the test image goes")
    parser.add_argument("--json", action="store_true", help="one JSON object instead of lines")
    parser.add_argument(
        "--require-signature",
        metavar="IMAGE",
        help="REPOSITORY:TAG or REPOSITORY@DIGEST that must carry a cosign signature by --public-key",
    )
    parser.add_argument("--public-key", type=Path, help="PEM public key of the stack's signing key")
    parser.add_argument(
        "--every-tag",
        action="store_true",
        help="also pull every tag of every repository, checking every digest (--user must be an admin: it lists the catalog)",
    )
    args = parser.parse_args(argv)
    if (args.pull_user is None) != (args.pull_password_file is None):
        parser.error("--pull-user and --pull-password-file go together")
    if (args.require_signature is None) != (args.public_key is None):
        parser.error(
            "--require-signature and --public-key go together "
            "(pulumi stack output signing --json | jq -r .publicKey > signing.pub)"
        )
    signed = (args.require_signature, args.public_key.read_text()) if args.require_signature else None
    pull = None
    if args.pull_user:
        pull = Credentials(args.pull_user, args.pull_password_file.read_text().strip())
    push = Credentials(args.user, stdin.readline().rstrip("\r\n"))
    results = run_checks(
        args.url, push, ca_file=args.ca, pull=pull, repository=args.repository, signed=signed, every_tag=args.every_tag
    )
    ok = all(r.ok for r in results)
    if args.json:
        print(json.dumps({"ok": ok, "checks": [asdict(r) for r in results]}), file=out)
    else:
        for r in results:
            print(f"{'PASS' if r.ok else 'FAIL'}  {r.name:<28} {r.detail}", file=out)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
