"""`aws`: ECS Fargate behind an ALB, ElastiCache, S3."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal

import yaml
from pydantic import Field, field_validator, model_validator

from components.config.base import Model, RuleViolation, Signing, is_ip
from components.config.intent import Principal
from components.config.mirrors import check_mirrors
from components.config.selfhosted import SelfHosted


class Network(Model):
    """aws: deploy into an existing VPC instead of creating one."""

    vpc_id: str = Field(pattern=r"^vpc-[0-9a-f]{8,17}$")
    public_subnet_ids: list[Annotated[str, Field(pattern=r"^subnet-[0-9a-f]{8,17}$")]] = Field(min_length=2)
    private_subnet_ids: list[Annotated[str, Field(pattern=r"^subnet-[0-9a-f]{8,17}$")]] = Field(min_length=2)


def survives_yaml(value: str) -> bool:
    """True when YAML reads `value` back as the same string (what an env override goes through)."""
    try:
        return bool(yaml.safe_load(value) == value)
    except yaml.YAMLError:
        return False


class AwsSigning(Signing):
    """aws: an asymmetric KMS key; the IAM principals that may sign and those that may verify."""

    signers: list[Principal] = Field(default_factory=list, description="may sign (kms:Sign) and verify")
    verifiers: list[Principal] = Field(default_factory=list, description="may verify (the public key)")

    @model_validator(mode="after")
    def _someone_signs(self) -> AwsSigning:
        if self.enabled and not self.signers:
            raise RuleViolation(
                "signing.signers",
                "names nobody, so nobody could sign with the key; list the IAM roles of your CI "
                "(`pulumi config set --path 'registry:signing.signers[0]' arn:aws:iam::123456789012:role/ci`)",
            )
        if not self.enabled and (self.signers or self.verifiers):
            raise RuleViolation(
                "signing.enabled", "is false, so signers and verifiers are not used; set signing.enabled to true"
            )
        return self


LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653)


class AwsSettings(SelfHosted):
    """`aws`: ECS Fargate behind an ALB, ElastiCache, S3."""

    target: Literal["aws"]
    max_replicas: int | None = Field(None, ge=2, le=100, description="autoscaling ceiling (default 2 x replicas)")
    production: bool = Field(False, description="deletion protection on the bucket, ALB and cache")
    allowed_cidrs: list[str] = Field(default_factory=lambda: ["0.0.0.0/0"], min_length=1)
    network: Network | None = None
    log_retention_days: int = Field(30, description="CloudWatch Logs retention; one of LOG_RETENTION_DAYS")
    signing: AwsSigning = AwsSigning()

    @field_validator("allowed_cidrs")
    @classmethod
    def _valid_cidrs(cls, cidrs: list[str]) -> list[str]:
        for cidr in cidrs:
            try:
                network = ipaddress.ip_network(cidr, strict=True)
            except ValueError as err:
                raise ValueError(f"{cidr!r} is not a CIDR block like 203.0.113.0/24 ({err})") from None
            if network.version != 4:
                raise ValueError(f"{cidr!r} is IPv6; the load balancer listens on IPv4 only, list IPv4 blocks")
        return cidrs

    @field_validator("log_retention_days")
    @classmethod
    def _valid_retention(cls, days: int) -> int:
        # an int field, not a Literal: the CLI passes "90" and pydantic never coerces into a Literal
        if days not in LOG_RETENTION_DAYS:
            raise ValueError(
                f"{days} is not a CloudWatch Logs retention; use one of {', '.join(map(str, LOG_RETENTION_DAYS))}"
            )
        return days

    @model_validator(mode="after")
    def _aws_rules(self) -> AwsSettings:
        if self.version != "3":
            raise RuleViolation(
                "version",
                "'2' cannot run on target aws: distribution 2.8 cannot speak TLS to "
                'ElastiCache, whose in-transit encryption is required; set registry:version to "3"',
            )
        if self.replicas < 2:
            raise RuleViolation("replicas", "target aws needs at least 2 to survive the loss of an instance or zone")
        if self.max_replicas is not None and self.max_replicas < self.replicas:
            raise RuleViolation(
                "maxReplicas", f"({self.max_replicas}) is below replicas ({self.replicas}); raise maxReplicas"
            )
        if self.tls.mode == "acm" and (self.domain == "localhost" or not self.tls.hosted_zone_id):
            raise RuleViolation(
                "tls.hostedZoneId",
                "tls.mode 'acm' needs registry:domain set to a real DNS name and "
                "registry:tls.hostedZoneId set to the Route 53 zone that holds it",
            )
        if self.domain == "localhost" or is_ip(self.domain):
            raise RuleViolation(
                "domain",
                f"({self.domain}) target aws serves clients at a DNS name that the certificate covers; set "
                "registry:domain to a name you control (with registry:tls.hostedZoneId the alias record "
                "is created for you, otherwise point a CNAME at the loadBalancerDnsName output)",
            )
        if self.maintenance is not None and self.maintenance.retention:
            raise RuleViolation(
                "maintenance.retention",
                "cannot be scheduled on target aws yet: the plan is tools.maintenance's, which no task image "
                "carries; run `make retention STACK=<stack>` from a scheduled CI job and set "
                "maintenance.retention to false (maintenance.gc runs on aws)",
            )
        check_mirrors(
            self.mirrors, version=self.version, taken_ports={443: "the HTTPS listener", 80: "the HTTP redirect"}
        )
        for i, mirror in enumerate(self.mirrors):
            if mirror.anonymous and "0.0.0.0/0" in self.allowed_cidrs:
                raise RuleViolation(
                    f"mirrors[{i}].anonymous",
                    f"({mirror.name}) with registry:allowedCidrs open to 0.0.0.0/0 anyone on the internet could pull "
                    f"{mirror.upstream} through you; list your networks in registry:allowedCidrs or set anonymous false",
                )
            if mirror.access_token is not None and not survives_yaml(mirror.access_token):
                raise RuleViolation(
                    f"mirrors[{i}].accessToken",
                    f"({mirror.name}) distribution reads REGISTRY_PROXY_PASSWORD as YAML (configuration/parser.go "
                    "overwriteStruct), which would change this token (it starts with *, &, [, {, !, |, > or a quote, "
                    "or holds ': ' or ' #'); create a token without them",
                )
        if self.storage.replica_region is not None and not self.storage.versioning:
            raise RuleViolation(
                "storage.replicaRegion", "S3 replication needs versioning; set storage.versioning to true"
            )
        return self

    @property
    def autoscaling_max(self) -> int:
        return self.max_replicas if self.max_replicas is not None else 2 * self.replicas
