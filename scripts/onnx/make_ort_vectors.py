#!/usr/bin/env python3
"""ONNX Runtime reference models and vectors for quiver's ONNX importer.

    /root/venvs/torch/bin/python scripts/onnx/make_ort_vectors.py      # from the repository root

Trains the float MNIST MLP 784-32-16-10 and CNN (conv-conv-maxpool-fc) exactly as
scripts/pytorch/make_models.py does (same code, seed, data split and schedule: it imports that
module), exports them to ONNX with PyTorch's TorchScript exporter (fixed batch 1, opset 17),
quantizes them with ONNX Runtime's
`quantize_static` (uint8 activations, int8 per-channel weights, MinMax calibration on the same
500 training images) in QOperator and in QDQ format, and writes

    benchmarks/models/mnist_mlp_ort_qop.onnx            QuantizeLinear, QGemm..., DequantizeLinear
    benchmarks/models/mnist_mlp_ort_qdq.onnx            Q/DQ pairs around float Gemm
    benchmarks/models/mnist_mlp_ort_{qop,qdq}.ort.vectors.json
    benchmarks/models/mnist_cnn_ort_{qop,qdq}.onnx and .ort.vectors.json   (QLinearConv, MaxPool, …)

The vectors hold ONNX Runtime's own integer tensors (CPU execution provider, default graph
optimizations, i.e. with its QDQ fusions): "inputs" = the output of the first QuantizeLinear,
"outputs" = the input of the last DequantizeLinear, read by making both tensors extra graph outputs
of a copy of the model (the committed models are unchanged). The script checks that the float
outputs ONNX Runtime returns are exactly the dequantization of those integers.

With --try-torch-export it also exports the PyTorch-quantized (FBGEMM) model with PyTorch's
TorchScript ONNX exporter; if ONNX Runtime loads it, it is written as mnist_mlp_torch_qdq.onnx with
ONNX Runtime's vectors, and the script reports how many of ONNX Runtime's integer outputs differ
from PyTorch's own on the same inputs. Requirements: scripts/requirements-onnx.txt.
"""

import argparse
import json
import os
import sys
import warnings
from collections import OrderedDict

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts", "pytorch"))

N_VECTORS = 200
F32 = np.float32


def train_float(model_name="mnist_mlp"):
    import torch
    import make_models as mm

    torch.set_num_threads(1)
    train_set, test_set = mm.load_mnist()
    ctor, epochs, lr = mm.MODELS[model_name]
    mm.seed_all(mm.SEED)
    model, fuse = ctor()
    mm.train(model, train_set, epochs, lr)
    acc = mm.accuracy(model, test_set)
    return model, fuse, train_set, test_set, acc, mm


def export_float(model, path):
    import torch

    body = model.body.eval()
    x = torch.zeros(1, *model.in_shape)
    torch.onnx.export(body, (x,), path, input_names=["input"], output_names=["logits"], opset_version=17,
                      dynamo=False)


class Calib:
    def __init__(self, xs, shape):
        self.it = iter([{"input": xs[i].reshape(1, *shape)} for i in range(len(xs))])

    def get_next(self):
        return next(self.it, None)

    def rewind(self):
        pass


def quantize(float_path, out_path, fmt, calib, shape):
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    quantize_static(float_path, out_path, Calib(calib, shape),
                    quant_format=QuantFormat.QOperator if fmt == "qop" else QuantFormat.QDQ,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True,
                    calibrate_method=CalibrationMethod.MinMax)


def int_boundary_tensors(model):
    """Names of the first QuantizeLinear's output and of the last DequantizeLinear's input."""
    first_q = next(n for n in model.graph.node if n.op_type == "QuantizeLinear")
    out_name = model.graph.output[0].name
    last_dq = next(n for n in model.graph.node if n.op_type == "DequantizeLinear" and n.output[0] == out_name)
    return first_q.output[0], last_dq.input[0], last_dq


def constants(model):
    import onnx

    c = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    for n in model.graph.node:
        if n.op_type == "Constant":
            c[n.output[0]] = onnx.numpy_helper.to_array(n.attribute[0].t)
    return c


def run_ort(path, xs, shape=(784,)):
    import onnx
    import onnxruntime as ort

    model = onnx.load(path)
    qin, qout, last_dq = int_boundary_tensors(model)
    probe = onnx.load(path)
    for name in (qin, qout):
        probe.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(probe.SerializeToString(), so, providers=["CPUExecutionProvider"])
    ins, outs, ys = [], [], []
    for x in xs:
        y, a, b = sess.run([model.graph.output[0].name, qin, qout], {"input": x.reshape(1, *shape)})
        ins.append(a.reshape(-1))
        outs.append(b.reshape(-1))
        ys.append(y.reshape(-1))
    # the float output must be DequantizeLinear of the integer output, in float32
    inits = constants(model)
    s, z = inits[last_dq.input[1]], inits[last_dq.input[2]]
    for b, y in zip(outs, ys):
        assert np.array_equal(((b.astype(np.int32) - np.int32(z)).astype(F32) * F32(s)).astype(F32), y)
    # and the plain model (without probes) must give the same float outputs
    plain = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    for x, y in zip(xs[:50], ys[:50]):
        assert np.array_equal(plain.run(None, {"input": x.reshape(1, *shape)})[0].reshape(-1), y)
    return np.array(ins), np.array(outs)


