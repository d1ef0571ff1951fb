#!/usr/bin/env python3
"""Residual and plain MNIST CNNs quantized by ONNX Runtime, with ONNX Runtime's integer vectors.

    ~/.cache/quiver-venv/bin/python scripts/onnx/make_residual.py      # from the repository root

Numpy only (no PyTorch): trains two small float CNNs on the MNIST test set in
../shared/external/mnist-test-set/ (images 0-7999 train, 8000-8499 calibrate, 8500-8899 are the
vectors; pixels / 255), builds them as float ONNX graphs with the onnx helper API (opset 17,
batch 1), and quantizes each with ONNX Runtime's `quantize_static` (uint8 activations, int8
per-channel weights with reduce_range = True, i.e. 7-bit, so that no CPU's MLAS kernel can saturate
int16 pairs; MinMax calibration) in QOperator and QDQ format:

    res:    Conv 1->8 3x3/2 +Relu = h;  Conv 8->8 3x3 +Relu = r;  s = h + r  (the skip connection)
            Conv 8->16 3x3/2 +Relu;  GlobalAveragePool;  Flatten;  Gemm 16->10
    plain:  the same without the skip connection (s = r), trained the same way

    benchmarks/models/mnist_{res,plain}_ort_{qop,qdq}.onnx
    benchmarks/models/mnist_{res,plain}_ort_{qop,qdq}.ort.vectors.json

In the residual models ONNX Runtime runs the Add as com.microsoft QLinearAdd (QOperator, and QDQ
after its fusion) and the pool as QLinearGlobalAveragePool; the script checks both in ONNX
Runtime's optimized graph. The vectors hold ONNX Runtime's own integer tensors on the 400 vector
images (CPU execution provider, default optimizations): "inputs" = the output of the first
QuantizeLinear, "outputs" = the input of the last DequantizeLinear, read as in
scripts/onnx/make_ort_vectors.py (whose helpers this script uses). tests/residual_ort.rs checks
quiver against them bit for bit. Requirements: scripts/requirements-onnx.txt.
"""

import argparse
import gzip
import json
import os
import sys
import tempfile
import warnings

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_ort_vectors as mov  # noqa: E402

F32 = np.float32
SEED = 18
TRAIN, CALIB, VECTORS = range(0, 8000), range(8000, 8500), range(8500, 8900)


def load_mnist():
    d = os.path.join(ROOT, "..", "shared", "external", "mnist-test-set")
    with gzip.open(os.path.join(d, "t10k-images-idx3-ubyte.gz")) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
    with gzip.open(os.path.join(d, "t10k-labels-idx1-ubyte.gz")) as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
    return (x.astype(F32) / F32(255)), y


# ---------------------------------------------------------------------------------------------
# a minimal numpy CNN (NCHW, im2col convolutions)

def im2col(x, k, s, p):
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    oh, ow = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    win = np.lib.stride_tricks.sliding_window_view(xp, (k, k), axis=(2, 3))[:, :, ::s, ::s][:, :, :oh, :ow]
    return win.transpose(0, 2, 3, 1, 4, 5).reshape(n * oh * ow, c * k * k), (oh, ow)


def conv_fwd(x, w, b, s, p):
    m, c, k, _ = w.shape
    cols, (oh, ow) = im2col(x, k, s, p)
    y = cols @ w.reshape(m, -1).T + b
    return y.reshape(x.shape[0], oh, ow, m).transpose(0, 3, 1, 2), cols


def conv_bwd(dy, x_shape, cols, w, s, p):
    m, c, k, _ = w.shape
    n, _, oh, ow = dy.shape
    dyf = dy.transpose(0, 2, 3, 1).reshape(-1, m)
    dw = (dyf.T @ cols).reshape(w.shape)
    db = dyf.sum(0)
    dcols = (dyf @ w.reshape(m, -1)).reshape(n, oh, ow, c, k, k)
    h, wd = x_shape[2], x_shape[3]
    dxp = np.zeros((n, c, h + 2 * p, wd + 2 * p), F32)
    for i in range(k):
        for j in range(k):
            dxp[:, :, i:i + s * oh:s, j:j + s * ow:s] += dcols[:, :, :, :, i, j].transpose(0, 3, 1, 2)
    return dxp[:, :, p:p + h, p:p + wd], dw, db


