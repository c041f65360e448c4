"""`local`: containers on the Docker engine that runs `pulumi up`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from components.config.base import RuleViolation
from components.config.mirrors import check_mirrors
from components.config.selfhosted import SelfHosted


class LocalSettings(SelfHosted):
    """`local`: containers on the Docker engine that runs `pulumi up`."""

    target: Literal["local"] = "local"
    port: int = Field(5443, ge=1, le=65535, description="host port of the TLS edge")
    object_store_port: int = Field(8333, ge=1, le=65535, description="loopback port of the S3 API")
    metrics_port: int = Field(9443, ge=1, le=65535, description="loopback port of the admins' metrics listener")

    @property
    def edge_port(self) -> int:
        return self.port

    @model_validator(mode="after")
    def _local_only_options(self) -> LocalSettings:
        if self.tls.mode == "acm":
            raise RuleViolation("tls.mode", "'acm' needs AWS; use 'self-signed' or 'provided' for target local")
        if self.port == self.object_store_port:
            raise RuleViolation("objectStorePort", f"equals port ({self.port}); give the S3 API a different port")
        if self.metrics_port in (self.port, self.object_store_port):
            raise RuleViolation(
                "metricsPort", f"({self.metrics_port}) is taken by port or objectStorePort; give metrics its own port"
            )
        check_mirrors(
            self.mirrors,
            version=self.version,
            taken_ports={
                self.port: "registry:port",
                self.object_store_port: "registry:objectStorePort",
                self.metrics_port: "registry:metricsPort",
            },
        )
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
