"""The stack configuration model: the single source of truth for every target.

Pulumi hands the program flat `registry:<key>` strings (objects as JSON). `load_settings`
turns them into one validated, frozen `Settings` value, or raises `ConfigError` listing
every problem with the key as the user wrote it and the command that fixes it. Nothing
here touches a resource, so a bad config fails before anything is declared.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

NAMESPACE = "registry"

_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_USER_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
AWS_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")


class ConfigError(ValueError):
    """A stack configuration that cannot be deployed; the message lists every problem."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        noun = "problem" if len(problems) == 1 else "problems"
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid stack configuration ({len(problems)} {noun}):\n{lines}")


class RuleViolation(ValueError):
    """A cross-field rule broken; `key` (camelCase path below `registry:`) is the one to change."""

    def __init__(self, key: str, message: str):
        self.key = key
        super().__init__(message)


class Model(BaseModel):
    """Base of every config section: camelCase keys, unknown keys rejected, values frozen."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        populate_by_name=True,
    )


# ---------------------------------------------------------------- sections shared by targets


class User(Model):
    """A registry login. Passwords are generated, never configured."""

    name: str = Field(description="login name; htpasswd cannot hold ':'")
    access: Literal["push", "pull"] = Field(description="push = read and write; pull = read only")

    @field_validator("name")
    @classmethod
    def _valid_name(cls, name: str) -> str:
        if not _USER_NAME.match(name):
            raise ValueError(
                f"{name!r} is not a valid user name: use 1-64 lowercase letters, digits, "
                "'.', '_' or '-', starting with a letter or digit (no ':' or spaces)"
            )
        return name


class Tls(Model):
    """How the edge certificate is obtained."""

    mode: Literal["self-signed", "provided", "acm"] = "self-signed"
    validity_days: int = Field(365, ge=1, le=3650, description="self-signed certificate lifetime")
    certificate: str | None = Field(None, description="provided: PEM certificate chain")
    private_key: str | None = Field(None, description="provided: PEM key, set with --secret")
    hosted_zone_id: str | None = Field(None, description="acm: Route 53 zone for DNS validation")

    @model_validator(mode="after")
    def _provided_needs_pem(self) -> Tls:
        has_pem = self.certificate is not None or self.private_key is not None
        if self.mode == "provided":
            if not self.certificate or not self.private_key:
                raise RuleViolation(
                    "tls.mode",
                    "mode 'provided' needs both 'certificate' and 'privateKey' (PEM); set them "
                    "with `pulumi config set --path registry:tls.certificate ...` and "
                    "`pulumi config set --secret --path registry:tls.privateKey ...`",
                )
            if "BEGIN CERTIFICATE" not in self.certificate:
                raise RuleViolation("tls.certificate", "must be a PEM certificate (-----BEGIN CERTIFICATE-----)")
            if "PRIVATE KEY" not in self.private_key:
                raise RuleViolation("tls.privateKey", "must be a PEM private key (-----BEGIN ... PRIVATE KEY-----)")
        elif has_pem:
            raise RuleViolation(
                "tls.mode", f"'certificate' and 'privateKey' are only used with mode 'provided', not {self.mode!r}"
            )
        return self


class Storage(Model):
    """The S3 bucket that holds every blob and manifest."""

    versioning: bool = Field(True, description="keep overwritten/deleted objects as noncurrent versions")
    noncurrent_version_days: int = Field(30, ge=1, le=3650, description="expire noncurrent versions after")
    abort_incomplete_upload_days: int = Field(7, ge=1, le=365, description="abort stale multipart uploads after")
    force_destroy: bool = Field(False, description="let `pulumi destroy` delete a non-empty bucket")
    encryption: Literal["s3", "kms"] = Field("s3", description="aws: SSE-S3 or SSE-KMS")
    kms_key_arn: str | None = Field(None, description="aws, encryption kms: existing key (else one is created)")
    replica_region: str | None = Field(None, description="aws: replicate the bucket to this region")

    @field_validator("replica_region")
    @classmethod
    def _valid_region(cls, region: str | None) -> str | None:
        if region is not None and not AWS_REGION.match(region):
            raise ValueError(f"{region!r} is not an AWS region name (for example eu-west-1)")
        return region

    @model_validator(mode="after")
    def _kms_key_needs_kms(self) -> Storage:
        if self.kms_key_arn is not None and self.encryption != "kms":
            raise RuleViolation(
                "storage.kmsKeyArn", "is only used with encryption 'kms'; set storage.encryption to kms or remove it"
            )
        return self


class Cache(Model):
    """Redis as distribution's blob-descriptor cache."""

    enabled: bool = True
    node_type: str = Field("cache.t4g.micro", pattern=r"^cache\.[a-z0-9]+\.[a-z0-9]+$", description="aws: node size")


