"""Whether the stack under analysis is a production stack.

Some rules only bind production (deletion protection, zone redundancy). The pack cannot see
the program's settings directly, so it reads what the Pulumi CLI gives every policy pack
process (PULUMI_STACK, PULUMI_PROJECT and the stack config as JSON in PULUMI_CONFIG) plus the
stack tags. In `auto` mode a stack is production when any of these says so:

- its name matches `productionStackPattern` (default: `prod`, `production`, `prod-eu`, ...);
- its config sets `<project>:production` to true (this project's `registry:production`);
- its stack tag `environment` is `prod` or `production`.

`production: always|never` in the policy config overrides all of them.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import Any

PRODUCTION_PARAMS: dict[str, dict[str, Any]] = {
    "production": {
        "type": "string",
        "enum": ["auto", "always", "never"],
        "default": "auto",
        "description": "auto: decide from the stack name, the <project>:production config key and the environment stack tag",
    },
    "productionStackPattern": {
        "type": "string",
        "default": r"^prod(uction)?([-_.].*)?$",
        "description": "regular expression a production stack name matches",
    },
}
PRODUCTION_TAG_VALUES = frozenset({"prod", "production"})


def is_production(
    config: Mapping[str, Any], stack_tags: Mapping[str, str], environ: Mapping[str, str] = os.environ
) -> bool:
    mode = config.get("production", "auto")
    if mode != "auto":
        return bool(mode == "always")
    stack = environ.get("PULUMI_STACK", "")
    pattern = config.get("productionStackPattern", PRODUCTION_PARAMS["productionStackPattern"]["default"])
    if stack and re.search(pattern, stack):
        return True
    if stack_tags.get("environment", "").lower() in PRODUCTION_TAG_VALUES:
        return True
    stack_config = json.loads(environ.get("PULUMI_CONFIG") or "{}")
    flag = stack_config.get(f"{environ.get('PULUMI_PROJECT', '')}:production", "false")
    return str(flag).lower() == "true"
