#!/usr/bin/env python3
"""Solve the CP backend's exact integer model (written by `examples/cp_export.rs`) with OR-Tools
CP-SAT, one solve per open disjunct, one worker, to separate the model from the solver: the same
model Pumpkin gets, with CP-SAT's LP relaxation on (linearization level 1, 2) or off (0).

    python3 benchmarks/cp/cpsat.py MODEL.json LIMIT_S LEVELS   # e.g. 20 0,1,2

An experiment only (OR-Tools is not a dependency of quiver): prints, per disjunct and level, the
status and seconds.
"""
import json
import sys
import time

from ortools.sat.python import cp_model


def build(doc, rows):
    m = cp_model.CpModel()
    v = [m.NewIntVar(lo, hi, f"v{i}") for i, (lo, hi, _) in enumerate(doc["vars"])]
    for e in doc["eqs"]:
        m.Add(sum(c * v[i] for i, c in e["terms"]) == e["rhs"])
    for s in doc["steps"]:
        x, y = v[s["x"]], v[s["y"]]
        bs = []
        for k, t in enumerate(s["thresholds"]):
            lvl = s["y_lo"] + 1 + k
            b = m.NewBoolVar("")
            # [y >= lvl] <=> b <=> [x >= t]
            m.Add(x >= t).OnlyEnforceIf(b)
            m.Add(x <= t - 1).OnlyEnforceIf(b.Not())
            m.Add(y >= lvl).OnlyEnforceIf(b)
            m.Add(y <= lvl - 1).OnlyEnforceIf(b.Not())
            bs.append(b)
        for a, b in zip(bs, bs[1:]):
            m.AddImplication(b, a)
        m.Add(y == s["y_lo"] + sum(bs))
    for mx in doc["maxes"]:
        xs = [v[i] for i in mx["xs"]]
        if mx["floor"] is not None:
            xs.append(m.NewConstant(mx["floor"]))
        m.AddMaxEquality(v[mx["y"]], xs)
    for r in rows:
        m.Add(sum(c * v[i] for i, c in r["terms"]) <= r["rhs"])
    return m


def main():
    doc = json.load(open(sys.argv[1]))
    limit = float(sys.argv[2])
    levels = [int(x) for x in sys.argv[3].split(",")]
    totals = {lv: [0, 0.0] for lv in levels}
    for d in doc["disjuncts"]:
        line = f"disjunct {d['index']}:"
        for lv in levels:
            m = build(doc, d["rows"])
            s = cp_model.CpSolver()
            s.parameters.num_workers = 1
            s.parameters.max_time_in_seconds = limit
            s.parameters.linearization_level = lv
            t = time.time()
            st = s.Solve(m)
            dt = time.time() - t
            name = s.StatusName(st)
            if name in ("INFEASIBLE", "FEASIBLE", "OPTIMAL"):
                totals[lv][0] += 1
            totals[lv][1] += dt
            line += f"  lin{lv}={name} {dt:.2f}s"
        print(line, flush=True)
    print("total:" + "".join(f"  lin{lv}={n}/{len(doc['disjuncts'])} {t:.2f}s" for lv, (n, t) in totals.items()))


if __name__ == "__main__":
    main()
