#!/usr/bin/env python3
"""Exhaustive bit-exactness data for com.microsoft QLinearAdd as ONNX Runtime runs it here.

    ~/.cache/quiver-venv/bin/python scripts/onnx/probe_qlinear_add.py [--cases N] [--check-only]

For N random (8-bit type, scales, zero points) it runs one QLinearAdd node in ONNX Runtime
(pinned in scripts/requirements-onnx.txt; CPU provider, one thread; equal shapes, no broadcast)
on all 256 x 256 operand pairs, and compares with the arithmetic of MLAS's AVX2/FMA kernel
(onnxruntime/core/mlas/lib/intrinsics/avx2/qladd_avx2.cpp, MlasQLinearAddKernelAvx2Helper):

    r_a = fl(s_a / s_c), r_b = fl(s_b / s_c)
    F   = fl(z_c - fma(r_a, z_a, fl(r_b * z_b)))      (GCC contracts r_a*z_a + r_b*z_b)
    y   = saturate(rne(fma(a, r_a, fma(b, r_b, F))))

(the candidates without the contraction of F, or with the operands' fmas swapped, or the
unfused SSE2 order, each disagree with ONNX Runtime on some pairs; they are counted too).
It writes tests/data/ort_qlinear_add.json: per case the parameters, a 64-bit FNV-1a hash of the
65,536 ONNX Runtime outputs (a-major: index (a - min) * 256 + (b - min)), and every pair where
ONNX Runtime differs from the real-arithmetic result rne((s_a(a-z_a) + s_b(b-z_b)) / s_c) + z_c
(the rounding-sensitive ones). tests/add_ort.rs checks quiver's Add against both.
"""

import argparse
import json
import os

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

F = np.float32
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def session(signed, sa, za, sb, zb, sc, zc, n):
    tt, npt = (TensorProto.INT8, np.int8) if signed else (TensorProto.UINT8, np.uint8)
    inits = [numpy_helper.from_array(np.array(v, dtype=d), name=k) for k, v, d in
             [("sa", sa, F), ("za", za, npt), ("sb", sb, F), ("zb", zb, npt), ("sc", sc, F), ("zc", zc, npt)]]
    node = helper.make_node("QLinearAdd", ["A", "sa", "za", "B", "sb", "zb", "sc", "zc"], ["C"],
                            domain="com.microsoft")
    g = helper.make_graph([node], "qladd", [helper.make_tensor_value_info("A", tt, [n]),
                                            helper.make_tensor_value_info("B", tt, [n])],
                          [helper.make_tensor_value_info("C", tt, [n])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    return ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])


def fma32(x, y, z):
    """Correctly rounded binary32 fma, elementwise (x*y is exact in f64; the sum is made exact
    with TwoSum and the final rounding fixed up at binary32 midpoints)."""
    x, y, z = (np.asarray(v, dtype=np.float32) for v in (x, y, z))
    p = x.astype(np.float64) * y.astype(np.float64)
    z64 = z.astype(np.float64)
    s = p + z64
    bb = s - p
    e = (p - (s - bb)) + (z64 - bb)
    r = s.astype(np.float32)
    r64 = r.astype(np.float64)
    up = np.nextafter(r, np.float32(np.inf))
    dn = np.nextafter(r, np.float32(-np.inf))
    mid_above = (s - r64) == (up.astype(np.float64) - r64) / 2  # s rounded down to r from a midpoint
    mid_below = (r64 - s) == (r64 - dn.astype(np.float64)) / 2  # s rounded up to r from a midpoint
    r = np.where(mid_above & (e > 0), up, r)
    r = np.where(mid_below & (e < 0), dn, r)
    return r


def candidates(a, b, sa, za, sb, zb, sc, zc, lo, hi):
    ra, rb = F(sa) / F(sc), F(sb) / F(sc)
    A, B = a.astype(F), b.astype(F)
    fb = F(F(zc) - fma32(ra, F(za), F(rb * F(zb))))
    fa = F(F(zc) - F(F(ra * F(za)) + F(rb * F(zb))))
    fin = lambda q: np.clip(np.rint(q).astype(np.int64), lo, hi)
    return {
        "mlas_avx2": fin(fma32(A, ra, fma32(B, rb, fb))),
        "no_contraction_of_F": fin(fma32(A, ra, fma32(B, rb, fa))),
        "b_outer": fin(fma32(B, rb, fma32(A, ra, fb))),
        "sse2_order": fin(F(F(fa + F(A * ra)) + F(B * rb))),
    }


def fnv1a(values):
    h = 0xcbf29ce484222325
    for v in values.astype(np.int64).tolist():
        h ^= v & 0xFFFFFFFFFFFFFFFF
        h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=24)
    ap.add_argument("--seed", type=int, default=18)
    ap.add_argument("--check-only", action="store_true")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    cases, counts, total = [], {}, 0
    for i in range(args.cases):
        signed = i % 2 == 1
        lo, hi = (-128, 127) if signed else (0, 255)
        sa, sb = F(rng.uniform(0.001, 0.1)), F(rng.uniform(0.001, 0.1))
        if i % 5 == 2:
            sb = sa
        sc = F((sa + sb) * F(rng.uniform(0.3, 1.5)))
        za, zb, zc = (int(rng.integers(lo, hi + 1)) for _ in range(3))
        a = np.repeat(np.arange(lo, hi + 1), 256)
        b = np.tile(np.arange(lo, hi + 1), 256)
        npt = np.int8 if signed else np.uint8
        y = session(signed, sa, za, sb, zb, sc, zc, a.size).run(
            None, {"A": a.astype(npt), "B": b.astype(npt)})[0].astype(np.int64)
        total += y.size
        for k, r in candidates(a, b, sa, za, sb, zb, sc, zc, lo, hi).items():
            counts[k] = counts.get(k, 0) + int((r != y).sum())
        real = np.clip(np.rint((float(sa) * (a - za) + float(sb) * (b - zb)) / float(sc)).astype(np.int64) + zc, lo, hi)
        diff = np.nonzero(real != y)[0]
        cases.append({
            "dtype": "int8" if signed else "uint8",
            "a": {"scale": float(sa), "zero_point": za},
            "b": {"scale": float(sb), "zero_point": zb},
            "c": {"scale": float(sc), "zero_point": zc},
            "fnv1a": f"{fnv1a(y):016x}",
            "off_real": [[int(a[j]), int(b[j]), int(y[j])] for j in diff],
        })
    print(f"{total} outputs; disagreements with ONNX Runtime per candidate: {counts}")
    if counts["mlas_avx2"]:
        raise SystemExit("the MLAS AVX2 formula does not reproduce ONNX Runtime here")
    if not args.check_only:
        out = os.path.join(ROOT, "tests", "data", "ort_qlinear_add.json")
        with open(out, "w") as f:
            json.dump({"onnxruntime": ort.__version__, "kernel": "mlas_avx2", "cases": cases}, f, indent=1)
            f.write("\n")
        print("wrote", os.path.relpath(out, ROOT))


if __name__ == "__main__":
    main()
