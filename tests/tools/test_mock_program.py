"""The recording harness keeps what the stock mocks lose: parents, options and secretness."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.mock_program import DuplicateUrn, Secret, plaintext_leaks, run_program, unwrap

PROGRAM = """
import pulumi, pulumi_random as random
class Box(pulumi.ComponentResource):
    def __init__(self, name):
        super().__init__("demo:box:Box", name, None, None)
        self.pw = random.RandomPassword(f"{name}-pw", length=20, opts=pulumi.ResourceOptions(parent=self, protect=True))
        self.register_outputs({})
box = Box("box")
word = random.RandomString("word", length=8, keepers={"k": box.pw.result})
pulumi.export("pw", box.pw.result)
pulumi.export("plain", "hello")
pulumi.export("leaky", box.pw.result.apply(lambda v: v))
"""


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    (tmp_path / "Pulumi.yaml").write_text("name: demo\nruntime: python\n")
    (tmp_path / "Pulumi.dev.yaml").write_text("config: {}\n")
    (tmp_path / "__main__.py").write_text(PROGRAM)
    return tmp_path


def test_records_parent_options_and_reapplies_secret_outputs(demo: Path) -> None:
    run = run_program(demo, "dev")
    box, pw, word = run.named("box"), run.named("box-pw"), run.named("word")
    assert box.type == "demo:box:Box" and not box.custom
    assert pw.parent == box.urn and pw.protect and pw.custom
    assert set(pw.additional_secret_outputs) >= {"result"}
    assert isinstance(pw.outputs["result"], Secret) and len(unwrap(pw.outputs["result"])) == 20
    assert isinstance(word.inputs["keepers"], Secret), "an input built from a secret stays secret"
    assert word.property_dependencies["keepers"] == [pw.urn]
    assert isinstance(run.outputs["pw"], Secret) and isinstance(run.outputs["leaky"], Secret)
    assert run.outputs["plain"] == "hello"
    assert run.children_of(box) == [pw]


def test_plaintext_leaks_finds_secrets_outside_secret_wrappers() -> None:
    value = {"a": Secret("s3cret"), "b": ["ok", "x-s3cret-y"], "c": {"d": "s3cret"}}
    assert plaintext_leaks(value, {"s3cret"}) == [".b[1]", ".c.d"]
    assert plaintext_leaks(value, {"absent"}) == []


def test_missing_invoke_answer_is_explicit(demo: Path) -> None:
    (demo / "__main__.py").write_text(
        "import pulumi_random, pulumi\nimport pulumi.runtime\npulumi.runtime.invoke('demo:index:nothing', {})\n"
    )
    with pytest.raises(Exception, match="no mock answer for invoke demo:index:nothing"):
        run_program(demo, "dev")


def test_a_second_registration_of_one_urn_fails_the_program_as_the_engine_does(demo: Path) -> None:
    (demo / "__main__.py").write_text(
        "import pulumi_random as random\nrandom.RandomString('word', length=8)\nrandom.RandomString('word', length=9)\n"
    )
    urn = "urn:pulumi:dev::demo::pulumi:pulumi:Stack$random:index/randomString:RandomString::word"
    with pytest.raises(DuplicateUrn) as caught:
        run_program(demo, "dev")
    assert str(caught.value) == f"Duplicate resource URN '{urn}'; try giving it a unique name"


def test_one_name_under_two_types_or_two_parents_is_no_duplicate(demo: Path) -> None:
    (demo / "__main__.py").write_text(
        "import pulumi, pulumi_random as random\n"
        "random.RandomString('word', length=8)\n"
        "random.RandomPassword('word', length=8)\n"
        "parent = pulumi.ComponentResource('demo:box:Box', 'box')\n"
        "random.RandomString('word', length=8, opts=pulumi.ResourceOptions(parent=parent))\n"
    )
    assert len(run_program(demo, "dev").resources) == 4


def test_a_failed_invoke_answer_reaches_the_program_as_a_failed_invoke(demo: Path) -> None:
    (demo / "__main__.py").write_text(
        "import pulumi, pulumi.runtime\n"
        "try:\n"
        "    pulumi.runtime.invoke('azure-native:containerregistry:getRegistry', {'registryName': 'x', 'resourceGroupName': 'g'})\n"
        "except Exception as error:\n"
        "    pulumi.export('error', str(error))\n"
    )
    error = run_program(demo, "dev").outputs["error"]
    assert (
        error.startswith("invoke of azure-native:containerregistry:getRegistry failed: Status=404")
        and "ResourceNotFound" in error
    )
