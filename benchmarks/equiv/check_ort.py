"""Replay an `quiver equiv --json` counterexample on ONNX Runtime itself.

    python benchmarks/equiv/check_ort.py REPORT.json MODEL.onnx {a|b}

Feeds the witness's dequantized input (`pair.input_real`, which the model's QuantizeLinear maps
back to the witness's integers) to ONNX Runtime's CPU provider and compares the runtime's outputs
with quiver's outputs of that network (`pair.output_a` or `pair.output_b`), dequantized with the
network's output scale and zero point when the model ends in float. Exit 1 on any difference.
Mind the CPU: a model imported with `--ort-cpu vnni` matches ONNX Runtime only on a CPU with VNNI.
"""
import json
import sys

import numpy as np
import onnxruntime as ort

report, model, side = sys.argv[1], sys.argv[2], sys.argv[3]
pair = json.load(open(report))["pair"]
sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
inp = sess.get_inputs()[0]
shape = [1 if not isinstance(d, int) else d for d in inp.shape]
x = np.array(pair["input_real"], dtype=np.float32).reshape(shape)
y = sess.run(None, {inp.name: x})[0].ravel()
want_q = np.array(pair[f"output_{side}"])
want_real = np.array(pair[f"output_{side}_real"], dtype=np.float32)
if y.dtype.kind == "f":
    # The graph dequantizes its output in binary32: compare with quiver's dequantized values.
    same = np.array_equal(y, want_real)
else:
    same = np.array_equal(y.astype(np.int64), want_q)
print(f"ONNX Runtime {ort.__version__}: {y.tolist()}")
print(f"quiver output_{side}: {want_q.tolist()} (real {want_real.tolist()})")
print("identical" if same else "DIFFERENT")
sys.exit(0 if same else 1)
