"""The offline stack-file loader hands the program what the Pulumi CLI would."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tools.stack_config import StackConfigError, load_project, load_stack_config


def write_project(tmp_path: Path, stack_yaml: str, pulumi_yaml: str = "name: demo\nruntime: python\n") -> Path:
    (tmp_path / "Pulumi.yaml").write_text(pulumi_yaml)
    (tmp_path / "Pulumi.dev.yaml").write_text(stack_yaml)
    return tmp_path


def test_this_project_honours_stack_config_dir() -> None:
    project = load_project(ROOT)
    assert project.name == "registry"
    assert project.stack_config_dir == ROOT / "stacks"
    assert project.main == ROOT / "__main__.py"
    assert "local" in project.stacks()


def test_values_arrive_as_the_cli_passes_them(tmp_path: Path) -> None:
    project = load_project(
        write_project(
            tmp_path,
            'config:\n  demo:count: 3\n  flag: true\n  demo:obj: {a: 1}\n  aws:region: eu-west-1\n  demo:s: "2"\n',
        )
    )
    config, secret = load_stack_config(project, "dev")
    assert config == {
        "demo:count": "3",
        "demo:flag": "true",  # a key without namespace belongs to the project
        "demo:obj": json.dumps({"a": 1}),
        "aws:region": "eu-west-1",
        "demo:s": "2",
    }
    assert secret == []


def test_encrypted_values_are_refused(tmp_path: Path) -> None:
    project = load_project(write_project(tmp_path, "config:\n  demo:pw:\n    secure: AAABAxyz\n"))
    with pytest.raises(StackConfigError, match="demo:pw holds an encrypted"):
        load_stack_config(project, "dev")


def test_missing_stack_lists_known_ones(tmp_path: Path) -> None:
    project = load_project(write_project(tmp_path, "config: {}\n"))
    with pytest.raises(StackConfigError, match=r"stacks here: dev"):
        load_stack_config(project, "prod")


def test_missing_project_file(tmp_path: Path) -> None:
    with pytest.raises(StackConfigError, match=r"has no Pulumi\.yaml"):
        load_project(tmp_path)


def test_main_key_points_at_program_dir(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    project = load_project(write_project(tmp_path, "config: {}\n", "name: demo\nruntime: python\nmain: src\n"))
    assert project.main == tmp_path / "src" / "__main__.py"
