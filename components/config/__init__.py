"""The stack configuration model: the single source of truth for every target.

Pulumi hands the program flat `registry:<key>` strings (objects as JSON). `load_settings` /
`settings_from_pulumi` turn them into one validated, frozen settings value per target
(LocalSettings, AwsSettings, ...), or raise ConfigError listing every problem.
"""

from components.config.access import AccessRule
from components.config.acr import AcrSettings, AcrStorage
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
from components.config.ecr import EcrSettings, RepositoryStorage
from components.config.gar import GarSettings, GarStorage
from components.config.intent import IntentKeys, Mirror, Replication, Repository, Retention, Scanning
from components.config.loading import TARGETS, AnySettings, load_settings, settings_from_pulumi
from components.config.local import LocalSettings
from components.config.selfhosted import SelfHosted

__all__ = [
    "AWS_REGION",
    "LOG_RETENTION_DAYS",
    "NAMESPACE",
    "TARGETS",
    "AccessRule",
    "AcrSettings",
    "AcrStorage",
    "AnySettings",
    "AwsSettings",
    "Cache",
    "ConfigError",
    "EcrSettings",
    "GarSettings",
    "GarStorage",
    "IntentKeys",
    "LocalSettings",
    "Mirror",
    "Model",
    "Network",
    "Replication",
    "Repository",
    "RepositoryStorage",
    "Retention",
    "RuleViolation",
    "Scanning",
    "SelfHosted",
    "Storage",
    "Tls",
    "UploadPurging",
    "User",
    "load_settings",
    "settings_from_pulumi",
]
