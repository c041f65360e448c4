"""What every target's settings build on: the base model, the errors, the shared sections.

Each target's settings live in a module of their own (local, aws, ...) over these; loading.py
turns Pulumi's flat `registry:<key>` strings into one of them, or a ConfigError.
"""

from __future__ import annotations

import datetime
import ipaddress
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

NAMESPACE = "registry"

USER_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
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


class Signing(Model):
    """A key the stack provides to sign images with (cosign): a generated key pair on local, an
    asymmetric KMS key on aws and ecr, a Cloud KMS key on gar."""

    enabled: bool = Field(False, description="create the signing key")


class TargetSettings(Model):
    """Base of each target's settings (what `load_settings` returns)."""

    signing: Signing = Signing()

    @property
    def warnings(self) -> list[str]:
        """Deployable, but probably not what the user meant; logged before anything is declared."""
        return []


# ---------------------------------------------------------------- sections shared by targets


class User(Model):
    """A registry login. Passwords are generated, never configured."""

    name: str = Field(description="login name; htpasswd cannot hold ':'")
    # on every repository: pull reads, push also writes, admin also deletes and lists the catalog;
    # None: only what registry:access rules grant
    access: Literal["pull", "push", "admin"] | None = Field(
        None, description="pull, push or admin on every repository; unset: per registry:access"
    )
    # a robot account for CI: from this instant on the edge refuses its login (401)
    expires_at: datetime.datetime | None = Field(
        None, description="ISO 8601 with a time zone, e.g. 2027-01-31T00:00:00Z"
    )

    @field_validator("name")
    @classmethod
    def _valid_name(cls, name: str) -> str:
        if not USER_NAME.match(name):
            raise ValueError(
                f"{name!r} is not a valid user name: use 1-64 lowercase letters, digits, "
                "'.', '_' or '-', starting with a letter or digit (no ':' or spaces)"
            )
        return name

    @field_validator("expires_at")
    @classmethod
    def _expiry_in_utc(cls, instant: datetime.datetime | None) -> datetime.datetime | None:
        if instant is None:
            return None
        if instant.tzinfo is None:
            raise ValueError(
                f"{instant.isoformat()} has no time zone, so the edge cannot tell when it is: "
                "add one, e.g. 2027-01-31T00:00:00Z"
            )
        if not 2001 <= instant.astimezone(datetime.UTC).year <= 2286:
            raise ValueError(f"{instant.isoformat()} is not between 2001 and 2286")
        return instant.astimezone(datetime.UTC)


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


def is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
