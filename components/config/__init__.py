"""The stack configuration model: the single source of truth for every target.

Pulumi hands the program flat `registry:<key>` strings (objects as JSON). `load_settings` /
`settings_from_pulumi` turn them into one validated, frozen settings value per target
(LocalSettings, AwsSettings, ...), or raise ConfigError listing every problem.
"""

from components.config.aws import LOG_RETENTION_DAYS, AwsSettings, Network
from components.config.base import (
    AWS_REGION,
    NAMESPACE,
    Cache,
    ConfigError,
    Model,
    RuleViolation,
    Storage,
    Tls,
    UploadPurging,
    User,
)
from components.config.loading import TARGETS, load_settings, settings_from_pulumi
from components.config.local import LocalSettings
from components.config.selfhosted import SelfHosted

__all__ = [
    "AWS_REGION",
    "LOG_RETENTION_DAYS",
    "NAMESPACE",
    "TARGETS",
    "AwsSettings",
    "Cache",
    "ConfigError",
    "LocalSettings",
    "Model",
    "Network",
    "RuleViolation",
    "SelfHosted",
    "Storage",
    "Tls",
    "UploadPurging",
    "User",
    "load_settings",
    "settings_from_pulumi",
]