class UploadPurging(Model):
    """distribution's background removal of abandoned uploads."""

    age_hours: int = Field(168, ge=1, le=8760, description="purge uploads older than this")
    interval_hours: int = Field(24, ge=1, le=720, description="how often the purge runs")

    @model_validator(mode="after")
    def _runs_within_the_age(self) -> UploadPurging:
        if self.interval_hours > self.age_hours:
            raise RuleViolation(
                "uploadPurging.intervalHours",
                f"({self.interval_hours} h) is longer than uploadPurging.ageHours ({self.age_hours} h): abandoned "
                "uploads would outlive their age by up to a whole interval; lower intervalHours or raise ageHours",
            )
        return self


class Network(Model):
    """aws: deploy into an existing VPC instead of creating one."""

    vpc_id: str = Field(pattern=r"^vpc-[0-9a-f]{8,17}$")
    public_subnet_ids: list[Annotated[str, Field(pattern=r"^subnet-[0-9a-f]{8,17}$")]] = Field(min_length=2)
    private_subnet_ids: list[Annotated[str, Field(pattern=r"^subnet-[0-9a-f]{8,17}$")]] = Field(min_length=2)


# ---------------------------------------------------------------- targets


class Common(Model):
    """Keys every target understands."""

    replicas: int = Field(2, ge=1, le=50, description="registry instances behind the edge")
    domain: str = Field("localhost", description="the name clients use; certificate SAN")
    tls: Tls = Tls()
    users: list[User] = Field(default_factory=lambda: [User(name="admin", access="push")], min_length=1, max_length=100)
    storage: Storage = Storage()
    cache: Cache = Cache()
    upload_purging: UploadPurging = UploadPurging()

    @field_validator("domain")
    @classmethod
    def _valid_domain(cls, domain: str) -> str:
        if "://" in domain or "/" in domain:
            raise ValueError(
                f"{domain!r} must be a bare host name without scheme or path, for example registry.example.com"
            )
        if ":" in domain and not _is_ip(domain):
            raise ValueError(f"{domain!r} must not contain a port; the port is set separately")
        if _is_ip(domain):
            address = ipaddress.ip_address(domain)
            if address.is_unspecified or address.is_multicast:
                kind = "the unspecified address" if address.is_unspecified else "a multicast address"
                raise ValueError(
                    f"{domain!r} is {kind}, which no client can connect to; use the host's DNS name or unicast address"
                )
            return str(address)
        labels = domain.rstrip(".").split(".")
        if len(domain) > 253 or not all(_HOST_LABEL.match(label) for label in labels):
            raise ValueError(
                f"{domain!r} is not a valid DNS name: use lowercase letters, digits and '-', "
                "labels of 1-63 characters separated by '.'"
            )
        return domain.rstrip(".")

    @field_validator("users")
    @classmethod
    def _unique_user_names(cls, users: list[User]) -> list[User]:
        seen: set[str] = set()
        for user in users:
            if user.name in seen:
                raise ValueError(f"user {user.name!r} is listed twice; give each user a unique name")
            seen.add(user.name)
        return users

    @model_validator(mode="after")
    def _s3_keeps_live_uploads(self) -> Common:
        if self.storage.abort_incomplete_upload_days * 24 < self.upload_purging.age_hours:
            raise RuleViolation(
                "storage.abortIncompleteUploadDays",
                f"({self.storage.abort_incomplete_upload_days} d) would abort multipart uploads the registry "
                f"still keeps (uploadPurging.ageHours = {self.upload_purging.age_hours} h); raise "
                "abortIncompleteUploadDays or lower uploadPurging.ageHours",
            )
        return self

    @property
    def push_users(self) -> list[str]:
        return [u.name for u in self.users if u.access == "push"]

    @property
    def tls_sans(self) -> tuple[list[str], list[str]]:
        """(dns names, ip addresses) the edge certificate must cover."""
        dns = ["localhost"] if self.domain == "localhost" else [self.domain, "localhost"]
        ips = ["127.0.0.1", "::1"]
        if _is_ip(self.domain):
            dns = ["localhost"]
            ips = [self.domain, *[ip for ip in ips if ip != self.domain]]
        return dns, ips

    @property
    def edge_names(self) -> list[str]:
        """Every name the edge serves (its certificate's SANs); other Host headers are refused."""
        dns, ips = self.tls_sans
        return [*dns, *ips]

    def host(self, port: int) -> str:
        """What clients type to reach the edge: `name[:port]`, an IPv6 address in brackets."""
        name = f"[{self.domain}]" if ":" in self.domain else self.domain
        return name if port == 443 else f"{name}:{port}"

    @property
    def warnings(self) -> list[str]:
        """Deployable, but probably not what the user meant; logged before anything is declared."""
        found = []
        if not self.push_users:
            found.append(
                f"{NAMESPACE}:users: no user has access 'push', so nobody can push images; give one user "
                f"access push (`pulumi config set --path '{NAMESPACE}:users[0].access' push`)"
            )
        return found


