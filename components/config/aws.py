"""`aws`: ECS Fargate behind an ALB, ElastiCache, S3."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

import yaml
from pydantic import Field, field_validator, model_validator

from components.config.base import AWS_REGION, NAMESPACE, Cache, Model, RuleViolation, Signing, is_ip
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


# a KMS key's ARN (not an alias: S3 replication names the replica's key by ARN), its region captured
KMS_KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:(?P<region>[a-z0-9-]+):\d{12}:key/[A-Za-z0-9-]+$")
_DNS_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def _is_dns_name(name: str) -> bool:
    labels = name.split(".")
    return len(name) <= 253 and len(labels) >= 2 and all(_DNS_LABEL.match(label) for label in labels)


class Regions(Model):
    """aws: a primary region that takes pushes and secondaries that serve pulls from a replica of its
    bucket, each behind its own load balancer; Route 53 sends pulls to the nearest healthy region."""

    primary: str = Field(description="aws:region: the region pushes go to")
    secondaries: list[str] = Field(min_length=1, description="regions serving read-only replicas")
    pull_domain: str | None = Field(None, description='latency-routed pull name (default "pull." + domain)')
    replication_time_control: bool = Field(True, description="S3 RTC: 15-minute SLA and replication metrics")
    kms_key_arns: dict[str, str] = Field(
        default_factory=dict, description="with storage.kmsKeyArn: each secondary's replica bucket key"
    )
    promoted: str | None = Field(None, description="a secondary made writable (tools.maintenance promote)")

    @field_validator("primary")
    @classmethod
    def _valid_primary(cls, region: str) -> str:
        if not AWS_REGION.match(region):
            raise ValueError(f"{region!r} is not an AWS region name (for example eu-west-1)")
        return region

    @field_validator("secondaries")
    @classmethod
    def _valid_secondaries(cls, regions: list[str]) -> list[str]:
        for region in regions:
            if not AWS_REGION.match(region):
                raise ValueError(f"{region!r} is not an AWS region name (for example us-east-1)")
        twice = sorted({r for r in regions if regions.count(r) > 1})
        if twice:
            raise ValueError(f"lists {', '.join(twice)} more than once; list each secondary region once")
        return regions

    @field_validator("pull_domain")
    @classmethod
    def _valid_pull_domain(cls, name: str | None) -> str | None:
        if name is not None and not _is_dns_name(name.rstrip(".")):
            raise ValueError(
                f"{name!r} is not a DNS name like pull.registry.example.com: use lowercase letters, digits and "
                "'-', labels of 1-63 characters separated by '.'"
            )
        return name.rstrip(".") if name is not None else None

    @model_validator(mode="after")
    def _regions_agree(self) -> Regions:
        if self.primary in self.secondaries:
            raise RuleViolation(
                "regions.secondaries",
                f"lists the primary {self.primary}; a region is either primary or secondary, remove it from secondaries",
            )
        if self.promoted is not None and self.promoted not in self.secondaries:
            raise RuleViolation(
                "regions.promoted",
                f"({self.promoted}) is not a secondary; name one of {', '.join(self.secondaries)} or remove it",
            )
        for region, arn in self.kms_key_arns.items():
            if region not in self.secondaries:
                raise RuleViolation(
                    "regions.kmsKeyArns",
                    f"has a key for {region}, which is not a secondary; remove it or add {region} to secondaries",
                )
            found = KMS_KEY_ARN.match(arn)
            if found is None or found["region"] != region:
                raise RuleViolation(
                    f"regions.kmsKeyArns.{region}",
                    f"({arn}) is not the ARN of a KMS key in {region} (arn:aws:kms:{region}:<account>:key/<id>): "
                    "S3 replication encrypts each replica with a key of the replica's own region",
                )
        return self


LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653)
# production keeps its logs a year: they hold the edge's audit trail (who pushed, pulled and deleted what,
# from where), which an incident review reaches back for; CKV_AWS_338 asks the same
PRODUCTION_LOG_RETENTION_DAYS = 365
# an address SNS can mail: one @, a local part without spaces or quotes, a domain of DNS labels with a dot
EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"[A-Za-z]{2,63}$"
)


class Alerts(Model):
    """aws: who CloudWatch alarms mail (through one SNS topic per region) and when the traffic alarms fire
    (components/aws/observability.py)."""

    emails: list[str] = Field(default_factory=list, max_length=20, description="addresses the alarms mail")
    # a request's time at the target until its response headers: an upload's PATCH or PUT includes
    # receiving its body, so pushes of large layers raise the p99; pick a value your pushes stay under
    p99_latency_seconds: float = Field(
        2.0, gt=0, le=900, description="alarm when the ALB's p99 target response time stays above this"
    )
    five_xx_percent: float = Field(
        5.0, gt=0, le=100, description="alarm when this share of requests gets a 5xx (target or load balancer)"
    )

    @model_validator(mode="after")
    def _mailable(self) -> Alerts:
        seen: dict[str, int] = {}
        for i, address in enumerate(self.emails):
            if not EMAIL.match(address):
                raise RuleViolation(
                    f"alerts.emails[{i}]",
                    f"({address!r}) is not an email address like ops@example.com; SNS could not mail it: "
                    f"correct it or remove it (`pulumi config rm --path 'registry:alerts.emails[{i}]'`)",
                )
            first = seen.setdefault(address.lower(), i)
            if first != i:
                raise RuleViolation(
                    f"alerts.emails[{i}]",
                    f"({address}) repeats alerts.emails[{first}]; SNS subscribes an address once, list it once",
                )
        return self


class AwsCacheSettings(Cache):
    """aws: the ElastiCache replication group, and whether a key of the stack encrypts it at rest."""

    # ElastiCache sets a replication group's key only when it creates the group: turning this on REPLACES
    # an existing cache (a new, empty one; the tasks roll to its address and refill it from storage)
    customer_key: bool = Field(
        False, description="aws: encrypt at rest with a customer managed KMS key; replaces an existing cache"
    )


class AwsSettings(SelfHosted):
    """`aws`: ECS Fargate behind an ALB, ElastiCache, S3."""

    target: Literal["aws"]
    max_replicas: int | None = Field(None, ge=2, le=100, description="autoscaling ceiling (default 2 x replicas)")
    production: bool = Field(False, description="deletion protection on the bucket, ALB and cache")
    allowed_cidrs: list[str] = Field(default_factory=lambda: ["0.0.0.0/0"], min_length=1)
    network: Network | None = None
    log_retention_days: int = Field(
        30, description="CloudWatch Logs retention; one of LOG_RETENTION_DAYS (production: 365 unless set)"
    )
    signing: AwsSigning = AwsSigning()
    cache: AwsCacheSettings = AwsCacheSettings()
    # CloudWatch alarms to an SNS topic, a dashboard and saved Logs Insights queries (README, Observability)
    alerts: Alerts = Alerts()
    # a primary and read-only secondaries behind latency records (README, Regions)
    regions: Regions | None = None

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

    @model_validator(mode="before")
    @classmethod
    def _production_retention_default(cls, data: object) -> object:
        """Unset on a production stack, logRetentionDays is PRODUCTION_LOG_RETENTION_DAYS, not 30."""
        if not isinstance(data, dict) or {"logRetentionDays", "log_retention_days"} & set(data):
            return data
        if str(data.get("production", "")).lower() == "true":
            return {**data, "logRetentionDays": PRODUCTION_LOG_RETENTION_DAYS}
        return data

    @model_validator(mode="after")
    def _production_keeps_logs(self) -> AwsSettings:
        if self.production and self.log_retention_days < PRODUCTION_LOG_RETENTION_DAYS:
            raise RuleViolation(
                "logRetentionDays",
                f"({self.log_retention_days}) is below {PRODUCTION_LOG_RETENTION_DAYS} days on a production stack: its "
                "logs hold the edge's audit trail (who pushed, pulled and deleted what) that an incident review "
                f"reaches back for; set registry:logRetentionDays to {PRODUCTION_LOG_RETENTION_DAYS} or more "
                f"(`pulumi config set registry:logRetentionDays {PRODUCTION_LOG_RETENTION_DAYS}`)",
            )
        return self

    @model_validator(mode="after")
    def _regions_rules(self) -> AwsSettings:
        regions = self.regions
        if regions is None:
            return self
        if self.storage.replica_region is not None:
            raise RuleViolation(
                "storage.replicaRegion",
                f"({self.storage.replica_region}) replicates to a copy nobody serves, and registry:regions replicates "
                f"too; move {self.storage.replica_region} into regions.secondaries, which also serves it, and remove "
                "storage.replicaRegion",
            )
        if not self.storage.versioning:
            raise RuleViolation(
                "storage.versioning",
                "is false, but S3 replication needs versioning: a secondary would have no replica bucket; set "
                "storage.versioning to true (registry:regions replicates the bucket to every secondary)",
            )
        if self.tls.mode != "acm":
            raise RuleViolation(
                "tls.mode",
                f"is {self.tls.mode!r}; registry:regions needs 'acm' with tls.hostedZoneId: the latency records, the "
                "health checks and a certificate per region live in that Route 53 zone",
            )
        self._regions_keys(regions)
        if regions.pull_domain == self.domain:
            raise RuleViolation(
                "regions.pullDomain",
                f"({regions.pull_domain}) is registry:domain, which stays the push name; pick another name, "
                f"such as pull.{self.domain}",
            )
        return self

    def _regions_keys(self, regions: Regions) -> None:
        """With a given storage key, every secondary names its own key (S3 cannot make one there)."""
        source_key = self.storage.kms_key_arn
        if source_key is None:
            if regions.kms_key_arns:
                raise RuleViolation(
                    "regions.kmsKeyArns",
                    "is only used with storage.kmsKeyArn (otherwise a key is created in each region); "
                    "remove it or set storage.kmsKeyArn",
                )
            return
        found = KMS_KEY_ARN.match(source_key)
        if found is None or found["region"] != regions.primary:
            raise RuleViolation(
                "storage.kmsKeyArn",
                f"({source_key}) is not the ARN of a KMS key in the primary region {regions.primary}; "
                "give the primary bucket's key there",
            )
        missing = [r for r in regions.secondaries if r not in regions.kms_key_arns]
        if missing:
            raise RuleViolation(
                "regions.kmsKeyArns",
                f"has no key for {', '.join(missing)}: a region without a replica bucket key; add one per secondary, "
                f"in its region (`pulumi config set --path 'registry:regions.kmsKeyArns.{missing[0]}' "
                f"arn:aws:kms:{missing[0]}:<account>:key/<id>`)",
            )

    @property
    def pull_domain(self) -> str | None:
        """registry:regions' latency-routed pull name; None without regions."""
        if self.regions is None:
            return None
        return self.regions.pull_domain or f"pull.{self.domain}"

    @property
    def tls_sans(self) -> tuple[list[str], list[str]]:
        """With regions, the edge also answers the pull name (every region's load balancer serves it)."""
        dns, ips = super().tls_sans
        pull = self.pull_domain
        return ([dns[0], pull, *dns[1:]] if pull else dns), ips

    @property
    def warnings(self) -> list[str]:
        found = super().warnings
        if self.production and not self.alerts.emails:
            found.append(
                f"{NAMESPACE}:alerts.emails: none on a production stack, so its alarms mail nobody; add one "
                f"(`pulumi config set --path '{NAMESPACE}:alerts.emails[0]' ops@example.com`) and confirm the mail SNS sends"
            )
        return found

    @property
    def autoscaling_max(self) -> int:
        return self.max_replicas if self.max_replicas is not None else 2 * self.replicas
