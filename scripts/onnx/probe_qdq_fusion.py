#!/usr/bin/env python3
"""Which QDQ groups ONNX Runtime fuses, measured on its optimized graph (the rules quiver's importer
follows for Add, GlobalAveragePool and Relu; src/import/onnx/qdq.rs, qoperator.rs).

    ~/.cache/quiver-venv/bin/python scripts/onnx/probe_qdq_fusion.py

For each small graph it prints the operators of the graph ONNX Runtime (pinned in
scripts/requirements-onnx.txt; CPU provider, ORT_ENABLE_ALL) actually executes, and for Relu the
outputs. What ONNX Runtime 1.32 does (x86-64):

* DQ, DQ -> Add -> Q becomes com.microsoft QLinearAdd for 8-bit types when every scale and zero
  point of the three Q/DQ nodes is a rank-0 scalar (an absent zero point counts as one); with a
  1-element vector anywhere, or 16-bit types, the Add stays in float.
* DQ -> GlobalAveragePool -> Q becomes QLinearGlobalAveragePool for 8-bit types (scalar or
  1-element parameters alike); 16-bit stays in float.
* DQ -> Relu -> Q with the same parameters: the Relu is removed when the zero point is the type's
  minimum (8- and 16-bit); otherwise it stays and runs in float (exact on dequantized integers).
  For 4-bit types the Relu is removed whatever the zero point (ReluQuantFusion), so ONNX Runtime
  computes no Relu at all: quiver refuses those.
"""

import os
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto as TP
from onnx import helper, numpy_helper

TYPES = {"uint8": (TP.UINT8, 0), "int8": (TP.INT8, -128), "uint16": (TP.UINT16, 0), "int16": (TP.INT16, -32768),
         "uint4": (TP.UINT4, 0), "int4": (TP.INT4, -8)}


def run(nodes, inits, out_shape, x):
    g = helper.make_graph(nodes, "probe", [helper.make_tensor_value_info("x", TP.FLOAT, list(x.shape))],
                          [helper.make_tensor_value_info("out", TP.FLOAT, out_shape)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 21)], ir_version=10)
    with tempfile.TemporaryDirectory() as d:
        so = ort.SessionOptions()
        so.log_severity_level = 3
        so.optimized_model_filepath = os.path.join(d, "opt.onnx")
        sess = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
        ops = [n.op_type for n in onnx.load(so.optimized_model_filepath).graph.node]
    return ops, sess.run(None, {"x": x})[0]


def params(inits, name, scale, zp, code, rank1):
    shape = [1] if rank1 else []
    inits.append(numpy_helper.from_array(np.array(scale, dtype=np.float32).reshape(shape), name + "_s"))
    inits.append(helper.make_tensor(name + "_z", code, shape, [zp]))
    return [name + "_s", name + "_z"]


def qdq(name_in, p, tag):
    return [helper.make_node("QuantizeLinear", [name_in] + p, [tag + "_q"]),
            helper.make_node("DequantizeLinear", [tag + "_q"] + p, [tag + "_dq"])]


def add_case(t, vec):
    code, lo = TYPES[t]
    inits = []
    a = params(inits, "a", 0.05, lo + 3, code, vec == 0)
    b = params(inits, "b", 0.07, lo + 9, code, vec == 1)
    y = params(inits, "y", 0.11, lo + 5, code, vec == 2)
    nodes = qdq("x", a, "a") + qdq("x", b, "b") + [helper.make_node("Add", ["a_dq", "b_dq"], ["s"])] + qdq("s", y, "y")
    nodes[-1].output[0] = "out"
    x = np.linspace(-1, 1, 24, dtype=np.float32).reshape(1, 2, 3, 4)
    ops, _ = run(nodes, inits, [1, 2, 3, 4], x)
    print(f"Add {t:6} {['all scalars', 'a vector', 'b vector', 'y vector'][vec + 1]:12}", ops)


def gap_case(t, vec):
    code, lo = TYPES[t]
    inits = []
    a = params(inits, "a", 0.05, lo + 3, code, vec)
    y = params(inits, "y", 0.02, lo + 5, code, vec)
    nodes = qdq("x", a, "a") + [helper.make_node("GlobalAveragePool", ["a_dq"], ["p"])] + qdq("p", y, "y")
    nodes[-1].output[0] = "out"
    x = np.linspace(-1, 1, 24, dtype=np.float32).reshape(1, 2, 3, 4)
    ops, _ = run(nodes, inits, [1, 2, 1, 1], x)
    print(f"GlobalAveragePool {t:6} {'1-element' if vec else 'scalars':9}", ops)


def relu_case(t, zp_off):
    code, lo = TYPES[t]
    inits = []
    a = params(inits, "a", 0.1, lo + zp_off, code, False)
    nodes = qdq("x", a, "a") + [helper.make_node("Relu", ["a_dq"], ["r"])] + qdq("r", a, "y")
    nodes[-1].output[0] = "out"
    x = np.linspace(-0.5, 0.5, 8, dtype=np.float32).reshape(1, 8)
    ops, y = run(nodes, inits, [1, 8], x)
    print(f"Relu {t:6} zero point min+{zp_off}", ops, "min output", float(y.min()))


def main():
    for t in ["uint8", "int8", "uint16", "int16"]:
        for vec in [-1, 0, 1, 2]:
            add_case(t, vec)
    for t in ["uint8", "int8", "uint16", "int16"]:
        for vec in [False, True]:
            gap_case(t, vec)
    for t in TYPES:
        for off in [0, 1]:
            relu_case(t, off)


if __name__ == "__main__":
    main()
