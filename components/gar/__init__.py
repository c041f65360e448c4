"""`gar`: Google Artifact Registry from the same intent.

`deploy` is all `__main__.py` calls; the components live beside it (registry.py)."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_gcp as gcp

from components.config import GarSettings
from components.gar.registry import GCP_PROJECT, GarRegistry, GarRegistryArgs, refuse_encryption_changes
from components.renderers.gar import docker_host
from components.renderers.signing import cosign_outputs


def deploy(settings: GarSettings) -> dict[str, Any]:
    """Provider, registry and outputs for `target: gar`."""
    project = pulumi.Config("gcp").get("project")
    if not project or not GCP_PROJECT.match(project):
        raise pulumi.RunError(
            f"gcp:project is {project!r}; set the project to deploy to: `pulumi config set gcp:project my-project`"
        )
    provider = gcp.Provider(
        "registry-gcp", project=project, default_labels={"managed-by": "pulumi", "stack": pulumi.get_stack().lower()}
    )
    refuse_encryption_changes(settings, project, provider)
    registry = GarRegistry(
        "registry",
        GarRegistryArgs(settings=settings, project=project),
        opts=pulumi.ResourceOptions(providers={"gcp": provider}),
    )
    host = docker_host(settings.location)
    signing: dict[str, Any] = {}
    if registry.signing_key_ref is not None and registry.signing_public_key is not None:
        signing["signing"] = cosign_outputs(
            key=registry.signing_key_ref,
            public_key_pem=registry.signing_public_key,
            registry=f"{host}/{project}",
        )
    return {
        **signing,
        "project": project,
        "location": settings.location,
        "repositories": registry.repository_urls,
        "pullUrls": registry.virtual_urls,
        "mirrors": registry.mirror_outputs(),
        "loginSteps": [
            f"gcloud auth configure-docker {host}",
            f"CI: gcloud auth print-access-token | docker login -u oauth2accesstoken --password-stdin https://{host}",
        ],
    }
