"""Offline policy check: a Pulumi Python program's resources through a CrossGuard pack, no CLI needed.

    python -m tools.policy_check --stack prod [--project DIR] [--pack DIR] [--policy-config FILE] [--json]

The program runs for the stack under the recording mocks (tools.mock_program). The pack runs
as its real entry point, the way the CLI's `pulumi-analyzer-policy-python` starts it
(`python -u -m pulumi.policy <engine> .` in the pack directory, with PULUMI_CONFIG,
PULUMI_PROJECT, PULUMI_STACK and PULUMI_DRY_RUN set), announces its gRPC port on stdout and is
then asked what the engine asks during a preview: GetAnalyzerInfo; Configure with every
policy's enforcement level and config (schema defaults, then the pack's initial config, then
the file, the way the CLI reconciles them); ConfigureStack; Analyze for each resource with its
inputs, options and provider; AnalyzeStack with every resource's outputs, parent and
dependencies. Exit status: 0 clean or advisory only, 1 if a mandatory policy is violated, 2 if
the check could not run.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime import rpc
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from tools.mock_program import ProgramRun, Registration, Secret, run_program
from tools.stack_config import StackConfigError, load_project, load_stack_config

ROOT = Path(__file__).resolve().parents[1]
PACK_DIR = ROOT / "policies"
LEVELS = {
    "advisory": analyzer_pb2.ADVISORY,
    "mandatory": analyzer_pb2.MANDATORY,
    "remediate": analyzer_pb2.REMEDIATE,
    "disabled": analyzer_pb2.DISABLED,
}
LEVEL_NAMES = {number: name for name, number in LEVELS.items()}
STARTUP_SECONDS = 60


class PolicyCheckError(RuntimeError):
    """The check could not run (bad config, a pack that does not start); distinct from violations."""


@dataclass(frozen=True)
class Violation:
    policy: str
    level: str
    urn: str  # "" for the stack as a whole
    message: str

    @property
    def resource(self) -> str:
        """`type name` from the URN, or `stack`."""
        if not self.urn:
            return "stack"
        *_, qualified_type, name = self.urn.split("::")
        return f"{qualified_type.split('$')[-1]} {name}"


# ---------------------------------------------------------------- the stack as the engine sees it


def engine_resources(run: ProgramRun, config: Mapping[str, str]) -> list[Registration]:
    """The stack resource, default providers and every registration, in the order the engine meets them.

    Each one's `provider` is its provider's URN. Custom resources without an explicit provider get
    the engine's default provider for their package, configured from the stack config's
    `<package>:` keys.
    """
    stack_urn = f"urn:pulumi:{run.stack}::{run.project}::pulumi:pulumi:Stack::{run.project}-{run.stack}"
    stack = Registration("pulumi:pulumi:Stack", f"{run.project}-{run.stack}", stack_urn, {}, run.outputs, custom=False)
    resources = [stack]
    defaults: dict[str, Registration] = {}
    for reg in run.resources:
        provider = reg.provider.rsplit("::", 1)[0] if reg.provider else ""
        package = reg.type.split(":")[0]
        if not provider and reg.custom and package != "pulumi":
            if package not in defaults:
                props = {k.split(":", 1)[1]: v for k, v in config.items() if k.startswith(f"{package}:")}
                urn = f"urn:pulumi:{run.stack}::{run.project}::pulumi:providers:{package}::default"
                defaults[package] = Registration(
                    f"pulumi:providers:{package}", "default", urn, props, props, parent=stack_urn
                )
                resources.append(defaults[package])
            provider = defaults[package].urn
        resources.append(dataclasses.replace(reg, provider=provider))
    return resources


def _wire(value: Any) -> Any:
    """Plain data as the engine marshals it: secrets kept as secret objects, internal `__` keys dropped."""
    if isinstance(value, Secret):
        return {rpc._special_sig_key: rpc._special_secret_sig, "value": _wire(value.value)}
    if isinstance(value, Mapping):
        return {k: _wire(v) for k, v in value.items() if not str(k).startswith("__")}
    if isinstance(value, (list, tuple)):
        return [_wire(v) for v in value]
    return value


def _struct(props: Mapping[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(_wire(props))
    return struct


def _options(r: Registration) -> analyzer_pb2.AnalyzerResourceOptions:
    return analyzer_pb2.AnalyzerResourceOptions(
        protect=r.protect,
        ignoreChanges=list(r.ignore_changes),
        deleteBeforeReplace=r.delete_before_replace,
        deleteBeforeReplaceDefined=r.delete_before_replace,
        additionalSecretOutputs=list(r.additional_secret_outputs),
        parent=r.parent,
    )


def _provider(r: Registration, by_urn: Mapping[str, Registration]) -> analyzer_pb2.AnalyzerProviderResource | None:
    p = by_urn.get(r.provider)
    if p is None:
        return None
    return analyzer_pb2.AnalyzerProviderResource(type=p.type, name=p.name, urn=p.urn, properties=_struct(p.inputs))


def analyze_requests(resources: Sequence[Registration]) -> Iterator[analyzer_pb2.AnalyzeRequest]:
    by_urn = {r.urn: r for r in resources}
    for r in resources:
        yield analyzer_pb2.AnalyzeRequest(
            urn=r.urn,
            type=r.type,
            name=r.name,
            properties=_struct(r.inputs),
            options=_options(r),
            provider=_provider(r, by_urn),
        )


def analyze_stack_request(resources: Sequence[Registration]) -> analyzer_pb2.AnalyzeStackRequest:
    by_urn = {r.urn: r for r in resources}
    return analyzer_pb2.AnalyzeStackRequest(
        resources=[
            analyzer_pb2.AnalyzerResource(
                urn=r.urn,
                type=r.type,
                name=r.name,
                properties=_struct(r.outputs),
                options=_options(r),
                provider=_provider(r, by_urn),
                parent=r.parent,
                dependencies=list(r.dependencies),
                propertyDependencies={
                    name: analyzer_pb2.AnalyzerPropertyDependencies(urns=list(urns))
                    for name, urns in r.property_dependencies.items()
                },
            )
            for r in resources
        ]
    )


# ---------------------------------------------------------------- policy config, as the CLI reconciles it


def policy_config(info: analyzer_pb2.AnalyzerInfo, given: Mapping[str, Any]) -> dict[str, analyzer_pb2.PolicyConfig]:
    """Schema defaults, then the pack's initial config, then `given` (the --policy-pack-config format).

    Every entry carries an explicit level: the analyzer reads a missing one as advisory.
    """
    levels = {p.name: p.enforcementLevel for p in info.policies}
    props: dict[str, dict[str, Any]] = {
        p.name: {
            k: v["default"] for k, v in json_format.MessageToDict(p.configSchema.properties).items() if "default" in v
        }
        for p in info.policies
    }
    layers = [
        {k: {"enforcementLevel": LEVEL_NAMES[v.enforcementLevel], **json_format.MessageToDict(v.properties)}}
        for k, v in info.initialConfig.items()
    ]
    for layer in [*layers, given]:
        for name, entry in layer.items():
            entry = {"enforcementLevel": entry} if isinstance(entry, str) else dict(entry)
            level = entry.pop("enforcementLevel", None)
            if level is not None and level not in LEVELS:
                raise PolicyCheckError(f"{name}: {level!r} is not an enforcement level ({', '.join(LEVELS)})")
            targets = list(levels) if name == "all" else [name]
            if name != "all" and name not in levels:
                raise PolicyCheckError(f"policy config names {name!r}, which the pack does not have")
            for target in targets:
                if level is not None:
                    levels[target] = LEVELS[level]
                if name != "all":
                    props[target].update(entry)
    result = {}
    for name, level in levels.items():
        config = analyzer_pb2.PolicyConfig(enforcementLevel=level)
        config.properties.update(props[name])
        result[name] = config
    return result


# ---------------------------------------------------------------- the pack process


@contextmanager
def policy_pack(pack_dir: Path, env: Mapping[str, str], python: str = sys.executable) -> Iterator[Any]:
    """The pack started as the CLI starts it; yields an Analyzer stub connected to it."""
    if not (pack_dir / "PulumiPolicy.yaml").is_file():
        raise PolicyCheckError(f"{pack_dir} has no PulumiPolicy.yaml; pass the policy pack directory")
    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(
            # the CLI passes its engine address first; the Python policy host parses it and never dials it
            [python, "-u", "-m", "pulumi.policy", "127.0.0.1:0", "."],
            cwd=pack_dir,
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=stderr,
        )
        try:
            assert process.stdout is not None
            port = process.stdout.readline().decode().strip()
            if not port.isdigit():
                process.kill()
                process.wait()
                stderr.seek(0)
                raise PolicyCheckError(f"the policy pack in {pack_dir} did not start:\n{stderr.read().decode()}")
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                grpc.channel_ready_future(channel).result(timeout=STARTUP_SECONDS)
                yield analyzer_pb2_grpc.AnalyzerStub(channel)
        finally:
            process.terminate()
            process.wait()


def pack_env(project: str, stack: str, config: Mapping[str, str]) -> dict[str, str]:
    """What the CLI's constructEnv gives a policy pack process."""
    return {
        "PULUMI_CONFIG": json.dumps(dict(config)),
        "PULUMI_PROJECT": project,
        "PULUMI_STACK": stack,
        "PULUMI_DRY_RUN": "true",
    }


