"""The pack as a whole: names, levels and descriptions users and the CLI rely on."""

from __future__ import annotations

import re

from pulumi_policy import EnforcementLevel

from policies.registry_policies import POLICIES

NAME = re.compile(
    r"^(s3|lb|elasticache|ecs|ecr|gar|acr|security-group|vpc|iam|kms|secretsmanager|docker|registry)-[a-z0-9]+(-[a-z0-9]+)*$"
)


def test_names_are_unique_kebab_case_and_grouped_by_service() -> None:
    names = [p.name for p in POLICIES]
    assert len(names) == len(set(names))
    assert [n for n in names if not NAME.match(n)] == []


def test_each_policy_has_one_sentence_description_and_an_explicit_level() -> None:
    for policy in POLICIES:
        assert policy.description.endswith(".") and policy.description.count(". ") == 0, policy.name
        assert policy.enforcement_level in (EnforcementLevel.MANDATORY, EnforcementLevel.ADVISORY), policy.name


def test_cost_and_hygiene_rules_are_advisory_and_the_rest_mandatory() -> None:
    advisory = {p.name for p in POLICIES if p.enforcement_level == EnforcementLevel.ADVISORY}
    assert advisory == {
        "s3-bucket-require-lifecycle",
        "s3-lifecycle-abort-incomplete-multipart-uploads",
        "s3-lifecycle-expire-noncurrent-versions",
        "s3-bucket-encryption-use-kms",
        "ecr-repository-kms-encryption",
        "ecr-repository-lifecycle-policy",
        "gar-repository-cmek",
        "gar-repository-cleanup-policies",
        "gar-repository-scanning",
        "gar-repository-immutable-tags",
        "acr-network-restricted",
        "acr-retention",
        "acr-customer-managed-key",
    }


def test_parameters_have_defaults_so_the_cli_can_fill_them() -> None:
    for policy in POLICIES:
        for key, schema in (policy.config_schema.properties if policy.config_schema else {}).items():
            assert "default" in schema, f"{policy.name}.{key}"