def describe(path):
    import onnx

    m = onnx.load(path)
    return [f"{n.domain + ':' if n.domain else ''}{n.op_type}" for n in m.graph.node]


def try_torch_export(model, fuse, train_set, test_set, mm, out_dir):  # noqa: PLR0913
    """PyTorch's TorchScript exporter on the FBGEMM-quantized model: if ONNX Runtime loads the
    result, write it with ONNX Runtime's vectors, and count where ONNX Runtime's integer outputs
    differ from PyTorch's own (the exporter rounds PyTorch's float bias to int32)."""
    import copy

    import onnx
    import onnxruntime as ort
    import torch

    q = mm.quantize(copy.deepcopy(model), fuse, train_set[0][:mm.N_CALIB])
    path = os.path.join(out_dir, "mnist_mlp_torch_quant_export.onnx")
    try:
        torch.onnx.export(q, (torch.zeros(1, 784),), path, input_names=["input"], output_names=["logits"],
                          opset_version=17, dynamo=False)
    except Exception as e:  # noqa: BLE001 - the report is the point
        return f"torch.onnx.export failed: {type(e).__name__}: {str(e).splitlines()[0][:300]}"
    ops = describe(path)
    try:
        ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        loads = "loads in ONNX Runtime"
    except Exception as e:  # noqa: BLE001
        loads = f"ONNX Runtime refuses it: {str(e).splitlines()[0][:200]}"
    m = onnx.load(path)
    report = {"ops": sorted(set(ops)), "ort": loads, "initializers": len(m.graph.initializer)}
    if loads != "loads in ONNX Runtime":
        return report
    name = "mnist_mlp_torch_qdq"
    final = os.path.join(out_dir, f"{name}.onnx")
    os.replace(path, final)
    xs = test_set[0][:N_VECTORS]
    ins, outs = run_ort(final, xs)
    with torch.no_grad():
        body_out = q.body(q.quant(torch.from_numpy(xs)))
        torch_outs = body_out.int_repr().numpy().astype(np.int64)
        torch_ins = q.quant(torch.from_numpy(xs)).int_repr().numpy().astype(np.int64)
    report["inputs_equal_pytorch"] = bool(np.array_equal(torch_ins, ins))
    report["outputs_differing_from_pytorch"] = int((torch_outs != outs).sum())
    report["outputs_total"] = int(outs.size)
    write_vectors(out_dir, name, ins, outs, test_set, f"ONNX Runtime {ort.__version__} CPUExecutionProvider on "
                  f"torch.onnx.export (TorchScript) of the PyTorch {torch.__version__.split('+')[0]} FBGEMM model")
    return report


def write_vectors(out_dir, name, ins, outs, test_set, source):
    vectors = OrderedDict([
        ("model", f"{name}.onnx"),
        ("source", source),
        ("inputs", ins.astype(int).tolist()),
        ("outputs", outs.astype(int).tolist()),
        ("labels", test_set[1][:len(ins)].astype(int).tolist()),
    ])
    with open(os.path.join(out_dir, f"{name}.ort.vectors.json"), "w") as f:
        f.write("{\n" + ",\n".join(f"{json.dumps(k)}: {json.dumps(v, separators=(',', ':'))}"
                                    for k, v in vectors.items()) + "\n}\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "models"))
    ap.add_argument("--work", default="/tmp/quiver-onnx-work")
    ap.add_argument("--try-torch-export", action="store_true")
    ap.add_argument("--models", nargs="*", default=["mnist_mlp", "mnist_cnn"])
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    import onnxruntime as ort
    import torch

    os.makedirs(args.work, exist_ok=True)
    summary = {}
    for model_name in args.models:
        model, fuse, train_set, test_set, acc, mm = train_float(model_name)
        print(f"{model_name}: float test accuracy {acc:.4f}")
        shape = tuple(model.in_shape)
        float_path = os.path.join(args.work, f"{model_name}_float.onnx")
        export_float(model, float_path)
        calib = train_set[0][:mm.N_CALIB]
        xs = test_set[0][:N_VECTORS]
        for fmt in ("qop", "qdq"):
            name = f"{model_name}_ort_{fmt}"
            path = os.path.join(args.out, f"{name}.onnx")
            quantize(float_path, path, fmt, calib, shape)
            ins, outs = run_ort(path, xs, shape)
            acc_q = float((outs.argmax(1) == test_set[1][:N_VECTORS]).mean())
            write_vectors(args.out, name, ins, outs, test_set,
                          f"ONNX Runtime {ort.__version__} CPUExecutionProvider (quantize_static {fmt.upper()}, "
                          f"PyTorch {torch.__version__.split('+')[0]} export)")
            summary[name] = {"ops": describe(path), "argmax_accuracy_on_vectors": acc_q}
            print(f"wrote {name}.onnx and {name}.ort.vectors.json: {summary[name]}")
        if model_name == "mnist_mlp":
            mlp = (model, fuse, train_set, test_set, mm)
    if args.try_torch_export:
        summary["torch_export"] = try_torch_export(*mlp, args.out)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