def analyze(
    stub: Any,
    resources: Sequence[Registration],
    *,
    project: str,
    stack: str,
    policy_overrides: Mapping[str, Any] | None = None,
    tags: Mapping[str, str] | None = None,
) -> list[Violation]:
    info = stub.GetAnalyzerInfo(empty_pb2.Empty())
    if info.supportsConfig:
        stub.Configure(analyzer_pb2.ConfigureAnalyzerRequest(policyConfig=policy_config(info, policy_overrides or {})))
    try:
        stub.ConfigureStack(
            analyzer_pb2.AnalyzerStackConfigureRequest(
                stack=stack, project=project, dry_run=True, tags=dict(tags or {})
            )
        )
    except grpc.RpcError as error:  # packs built on older SDKs do not implement it; the CLI carries on too
        if error.code() != grpc.StatusCode.UNIMPLEMENTED:
            raise
    # a resource policy's diagnostic is about the analyzed resource, as the CLI shows it
    found = [(d, d.urn or r.urn) for r in analyze_requests(resources) for d in stub.Analyze(r).diagnostics]
    found += [(d, d.urn) for d in stub.AnalyzeStack(analyze_stack_request(resources)).diagnostics]
    return [Violation(d.policyName, LEVEL_NAMES[d.enforcementLevel], urn, _own_message(d)) for d, urn in found]


