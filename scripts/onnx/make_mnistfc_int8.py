#!/usr/bin/env python3
"""The int8 VNN-COMP 2021 `mnistfc` network (issue 16's yardstick) and ONNX Runtime's vectors.

    /root/venvs/onnx/bin/python scripts/onnx/make_mnistfc_int8.py      # from the repository root

Quantizes the VNN-COMP 2021 `mnist-net_256x2.onnx` (784-256-256-10, float, Flatten + 3 Gemm +
2 Relu; input [1,784,1] = pixel/255) with ONNX Runtime's `quantize_static`:

* QDQ format, per-channel int8 weights (symmetric, `reduce_range=True`: 7-bit values in
  [-64, 63]), uint8 activations, MinMax calibration,
* calibrated on the MNIST test images 1000-1299 (pixel/255, float32),

and writes

    benchmarks/models/mnistfc_256x2_int8rr_qdq.onnx
    benchmarks/models/mnistfc_256x2_int8rr_qdq.ort.vectors.json   (ONNX Runtime's integer tensors)

Why `reduce_range`: with full 8-bit weights, ONNX Runtime's uint8 x int8 GEMM on x86-64 CPUs
without VNNI (AVX2, AVX-512BW) adds pairs of products in int16 with saturation, so its result
depends on the CPU, and quiver's ONNX import refuses such models by default (rule
`u8s8-int16-saturation`). 7-bit weights cannot saturate: 2 * 255 * 64 < 2^15. This is ONNX
Runtime's own advice for that issue.

The vectors are ONNX Runtime's own integer input (the first QuantizeLinear's output) and integer
output (the last DequantizeLinear's input) on the MNIST test images 0-299 (CPU execution provider,
default graph optimizations, one thread, default session options; the script checks that the
exact kernel (`session.x64quantprecision = 1`) gives the same integers), read as in
make_ort_vectors.py (which this script imports).
The script checks that ONNX Runtime's float outputs are exactly the dequantized integers, and
prints the quantized model's accuracy on the whole test set next to the float model's.

Sources (../shared/external/SOURCES.md): vnncomp2021/benchmarks/mnistfc/mnist-net_256x2.onnx
(sha256 3a5c9730d60bbf1f...), mnist-test-set/t10k-{images-idx3,labels-idx1}-ubyte.gz.
Requirements: scripts/requirements-onnx.txt (onnx, onnxruntime, numpy, protobuf only).
"""

import argparse
import gzip
import hashlib
import os
import sys
import warnings

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_ort_vectors as mov  # noqa: E402

EXTERNAL = os.path.join(ROOT, "..", "shared", "external")
FLOAT_MODEL = os.path.join(EXTERNAL, "vnncomp2021", "benchmarks", "mnistfc", "mnist-net_256x2.onnx")
FLOAT_SHA256_PREFIX = "3a5c9730d60bbf1f"
IMAGES = os.path.join(EXTERNAL, "mnist-test-set", "t10k-images-idx3-ubyte.gz")
LABELS = os.path.join(EXTERNAL, "mnist-test-set", "t10k-labels-idx1-ubyte.gz")
NAME = "mnistfc_256x2_int8rr_qdq"
CALIB = range(1000, 1300)
N_VECTORS = 300
SHAPE = (784, 1)
F32 = np.float32


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


class Calib:
    """The calibration images, fed under the float model's input name ("0")."""

    def __init__(self, xs, input_name):
        self.it = iter([{input_name: x.reshape(1, *SHAPE)} for x in xs])

    def get_next(self):
        return next(self.it, None)

    def rewind(self):
        pass


def quantize(float_path, out_path, calib):
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    input_name = onnx.load(float_path).graph.input[0].name
    quantize_static(float_path, out_path, Calib(calib, input_name), quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True,
                    reduce_range=True, calibrate_method=CalibrationMethod.MinMax)