LAYERS = [("c1", 8, 1, 2), ("c2", 8, 8, 1), ("c3", 16, 8, 2)]  # name, out, in, stride (3x3, pad 1)


def init(rng):
    P = {}
    for name, m, c, _ in LAYERS:
        P[name + "w"] = (rng.normal(0, np.sqrt(2 / (c * 9)), (m, c, 3, 3))).astype(F32)
        P[name + "b"] = np.zeros(m, F32)
    P["fw"] = (rng.normal(0, np.sqrt(1 / 16), (10, 16))).astype(F32)
    P["fb"] = np.zeros(10, F32)
    return P


def forward(P, x, skip, cache=None):
    a1, k1 = conv_fwd(x, P["c1w"], P["c1b"], 2, 1)
    h = np.maximum(a1, 0)
    a2, k2 = conv_fwd(h, P["c2w"], P["c2b"], 1, 1)
    r = np.maximum(a2, 0)
    s = h + r if skip else r
    a3, k3 = conv_fwd(s, P["c3w"], P["c3b"], 2, 1)
    g = np.maximum(a3, 0)
    pooled = g.mean(axis=(2, 3))
    logits = pooled @ P["fw"].T + P["fb"]
    if cache is not None:
        cache.update(x=x, a1=a1, k1=k1, h=h, a2=a2, k2=k2, s=s, a3=a3, k3=k3, g=g, pooled=pooled)
    return logits


def backward(P, c, dlogits, skip):
    G = {"fw": dlogits.T @ c["pooled"], "fb": dlogits.sum(0)}
    dpooled = dlogits @ P["fw"]
    hw = c["g"].shape[2] * c["g"].shape[3]
    dg = np.broadcast_to(dpooled[:, :, None, None] / hw, c["g"].shape)
    da3 = dg * (c["a3"] > 0)
    ds, G["c3w"], G["c3b"] = conv_bwd(da3, c["s"].shape, c["k3"], P["c3w"], 2, 1)
    da2 = ds * (c["a2"] > 0)
    dh, G["c2w"], G["c2b"] = conv_bwd(da2, c["h"].shape, c["k2"], P["c2w"], 1, 1)
    if skip:
        dh = dh + ds
    da1 = dh * (c["a1"] > 0)
    _, G["c1w"], G["c1b"] = conv_bwd(da1, c["x"].shape, c["k1"], P["c1w"], 2, 1)
    return G


def train(x, y, skip, epochs, seed):
    rng = np.random.default_rng(seed)
    P = init(rng)
    m = {k: np.zeros_like(v) for k, v in P.items()}
    v = {k: np.zeros_like(v) for k, v in P.items()}
    t, bs = 0, 64
    for ep in range(epochs):
        lr = 1e-2 * (0.7 ** ep)
        order = rng.permutation(len(x))
        for i in range(0, len(x), bs):
            idx = order[i:i + bs]
            cache = {}
            logits = forward(P, x[idx], skip, cache)
            z = logits - logits.max(1, keepdims=True)
            p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
            p[np.arange(len(idx)), y[idx]] -= 1
            G = backward(P, cache, (p / len(idx)).astype(F32), skip)
            t += 1
            for k in P:
                m[k] = 0.9 * m[k] + 0.1 * G[k]
                v[k] = 0.999 * v[k] + 0.001 * G[k] ** 2
                mh, vh = m[k] / (1 - 0.9 ** t), v[k] / (1 - 0.999 ** t)
                P[k] = (P[k] - lr * mh / (np.sqrt(vh) + 1e-8)).astype(F32)
    return P


def accuracy(P, x, y, skip):
    return float(np.mean(np.concatenate([forward(P, x[i:i + 500], skip).argmax(1) for i in range(0, len(x), 500)])
                         == y))


# ---------------------------------------------------------------------------------------------
# ONNX