class LocalSettings(Common):
    """`local`: containers on the Docker engine that runs `pulumi up`."""

    target: Literal["local"] = "local"
    # 3 by default: Docker's official `registry` image gets no new 2.x builds (FIELD-NOTES)
    version: Literal["2", "3"] = "3"
    port: int = Field(5443, ge=1, le=65535, description="host port of the TLS edge")
    object_store_port: int = Field(8333, ge=1, le=65535, description="loopback port of the S3 API")

    @model_validator(mode="after")
    def _local_only_options(self) -> LocalSettings:
        if self.tls.mode == "acm":
            raise RuleViolation("tls.mode", "'acm' needs AWS; use 'self-signed' or 'provided' for target local")
        if self.port == self.object_store_port:
            raise RuleViolation("objectStorePort", f"equals port ({self.port}); give the S3 API a different port")
        aws_only = {
            "cache.nodeType": "node_type" in self.cache.model_fields_set,
            "storage.encryption": "encryption" in self.storage.model_fields_set,
            "storage.kmsKeyArn": self.storage.kms_key_arn is not None,
            "storage.replicaRegion": self.storage.replica_region is not None,
            "tls.hostedZoneId": self.tls.hosted_zone_id is not None,
        }
        used = [key for key, is_set in aws_only.items() if is_set]
        if used:
            raise RuleViolation(used[0], f"only applies to target aws; remove {', '.join(used)} for target local")
        return self


LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653)


class AwsSettings(Common):
    """`aws`: ECS Fargate behind an ALB, ElastiCache, S3."""

    target: Literal["aws"]
    version: Literal["2", "3"] = "3"
    max_replicas: int | None = Field(None, ge=2, le=100, description="autoscaling ceiling (default 2 x replicas)")
    production: bool = Field(False, description="deletion protection on the bucket, ALB and cache")
    allowed_cidrs: list[str] = Field(default_factory=lambda: ["0.0.0.0/0"], min_length=1)
    network: Network | None = None
    log_retention_days: int = Field(30, description="CloudWatch Logs retention; one of LOG_RETENTION_DAYS")

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
        if self.domain == "localhost" or _is_ip(self.domain):
            raise RuleViolation(
                "domain",
                f"({self.domain}) target aws serves clients at a DNS name that the certificate covers; set "
                "registry:domain to a name you control (with registry:tls.hostedZoneId the alias record "
                "is created for you, otherwise point a CNAME at the loadBalancerDnsName output)",
            )
        if self.storage.replica_region is not None and not self.storage.versioning:
            raise RuleViolation(
                "storage.replicaRegion", "S3 replication needs versioning; set storage.versioning to true"
            )
        return self

    @property
    def autoscaling_max(self) -> int:
        return self.max_replicas if self.max_replicas is not None else 2 * self.replicas


