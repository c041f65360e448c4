"""The offline policy check end to end: real program runs, the pack as a subprocess, the analyzer protocol."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format
from pulumi.runtime.proto import analyzer_pb2

from tests.conftest import ROOT
from tools.mock_program import ProgramRun, Registration, Secret
from tools.policy_check import (
    PolicyCheckError,
    analyze_requests,
    analyze_stack_request,
    check_stack,
    engine_resources,
    main,
    policy_config,
)
from tools.stack_config import load_project

UNSAFE = ROOT / "tests" / "fixtures" / "unsafe_project"
EVERY_MANDATORY_POLICY = {
    "acr-admin-user-disabled",
    "acr-anonymous-pull-disabled",
    "acr-delete-lock-in-production",
    "acr-no-delete-on-every-registry",
    "docker-object-store-loopback-only",
    "docker-published-port-requires-tls",
    "docker-registry-not-published",
    "ecs-no-plaintext-secrets-in-environment",
    "ecs-no-privileged-containers",
    "ecs-read-only-root-filesystem",
    "elasticache-auth-token",
    "elasticache-automatic-failover-in-production",
    "elasticache-encryption-at-rest",
    "elasticache-encryption-in-transit",
    "ecr-no-delete-on-every-repository",
    "registry-edge-delete-everywhere-admin-only",
    "ecr-policy-no-public-principal",
    "ecr-repository-immutable-tags",
    "ecr-repository-scanned",
    "gar-no-delete-on-every-repository",
    "gar-no-public-members",
    "iam-no-wildcard-action-on-wildcard-resource",
    "kms-key-explicit-policy",
    "lb-access-logs-in-production",
    "lb-deletion-protection-in-production",
    "lb-drop-invalid-header-fields",
    "lb-http-listener-redirects-to-https",
    "lb-listener-https-only",
    "lb-listener-tls12-policy",
    "registry-production-high-availability",
    "registry-shared-http-secret",
    "s3-bucket-no-public-policy",
    "s3-bucket-require-encryption",
    "s3-bucket-require-public-access-block",
    "s3-bucket-require-versioning",
    "secretsmanager-secret-customer-key-in-production",
    "security-group-no-public-ingress",
    "vpc-flow-logs-in-production",
}


def cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with redirect_stdout(out):
        status = main(list(argv))
    return status, out.getvalue()


@pytest.mark.parametrize("stack", load_project(ROOT).stacks())
def test_every_shipped_stack_passes_every_mandatory_policy(stack: str) -> None:
    mandatory = [v for v in check_stack(ROOT, stack) if v.level == "mandatory"]
    assert mandatory == []


@pytest.fixture(scope="module")
def unsafe() -> tuple[int, dict[str, Any]]:
    status, out = cli("--stack", "prod", "--project", str(UNSAFE), "--json")
    return status, json.loads(out)


def test_the_unsafe_program_breaks_every_mandatory_policy_and_fails_the_check(
    unsafe: tuple[int, dict[str, Any]],
) -> None:
    status, report = unsafe
    assert status == 1
    assert {v["policy"] for v in report["violations"] if v["level"] == "mandatory"} == EVERY_MANDATORY_POLICY
    assert report["mandatory"] == sum(v["level"] == "mandatory" for v in report["violations"])


def test_violations_name_the_resource_and_never_print_a_secret(unsafe: tuple[int, dict[str, Any]]) -> None:
    _, report = unsafe
    [versioning] = [v for v in report["violations"] if v["policy"] == "s3-bucket-require-versioning"]
    assert versioning["resource"] == "aws:s3/bucket:Bucket open-bucket"
    assert versioning["urn"].endswith("::open-bucket") and "BucketVersioning" in versioning["message"]
    # resource policies report against the analyzed resource, as the CLI shows them
    [tls] = [v for v in report["violations"] if v["policy"] == "lb-listener-tls12-policy"]
    assert tls["resource"] == "aws:lb/listener:Listener https"
    assert not [v for v in report["violations"] if "secret-0" in v["message"] or "secret-1" in v["message"]]


def test_text_output_lists_policy_level_resource_and_message(tmp_path: Path) -> None:
    status, out = cli("--stack", "local")
    assert (status, out) == (0, "local: no policy violations\n")
    config = tmp_path / "policy-config.json"
    config.write_text(json.dumps({"docker-registry-not-published": {"registryImagePattern": "^nginx:"}}))
    status, out = cli("--stack", "local", "--policy-config", str(config))
    assert status == 1
    assert "[mandatory] docker-registry-not-published  docker:index/container:Container registry-edge\n" in out
    assert "registry-edge (Container) publishes 0.0.0.0:5443->443" in out


def test_a_policy_config_entry_sets_the_level_as_the_cli_would(tmp_path: Path) -> None:
    config = tmp_path / "policy-config.json"
    entry = {"enforcementLevel": "advisory", "registryImagePattern": "^nginx:"}
    config.write_text(json.dumps({"docker-registry-not-published": entry}))
    status, out = cli("--stack", "local", "--policy-config", str(config))
    assert status == 0 and "[advisory] docker-registry-not-published" in out


def test_a_pack_that_cannot_start_or_a_failing_program_is_an_error_not_a_pass(tmp_path: Path, capsys: Any) -> None:
    (tmp_path / "PulumiPolicy.yaml").write_text("runtime: python\n")
    (tmp_path / "__main__.py").write_text("raise SystemExit('broken pack')\n")
    assert main(["--stack", "local", "--pack", str(tmp_path)]) == 2
    assert "did not start" in capsys.readouterr().err
    assert main(["--stack", "nosuch"]) == 2
    assert "no stack file" in capsys.readouterr().err


def info(*policies: tuple[str, int, dict[str, Any]]) -> analyzer_pb2.AnalyzerInfo:
    result = analyzer_pb2.AnalyzerInfo(name="p", supportsConfig=True)
    for name, level, schema in policies:
        policy = result.policies.add(name=name, enforcementLevel=level)
        policy.configSchema.properties.update(schema)
    return result


def as_dict(config: dict[str, analyzer_pb2.PolicyConfig]) -> dict[str, Any]:
    return {k: json_format.MessageToDict(v, always_print_fields_with_no_presence=True) for k, v in config.items()}


def test_policy_config_fills_defaults_then_applies_all_then_each_entry() -> None:
    pack = info(
        ("a", analyzer_pb2.MANDATORY, {"days": {"type": "number", "default": 7}}), ("b", analyzer_pb2.ADVISORY, {})
    )
    assert as_dict(policy_config(pack, {})) == {
        "a": {"enforcementLevel": "MANDATORY", "properties": {"days": 7.0}},
        "b": {"enforcementLevel": "ADVISORY"},
    }
    configured = as_dict(policy_config(pack, {"all": "disabled", "a": {"days": 30}, "b": "mandatory"}))
    assert configured == {
        "a": {"enforcementLevel": "DISABLED", "properties": {"days": 30.0}},
        "b": {"enforcementLevel": "MANDATORY"},
    }
    with pytest.raises(PolicyCheckError, match="'c'"):
        policy_config(pack, {"c": "advisory"})
    with pytest.raises(PolicyCheckError, match="'strict'"):
        policy_config(pack, {"a": "strict"})


def registration(type_: str, name: str, **kwargs: Any) -> Registration:
    kwargs.setdefault("parent", "urn:pulumi:s::p::pulumi:pulumi:Stack::p-s")
    return Registration(
        type_, name, f"urn:pulumi:s::p::{type_}::{name}", kwargs.pop("inputs", {}), kwargs.pop("outputs", {}), **kwargs
    )


def test_requests_carry_what_the_engine_sends() -> None:
    explicit = registration("pulumi:providers:aws", "object-store", inputs={"region": "us-east-1"})
    bucket = registration(
        "aws:s3/bucket:Bucket",
        "bucket",
        inputs={"bucketPrefix": "r-", "__defaults": []},
        outputs={"bucket": "r-1"},
        provider=f"{explicit.urn}::object-store-id",
        protect=True,
        dependencies=[explicit.urn],
        property_dependencies={"bucketPrefix": [explicit.urn]},
    )
    key = registration("tls:index/privateKey:PrivateKey", "key", outputs={"privateKeyPem": Secret("PEM")})
    component = registration("registry:x:Component", "c", custom=False)
    run = ProgramRun(project="p", stack="s", resources=[explicit, bucket, key, component], outputs={"url": "https://r"})
    resources = engine_resources(run, {"tls:proxy": "none", "aws:region": "eu-west-1"})

    requests = {r.name: r for r in analyze_requests(resources)}
    assert list(requests) == ["p-s", "object-store", "bucket", "default", "key", "c"]
    assert requests["bucket"].provider.urn == explicit.urn and requests["bucket"].options.protect
    assert json_format.MessageToDict(requests["bucket"].properties) == {"bucketPrefix": "r-"}
    # no explicit provider: the engine's default provider for the package, configured from `tls:` keys
    assert requests["key"].provider.type == "pulumi:providers:tls"
    assert json_format.MessageToDict(requests["key"].provider.properties) == {"proxy": "none"}
    assert not requests["c"].HasField("provider")

    stack = {r.name: r for r in analyze_stack_request(resources).resources}
    assert json_format.MessageToDict(stack["p-s"].properties) == {"url": "https://r"}
    secret = json_format.MessageToDict(stack["key"].properties)["privateKeyPem"]
    assert secret == {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "value": "PEM"}
    assert stack["bucket"].parent == bucket.parent
    assert list(stack["bucket"].dependencies) == [explicit.urn]
    assert {k: list(v.urns) for k, v in stack["bucket"].propertyDependencies.items()} == {
        "bucketPrefix": [explicit.urn]
    }