def _own_message(diagnostic: analyzer_pb2.AnalyzeDiagnostic) -> str:
    """The SDK prefixes every message with the policy description; keep what is specific."""
    return diagnostic.message.removeprefix(diagnostic.description).strip() or diagnostic.description


def check_stack(
    project_dir: Path,
    stack: str,
    *,
    pack_dir: Path = PACK_DIR,
    policy_overrides: Mapping[str, Any] | None = None,
    tags: Mapping[str, str] | None = None,
) -> list[Violation]:
    """Run the project's program for `stack` under mocks and return what the pack reports."""
    project = load_project(project_dir)
    config, _ = load_stack_config(project, stack)
    try:
        run = run_program(project.directory, stack)
    except Exception as error:  # the user's program: any failure means there is nothing to check
        raise PolicyCheckError(f"the program failed under mocks: {type(error).__name__}: {error}") from error
    resources = engine_resources(run, config)
    with policy_pack(pack_dir, pack_env(project.name, stack, config)) as stub:
        return analyze(stub, resources, project=project.name, stack=stack, policy_overrides=policy_overrides, tags=tags)


# ---------------------------------------------------------------- command line


def _report(violations: Sequence[Violation], stack: str) -> str:
    if not violations:
        return f"{stack}: no policy violations"
    lines = [f"{stack}: {len(violations)} policy violation(s)"]
    for v in sorted(violations, key=lambda v: (v.level != "mandatory", v.policy, v.urn)):
        lines.append(f"  [{v.level}] {v.policy}  {v.resource}\n      {v.message}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.policy_check", description=__doc__.split("\n")[0])
    parser.add_argument("--stack", required=True, help="stack name: reads <stackConfigDir>/Pulumi.<stack>.yaml")
    parser.add_argument("--project", type=Path, default=ROOT, help="Pulumi project directory (default: this one)")
    parser.add_argument("--pack", type=Path, default=PACK_DIR, help="policy pack directory (default: policies/)")
    parser.add_argument("--policy-config", type=Path, help="JSON policy config, as for --policy-pack-config")
    parser.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE", help="a stack tag")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)
    try:
        overrides = json.loads(args.policy_config.read_text()) if args.policy_config else None
        violations = check_stack(
            args.project,
            args.stack,
            pack_dir=args.pack.resolve(),
            policy_overrides=overrides,
            tags=dict(tag.split("=", 1) for tag in args.tag),
        )
    except (PolicyCheckError, StackConfigError, OSError, ValueError, grpc.RpcError) as error:
        print(f"policy check of stack {args.stack!r} could not run: {error}", file=sys.stderr)
        return 2
    mandatory = [v for v in violations if v.level == "mandatory"]
    if args.json:
        payload = {
            "stack": args.stack,
            "mandatory": len(mandatory),
            "violations": [{**asdict(v), "resource": v.resource} for v in violations],
        }
        print(json.dumps(payload, indent=2))
    else:
        print(_report(violations, args.stack))
    return 1 if mandatory else 0


if __name__ == "__main__":
    sys.exit(main())