Settings = Annotated[LocalSettings | AwsSettings, Field(discriminator="target")]
_SETTINGS: TypeAdapter[LocalSettings | AwsSettings] = TypeAdapter(Settings)
TARGETS = ("local", "aws")
# namespaces of the providers and tools a stack file may hold besides ours
OTHER_NAMESPACES = frozenset({"aws", "gcp", "docker", "tls", "random", "pulumi", "kubernetes", "azure"})


# ---------------------------------------------------------------- loading and error messages


def load_settings(raw: Mapping[str, str], secret_keys: frozenset[str] = frozenset()) -> LocalSettings | AwsSettings:
    """Validate the `registry:*` entries of a Pulumi config map (values as the CLI passes them).

    `secret_keys` are the config keys Pulumi marks secret; a provided TLS private key must be one.
    """
    problems: list[str] = []
    data: dict[str, Any] = {}
    prefix = f"{NAMESPACE}:"
    for key, value in raw.items():
        if not key.startswith(prefix):
            problems += _misspelled_namespace(key)
            continue
        name = key[len(prefix) :]
        if re.search(r"[.\[]", name):
            problems.append(_flat_path_key(key, name))
            continue
        try:
            data[name] = _parse_value(value)
        except ValueError as err:
            problems.append(f"{key}: {err}")
    data.setdefault("target", "local")
    if isinstance(data.get("tls"), dict) and data["tls"].get("privateKey") and f"{prefix}tls" not in secret_keys:
        problems.append(
            f"{prefix}tls.privateKey: a private key must be stored encrypted; set it with "
            "`pulumi config set --secret --path registry:tls.privateKey < key.pem`"
        )
    if problems:
        raise ConfigError(problems)
    try:
        return _SETTINGS.validate_python(data)
    except ValidationError as err:
        raise ConfigError([_describe(e, data) for e in err.errors()]) from None


def _misspelled_namespace(key: str) -> list[str]:
    """`regsitry:replicas` is silently ignored by Pulumi's own rules; for us it is a typo."""
    namespace, _, name = key.partition(":")
    if namespace in OTHER_NAMESPACES or difflib.SequenceMatcher(None, namespace.lower(), NAMESPACE).ratio() < 0.85:
        return []
    return [
        f"{key}: unknown namespace {namespace!r}; did you mean {NAMESPACE}:{name}? "
        f"(`pulumi config rm {key}` and set {NAMESPACE}:{name} instead)"
    ]


def _flat_path_key(key: str, name: str) -> str:
    """`pulumi config set registry:tls.validityDays 90` without --path stores a key with a dot in it."""
    return (
        f"{key}: stored as one flat key, so it is not read as a path; remove it and set it with --path: "
        f"`pulumi config rm {key}` then `pulumi config set --path '{key}' <value>`"
    )


def _parse_value(value: Any) -> Any:
    """Pulumi passes scalars as strings and objects/lists as JSON text."""
    if isinstance(value, str) and value.lstrip()[:1] in ("{", "["):
        try:
            return json.loads(value)
        except json.JSONDecodeError as err:
            raise ValueError(f"is not valid JSON ({err.msg} at column {err.colno})") from None
    return value


