"""registry:access: who may pull, push and delete which repositories, one shape for every target.

    registry:access:
      - repositories: [team-a/*]       # a name, a prefix ending in '*', or '*' for every repository
        push: [ci-a]                   # push implies pull
        pull: [deploy]
        delete: [janitor]              # separate: push never implies it

Principals are what the target knows: user names of registry:users on local and aws (enforced by
the edge), IAM principal ARNs on ecr, IAM members on gar. Rules only add access; a grant that
another rule (or a user's own `access`) already gives is refused, because a reader would take it
for a restriction it is not.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field, field_validator, model_validator

from components.config.base import Model, RuleViolation
from components.config.intent import REPOSITORY_NAME, unique

Action = Literal["pull", "push", "delete"]
ACTIONS: tuple[Action, ...] = ("pull", "push", "delete")
# what each granted action lets a principal do (push implies pull; delete stands alone)
IMPLIED: Mapping[str, frozenset[str]] = {
    "pull": frozenset({"pull"}),
    "push": frozenset({"pull", "push"}),
    "delete": frozenset({"delete"}),
}
EVERY_REPOSITORY = "*"


def _repository_pattern(pattern: str) -> str:
    stem = pattern[:-1] if pattern.endswith("*") else pattern
    if pattern == EVERY_REPOSITORY:
        return pattern
    if "*" in stem:
        raise ValueError(f"{pattern!r}: '*' may only end a pattern (team-a/*, team-*), or be the whole pattern")
    # a prefix is valid when some repository name starts with it: append a letter and check the name
    candidate = stem if stem == pattern else f"{stem}a"
    if not 2 <= len(candidate) <= 256 or not REPOSITORY_NAME.match(candidate):
        raise ValueError(
            f"{pattern!r} is not a repository name or prefix: lowercase letters and digits separated by "
            "'.', '_', '__' or '-', segments joined by '/', optionally ending in '*' (team-a/*, platform/base)"
        )
    return pattern


RepositoryPattern = Annotated[str, AfterValidator(_repository_pattern)]


def matches(pattern: str, name: str) -> bool:
    """Does `pattern` (a name, `prefix*` or `*`) cover repository `name`?"""
    if pattern.endswith("*"):
        return name.startswith(pattern[:-1])
    return name == pattern


def covers(wide: str, narrow: str) -> bool:
    """Does every repository `narrow` covers fall under `wide` too?"""
    if not wide.endswith("*"):
        return wide == narrow
    return narrow.rstrip("*").startswith(wide[:-1])


class AccessRule(Model):
    """Principals and what they may do on the repositories the patterns name."""

    repositories: list[RepositoryPattern] = Field(min_length=1, max_length=100)
    pull: list[str] = Field(default_factory=list, max_length=100)
    push: list[str] = Field(default_factory=list, max_length=100, description="implies pull")
    delete: list[str] = Field(default_factory=list, max_length=100, description="separate from push")

    @field_validator("pull", "push", "delete")
    @classmethod
    def _unique_principals(cls, principals: list[str]) -> list[str]:
        return unique(principals, "principal")

    @model_validator(mode="after")
    def _grants_something(self) -> AccessRule:
        if not (self.pull or self.push or self.delete):
            raise ValueError("names no principal: list principals under pull, push and/or delete, or remove the rule")
        both = next((p for p in self.push if p in self.pull), None)
        if both is not None:
            raise ValueError(f"lists {both} under both pull and push; push implies pull: keep it under push only")
        for i, pattern in enumerate(self.repositories):
            wider = next((p for j, p in enumerate(self.repositories) if j != i and covers(p, pattern)), None)
            if wider is not None:
                raise ValueError(f"repository pattern {pattern!r} is already covered by {wider!r}; remove it")
        return self

    def principals(self, action: Action) -> list[str]:
        return {"pull": self.pull, "push": self.push, "delete": self.delete}[action]


def _old_shape(value: object) -> object:
    """`{readers: [...], writers: [...]}` was registry:access before per-repository rules."""
    if isinstance(value, dict) and {"readers", "writers"} & set(value):
        readers, writers = value.get("readers") or [], value.get("writers") or []
        rule = {
            "repositories": ["*"],
            **({"pull": readers} if readers else {}),
            **({"push": writers} if writers else {}),
        }
        raise ValueError(
            "is now a list of rules {repositories, pull, push, delete}; readers/writers of every repository "
            f"become: registry:access: {json.dumps([rule])}"
        )
    return value


AccessRules = Annotated[list[AccessRule], BeforeValidator(_old_shape), Field(max_length=100)]


@dataclass(frozen=True)
class Grant:
    """One principal allowed one action on the repositories `pattern` covers; `source` is the key
    (below registry:) that grants it."""

    principal: str
    action: Action
    pattern: str
    source: str


def rule_grants(rules: Sequence[AccessRule]) -> list[Grant]:
    return [
        Grant(principal, action, pattern, f"access[{i}].{action}[{j}]")
        for i, rule in enumerate(rules)
        for action in ACTIONS
        for j, principal in enumerate(rule.principals(action))
        for pattern in rule.repositories
    ]


def check_rules(
    rules: Sequence[AccessRule],
    *,
    principal_problem: Callable[[str], str | None],
    repositories: Sequence[str] | None = None,
    standing: Iterable[Grant] = (),
) -> None:
    """Every principal known, every pattern matching something (where the target lists its
    repositories), no grant that another (or a `standing` one: a user's own access) already gives."""
    for i, rule in enumerate(rules):
        for action in ACTIONS:
            for j, principal in enumerate(rule.principals(action)):
                problem = principal_problem(principal)
                if problem is not None:
                    raise RuleViolation(f"access[{i}].{action}[{j}]", f"({principal}) {problem}")
        for j, pattern in enumerate(rule.repositories):
            if repositories is not None and not any(matches(pattern, name) for name in repositories):
                raise RuleViolation(
                    f"access[{i}].repositories[{j}]",
                    f"({pattern}) matches no repository in registry:repositories; fix the pattern or add the repository",
                )
    given = list(standing)
    grants = [*given, *rule_grants(rules)]
    for k in range(len(given), len(grants)):  # a rule's grant, against standing ones and the other rules'
        _refuse_shadowed(k, grants)


def _refuse_shadowed(k: int, grants: Sequence[Grant]) -> None:
    grant = grants[k]
    for n, other in enumerate(grants):
        if other.source == grant.source or other.principal != grant.principal:
            continue
        if grant.action in IMPLIED[other.action] and covers(other.pattern, grant.pattern):
            if n > k and (other.action, other.pattern) == (grant.action, grant.pattern):
                continue  # the same grant twice: the later one is refused, naming this one
            raise RuleViolation(
                grant.source,
                f"({grant.principal} on {grant.pattern}) is already granted by {other.source} "
                f"({other.action} on {other.pattern}); rules only add access, they never take it away: "
                f"remove {grant.principal} from {grant.source}, or narrow {other.source}",
            )


def principals(rules: Sequence[AccessRule]) -> list[str]:
    """Every principal any rule names, once, in the order the rules name them."""
    return list(dict.fromkeys(g.principal for g in rule_grants(rules)))


def signers_and_verifiers(rules: Sequence[AccessRule]) -> tuple[list[str], list[str]]:
    """registry:signing on ecr and gar: who may push somewhere signs; who may only pull verifies."""
    signers = principals_with(rules, "push")
    return signers, [p for p in principals_with(rules, "pull") if p not in signers]


def principals_with(rules: Sequence[AccessRule], action: Action) -> list[str]:
    """Every principal a rule grants `action` (or an action implying it) on some repository."""
    found = [p for r in rules for a in ACTIONS if action in IMPLIED[a] for p in r.principals(a)]
    return list(dict.fromkeys(found))


def effective(rules: Sequence[AccessRule], repository: str) -> dict[Action, list[str]]:
    """Who may do what on `repository` (push holders not repeated under pull)."""
    found: dict[Action, list[str]] = {action: [] for action in ACTIONS}
    for grant in rule_grants(rules):
        if matches(grant.pattern, repository) and grant.principal not in found[grant.action]:
            found[grant.action].append(grant.principal)
    found["pull"] = [p for p in found["pull"] if p not in found["push"]]
    return found
