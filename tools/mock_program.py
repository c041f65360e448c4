"""Run a Pulumi Python program under mocks and record everything it declares.

The recording monitor keeps each registration's type, name, parent, inputs (secrets kept
wrapped in `Secret`), options and outputs, and re-applies the `additionalSecretOutputs` a
provider declares (the stock mock monitor drops them), so "a secret stays secret" can be
asserted. `Mocks` answers with realistic outputs (ARNs, DNS names, PEMs) per resource type.
"""

from __future__ import annotations

import hashlib
import runpy
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs, Mocks, set_mocks
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from tools.stack_config import Project, load_project, load_stack_config

ACCOUNT = "123456789012"
REGION = "us-east-1"


@dataclass(frozen=True)
class Secret:
    """A value the program marked secret (an input, output or stack output)."""

    value: Any


@dataclass
class Registration:
    type: str
    name: str
    urn: str
    parent: str
    custom: bool
    inputs: dict[str, Any]  # engine (camelCase) names; secrets as Secret
    outputs: dict[str, Any]
    provider: str
    protect: bool
    retain_on_delete: bool
    dependencies: list[str]
    additional_secret_outputs: list[str]
    ignore_changes: list[str]
    delete_before_replace: bool


@dataclass
class ProgramRun:
    project: str
    stack: str
    resources: list[Registration] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)  # stack outputs; secrets as Secret

    def of_type(self, type_: str) -> list[Registration]:
        return [r for r in self.resources if r.type == type_]

    def named(self, name: str) -> Registration:
        matches = [r for r in self.resources if r.name == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources named {name!r}")
        return matches[0]

    def children_of(self, parent: Registration) -> list[Registration]:
        return [r for r in self.resources if r.parent == parent.urn]


def unwrap(value: Any) -> Any:
    """The plain value, with every Secret opened (for asserting content)."""
    if isinstance(value, Secret):
        return unwrap(value.value)
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


def plaintext_leaks(value: Any, secrets: set[str], path: str = "") -> list[str]:
    """Paths under `value` where any of `secrets` appears outside a Secret."""
    if isinstance(value, Secret):
        return []
    if isinstance(value, dict):
        return [leak for k, v in value.items() for leak in plaintext_leaks(v, secrets, f"{path}.{k}")]
    if isinstance(value, list):
        return [leak for i, v in enumerate(value) for leak in plaintext_leaks(v, secrets, f"{path}[{i}]")]
    if isinstance(value, str) and any(s and s in value for s in secrets):
        return [path or "."]
    return []


def _keep_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return Secret(_keep_secrets(value.get("value")))
        return {k: _keep_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_keep_secrets(v) for v in value]
    return value


def _wrap_secret(value: Any) -> Any:
    return {rpc._special_sig_key: rpc._special_secret_sig, "value": value}


class RecordingMonitor(MockMonitor):
    def __init__(self, mocks: Mocks):
        super().__init__(mocks)
        self.registrations: list[Registration] = []

    def RegisterResource(self, request: Any) -> Any:
        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type == "pulumi:pulumi:Stack":
            return resource_pb2.RegisterResourceResponse(urn=urn)
        raw = rpc.deserialize_properties(request.object, keep_internal=True)
        inputs = _keep_secrets(raw)
        args = MockResourceArgs(
            typ=request.type,
            name=request.name,
            inputs=unwrap(inputs),
            provider=request.provider,
            resource_id=request.importId,
            custom=request.custom or False,
        )
        id_, state = self.mocks.new_resource(args)
        secret_outputs = set(request.additionalSecretOutputs)
        # an output that echoes a secret input stays secret, as the engine keeps it
        secret_outputs |= {k for k, v in inputs.items() if isinstance(v, Secret)}
        wire = {k: _wrap_secret(v) if k in secret_outputs else v for k, v in state.items()}
        obj_proto = _sync_await(rpc.serialize_properties(wire, {}))
        self.resources[urn] = MockMonitor.ResourceRegistration(urn, id_ or "", state)
        self.registrations.append(
            Registration(
                type=request.type,
                name=request.name,
                urn=urn,
                parent=request.parent,
                custom=bool(request.custom),
                inputs=inputs,
                outputs={k: Secret(v) if k in secret_outputs else v for k, v in state.items()},
                provider=request.provider,
                protect=bool(request.protect),
                retain_on_delete=bool(request.retainOnDelete),
                dependencies=list(request.dependencies),
                additional_secret_outputs=list(request.additionalSecretOutputs),
                ignore_changes=list(request.ignoreChanges),
                delete_before_replace=bool(request.deleteBeforeReplace),
            )
        )
        return resource_pb2.RegisterResourceResponse(urn=urn, id=id_ or "", object=obj_proto)


def _fake(name: str, length: int = 24, alphabet: str = "abcdefghijklmnopqrstuvwxyz0123456789") -> str:
    digest = hashlib.sha256(name.encode()).digest()
    while len(digest) < length:
        digest += hashlib.sha256(digest).digest()
    return "".join(alphabet[b % len(alphabet)] for b in digest[:length])


def _pem(kind: str, name: str) -> str:
    return f"-----BEGIN {kind}-----\nMOCK{_fake(name, 48)}\n-----END {kind}-----\n"


# computed outputs per resource type; generic AWS ARNs are added for every aws: type
ComputedOutputs = Callable[[MockResourceArgs], dict[str, Any]]
COMPUTED: dict[str, ComputedOutputs] = {
    "random:index/randomPassword:RandomPassword": lambda a: {
        "result": _fake(a.name, int(a.inputs.get("length", 16))),
        "bcryptHash": "$2a$10$" + _fake(a.name + "bcrypt", 53),
    },
    "random:index/randomString:RandomString": lambda a: {"result": _fake(a.name, int(a.inputs.get("length", 16)))},
    "tls:index/privateKey:PrivateKey": lambda a: {
        "privateKeyPem": _pem("PRIVATE KEY", a.name),
        "privateKeyPemPkcs8": _pem("PRIVATE KEY", a.name),
        "publicKeyPem": _pem("PUBLIC KEY", a.name),
    },
    "tls:index/selfSignedCert:SelfSignedCert": lambda a: {"certPem": _pem("CERTIFICATE", a.name)},
    "tls:index/locallySignedCert:LocallySignedCert": lambda a: {"certPem": _pem("CERTIFICATE", a.name)},
    "tls:index/certRequest:CertRequest": lambda a: {"certRequestPem": _pem("CERTIFICATE REQUEST", a.name)},
    "docker:index/remoteImage:RemoteImage": lambda a: {"imageId": "sha256:" + _fake(a.name, 64, "0123456789abcdef")},
    "aws:s3/bucket:Bucket": lambda a: {
        "bucket": (a.inputs.get("bucket") or a.inputs.get("bucketPrefix", "") + _fake(a.name, 12)),
        "region": REGION,
        "bucketDomainName": f"{a.inputs.get('bucketPrefix', '')}{_fake(a.name, 12)}.s3.amazonaws.com",
    },
}


class RealisticMocks(Mocks):
    """Outputs = inputs plus computed values; `calls` answers invokes by token."""

    def __init__(
        self,
        computed: Mapping[str, ComputedOutputs] | None = None,
        calls: Mapping[str, Callable[[MockCallArgs], dict[str, Any]]] | None = None,
    ):
        self.computed = {**COMPUTED, **(computed or {})}
        self.calls = dict(calls or {})

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        state = dict(args.inputs)
        if args.typ.startswith("aws:"):
            service = args.typ.split(":")[1].split("/")[0]
            state.setdefault("arn", f"arn:aws:{service}:{REGION}:{ACCOUNT}:{args.name}")
        compute = self.computed.get(args.typ)
        if compute:
            state.update(compute(args))
        resource_id = state.get("bucket") if args.typ == "aws:s3/bucket:Bucket" else f"{args.name}-id"
        return str(resource_id), state

    def call(self, args: MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        answer = self.calls.get(args.token)
        if answer is None:
            raise NotImplementedError(f"no mock answer for invoke {args.token}; add one to the mocks")
        return answer(args), None


def run_program(
    project_dir: str | Path,
    stack: str,
    *,
    config: Mapping[str, str] | None = None,
    overrides: Mapping[str, str] | None = None,
    secret_keys: Sequence[str] = (),
    mocks: RealisticMocks | None = None,
) -> ProgramRun:
    """Run the project's program for `stack` (its stack file, or `config` instead) under mocks.

    `overrides` change single keys on top, as `pulumi config set` would; `secret_keys` marks
    keys as `pulumi config set --secret` would.
    """
    project: Project = load_project(project_dir)
    if config is None:
        loaded, loaded_secret = load_stack_config(project, stack)
    else:
        loaded, loaded_secret = dict(config), []
    values = {**loaded, **(overrides or {})}
    monitor = RecordingMonitor(mocks or RealisticMocks())
    pulumi.runtime.settings.ROOT.set(None)  # a fresh Stack per run: no outputs from an earlier run
    set_mocks(monitor.mocks, project=project.name, stack=stack, preview=False, monitor=monitor)
    pulumi.runtime.set_all_config(values, [*loaded_secret, *secret_keys])
    root = pulumi.runtime.get_root_resource()
    added_path = str(project.directory) not in sys.path
    if added_path:
        sys.path.insert(0, str(project.directory))

    def program() -> None:
        runpy.run_path(str(project.main), run_name="__main__")

    try:
        _sync_await(run_pulumi_func(program))
    finally:
        if added_path:
            sys.path.remove(str(project.directory))
    run = ProgramRun(project=project.name, stack=stack, resources=monitor.registrations)
    for name, value in getattr(root, "outputs", {}).items():
        run.outputs[name] = _resolve(value)
    return run


def _resolve(value: Any) -> Any:
    output = pulumi.Output.from_input(value)
    resolved = _sync_await(output.future())
    is_secret = _sync_await(output.is_secret())
    resolved = _keep_secrets(resolved)
    return Secret(resolved) if is_secret else resolved
