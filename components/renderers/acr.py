"""Azure Container Registry: what the acr target writes, as pure functions of the settings.

The maintenance task (an ACR Task's YAML), scope map actions, cache rule repositories and the
commands the outputs show; components/acr/registry.py declares them, tests pin them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import yaml

from components.config.access import EVERY_REPOSITORY, AccessRule, Action, rule_grants
from components.config.intent import Mirror, Retention

# what each registry:access action lets a token do on a repository ("Create a token with
# repository-scoped permissions", container-registry-repository-scoped-permissions.md, actions)
SCOPE_ACTIONS: dict[Action, tuple[str, ...]] = {
    "pull": ("content/read", "metadata/read"),
    "push": ("content/read", "content/write", "metadata/read"),
    "delete": ("content/delete", "metadata/read"),
}


def scope_map_repository(pattern: str) -> str:
    """A registry:access pattern as a scope map repository: a name, `prefix/*` or every one."""
    return "*" if pattern == EVERY_REPOSITORY else pattern


def scope_map_actions(rules: Sequence[AccessRule], token: str) -> list[str]:
    """Every `repositories/<repository>/<action>` the rules grant `token`, once, sorted."""
    found: set[str] = set()
    for grant in rule_grants(rules):
        if grant.principal == token:
            for action in SCOPE_ACTIONS[grant.action]:
                found.add(f"repositories/{scope_map_repository(grant.pattern)}/{action}")
    return sorted(found)


def cache_rule_repositories(mirror: Mirror) -> tuple[str, str]:
    """(source, target) of the mirror's cache rule: everything of the upstream under `<name>/`."""
    return f"{mirror.upstream}/*", f"{mirror.name}/*"


def login_steps(registry_name: str, server: str) -> list[str]:
    return [
        f"az acr login --name {registry_name}",
        f"CI: az acr login --name {registry_name} --expose-token --output tsv --query accessToken | "
        f"docker login {server} --username 00000000-0000-0000-0000-000000000000 --password-stdin",
        f"token: docker login {server} --username <token name> (password from az acr token credential generate)",
    ]


def signing_commands(key_uri: str, login_server: str) -> dict[str, str]:
    """cosign with the Key Vault key (azurekms://<vault host>/<key name>)."""
    host, _, name = key_uri.removeprefix("https://").partition("/keys/")
    key = f"azurekms://{host}/{name.split('/')[0]}"
    return {
        "key": key,
        "sign": f"cosign sign --key {key} {login_server}/<repository>@<digest>",
        "verify": f"cosign verify --key {key} {login_server}/<repository>:<tag>",
    }


# ---------------------------------------------------------------- retention: the maintenance task

# the acr-cli image ACR Tasks' `acr` alias names today (Azure/acr-builder graph/global-defaults-linux.go
# globalDefaultYamlLinux), pinned so a new alias cannot change what retention deletes
ACR_CLI_IMAGE = "mcr.microsoft.com/acr/acr-cli:0.19"
STEP_TIMEOUT = 3600  # seconds; what `az acr task create --cmd` gives a step (azure-cli acr/_utils.py)


def tag_regex(protected: Sequence[str]) -> str:
    """Every tag but the protected ones, anchored: acr purge matches the tag regex anywhere in the
    tag (acr-cli cmd/repository/image_functions.go BuildRegexFilter, MatchString), with regexp2,
    which has negative lookahead (acr-cli cmd/acr/purge_test.go "negative lookahead")."""
    if not protected:
        return "^.*$"
    alternatives = "|".join(_glob_regex(p) for p in protected)
    return f"^(?!({alternatives})$).*$"


def _glob_regex(pattern: str) -> str:
    return ".*".join(re.escape(part) for part in pattern.split("*"))


def repository_regex(names: Sequence[str], mirrors: Sequence[str]) -> str:
    """The repositories retention applies to: the listed ones and everything cached under a mirror.
    acr purge anchors it itself ("^" + regex + "$", CollectTagFilters); a capturing group, because
    it splits the filter at the first ':' outside a `(?...:` group (GetRepositoryAndTagRegex)."""
    alternatives = [re.escape(name) for name in names] + [f"{re.escape(mirror)}/.+" for mirror in mirrors]
    return f"({'|'.join(alternatives)})"


def purge_commands(retention: Retention, repositories: str) -> list[str]:
    """The `acr purge` runs retention takes (Azure/acr-cli cmd/acr/purge.go newPurgeCmd):
    keepTagged untags all but the newest N tags per repository (--ago 0d: whatever their age;
    --keep counts tags by last update, locked and protected tags not counted), deleting what it
    leaves untagged (--untagged) unless untaggedDays says how long untagged manifests stay; then
    untaggedDays deletes untagged manifests last updated that many days ago (--untagged-only),
    OCI ones included, which ACR's own retention policy skips."""
    dry_run = " --dry-run" if retention.dry_run else ""
    commands = []
    if retention.keep_tagged is not None:
        tags = tag_regex(retention.protected_tags)
        untagged = " --untagged" if retention.untagged_days is None else ""
        commands.append(
            f"purge --filter '{repositories}:{tags}' --ago 0d --keep {retention.keep_tagged}{untagged}{dry_run}"
        )
    if retention.untagged_days is not None:
        commands.append(f"purge --filter '{repositories}:.*' --untagged-only --ago {retention.untagged_days}d{dry_run}")
    return commands


def maintenance_task(retention: Retention, repositories: Sequence[str], mirrors: Sequence[str]) -> str:
    """The ACR Task YAML (container-registry-tasks-reference-yaml.md, version v1.1.0) of the scheduled
    retention run: each purge a `cmd` step of the pinned acr-cli image, in the step form
    `az acr task create --cmd` writes (azure-cli acr/_utils.py get_yaml_template). A run logs in to
    its own registry by itself (container-registry-auto-purge.md)."""
    steps = [
        {"cmd": f"{ACR_CLI_IMAGE} {command}", "disableWorkingDirectoryOverride": True, "timeout": STEP_TIMEOUT}
        for command in purge_commands(retention, repository_regex(repositories, mirrors))
    ]
    return yaml.safe_dump({"version": "v1.1.0", "steps": steps}, sort_keys=False, width=1000)
