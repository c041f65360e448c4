"""The `aws` target: an HA registry on ECS Fargate behind an ALB, with ElastiCache and S3.

One module per purpose; `registry.py` composes them. Type tokens stay `registry:aws_<purpose>:...`
as they were before the package existed, so no resource's URN changed (tests/components/test_urns.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from components.config import AwsSettings


def deploy(settings: AwsSettings) -> dict[str, Any]:
    """The aws target (imported on use, so that ecr can use components.aws.signing alone)."""
    from components.aws.registry import deploy as deploy_aws

    return deploy_aws(settings)
