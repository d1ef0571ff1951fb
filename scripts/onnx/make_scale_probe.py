#!/usr/bin/env python3
"""A QLinearMatMul probe whose outputs depend on the order of ONNX Runtime's scale arithmetic.

    /root/venvs/torch/bin/python scripts/onnx/make_scale_probe.py     # from the repository root

MLAS requantizes with output_scale = fl(fl(a_scale * b_scale) / y_scale) and
y = nearbyint(fl(float(acc) * output_scale)) + y_zero_point. Other plausible orders
(a * (b / y), (a / y) * b, the exact product rounded once) differ in the last bit for some
scales; on the ORT-quantized MNIST models no output happens to depend on it. This script searches
float32 scales for which every alternative order changes at least one output over all
256 x 256 (input, weight) pairs, writes the single-node model (uint8 input [1, 1], int8 weights
[1, 256], uint8 output) to benchmarks/models/qlinearmatmul_scale_probe.onnx and ONNX Runtime's
outputs for all 256 inputs to qlinearmatmul_scale_probe.ort.vectors.json.
"""

import json
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

F32 = np.float32
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
A_ZP, Y_ZP = 128, 128


def outputs(m):
    a = np.arange(256, dtype=np.int64)[:, None] - A_ZP
    w = np.arange(-128, 128, dtype=np.int64)[None, :]
    acc = (a * w).astype(F32)
    y = np.rint((acc * F32(m)).astype(F32)).astype(np.int64) + Y_ZP
    return np.clip(y, 0, 255)


def orders(a, b, y):
    return {
        "mlas": (a * b) / y,
        "a*(b/y)": a * (b / y),
        "(a/y)*b": (a / y) * b,
        "exact": F32(float(a) * float(b) / float(y)),
    }


def main():
    rng = np.random.RandomState(7)
    for _ in range(100000):
        a, b = F32(rng.uniform(0.002, 0.02)), F32(rng.uniform(0.002, 0.02))
        y = F32(a * b * F32(128 * 128 / 100) * F32(rng.uniform(0.8, 1.2)))
        ms = orders(a, b, y)
        ref = outputs(ms["mlas"])
        if all(not np.array_equal(outputs(m), ref) for k, m in ms.items() if k != "mlas"):
            break
    else:
        raise SystemExit("no discriminating scales found")
    diffs = {k: int((outputs(m) != ref).sum()) for k, m in ms.items() if k != "mlas"}
    print(f"a_scale={a!r} b_scale={b!r} y_scale={y!r}; outputs differing from MLAS order: {diffs}")

    w = np.arange(-128, 128, dtype=np.int8).reshape(1, 256)
    inits = [
        numpy_helper.from_array(np.array(a, dtype=F32), "a_scale"),
        numpy_helper.from_array(np.array(A_ZP, dtype=np.uint8), "a_zero_point"),
        numpy_helper.from_array(w, "b"),
        numpy_helper.from_array(np.array(b, dtype=F32), "b_scale"),
        numpy_helper.from_array(np.array(0, dtype=np.int8), "b_zero_point"),
        numpy_helper.from_array(np.array(y, dtype=F32), "y_scale"),
        numpy_helper.from_array(np.array(Y_ZP, dtype=np.uint8), "y_zero_point"),
    ]
    node = helper.make_node("QLinearMatMul", ["a", "a_scale", "a_zero_point", "b", "b_scale", "b_zero_point",
                                              "y_scale", "y_zero_point"], ["y"], name="probe")
    graph = helper.make_graph([node], "qlinearmatmul_scale_probe",
                              [helper.make_tensor_value_info("a", TensorProto.UINT8, [1, 1])],
                              [helper.make_tensor_value_info("y", TensorProto.UINT8, [1, 256])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    onnx.checker.check_model(model)
    path = os.path.join(ROOT, "benchmarks", "models", "qlinearmatmul_scale_probe.onnx")
    onnx.save(model, path)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    ins = np.arange(256, dtype=np.uint8).reshape(256, 1)
    outs = np.array([sess.run(None, {"a": x.reshape(1, 1)})[0].reshape(-1) for x in ins]).astype(np.int64)
    assert np.array_equal(outs, ref), "ONNX Runtime does not use the MLAS order assumed here"
    vec = {"model": "qlinearmatmul_scale_probe.onnx",
           "source": f"ONNX Runtime {ort.__version__} CPUExecutionProvider",
           "alternative_orders_differ": diffs,
           "inputs": ins.astype(int).tolist(), "outputs": outs.tolist()}
    with open(path.replace(".onnx", ".ort.vectors.json"), "w") as f:
        f.write("{\n" + ",\n".join(f"{json.dumps(k)}: {json.dumps(v, separators=(',', ':'))}"
                                   for k, v in vec.items()) + "\n}\n")
    print(f"wrote {path} and its vectors")


if __name__ == "__main__":
    main()
