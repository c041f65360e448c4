"""Parts of Pulumi resource names derived from user input, shared by the targets.

A URN is type plus name, so two inputs that shorten to the same name part would be one
resource (the engine refuses the second); `distinct_slugs` keeps the short form where it is
unique and falls back to a longer one where it is not.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable


def distinct_slugs(values: Iterable[str], short: Callable[[str], str], long: Callable[[str], str]) -> dict[str, str]:
    """Each value's `short` name part, or its `long` one where two values' short parts coincide."""
    slugs = {v: short(v) for v in dict.fromkeys(values)}
    counts = Counter(slugs.values())
    return {v: slug if counts[slug] == 1 else long(v) for v, slug in slugs.items()}