def float_model(P, skip):
    from onnx import TensorProto as TP
    from onnx import helper, numpy_helper

    inits = [numpy_helper.from_array(v, k) for k, v in P.items()]
    n = helper.make_node
    nodes = [
        n("Conv", ["input", "c1w", "c1b"], ["a1"], name="conv1", kernel_shape=[3, 3], strides=[2, 2], pads=[1] * 4),
        n("Relu", ["a1"], ["h"], name="relu1"),
        n("Conv", ["h", "c2w", "c2b"], ["a2"], name="conv2", kernel_shape=[3, 3], pads=[1] * 4),
        n("Relu", ["a2"], ["r"], name="relu2"),
    ]
    if skip:
        nodes.append(n("Add", ["h", "r"], ["s"], name="skip_add"))
    nodes += [
        n("Conv", ["s" if skip else "r", "c3w", "c3b"], ["a3"], name="conv3", kernel_shape=[3, 3], strides=[2, 2],
          pads=[1] * 4),
        n("Relu", ["a3"], ["g"], name="relu3"),
        n("GlobalAveragePool", ["g"], ["pooled"], name="gap"),
        n("Flatten", ["pooled"], ["flat"], name="flatten"),
        n("Gemm", ["flat", "fw", "fb"], ["logits"], name="fc", transB=1),
    ]
    g = helper.make_graph(nodes, "mnist_res" if skip else "mnist_plain",
                          [helper.make_tensor_value_info("input", TP.FLOAT, [1, 1, 28, 28])],
                          [helper.make_tensor_value_info("logits", TP.FLOAT, [1, 10])], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=8,
                             producer_name="quiver scripts/onnx/make_residual.py")


def quantize(float_path, out_path, fmt, calib):
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    quantize_static(float_path, out_path, mov.Calib(calib, (1, 28, 28)),
                    quant_format=QuantFormat.QOperator if fmt == "qop" else QuantFormat.QDQ,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True,
                    reduce_range=True, calibrate_method=CalibrationMethod.MinMax)


def optimized_ops(path):
    import onnx
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as d:
        so = ort.SessionOptions()
        so.log_severity_level = 3
        so.optimized_model_filepath = os.path.join(d, "opt.onnx")
        ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        return [n.op_type for n in onnx.load(so.optimized_model_filepath).graph.node]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "models"))
    ap.add_argument("--epochs", type=int, default=8)
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    import onnx
    import onnxruntime as ort

    x, y = load_mnist()
    xt, yt = x[TRAIN.start:TRAIN.stop], y[TRAIN.start:TRAIN.stop]
    calib = x[CALIB.start:CALIB.stop]
    xv, yv = x[VECTORS.start:VECTORS.stop], y[VECTORS.start:VECTORS.stop]
    summary = {}
    with tempfile.TemporaryDirectory() as work:
        for kind, skip in (("res", True), ("plain", False)):
            P = train(xt, yt, skip, args.epochs, SEED)
            acc = accuracy(P, xv, yv, skip)
            float_path = os.path.join(work, f"mnist_{kind}_float.onnx")
            onnx.save(float_model(P, skip), float_path)
            for fmt in ("qop", "qdq"):
                name = f"mnist_{kind}_ort_{fmt}"
                path = os.path.join(args.out, f"{name}.onnx")
                quantize(float_path, path, fmt, calib)
                ops = optimized_ops(path)
                if skip:
                    assert "QLinearAdd" in ops and "QLinearGlobalAveragePool" in ops, ops
                else:
                    assert "QLinearAdd" not in ops and "QLinearGlobalAveragePool" in ops, ops
                float_ops = sorted({o for o in ops if o in ("Conv", "Add", "GlobalAveragePool", "Gemm", "MatMul")})
                assert not float_ops, f"{name}: ONNX Runtime computes {float_ops} in float"
                ins, outs = mov.run_ort(path, xv, (1, 28, 28))
                acc_q = float((outs.argmax(1) == yv).mean())
                mov.write_vectors(args.out, name, ins, outs, (None, yv),
                                  f"ONNX Runtime {ort.__version__} CPUExecutionProvider (quantize_static "
                                  f"{fmt.upper()}, reduce_range, numpy-trained float model; MNIST test images "
                                  f"{VECTORS.start}-{VECTORS.stop - 1})")
                summary[name] = {"float_accuracy": acc, "quantized_accuracy": acc_q, "ort_ops": ops,
                                 "bytes": os.path.getsize(path)}
                print(f"wrote {name}: {summary[name]}", flush=True)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
