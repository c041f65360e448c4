"""Pulumi's flat `registry:<key>` strings to one validated, frozen target settings value.

`load_settings` reports every problem at once, naming the key as the user wrote it and the
command that fixes it; nothing here touches a resource, so a bad config fails before anything
is declared.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from components.config.acr import AcrSettings
from components.config.aws import AwsSettings
from components.config.base import NAMESPACE, ConfigError, RuleViolation
from components.config.ecr import EcrSettings
from components.config.gar import GarSettings
from components.config.local import LocalSettings
from components.config.notifications import SECRET_HEADER

AnySettings = LocalSettings | AwsSettings | EcrSettings | GarSettings | AcrSettings
Settings = Annotated[AnySettings, Field(discriminator="target")]
_SETTINGS: TypeAdapter[AnySettings] = TypeAdapter(Settings)
MODELS: dict[str, type[BaseModel]] = {
    "local": LocalSettings,
    "aws": AwsSettings,
    "ecr": EcrSettings,
    "gar": GarSettings,
    "acr": AcrSettings,
}
TARGETS = tuple(MODELS)
# why a key of another target means nothing here, where "only applies to ..." is not enough
REFUSAL_HINTS = {
    ("ecr", "users"): "ECR access is IAM: list IAM principals in registry:access rules "
    "(repositories, pull, push, delete)",
    ("ecr", "replicas"): "ECR scales by itself",
    ("ecr", "domain"): "ECR's address is <account>.dkr.ecr.<region>.amazonaws.com",
    ("ecr", "tls"): "ECR serves TLS with Amazon's certificate",
    ("gar", "users"): "Artifact Registry access is IAM: list IAM members in registry:access rules "
    "(repositories, pull, push, delete)",
    ("gar", "replicas"): "Artifact Registry scales by itself",
    ("gar", "domain"): "Artifact Registry's address is <location>-docker.pkg.dev/<project>",
    ("acr", "users"): "ACR access is Entra ID and tokens: list servicePrincipal:<object id> or token:<name> "
    "in registry:access rules (repositories, pull, push, delete)",
    ("acr", "replicas"): "ACR scales by itself",
    ("acr", "domain"): "ACR's address is <registryName>.azurecr.io",
    ("acr", "tls"): "ACR serves TLS with Microsoft's certificate",
}
# namespaces of the providers and tools a stack file may hold besides ours
OTHER_NAMESPACES = frozenset({"aws", "gcp", "docker", "tls", "random", "pulumi", "kubernetes", "azure", "azure-native"})
# a cloud provider's keys configure only the targets that use that provider; elsewhere they would be
# silently ignored (`gcp:project` on ecr), so they are refused naming the targets that read them
PROVIDER_TARGETS = {"aws": ("aws", "ecr"), "gcp": ("gar",), "azure-native": ("acr",), "azure": ("acr",)}


def load_settings(raw: Mapping[str, str], secret_keys: frozenset[str] = frozenset()) -> AnySettings:
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
    problems += _other_providers_keys(raw, str(data["target"]))
    problems += _provider_location_differs(raw, data)
    if isinstance(data.get("tls"), dict) and data["tls"].get("privateKey") and f"{prefix}tls" not in secret_keys:
        problems.append(
            f"{prefix}tls.privateKey: a private key must be stored encrypted; set it with "
            "`pulumi config set --secret --path registry:tls.privateKey < key.pem`"
        )
    problems += _plaintext_tokens(data, secret_keys)
    problems += _plaintext_headers(data, secret_keys)
    if problems:
        raise ConfigError(problems)
    try:
        return _SETTINGS.validate_python(data)
    except ValidationError as err:
        raise ConfigError([_describe(e, data) for e in err.errors()]) from None


def _other_providers_keys(raw: Mapping[str, str], target: str) -> list[str]:
    """`gcp:project` on ecr, `aws:region` on gar: keys of a provider the target does not use."""
    found = []
    for key in raw:
        namespace = key.partition(":")[0]
        users = PROVIDER_TARGETS.get(namespace)
        if users is not None and target not in users and target in TARGETS:
            noun, verb = ("target", "uses") if len(users) == 1 else ("targets", "use")
            found.append(
                f"{key}: configures the {namespace} provider, which only {noun} {', '.join(users)} {verb}, not "
                f"{target}; remove it (`pulumi config rm {key}`)"
            )
    return found


def _provider_location_differs(raw: Mapping[str, str], data: Mapping[str, Any]) -> list[str]:
    """acr passes registry:location to every resource; a different azure-native:location would
    place nothing, and a reader could not tell which one holds."""
    location = raw.get("azure-native:location")
    if data.get("target") != "acr" or location is None or location == data.get("location"):
        return []
    return [
        f"azure-native:location: ({location}) differs from {NAMESPACE}:location ({data.get('location')}), which places "
        f"the registry; remove azure-native:location (`pulumi config rm azure-native:location`)"
    ]


def _plaintext_tokens(data: Mapping[str, Any], secret_keys: frozenset[str]) -> list[str]:
    """A mirror's access token must be a `--secret` config value (the whole key is then secret)."""
    mirrors = data.get("mirrors")
    if not isinstance(mirrors, list) or f"{NAMESPACE}:mirrors" in secret_keys:
        return []
    return [
        f"{NAMESPACE}:mirrors[{i}].accessToken: a token must be stored encrypted; set it with "
        f"`pulumi config set --secret --path '{NAMESPACE}:mirrors[{i}].accessToken' <token>`"
        for i, mirror in enumerate(mirrors)
        if isinstance(mirror, dict) and mirror.get("accessToken")
    ]


def _plaintext_headers(data: Mapping[str, Any], secret_keys: frozenset[str]) -> list[str]:
    """A webhook header that carries a credential (by its name) must be a `--secret` config value."""
    endpoints = data.get("notifications")
    if not isinstance(endpoints, list) or f"{NAMESPACE}:notifications" in secret_keys:
        return []
    return [
        f"{NAMESPACE}:notifications[{i}].headers.{name}: a credential must be stored encrypted; set it with "
        f"`pulumi config set --secret --path '{NAMESPACE}:notifications[{i}].headers.{name}' <value>`"
        for i, endpoint in enumerate(endpoints)
        if isinstance(endpoint, dict) and isinstance(endpoint.get("headers"), dict)
        for name in endpoint["headers"]
        if SECRET_HEADER.search(str(name))
    ]


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
        return f"{NAMESPACE}:target: {data.get('target')!r} is not a target; use one of {', '.join(TARGETS)}"
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
    target = str(data.get("target", "local"))
    honoured_by = [t for t, m in MODELS.items() if t != target and loc[0] in [f.alias for f in m.model_fields.values()]]
    if len(loc) == 1 and honoured_by:
        noun = "target" if len(honoured_by) == 1 else "targets"
        hint = REFUSAL_HINTS.get((target, str(loc[0])))
        why = f" ({hint})" if hint else ""
        return (
            f"{key}: only applies to {noun} {', '.join(honoured_by)}, not {target}{why}; "
            f"remove it (`pulumi config rm {key}`)"
        )
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
    model: type[BaseModel] = MODELS.get(str(data.get("target", "local")), LocalSettings)
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


def settings_from_pulumi() -> AnySettings:
    """Validate the running stack's config (what the CLI, or a test's `set_all_config`, supplied)."""
    from pulumi.runtime import config as runtime_config

    raw = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    secret = {k for k in raw if runtime_config.is_config_secret(k)}
    secret |= set(runtime_config.get_config_secret_keys_env())
    return load_settings(raw, frozenset(secret))