def _describe(error: Any, data: Mapping[str, Any]) -> str:
    loc = list(error["loc"])
    if loc and loc[0] in TARGETS:  # the discriminated union puts the tag first
        loc = loc[1:]
    if error["type"] == "union_tag_invalid":
        return (
            f"{NAMESPACE}:target: {data.get('target')!r} is not a target; use one of "
            f"{', '.join(TARGETS)} (ecr and gar are planned)"
        )
    key = _key_name(loc)
    if error["type"] == "extra_forbidden":
        return _unknown_key(key, loc, data)
    message = error["msg"].removeprefix("Value error, ")
    rule = error.get("ctx", {}).get("error")
    if isinstance(rule, RuleViolation):
        return f"{NAMESPACE}:{rule.key}: {message}"
    if error["type"] in ("model_type", "model_attributes_type", "dict_type") and loc:
        return f"{key}: {message}; it is an object, for example {_example(loc, data)}"
    if loc:
        got = error.get("input")
        shown = "" if isinstance(got, (dict, list)) or got is None else f" (got {got!r})"
        return f"{key}: {message}{shown}; fix with `{_set_command(loc)}`"
    return f"{NAMESPACE}: {message}"


def _key_name(loc: list[Any]) -> str:
    text = f"{NAMESPACE}:"
    for i, part in enumerate(loc):
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if i else "") + str(part)
    return text


def _set_command(loc: list[Any]) -> str:
    if len(loc) == 1:
        return f"pulumi config set {_key_name(loc)} <value>"
    return f"pulumi config set --path '{_key_name(loc)}' <value>"


def _unknown_key(key: str, loc: list[Any], data: Mapping[str, Any]) -> str:
    model = _model_at(loc[:-1], data)
    known = [f.alias or name for name, f in model.model_fields.items()]
    other = AwsSettings if model is LocalSettings else LocalSettings if model is AwsSettings else None
    if len(loc) == 1 and other is not None and loc[0] in [f.alias for f in other.model_fields.values()]:
        return f"{key}: only applies to target {'aws' if other is AwsSettings else 'local'}; remove it (`pulumi config rm {key}`)"
    guess = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
    hint = f"did you mean {key.rsplit(str(loc[-1]), 1)[0]}{guess[0]}? " if guess else ""
    return f"{key}: unknown key; {hint}known keys here: {', '.join(sorted(known))}"


def _example(loc: list[Any], data: Mapping[str, Any]) -> str:
    """The section's shape with its defaults, and how to set one key of it."""
    model = _model_at(loc, data)
    shape: dict[str, Any] = {}
    local = data.get("target", "local") == "local"
    for name, f in model.model_fields.items():
        key = f.alias or name
        if local and (f.description or "").startswith("aws"):
            continue  # refused on local; do not suggest it
        if f.is_required():
            options = get_args(f.annotation) if get_origin(f.annotation) is Literal else ()
            shape[key] = "|".join(options) if options else f"<{key}>"
        elif isinstance(f.default, (bool, int, str)):
            shape[key] = f.default
    first = next(iter(shape), None)
    how = ""
    if first is not None and not isinstance(loc[-1], int):
        value = json.dumps(shape[first]).strip('"')
        how = f"; set one key with `pulumi config set --path '{_key_name([*loc, first])}' {value}`"
    return f"{json.dumps(shape)}{how}"


def _model_at(loc: list[Any], data: Mapping[str, Any]) -> type[BaseModel]:
    """The config section (model class) that `loc` points into, as deep as models go."""
    model: type[BaseModel] = LocalSettings if data.get("target", "local") == "local" else AwsSettings
    for part in loc:
        if isinstance(part, int):
            continue
        field = next((f for f in model.model_fields.values() if f.alias == part), None)
        annotation = getattr(field, "annotation", None)
        nested = next(
            (
                a
                for a in (*getattr(annotation, "__args__", ()), annotation)
                if isinstance(a, type) and issubclass(a, BaseModel)
            ),
            None,
        )
        if nested is None:
            break
        model = nested
    return model


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def settings_from_pulumi() -> LocalSettings | AwsSettings:
    """Validate the running stack's config (what the CLI, or a test's `set_all_config`, supplied)."""
    from pulumi.runtime import config as runtime_config

    raw = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    secret = {k for k in raw if runtime_config.is_config_secret(k)}
    secret |= set(runtime_config.get_config_secret_keys_env())
    return load_settings(raw, frozenset(secret))
