"""The `aws` target: an HA registry on ECS Fargate behind an ALB, with ElastiCache and S3.

One module per purpose; `registry.py` composes them. Type tokens stay `registry:aws_<purpose>:...`
as they were before the package existed, so no resource's URN changed (tests/components/test_urns.py).
"""

from components.aws.registry import deploy

__all__ = ["deploy"]
