#!/usr/bin/env python3
"""Per-cell and per-shard decided rates of robustness runs recorded by `quiver bench`, with the
misclassified images left out, as the tables of benchmarks/results/README.md.

A cell is (model, eps); a shard is `test id mod 10 + 1` (what `quiver bench --shard s/10` takes
of the QVIP suites). An instance is misclassified when the same job with radius 0 is falsified:
each record carries its job, which is re-run with `--eps 0` through QUIVER (milliseconds each).

    scripts/bench/cells.py --quiver target/release/quiver \\
        --runs benchmarks/results/qvip-hardest-default/results.jsonl ... \\
        [--baseline benchmarks/results/qvip-hardest-rest/results.jsonl ...]

Standard library only. Exit code 0, or 2 on a record or quiver run it cannot read.
"""
import argparse
import copy
import json
import re
import subprocess
import sys
import tempfile
from collections import defaultdict

DECIDED = ("verified", "falsified")


def fail(msg):
    print(f"cells.py: {msg}", file=sys.stderr)
    sys.exit(2)


def load(paths, config):
    runs = {}
    for path in paths:
        try:
            with open(path) as f:
                for n, line in enumerate(f, 1):
                    try:
                        r = json.loads(line)
                        if config is None or r.get("config") == config:
                            runs[r["instance"]] = r
                    except (json.JSONDecodeError, KeyError, AttributeError) as e:
                        fail(f"{path}:{n}: not a quiver bench record ({e})")
        except OSError as e:
            fail(f"{path}: {e.strerror}")
    return runs


def misclassified(quiver, record):
    """Is the job's center itself a counterexample (the job falsified at radius 0)?"""
    job = copy.deepcopy(record["job"])
    job["property"]["radius"] = {"integer": 0}
    job["options"]["backends"] = ["milp"]
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        json.dump(job, f)
        f.flush()
        out = subprocess.run([quiver, "verify", "--job", f.name, "--json"], capture_output=True, text=True)
    try:
        return json.loads(out.stdout)["verdict"] == "falsified"
    except (json.JSONDecodeError, KeyError):
        fail(f"quiver verify --eps 0 on {record['instance']}: {out.stderr.strip()}")


def cell(instance):
    m = re.match(r"(.+?)/.*#(\d+)/eps([\d.]+)", instance)
    if not m:
        fail(f"cannot read model, test id and eps from instance `{instance}`")
    return m.group(1), int(m.group(3)) if m.group(3).isdigit() else m.group(3), int(m.group(2)) % 10 + 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quiver", required=True, help="the quiver binary (for the --eps 0 check)")
    ap.add_argument("--runs", nargs="+", required=True, help="results.jsonl of the configuration to tabulate")
    ap.add_argument("--baseline", nargs="*", default=[], help="results.jsonl of a configuration to compare with")
    ap.add_argument("--config", help="only records of this configuration name (default: all)")
    ap.add_argument("--baseline-config", help="only baseline records of this configuration name")
    a = ap.parse_args()
    runs, base = load(a.runs, a.config), load(a.baseline, a.baseline_config)
    by_cell, by_shard = defaultdict(lambda: defaultdict(int)), defaultdict(lambda: defaultdict(int))
    only, lost, contradictions, mis = [], [], [], []
    for inst, r in sorted(runs.items()):
        if misclassified(a.quiver, r):
            mis.append(inst)
            continue
        model, eps, shard = cell(inst)
        b = base.get(inst)
        dr, db = r["verdict"] in DECIDED, b is not None and b["verdict"] in DECIDED
        for t in (by_cell[(model, eps)], by_shard[shard]):
            t["cc"] += 1
            t["decided"] += dr
            if b is not None:
                t["base_cc"] += 1
                t["base"] += db
                t["decided_on_base"] += dr
        if b is not None:
            if dr and not db:
                only.append((inst, r["verdict"], r["wall_seconds"]))
            if db and not dr:
                lost.append((inst, b["verdict"]))
            if dr and db and r["verdict"] != b["verdict"]:
                contradictions.append(inst)

    def row(name, t):
        base = f"{t['base']} of {t['base_cc']} (this: {t['decided_on_base']})" if t["base_cc"] else "—"
        return f"| {name} | {t['cc']} | {t['decided']} ({100 * t['decided'] / max(t['cc'], 1):.0f} %) | {base} |"

    head = "| {} | correctly classified | decided | baseline decided (this on the same) |\n|---|---|---|---|"
    print(head.format("shard"))
    for s in sorted(by_shard):
        print(row(f"{s}/10", by_shard[s]))
    total = defaultdict(int)
    for t in by_shard.values():
        for k, v in t.items():
            total[k] += v
    print(row("**all**", total))
    print()
    print(head.format("cell (model, eps)"))
    for c in sorted(by_cell):
        print(row(f"{c[0]}, eps {c[1]}", by_cell[c]))
    print()
    print(f"misclassified (falsified at --eps 0), left out: {len(mis)}")
    for i in mis:
        print(f"  {i}")
    if base:
        secs = [s for _, _, s in only]
        kinds = sorted({v for _, v, _ in only})
        print(f"decided only here: {len(only)} ({', '.join(kinds) or '-'}"
              + (f", {min(secs):.1f}-{max(secs):.1f} s)" if secs else ")"))
        print(f"decided only by the baseline: {len(lost)}", *(f"\n  {i} {v}" for i, v in lost))
        print(f"contradictions (verified by one, falsified by the other): {len(contradictions)}",
              *(f"\n  {i}" for i in contradictions))
    return 0


if __name__ == "__main__":
    sys.exit(main())
