"""The registry guardrails: every policy of the pack, grouped by service.

Each service module exports POLICIES; a new target (ECR, Artifact Registry, ACR) adds its module
and one entry below.
"""

from __future__ import annotations

from pulumi_policy import Policy

from . import acr, ecr, ecs, edge, elasticache, gar, iam, kms, loadbalancer, local, network, s3, stack

PACK_NAME = "registry-guardrails"
MODULES = (s3, loadbalancer, elasticache, ecs, network, iam, kms, ecr, gar, acr, local, edge, stack)
POLICIES: list[Policy] = [policy for module in MODULES for policy in module.POLICIES]
