"""Every container image the targets run, pinned by tag in one place.

Tags were read from docker-library/official-images (library/registry, library/nginx,
library/redis) and, for SeaweedFS, from the release workflow at the tag
(.github/workflows/container_release_unified.yml pushes chrislusf/seaweedfs:<tag>). No registry
is reachable from CI, so they are pinned by tag, not digest.
"""

from __future__ import annotations

REGISTRY = {"2": "registry:2.8.3", "3": "registry:3.1.1"}
EDGE = "nginx:1.30.4-alpine"  # current stable; nginx.org packages build in the realip module
REDIS = "redis:7.4.11-alpine"
# 4.44: versioned-bucket fixes of 4.41/4.42 (list marker, self-copy, deleted keys leave listings)
OBJECT_STORE = "chrislusf/seaweedfs:4.44"

# ECR Public serves the Docker official images under docker/library: no Docker Hub pull limits
# behind a shared NAT address.
ECR_PUBLIC_LIBRARY = "public.ecr.aws/docker/library/"


def from_ecr_public(image: str) -> str:
    """The same official image through ECR Public."""
    return ECR_PUBLIC_LIBRARY + image