def upgrade(src, dst, xs):
    import onnx
    import onnxruntime as ort
    from onnx import version_converter

    m = version_converter.convert_version(onnx.load(src), 13)
    onnx.checker.check_model(m)
    onnx.save(m, dst)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    a = ort.InferenceSession(src, so, providers=["CPUExecutionProvider"])
    b = ort.InferenceSession(dst, so, providers=["CPUExecutionProvider"])
    name = a.get_inputs()[0].name
    for x in xs:
        feed = {name: x.reshape(1, *SHAPE)}
        assert np.array_equal(a.run(None, feed)[0], b.run(None, feed)[0]), "opset upgrade changed the float model"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "models"))
    ap.add_argument("--work", default="/tmp/quiver-onnx-work")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    import onnxruntime as ort

    with open(FLOAT_MODEL, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    assert digest.startswith(FLOAT_SHA256_PREFIX), f"unexpected float model {digest}"
    images = read_idx(IMAGES).reshape(-1, 784)
    labels = read_idx(LABELS).astype(np.int64)
    xs = (images.astype(F32) / F32(255)).astype(F32)  # pixel/255 in float32, as the vnnlib boxes

    # The float model is opset 9; per-channel DequantizeLinear (axis) needs opset >= 13, which
    # quantize_static does not pick itself (it upgrades to 11, giving an invalid model). Upgrade the
    # float model first and check that ONNX Runtime's float outputs are unchanged.
    os.makedirs(args.work, exist_ok=True)
    float13 = os.path.join(args.work, "mnist-net_256x2.opset13.onnx")
    upgrade(FLOAT_MODEL, float13, xs[:500])
    out_path = os.path.join(args.out, f"{NAME}.onnx")
    quantize(float13, out_path, xs[list(CALIB)])

    # accuracy of the float and the quantized model on the whole test set
    so = session_options(exact=False)
    acc = {}
    for tag, path in (("float", FLOAT_MODEL), ("int8", out_path)):
        sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        name = sess.get_inputs()[0].name
        pred = np.array([sess.run(None, {name: x.reshape(1, *SHAPE)})[0].argmax() for x in xs])
        acc[tag] = float((pred == labels).mean())

    # ONNX Runtime's integer input and output tensors on the first N_VECTORS test images
    import onnx

    model = onnx.load(out_path)
    input_name = model.graph.input[0].name
    ins, outs = run_ort(out_path, xs[:N_VECTORS], input_name, exact=False)
    agree = float((outs.argmax(1) == labels[:N_VECTORS]).mean())
    _, outs_exact = run_ort(out_path, xs[:N_VECTORS], input_name, exact=True)
    saturated = int((outs_exact != outs).any(axis=1).sum())
    assert saturated == 0, f"the default kernel differs from the exact one on {saturated} vectors"
    mov.write_vectors(args.out, NAME, ins, outs, (images, labels),
                      f"ONNX Runtime {ort.__version__} CPUExecutionProvider (quantize_static QDQ, per-channel "
                      f"int8 weights with reduce_range, uint8 activations, MinMax calibration on MNIST test "
                      f"images {CALIB.start}-{CALIB.stop - 1} as pixel/255) of VNN-COMP 2021 "
                      f"mnist-net_256x2.onnx; default session options; "
                      f"inputs: MNIST test images 0-{N_VECTORS - 1}")
    ops = mov.describe(out_path)
    print(f"float accuracy {acc['float']:.4f}, int8 accuracy {acc['int8']:.4f} (10000 test images)")
    print(f"int8 argmax accuracy on the {N_VECTORS} vectors: {agree:.4f}")
    print(f"ONNX Runtime's default and exact u8s8 kernels agree on all {N_VECTORS} vectors")
    print(f"ops: {ops}")
    print(f"wrote {out_path} and {NAME}.ort.vectors.json")


def session_options(exact=True):
    """One thread; with `exact`, ONNX Runtime's exact u8s8 GEMM on AVX2 machines.

    MLAS's default u8s8 kernel on AVX2 CPUs without VNNI (this machine: AMD EPYC, avx2 only) uses
    vpmaddubsw, which adds each pair of adjacent uint8·int8 products with int16 *saturation*
    (ONNX Runtime's documented "saturation issue"; it quantizes with reduce_range for that). The
    ONNX operators are defined with exact int32 accumulation, and on VNNI/ARM CPUs ONNX Runtime
    computes exactly. `session.x64quantprecision = 1` selects MLAS's exact AVX2 kernel, so the
    vectors do not depend on the CPU they were made on."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    if exact:
        so.add_session_config_entry("session.x64quantprecision", "1")
    return so


def run_ort(path, xs, input_name, exact=True):
    """make_ort_vectors.run_ort, for a model whose input is not called "input"."""
    import onnx
    import onnxruntime as ort

    model = onnx.load(path)
    qin, qout, last_dq = mov.int_boundary_tensors(model)
    probe = onnx.load(path)
    for name in (qin, qout):
        probe.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
    so = session_options(exact)
    sess = ort.InferenceSession(probe.SerializeToString(), so, providers=["CPUExecutionProvider"])
    ins, outs, ys = [], [], []
    for x in xs:
        y, a, b = sess.run([model.graph.output[0].name, qin, qout], {input_name: x.reshape(1, *SHAPE)})
        ins.append(a.reshape(-1))
        outs.append(b.reshape(-1))
        ys.append(y.reshape(-1))
    inits = mov.constants(model)
    s, z = inits[last_dq.input[1]], inits[last_dq.input[2]]
    for b, y in zip(outs, ys):
        assert np.array_equal(((b.astype(np.int32) - np.int32(z)).astype(F32) * F32(s)).astype(F32), y)
    plain = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    for x, y in zip(xs[:50], ys[:50]):
        assert np.array_equal(plain.run(None, {input_name: x.reshape(1, *SHAPE)})[0].reshape(-1), y)
    return np.array(ins), np.array(outs)


if __name__ == "__main__":
    main()
