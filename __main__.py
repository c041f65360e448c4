"""registry: validate the stack config, build the chosen target, export its outputs."""

import pulumi

from components.config import (
    AwsSettings,
    ConfigError,
    EcrSettings,
    GarSettings,
    LocalSettings,
    settings_from_pulumi,
)

try:
    settings = settings_from_pulumi()
except ConfigError as error:
    raise pulumi.RunError(str(error)) from None
for warning in settings.warnings:
    pulumi.log.warn(warning)

# import only the chosen target: each pulls in just the provider SDKs it uses
if isinstance(settings, LocalSettings):
    from components import local

    outputs = local.deploy(settings)
elif isinstance(settings, AwsSettings):
    from components import aws

    outputs = aws.deploy(settings)
elif isinstance(settings, EcrSettings):
    from components import ecr

    outputs = ecr.deploy(settings)
elif isinstance(settings, GarSettings):
    from components import gar

    outputs = gar.deploy(settings)
else:
    from components import acr

    outputs = acr.deploy(settings)

for key, value in outputs.items():
    pulumi.export(key, value)
