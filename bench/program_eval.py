"""How long the program takes to evaluate under mocks, per stack and replica count, and the
import floor of the SDKs each target touches. Each figure comes from fresh interpreters in
one run of this script (`make bench`), so ratios between rows are meaningful.

    python -m bench.program_eval [--stacks local prod ecr] [--replicas 3 30] [--repositories 3 30] [--repeat 5]

Self-hosted stacks scale by `registry:replicas`, managed ones (ecr, gar, acr) by `registry:repositories`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from tools.stack_config import load_project, load_stack_config

ROOT = Path(__file__).resolve().parents[1]

# what a fresh interpreter pays before the program declares anything
IMPORT_PROBE = """
import json, sys, time
t = time.perf_counter()
import pulumi
floor = {"pulumi": time.perf_counter() - t}
for module in sys.argv[1:]:
    t = time.perf_counter()
    __import__(module)
    floor[module] = time.perf_counter() - t
print(json.dumps(floor))
"""

EVAL_PROBE = """
import json, sys, time
t0 = time.perf_counter()
from tools.mock_program import loaded_provider_modules, run_program
t1 = time.perf_counter()
first = run_program(".", sys.argv[1], overrides=json.loads(sys.argv[2]))
t2 = time.perf_counter()
run_program(".", sys.argv[1], overrides=json.loads(sys.argv[2]))
t3 = time.perf_counter()
modules = sorted({m.split(".")[0] for m in loaded_provider_modules()})
print(json.dumps({"harness_import": t1 - t0, "first_run": t2 - t1, "warm_run": t3 - t2,
                  "resources": len(first.resources), "sdks": modules}))
"""


def probe(code: str, *args: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def scales(stack: str, replicas: list[int], repositories: list[int]) -> list[tuple[str, dict[str, str]]]:
    """(label, config overrides) per row: replicas for self-hosted stacks, repositories for managed ones."""
    raw, _ = load_stack_config(load_project(ROOT), stack)
    if raw.get("registry:target") in ("ecr", "gar", "acr"):
        # the stack's own repositories first (its access rules name them), then more up to n
        own = [r["name"] for r in json.loads(raw["registry:repositories"])]
        names = [*own, *(f"team-{i}/app" for i in range(max(repositories)))]
        return [
            (f"{n} repositories", {"registry:repositories": json.dumps([{"name": name} for name in names[:n]])})
            for n in repositories
        ]
    ceiling = {"registry:maxReplicas": ""} if raw.get("registry:target") == "aws" else {}
    return [
        (f"{n} replicas", {"registry:replicas": str(n), **{k: str(min(100, 2 * n)) for k in ceiling}}) for n in replicas
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stacks", nargs="+", default=["local"])
    parser.add_argument("--replicas", nargs="+", type=int, default=[3, 30])
    parser.add_argument("--repositories", nargs="+", type=int, default=[3, 30])
    parser.add_argument("--repeat", type=int, default=5, help="fresh interpreters per row (median reported)")
    args = parser.parse_args()

    print("| stack | scale | resources | first evaluation (s) | warm evaluation (s) | SDK imports (s) | SDKs loaded |")
    print("|---|---|---|---|---|---|---|")
    for stack in args.stacks:
        for label, overrides in scales(stack, args.replicas, args.repositories):
            runs = [probe(EVAL_PROBE, stack, json.dumps(overrides)) for _ in range(args.repeat)]
            sdks: list[str] = runs[0]["sdks"]
            floors = [probe(IMPORT_PROBE, *sdks) for _ in range(args.repeat)]
            median = {k: statistics.median(r[k] for r in runs) for k in ("first_run", "warm_run")}
            import_floor = statistics.median(sum(f.values()) for f in floors)
            print(
                f"| {stack} | {label} | {runs[0]['resources']} | {median['first_run']:.3f} | "
                f"{median['warm_run']:.3f} | {import_floor:.3f} | {', '.join(sdks)} |"
            )


if __name__ == "__main__":
    main()
