"""The config model: shipped stacks validate; every rule rejects a config that changes one thing."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest

from components.config import ConfigError, LocalSettings, load_settings
from tests.conftest import ROOT, config_problems, refused_run
from tools.stack_config import load_project, load_stack_config

MINIMAL_LOCAL: dict[str, str] = {"registry:target": "local"}


def local_config(**changes: object) -> dict[str, str]:
    """The minimal config with `registry:<key>` changed as `pulumi config set` would store it."""
    raw = dict(MINIMAL_LOCAL)
    for key, value in changes.items():
        raw[f"registry:{key}"] = value if isinstance(value, str) else json.dumps(value)
    return raw


def settings(**changes: object) -> Any:
    return load_settings(local_config(**changes))


def problems(**changes: object) -> list[str]:
    return config_problems(local_config(**changes))


@pytest.mark.parametrize("stack", load_project(ROOT).stacks())
def test_every_shipped_stack_validates(stack: str) -> None:
    raw, secret = load_stack_config(load_project(ROOT), stack)
    loaded = load_settings(raw, frozenset(secret))
    assert loaded.target == raw.get("registry:target", "local")


def test_minimal_config_gets_documented_defaults() -> None:
    s = load_settings({})
    assert isinstance(s, LocalSettings)
    assert (s.target, s.replicas, s.version, s.domain, s.port) == ("local", 2, "3", "localhost", 5443)
    assert s.tls.mode == "self-signed" and s.tls.validity_days == 365
    assert [(u.name, u.access) for u in s.users] == [("admin", "admin")]
    assert s.storage.versioning and s.storage.noncurrent_version_days == 30
    assert s.storage.abort_incomplete_upload_days == 7 and not s.storage.force_destroy
    assert s.cache.enabled
    assert (s.upload_purging.age_hours, s.upload_purging.interval_hours) == (168, 24)


def test_pulumi_config_set_strings_are_coerced() -> None:
    # `pulumi config set replicas 5` stores "5"; booleans arrive as "true"/"false"
    s = settings(replicas="5", port="6000", storage='{"versioning": "false", "forceDestroy": "true"}')
    assert s.replicas == 5 and isinstance(s, LocalSettings) and s.port == 6000
    assert s.storage.versioning is False and s.storage.force_destroy is True


def test_settings_are_frozen() -> None:
    s = settings()
    with pytest.raises(ValueError):
        s.replicas = 9


def test_users_and_access_split() -> None:
    s = settings(users=[{"name": "ci", "access": "push"}, {"name": "dev", "access": "pull"}])
    assert s.push_users == ["ci"]


def test_tls_sans_cover_domain_and_loopback() -> None:
    assert settings(domain="registry.example.com").tls_sans == (
        ["registry.example.com", "localhost"],
        ["127.0.0.1", "::1"],
    )
    assert settings(domain="10.0.0.5").tls_sans == (["localhost"], ["10.0.0.5", "127.0.0.1", "::1"])


# Each case changes ONE thing from the minimal valid config; the message must name the key
# as the user wrote it and say what to do.
BAD_CONFIGS = [
    pytest.param({"replicas": "0"}, "registry:replicas", "greater than or equal to 1", id="replicas-zero"),
    pytest.param({"replicas": "51"}, "registry:replicas", "less than or equal to 50", id="replicas-too-many"),
    pytest.param({"replicas": "three"}, "registry:replicas", "valid integer", id="replicas-not-a-number"),
    pytest.param({"replcas": "3"}, "registry:replcas", "did you mean registry:replicas", id="misspelled-key"),
    pytest.param({"target": "gcp"}, "registry:target", "use one of local, aws", id="unknown-target"),
    pytest.param({"version": "4"}, "registry:version", "'2' or '3'", id="unknown-version"),
    pytest.param(
        {"users": [{"name": "ci", "access": "push", "expiresAt": "2027-01-31T00:00:00"}]},
        "registry:users[0].expiresAt",
        "has no time zone, so the edge cannot tell when it is: add one, e.g. 2027-01-31T00:00:00Z",
        id="expiry-without-zone",
    ),
    pytest.param(
        {"users": [{"name": "ci", "access": "push", "expiresAt": "in a week"}]},
        "registry:users[0].expiresAt",
        "valid datetime",
        id="expiry-not-a-time",
    ),
    pytest.param(
        {"version": "3.1"},
        "registry:version",
        '(distribution#4891, fixed on main, in no release yet); use "3"',
        id="version-3.1-loses-tags",
    ),
    pytest.param({"version": "3.1.1"}, "registry:version", "lexical prefix", id="version-3.1.1-loses-tags"),
    pytest.param({"port": "70000"}, "registry:port", "less than or equal to 65535", id="port-out-of-range"),
    pytest.param({"port": "8333"}, "registry:objectStorePort", "different port", id="port-clash"),
    pytest.param({"domain": "https://registry.example.com"}, "registry:domain", "without scheme", id="domain-url"),
    pytest.param(
        {"domain": "registry.example.com:5000"}, "registry:domain", "must not contain a port", id="domain-port"
    ),
    pytest.param({"domain": "-bad-.example.com"}, "registry:domain", "not a valid DNS name", id="domain-label"),
    pytest.param({"domain": "under_score.example"}, "registry:domain", "not a valid DNS name", id="domain-underscore"),
    pytest.param(
        {"tls": {"mode": "letsencrypt"}}, "registry:tls.mode", "'self-signed', 'provided' or 'acm'", id="tls-mode"
    ),
    pytest.param({"tls": {"mode": "acm"}}, "registry:tls.mode", "needs AWS", id="tls-acm-on-local"),
    pytest.param(
        {"tls": {"validityDays": 0}}, "registry:tls.validityDays", "greater than or equal to 1", id="tls-validity"
    ),
    pytest.param(
        {"tls": {"validtyDays": 30}},
        "registry:tls.validtyDays",
        "did you mean registry:tls.validityDays",
        id="tls-typo",
    ),
    pytest.param(
        {"tls": {"mode": "provided"}},
        "registry:tls.mode",
        "needs both 'certificate' and 'privateKey'",
        id="tls-provided-missing",
    ),
    pytest.param(
        {"users": [{"name": "ci", "access": "push"}, {"name": "dev", "access": "owner"}]},
        "registry:users[1].access",
        "'pull', 'push' or 'admin'",
        id="user-access",
    ),
    pytest.param({"users": [{"name": "c:i", "access": "push"}]}, "registry:users[0].name", "no ':'", id="user-colon"),
    pytest.param(
        {"users": [{"name": "Dev Team", "access": "pull"}]}, "registry:users[0].name", "lowercase", id="user-space"
    ),
    pytest.param(
        {"users": [{"name": "ci", "access": "push"}, {"name": "ci", "access": "pull"}]},
        "registry:users",
        "listed twice",
        id="user-duplicate",
    ),
    pytest.param({"users": []}, "registry:users", "at least 1 item", id="users-empty"),
    pytest.param(
        {"users": [{"name": "ci"}]}, "registry:users[0].access", "set users[0].access to pull", id="user-no-access"
    ),
    pytest.param(
        {"users": [{"name": "ci", "access": "push", "pw": "x"}]}, "registry:users[0].pw", "unknown key", id="user-extra"
    ),
    pytest.param(
        {"storage": {"versioning": "maybe"}}, "registry:storage.versioning", "valid boolean", id="storage-bool"
    ),
    pytest.param(
        {"storage": {"noncurrentVersionDays": 0}},
        "registry:storage.noncurrentVersionDays",
        "greater than",
        id="noncurrent-days",
    ),
    pytest.param(
        {"storage": {"abortIncompleteUploadDays": 1}},
        "registry:storage.abortIncompleteUploadDays",
        "raise abortIncompleteUploadDays or lower uploadPurging.ageHours",
        id="s3-aborts-live-uploads",
    ),
    pytest.param(
        {"storage": {"replicaRegion": "eu-west-1"}}, "registry:storage.replicaRegion", "target aws", id="aws-only-key"
    ),
    pytest.param({"cache": {"enabled": "yes please"}}, "registry:cache.enabled", "valid boolean", id="cache-bool"),
    pytest.param(
        {"uploadPurging": {"intervalHours": 0}},
        "registry:uploadPurging.intervalHours",
        "greater than",
        id="purge-interval",
    ),
    pytest.param({"maxReplicas": "4"}, "registry:maxReplicas", "only applies to target aws", id="aws-key-on-local"),
    pytest.param({"tls": "{not json"}, "registry:tls", "not valid JSON", id="broken-json"),
    pytest.param({"domain": "0.0.0.0"}, "registry:domain", "unspecified address", id="domain-any-v4"),
    pytest.param({"domain": "::"}, "registry:domain", "unspecified address", id="domain-any-v6"),
    pytest.param({"domain": "224.0.0.1"}, "registry:domain", "multicast", id="domain-multicast-v4"),
    pytest.param({"domain": "ff02::1"}, "registry:domain", "multicast", id="domain-multicast-v6"),
    pytest.param(
        {"tls": {"hostedZoneId": "Z0123456789ABCDEFGHIJ"}},
        "registry:tls.hostedZoneId",
        "only applies to target aws",
        id="hosted-zone-on-local",
    ),
    pytest.param(
        {"uploadPurging": {"ageHours": 12, "intervalHours": 24}},
        "registry:uploadPurging.intervalHours",
        "lower intervalHours or raise ageHours",
        id="purge-interval-beyond-age",
    ),
    pytest.param(
        {"cache": "yes"},
        "registry:cache",
        """it is an object, for example {"enabled": true}; set one key with `pulumi config set --path 'registry:cache.enabled' true`""",
        id="cache-not-an-object",
    ),
    pytest.param(
        {"maintenance": {"schedule": "0 3 * *", "gc": True}},
        "registry:maintenance.schedule",
        "has 4 fields; give five",
        id="schedule-four-fields",
    ),
    pytest.param(
        {"maintenance": {"schedule": "0 24 * * *", "gc": True}},
        "registry:maintenance.schedule",
        "the hour field: '24' is outside 0-23",
        id="schedule-hour-out-of-range",
    ),
    pytest.param(
        {"maintenance": {"schedule": "0 3 * * SUN", "gc": True}},
        "registry:maintenance.schedule",
        "'SUN' is not a number",
        id="schedule-day-name",
    ),
    pytest.param(
        {"maintenance": {"schedule": "0 3 1 * 0", "gc": True}},
        "registry:maintenance.schedule",
        "set one of them to *",
        id="schedule-both-day-fields",
    ),
    pytest.param(
        {"maintenance": {"schedule": "0 3 31 2 *", "gc": True}},
        "registry:maintenance.schedule",
        "never fires: no month among '2' has a day '31'",
        id="schedule-february-31",
    ),
    pytest.param(
        {"maintenance": {"schedule": "0 3 31 4,6,9,11 *", "gc": True}},
        "registry:maintenance.schedule",
        "never fires",
        id="schedule-31-in-30-day-months",
    ),
    pytest.param(
        {"mirrors": [{"name": "self", "upstream": "https://localhost:5443"}]},
        "registry:mirrors[0].upstream",
        "is this registry's own address, so the mirror would pull from itself",
        id="mirror-of-itself",
    ),
    pytest.param(
        {"port": 6443, "mirrors": [{"name": "self", "upstream": "https://127.0.0.1:6443"}]},
        "registry:mirrors[0].upstream",
        "is this registry's own address",
        id="mirror-of-itself-on-its-port",
    ),
    pytest.param(
        {"maintenance": {"schedule": "0 3 * * 0"}},
        "registry:maintenance",
        "set maintenance.retention and/or maintenance.gc to true",
        id="schedule-runs-nothing",
    ),
    pytest.param(
        {"maintenance": {"schedule": "0 3 * * 0", "retention": True}},
        "registry:maintenance.retention",
        "registry:retention is not set",
        id="scheduled-retention-without-rules",
    ),
    # registry:access on local (aws shares the keys): users default to [admin (access admin)]
    pytest.param(
        {"users": [{"name": "ci"}], "access": [{"repositories": ["team-a/*"], "push": ["cj"]}]},
        "registry:access[0].push[0]",
        "(cj) is not in registry:users",
        id="access-unknown-user",
    ),
    pytest.param(
        {"access": [{"repositories": ["*"], "delete": ["admin"]}]},
        "registry:access[0].delete[0]",
        "already granted by users[0].access (delete on *)",
        id="access-what-the-user-has",
    ),
    pytest.param(
        {
            "users": [{"name": "admin", "access": "admin"}, {"name": "ci"}],
            "access": [
                {"repositories": ["team-a/*"], "push": ["ci"]},
                {"repositories": ["team-a/api"], "pull": ["ci"]},
            ],
        },
        "registry:access[1].pull[0]",
        "already granted by access[0].push[0] (push on team-a/*)",
        id="access-narrower-rule-grants-less",
    ),
    pytest.param(
        {
            "users": [{"name": "admin", "access": "admin"}, {"name": "ci"}],
            "access": [{"repositories": ["team-a/*"], "push": ["ci"]}, {"repositories": ["team-a/*"], "push": ["ci"]}],
        },
        "registry:access[1].push[0]",
        "already granted by access[0].push[0]",
        id="access-duplicate-rule",
    ),
    pytest.param(
        {"access": [{"repositories": ["team-a/../x"], "pull": ["admin"]}]},
        "registry:access[0].repositories[0]",
        "not a repository name or prefix",
        id="access-pattern-escapes",
    ),
    pytest.param(
        {"access": [{"repositories": ["team-*/api"], "pull": ["admin"]}]},
        "registry:access[0].repositories[0]",
        "'*' may only end a pattern",
        id="access-inner-wildcard",
    ),
    pytest.param(
        {"access": [{"repositories": ["team-a/*"]}]}, "registry:access[0]", "names no principal", id="access-nobody"
    ),
    pytest.param(
        {"users": [{"name": "ci"}], "access": [{"repositories": ["team-a/*"], "pull": ["ci"], "push": ["ci"]}]},
        "registry:access[0]",
        "push implies pull",
        id="access-pull-and-push",
    ),
    pytest.param(
        {"users": [{"name": "ci"}], "access": [{"repositories": ["team-a/*", "team-a/api"], "push": ["ci"]}]},
        "registry:access[0]",
        "'team-a/api' is already covered by 'team-a/*'",
        id="access-pattern-covered-in-its-rule",
    ),
    pytest.param(
        {"access": {"readers": ["dev"], "writers": ["ci"]}},
        "registry:access",
        'become: registry:access: [{"repositories": ["*"], "pull": ["dev"], "push": ["ci"]}]',
        id="access-old-shape",
    ),
    pytest.param(
        {
            "users": [{"name": "ci"}],
            "mirrors": [{"name": "docker-hub", "upstream": "docker.io"}],
            "access": [{"repositories": ["docker-hub/*"], "pull": ["ci"]}],
        },
        "registry:access[0].repositories[0]",
        "is under mirror docker-hub",
        id="access-mirror-prefix",
    ),
    pytest.param(
        {"users": ["ci"]},
        "registry:users[0]",
        """for example {"name": "<name>"}""",
        id="user-not-an-object",
    ),
]


@pytest.mark.parametrize(("changes", "key", "says"), BAD_CONFIGS)
def test_bad_config_names_key_and_fix(changes: dict[str, object], key: str, says: str) -> None:
    found = problems(**changes)
    assert len(found) == 1, found
    assert found[0].startswith(f"{key}: "), found[0]
    assert says in found[0], found[0]


def test_every_problem_is_reported_at_once() -> None:
    found = problems(replicas="0", port="0", users=[{"name": "a:b", "access": "x"}])
    assert {p.split(":", 2)[1].split(" ")[0] for p in found} >= {"replicas", "port", "users[0].name", "users[0].access"}


def test_scalar_problems_say_how_to_set_the_key() -> None:
    assert "pulumi config set registry:replicas <value>" in problems(replicas="0")[0]
    assert (
        "pulumi config set --path 'registry:users[0].access' <value>"
        in problems(users=[{"name": "a", "access": "x"}])[0]
    )


def test_provided_private_key_must_be_a_secret() -> None:
    pem = {
        "mode": "provided",
        "certificate": "-----BEGIN CERTIFICATE-----\nx\n",
        "privateKey": "-----BEGIN PRIVATE KEY-----\nx\n",
    }
    raw = {"registry:tls": json.dumps(pem)}
    with pytest.raises(ConfigError, match=r"registry:tls.privateKey: a private key must be stored encrypted"):
        load_settings(raw)
    loaded = load_settings(raw, frozenset({"registry:tls"}))
    assert isinstance(loaded, LocalSettings) and loaded.tls.mode == "provided"


def test_other_namespaces_are_ignored() -> None:
    assert load_settings({"other:thing": "x", "registries:x": "1", "docker:host": "unix:///x"}).target == "local"


@pytest.mark.parametrize(
    ("key", "target", "users"),
    [
        ("aws:region", "local", "targets aws, ecr use, not local"),
        ("gcp:project", "ecr", "target gar uses, not ecr"),
        ("aws:region", "gar", "targets aws, ecr use, not gar"),
        ("azure-native:location", "gar", "target acr uses, not gar"),
        ("gcp:project", "acr", "target gar uses, not acr"),
    ],
)
def test_a_cloud_providers_key_on_a_target_that_does_not_use_it_is_refused(key: str, target: str, users: str) -> None:
    """Pulumi would silently ignore it (`gcp:project` on ecr): nobody could tell which project is meant."""
    raw = {"registry:target": target, key: "x"}
    problems = [p for p in config_problems(raw) if p.startswith(f"{key}:")]
    assert problems == [
        f"{key}: configures the {key.split(':')[0]} provider, which only {users}; remove it (`pulumi config rm {key}`)"
    ]


@pytest.mark.parametrize("namespace", ["regsitry", "registy", "Registry"])
def test_a_misspelled_namespace_is_an_error_with_the_right_key(namespace: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({f"{namespace}:replicas": "3"})
    [problem] = caught.value.problems
    assert problem.startswith(f"{namespace}:replicas: unknown namespace")
    assert "did you mean registry:replicas?" in problem


def test_a_flat_dotted_key_says_to_use_path() -> None:
    # `pulumi config set registry:tls.validityDays 90` (no --path) stores this flat key
    with pytest.raises(ConfigError) as caught:
        load_settings({"registry:tls.validityDays": "90"})
    [problem] = caught.value.problems
    assert problem.startswith("registry:tls.validityDays: stored as one flat key")
    assert "`pulumi config set --path 'registry:tls.validityDays' <value>`" in problem


def test_ipv6_domain_is_normalised_and_bracketed_for_clients() -> None:
    s = settings(domain="::1")
    assert s.domain == "::1" and s.host(5443) == "[::1]:5443" and s.host(443) == "[::1]"
    assert settings(domain="2001:DB8::5").domain == "2001:db8::5"
    assert settings(domain="registry.example.com").host(443) == "registry.example.com"


def test_a_robot_expires_at_an_instant_kept_in_utc_and_a_past_one_is_warned_about() -> None:
    robot = {"name": "ci", "access": "admin", "expiresAt": "2027-01-31T01:00:00+01:00"}
    [user] = settings(users=[robot]).users
    assert user.expires_at == datetime.datetime(2027, 1, 31, tzinfo=datetime.UTC)
    assert settings(users=[robot]).warnings == []
    [warning] = settings(users=[{**robot, "expiresAt": "2020-01-01T00:00:00Z"}]).warnings
    assert warning == (
        "registry:users: ci expired at 2020-01-01T00:00:00+00:00; the edge refuses its login "
        "(remove the user, or move expiresAt)"
    )


def test_a_stack_without_push_users_or_admins_is_warned_about() -> None:
    assert settings().warnings == []
    nobody_pushes, no_admin = settings(users=[{"name": "dev", "access": "pull"}]).warnings
    assert nobody_pushes.startswith("registry:users: no user may push")
    assert no_admin.startswith("registry:users: no user has access admin")
    ruled = settings(
        users=[{"name": "ops", "access": "admin"}, {"name": "ci"}],
        access=[{"repositories": ["team-a/*"], "push": ["ci"]}],
    )
    assert ruled.warnings == [] and ruled.push_users == ["ops", "ci"]


@pytest.mark.parametrize(("changes", "key", "says"), BAD_CONFIGS)
def test_bad_config_fails_before_any_resource(changes: dict[str, object], key: str, says: str) -> None:
    message, declared = refused_run(
        "local",
        MINIMAL_LOCAL | {f"registry:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in changes.items()},
    )
    assert f"{key}: " in message and says in message
    assert declared == []


def test_a_rule_that_lets_a_non_admin_delete_everywhere_is_warned_about() -> None:
    janitor = settings(
        users=[{"name": "ops", "access": "admin"}, {"name": "janitor"}],
        access=[{"repositories": ["*"], "delete": ["janitor"]}],
    )
    assert janitor.warnings == [
        "registry:access[0].delete[0]: janitor may delete in every repository without being an admin; the policy "
        "pack refuses it (registry-edge-delete-everywhere-admin-only): narrow the rule's repositories"
    ]


@pytest.mark.parametrize("taken", ["5443", "8333"])
def test_the_metrics_port_is_its_own(taken: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({"registry:metricsPort": taken})
    assert (
        "registry:metricsPort" in caught.value.problems[0] and "give metrics its own port" in caught.value.problems[0]
    )


@pytest.mark.parametrize(
    ("schedule", "every"),
    [("* * * * *", 1), ("*/10 3 * * *", 10), ("0,5 3 * * *", 5), ("59 23 * * *", None), ("*/15 * * * *", None)],
)
def test_a_schedule_more_often_than_every_15_minutes_is_warned_about(schedule: str, every: int | None) -> None:
    found = [w for w in settings(maintenance={"schedule": schedule, "gc": True}).warnings if "maintenance" in w]
    if every is None:
        assert found == []
    else:
        assert found == [
            f"registry:maintenance.schedule ({schedule}) runs every {every} minute(s) at times; each run lists the "
            "whole store, so more often than every 15 minutes mostly repeats the last run: spread it out (e.g. "
            "'0 3 * * *')"
        ]


def test_a_schedule_that_fires_only_in_leap_years_or_on_other_ports_is_accepted() -> None:
    assert settings(maintenance={"schedule": "0 3 29 2 *", "gc": True}).maintenance.schedule == "0 3 29 2 *"
    mirror = {"name": "other", "upstream": "https://localhost:6000"}
    assert settings(mirrors=[mirror]).mirrors[0].upstream == "https://localhost:6000"
