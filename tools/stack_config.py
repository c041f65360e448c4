"""Read a Pulumi project's stack config files the way the CLI does, offline.

Nothing in the Pulumi SDK reads `Pulumi.<stack>.yaml`; tests, benchmarks and the offline
policy check need the same flat `project:key -> string` map the CLI hands a program.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


class StackConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Project:
    directory: Path
    name: str
    main: Path
    stack_config_dir: Path

    def stack_file(self, stack: str) -> Path:
        return self.stack_config_dir / f"Pulumi.{stack}.yaml"

    def stacks(self) -> list[str]:
        return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in self.stack_config_dir.glob("Pulumi.*.yaml"))


def load_project(directory: str | Path) -> Project:
    directory = Path(directory).resolve()
    path = directory / "Pulumi.yaml"
    if not path.is_file():
        raise StackConfigError(f"{directory} has no Pulumi.yaml; pass the project directory")
    doc = yaml.safe_load(path.read_text()) or {}
    main = directory / doc.get("main", ".")
    if main.is_dir():
        main = main / "__main__.py"
    return Project(
        directory=directory,
        name=str(doc["name"]),
        main=main,
        stack_config_dir=directory / doc.get("stackConfigDir", "."),
    )


def load_stack_config(project: Project, stack: str) -> tuple[dict[str, str], list[str]]:
    """(config map as the CLI passes it, keys marked secret). `secure:` values are refused:
    they cannot be decrypted offline; a stack meant for offline checks must not hold them."""
    path = project.stack_file(stack)
    if not path.is_file():
        known = ", ".join(project.stacks()) or "none"
        raise StackConfigError(f"no stack file {path} (stacks here: {known})")
    doc = yaml.safe_load(path.read_text()) or {}
    config: dict[str, str] = {}
    secret: list[str] = []
    for key, value in (doc.get("config") or {}).items():
        full = key if ":" in key else f"{project.name}:{key}"
        if _holds_secure(value):
            raise StackConfigError(f"{path}: {full} holds an encrypted (secure:) value, which cannot be read offline")
        config[full] = _as_cli_string(value)
    return config, secret


def _holds_secure(value: Any) -> bool:
    if isinstance(value, dict):
        return ("secure" in value and len(value) == 1) or any(_holds_secure(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_secure(v) for v in value)
    return False


def _as_cli_string(value: Any) -> str:
    """The CLI passes strings as-is, other scalars in YAML/JSON spelling, objects as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value)
