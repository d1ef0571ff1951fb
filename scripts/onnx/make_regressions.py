#!/usr/bin/env python3
"""Small ONNX regression models for the import-soundness families (issue 15), with ONNX Runtime's
behaviour on them recorded.

    python scripts/onnx/make_regressions.py         # from the repository root; writes tests/data/onnx/

For each model NAME this writes tests/data/onnx/NAME.onnx and NAME.json: what quiver must do
("expect": "refuse" with the rule id and the node it names, or "exact"), ONNX Runtime's optimized
graph (its operators, and those computing in float), and ONNX Runtime's outputs on a few inputs
(CPU execution provider, default session, one thread; on an "exact" model they are CPU-independent,
which quiver's acceptance asserts). tests/onnx.rs checks every model against its JSON.

It also writes mnist_mlp_ort_qdq_rr.onnx (+ .json): the MNIST MLP of
benchmarks/models/mnist_mlp_ort_qdq.onnx (float weights = its dequantized weights) quantized again
by onnxruntime.quantization.quantize_static with reduce_range=True (7-bit int8 weights: ONNX
Runtime's remedy for the uint8 x int8 int16 saturation of AVX2/AVX-512 CPUs without VNNI), calibrated
on the first 500 MNIST test images (../shared/external/mnist-test-set), with ONNX Runtime's integer
outputs on the next 200 -- a real-sized model the default import accepts and reproduces.
Requirements: scripts/requirements-onnx.txt.
"""

import gzip
import json
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto as TP
from onnx import helper, numpy_helper

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "tests", "data", "onnx")
F32 = np.float32
FLOAT_COMPUTE = {"Conv", "Gemm", "MatMul", "FusedConv", "FusedGemm", "FusedMatMul", "AveragePool",
                 "GlobalAveragePool", "Relu", "Clip", "Add"}


def c(name, arr):
    return numpy_helper.from_array(np.asarray(arr), name)


def model(nodes, inp, out, inits, opset=17):
    g = helper.make_graph(nodes, "regression", [inp], [out], inits)
    ir = 10 if opset >= 21 else 8
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], ir_version=ir,
                          producer_name="quiver-regression")
    onnx.checker.check_model(m)
    return m


def ort_facts(m, inputs):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.log_severity_level = 3
    path = os.path.join("/tmp", "quiver-regression-optimized.onnx")
    so.optimized_model_filepath = path
    sess = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
    opt = onnx.load(path)
    ops = [(n.domain + ":" if n.domain else "") + n.op_type for n in opt.graph.node]
    name = sess.get_inputs()[0].name
    outs = [sess.run(None, {name: x})[0].reshape(-1) for x in inputs]
    float_outs = outs and outs[0].dtype.kind == "f"
    return {
        "ort_version": ort.__version__,
        "cpu_flags": cpu_flags(),
        "ort_ops": ops,
        "ort_float_ops": [o for o in ops if o.split(":")[-1] in FLOAT_COMPUTE],
        "inputs": [x.reshape(-1).tolist() for x in inputs],
        "outputs": [[float(v) for v in o] if float_outs else [int(v) for v in o] for o in outs],
    }


def cpu_flags():
    """The x86 features that decide MLAS's uint8 x int8 kernel (VNNI or not)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next(line for line in f if line.startswith("flags")).split()
    except (OSError, StopIteration):
        return []
    return sorted(x for x in flags if x in ("avx2", "avx512bw", "avx512_vnni", "avx_vnni", "amx_int8"))


def write_json(path, rec):
    with open(path, "w") as f:
        f.write("{\n" + ",\n".join(f"{json.dumps(k)}: {json.dumps(v, separators=(',', ':'))}"
                                    for k, v in rec.items()) + "\n}\n")


def save(name, m, inputs, expect, **facts):
    onnx.save(m, os.path.join(OUT, f"{name}.onnx"))
    rec = {"model": f"{name}.onnx"}
    rec.update(expect)
    rec.update(facts)
    rec.update(ort_facts(m, inputs))
    write_json(os.path.join(OUT, f"{name}.json"), rec)
    print(f"{name}: {expect} ORT ops {rec['ort_ops']}")


def dense_group(name, at, wt, yt, w, alpha=None, bias=None, trans_b=True, xs=0.02, ws=None, ys=0.05,
                xz=0, yz=0, opset=17, between=None, a_zp=True, ws_axis=None):
    """DQ(x) -> [between ->] Gemm/MatMul(DQ(W) [, DQ(B)]) -> Q, as ONNX Runtime's quantizer writes it."""
    npt = {TP.UINT8: np.uint8, TP.INT8: np.int8, TP.UINT16: np.uint16, TP.INT16: np.int16}
    op = "Gemm" if alpha is not None or bias is not None or trans_b else "MatMul"
    n_out = w.shape[0] if trans_b else w.shape[1]
    k = w.shape[1] if trans_b else w.shape[0]
    ws = np.full(n_out, 0.01, F32) if ws is None else ws
    inits = [c("x_scale", F32(xs)), c("w", w.astype(npt[wt])), c("w_scale", ws),
             c("w_zero_point", np.zeros(n_out, npt[wt])), c("y_scale", F32(ys)), c("y_zero_point", npt[yt](yz))]
    if a_zp:
        inits.append(c("x_zero_point", npt[at](xz)))
    nodes = [helper.make_node("DequantizeLinear", ["x", "x_scale"] + (["x_zero_point"] if a_zp else []), ["x_dq"],
                              name="dq_x"),
             helper.make_node("DequantizeLinear", ["w", "w_scale", "w_zero_point"], ["w_dq"], name="dq_w",
                              axis=(0 if trans_b else 1) if ws_axis is None else ws_axis)]
    src = "x_dq"
    if between == "Flatten":
        nodes.append(helper.make_node("Flatten", ["x_dq"], ["x_flat"], name="flatten"))
        src = "x_flat"
    ins = [src, "w_dq"]
    if bias is not None:
        inits += [c("b", bias.astype(np.int32)), c("b_scale", (F32(xs) * ws).astype(F32)),
                  c("b_zero_point", np.zeros(n_out, np.int32))]
        nodes.append(helper.make_node("DequantizeLinear", ["b", "b_scale", "b_zero_point"], ["b_dq"], name="dq_b",
                                      axis=0))
        ins.append("b_dq")
    attrs = {}
    if op == "Gemm":
        if trans_b:
            attrs["transB"] = 1
        if alpha is not None:
            attrs["alpha"] = float(alpha)
    nodes.append(helper.make_node(op, ins, ["y_f"], name="g1", **attrs))
    nodes.append(helper.make_node("QuantizeLinear", ["y_f", "y_scale", "y_zero_point"], ["y"], name="q_y"))
    m = model(nodes, helper.make_tensor_value_info("x", at, [1, k]), helper.make_tensor_value_info("y", yt, [1, n_out]),
              inits, opset)
    rng = np.random.default_rng(7)
    lo, hi = np.iinfo(npt[at]).min, np.iinfo(npt[at]).max
    inputs = [np.full((1, k), lo, npt[at]), np.full((1, k), hi, npt[at])] + \
        [rng.integers(lo, int(hi) + 1, size=(1, k)).astype(npt[at]) for _ in range(6)]
    return m, inputs


def refusals():
    rng = np.random.default_rng(15)
    w8 = rng.integers(-64, 65, size=(3, 4))
    # 1. QDQ Gemm, alpha = 2, int32 bias (issue 15, family 1)
    m, x = dense_group("qdq_gemm_alpha_bias", TP.UINT8, TP.INT8, TP.UINT8, w8, alpha=2.0,
                       bias=rng.integers(-300, 300, size=3))
    save("qdq_gemm_alpha_bias", m, x, {"expect": "refuse", "rule": "qdq-gemm-alpha-with-bias", "node": "g1"})
    # the same without the bias is fused (QGemm, alpha in the output scale) and exact
    m, x = dense_group("qdq_gemm_alpha_nobias", TP.UINT8, TP.INT8, TP.UINT8, w8, alpha=2.0)
    save("qdq_gemm_alpha_nobias", m, x, {"expect": "exact"})
    # 2. QDQ MatMul type combinations ONNX Runtime does not fuse (family 2)
    m, x = dense_group("qdq_matmul_u8_to_s8", TP.UINT8, TP.INT8, TP.INT8, w8.T, trans_b=False)
    save("qdq_matmul_u8_to_s8", m, x, {"expect": "refuse", "rule": "qdq-type-combination", "node": "g1"})
    m, x = dense_group("qdq_matmul_s8_u8w", TP.INT8, TP.UINT8, TP.INT8, (w8 + 64).T, trans_b=False)
    save("qdq_matmul_s8_u8w", m, x, {"expect": "refuse", "rule": "qdq-type-combination", "node": "g1"})
    # 3. 16-bit QDQ (family 3): uint16 activations and output, int8 weights
    m, x = dense_group("qdq_gemm_u16", TP.UINT16, TP.INT8, TP.UINT16, w8, xs=0.0001, ys=0.0002, xz=30000, yz=31000,
                       opset=21)
    save("qdq_gemm_u16", m, x, {"expect": "refuse", "rule": "qdq-16-bit", "node": "g1"})
    # DQ -> Flatten -> Gemm: QDQ propagation does not cross Flatten; ONNX Runtime runs Gemm in float
    m, x = dense_group("qdq_flatten_gemm", TP.UINT8, TP.INT8, TP.UINT8, w8, between="Flatten")
    save("qdq_flatten_gemm", m, x, {"expect": "refuse", "rule": "qdq-structure", "node": "g1"})
    # a Gemm whose input DequantizeLinear omits the zero point (QGemm fusion needs it)
    m, x = dense_group("qdq_gemm_no_zero_point", TP.UINT8, TP.INT8, TP.UINT8, w8, a_zp=False)
    save("qdq_gemm_no_zero_point", m, x, {"expect": "refuse", "rule": "qdq-structure", "node": "g1"})
    # uint8 x int8 weights that can saturate int16 pairs on AVX2: CPU-dependent; refused by default
    wsat = np.array([[127, 120, -5, 3], [-128, -100, 7, 1], [60, 60, 60, 60]])
    m, x = dense_group("qdq_gemm_u8s8_saturating", TP.UINT8, TP.INT8, TP.UINT8, wsat)
    save("qdq_gemm_u8s8_saturating", m, x, {"expect": "refuse", "rule": "u8s8-int16-saturation", "node": "g1"},
         note="ONNX Runtime's outputs here depend on the CPU that ran this script (AVX2 saturates, VNNI does not)")
    # int8 activations of a QDQ Conv are not fused on x86 (QDQIsInt8Allowed() is false)
    save_conv_s8()
    save_conv_bias_scale()


def conv_group(at, wt, w, b_scale_factor=1.0, bias=True):
    npt = {TP.UINT8: np.uint8, TP.INT8: np.int8}
    xs, ws, ys = F32(0.05), F32(0.02), F32(0.1)
    M, C = w.shape[0], w.shape[1]
    inits = [c("x_scale", xs), c("x_zero_point", npt[at](3)), c("w", w.astype(npt[wt])), c("w_scale", ws),
             c("w_zero_point", npt[wt](0)), c("y_scale", ys), c("y_zero_point", npt[at](0))]
    nodes = [helper.make_node("DequantizeLinear", ["x", "x_scale", "x_zero_point"], ["x_dq"], name="dq_x"),
             helper.make_node("DequantizeLinear", ["w", "w_scale", "w_zero_point"], ["w_dq"], name="dq_w")]
    ins = ["x_dq", "w_dq"]
    if bias:
        inits += [c("b", np.arange(M, dtype=np.int32) * 37 - 20), c("b_scale", F32(xs * ws * b_scale_factor)),
                  c("b_zero_point", np.int32(0))]
        nodes.append(helper.make_node("DequantizeLinear", ["b", "b_scale", "b_zero_point"], ["b_dq"], name="dq_b"))
        ins.append("b_dq")
    nodes += [helper.make_node("Conv", ins, ["y_f"], name="c1", kernel_shape=[2, 2], pads=[1, 1, 0, 0]),
              helper.make_node("QuantizeLinear", ["y_f", "y_scale", "y_zero_point"], ["y"], name="q_y")]
    m = model(nodes, helper.make_tensor_value_info("x", at, [1, C, 3, 3]),
              helper.make_tensor_value_info("y", at, [1, M, 3, 3]), inits)
    rng = np.random.default_rng(3)
    lo, hi = np.iinfo(npt[at]).min, np.iinfo(npt[at]).max
    return m, [rng.integers(lo, int(hi) + 1, size=(1, C, 3, 3)).astype(npt[at]) for _ in range(6)]


def save_conv_s8():
    w = np.random.default_rng(4).integers(-60, 61, size=(2, 2, 2, 2))
    m, x = conv_group(TP.INT8, TP.INT8, w)
    save("qdq_conv_s8", m, x, {"expect": "refuse", "rule": "qdq-type-combination", "node": "c1"})


def save_conv_bias_scale():
    w = np.random.default_rng(5).integers(-60, 61, size=(2, 2, 2, 2))
    m, x = conv_group(TP.UINT8, TP.INT8, w, b_scale_factor=1.5)
    save("qdq_conv_bias_scale", m, x, {"expect": "refuse", "rule": "qdq-bias", "node": "c1"})
    m, x = conv_group(TP.UINT8, TP.INT8, w)
    save("qdq_conv_u8s8", m, x, {"expect": "exact"})


def int8_pairs():
    """int8 activations between QuantizeLinear -> DequantizeLinear pairs: ONNX Runtime rewrites the
    pairs to uint8 (QDQS8ToU8Transformer) and fuses the Gemm; with the int8 output as the graph
    output (no pair after it) the group's types differ and the Gemm runs in float."""
    w = np.random.default_rng(6).integers(-64, 65, size=(3, 5))
    for name, float_out, expect in [("qdq_gemm_s8_pairs", True, {"expect": "exact"}),
                                    ("qdq_gemm_s8_int_output", False,
                                     {"expect": "refuse", "rule": "qdq-type-combination", "node": "g1"})]:
        inits = [c("x_scale", F32(0.03)), c("x_zero_point", np.int8(-5)), c("w", w.astype(np.int8)),
                 c("w_scale", np.full(3, 0.01, F32)), c("w_zero_point", np.zeros(3, np.int8)),
                 c("y_scale", F32(0.04)), c("y_zero_point", np.int8(7))]
        nodes = [helper.make_node("QuantizeLinear", ["x", "x_scale", "x_zero_point"], ["x_q"], name="q_x"),
                 helper.make_node("DequantizeLinear", ["x_q", "x_scale", "x_zero_point"], ["x_dq"], name="dq_x"),
                 helper.make_node("DequantizeLinear", ["w", "w_scale", "w_zero_point"], ["w_dq"], name="dq_w", axis=0),
                 helper.make_node("Gemm", ["x_dq", "w_dq"], ["y_f"], name="g1", transB=1),
                 helper.make_node("QuantizeLinear", ["y_f", "y_scale", "y_zero_point"], ["y"], name="q_y")]
        out = helper.make_tensor_value_info("y", TP.INT8, [1, 3])
        if float_out:
            nodes.append(helper.make_node("DequantizeLinear", ["y", "y_scale", "y_zero_point"], ["y_out"],
                                          name="dq_y"))
            out = helper.make_tensor_value_info("y_out", TP.FLOAT, [1, 3])
        m = model(nodes, helper.make_tensor_value_info("x", TP.FLOAT, [1, 5]), out, inits)
        rng = np.random.default_rng(8)
        xs = [np.full((1, 5), -10, F32), np.full((1, 5), 10, F32)] + \
            [(rng.normal(0, 2, (1, 5))).astype(F32) for _ in range(6)]
        save(name, m, xs, expect)


def float16():
    """A valid model carrying an unused float16 initializer (imported), and one whose
    QuantizeLinear scale is float16 (refused as unsupported, naming the node)."""
    w = np.random.default_rng(9).integers(-64, 65, size=(3, 4))
    m, x = dense_group("", TP.UINT8, TP.INT8, TP.UINT8, w)
    m.graph.initializer.append(numpy_helper.from_array(np.array([1.5, 2.0], np.float16), "unused_half"))
    save("qdq_gemm_unused_float16", m, x, {"expect": "exact"})
    # every scale float16 (a float16 QDQ model: Gemm in float16 between them)
    m, x = dense_group("", TP.UINT8, TP.INT8, TP.UINT8, w, opset=21)
    for t in m.graph.initializer:
        if t.data_type == TP.FLOAT:
            t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t).astype(np.float16), t.name))
    save("qdq_gemm_float16_scales", m, x, {"expect": "unsupported", "node": "dq_x"})


def read_idx(path, kind):
    with gzip.open(path, "rb") as f:
        data = f.read()
    if kind == "images":
        n, rows, cols = (int.from_bytes(data[i:i + 4], "big") for i in (4, 8, 12))
        return np.frombuffer(data, np.uint8, offset=16).reshape(n, rows * cols)
    return np.frombuffer(data, np.uint8, offset=8)


class Calib:
    def __init__(self, xs):
        self.it = iter([{"input": x.reshape(1, 784)} for x in xs])

    def get_next(self):
        return next(self.it, None)

    def rewind(self):
        pass


def mnist_rr():
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    src = onnx.load(os.path.join(ROOT, "benchmarks", "models", "mnist_mlp_ort_qdq.onnx"))
    inits = {t.name: numpy_helper.to_array(t) for t in src.graph.initializer}

    def deq(prefix):
        w = inits[f"{prefix}.weight_quantized"].astype(F32)
        s, z = inits[f"{prefix}.weight_scale"], inits[f"{prefix}.weight_zero_point"].astype(F32)
        wf = (w - z.reshape(-1, 1)) * s.reshape(-1, 1)
        b = inits[f"{prefix}.bias_quantized"].astype(F32) * inits[f"{prefix}.bias_quantized_scale"]
        return wf.astype(F32), b.astype(F32)

    nodes, finits = [], []
    cur = "input"
    for i, prefix in enumerate(["fc1", "fc2", "fc3"]):
        w, b = deq(prefix)
        finits += [c(f"{prefix}.weight", w), c(f"{prefix}.bias", b)]
        nodes.append(helper.make_node("Gemm", [cur, f"{prefix}.weight", f"{prefix}.bias"], [f"{prefix}_out"],
                                      name=f"/{prefix}/Gemm", transB=1))
        cur = f"{prefix}_out"
        if i < 2:
            nodes.append(helper.make_node("Relu", [cur], [f"relu{i + 1}"], name=f"/relu{i + 1}/Relu"))
            cur = f"relu{i + 1}"
    nodes[-1].output[0] = "logits"
    g = helper.make_graph(nodes, "mnist_mlp", [helper.make_tensor_value_info("input", TP.FLOAT, [1, 784])],
                          [helper.make_tensor_value_info("logits", TP.FLOAT, [1, 10])], finits)
    fm = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    mnist = os.path.join(ROOT, "..", "shared", "external", "mnist-test-set")
    images = read_idx(os.path.join(mnist, "t10k-images-idx3-ubyte.gz"), "images").astype(F32) / F32(255)
    labels = read_idx(os.path.join(mnist, "t10k-labels-idx1-ubyte.gz"), "labels")
    fpath, qpath = "/tmp/quiver-mnist-float.onnx", os.path.join(OUT, "mnist_mlp_ort_qdq_rr.onnx")
    onnx.save(fm, fpath)
    quantize_static(fpath, qpath, Calib(images[:500]), quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True,
                    reduce_range=True, calibrate_method=CalibrationMethod.MinMax)
    m = onnx.load(qpath)
    # integer input and output tensors, read through extra graph outputs of a copy
    first_q = next(n for n in m.graph.node if n.op_type == "QuantizeLinear")
    last_dq = next(n for n in m.graph.node if n.op_type == "DequantizeLinear" and n.output[0] == "logits")
    probe = onnx.load(qpath)
    for name in (first_q.output[0], last_dq.input[0]):
        probe.graph.output.append(helper.make_empty_tensor_value_info(name))
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(probe.SerializeToString(), so, providers=["CPUExecutionProvider"])
    xs = images[500:700]
    ins, outs = [], []
    for x in xs:
        _, a, b = sess.run(None, {"input": x.reshape(1, 784)})
        ins.append(a.reshape(-1).astype(int).tolist())
        outs.append(b.reshape(-1).astype(int).tolist())
    acc = float(np.mean(np.argmax(np.array(outs), 1) == labels[500:700]))
    rec = {"model": "mnist_mlp_ort_qdq_rr.onnx", "expect": "exact",
           "source": f"ONNX Runtime {ort.__version__} CPUExecutionProvider, quantize_static QDQ reduce_range=True "
                     "(MNIST test images 0-499 for calibration; vectors on images 500-699)",
           "argmax_accuracy": acc, "inputs": ins, "outputs": outs, "labels": labels[500:700].astype(int).tolist()}
    rec["cpu_flags"] = cpu_flags()
    write_json(os.path.join(OUT, "mnist_mlp_ort_qdq_rr.json"), rec)
    print(f"mnist_mlp_ort_qdq_rr: accuracy {acc:.3f} on its 200 vectors")


def residual_ops():
    """Issue 18: QDQ Add, GlobalAveragePool and Relu groups whose fusion quiver follows."""
    rng = np.random.default_rng(18)
    shape = [1, 2, 3, 4]

    def pair(prefix, scale, zp, t, vec):
        npt = {TP.UINT8: np.uint8, TP.INT8: np.int8}
        dims = [1] if vec else []
        if t in npt:
            z = c(prefix + "_zero_point", np.array(zp, npt[t]).reshape(dims))
        else:
            z = helper.make_tensor(prefix + "_zero_point", t, dims, [zp])
        return [c(prefix + "_scale", np.array(scale, F32).reshape(dims)), z], [prefix + "_scale", prefix + "_zero_point"]

    def add_model(vec):
        inits, a = pair("a", 0.05, 3, TP.UINT8, False)
        # the second operand reads the same integers with another scale (x·0.05 + x·0.07)
        i2, b = pair("b", 0.07, 3, TP.UINT8, vec)
        i3, y = pair("y", 0.11, 5, TP.UINT8, False)
        nodes = [helper.make_node("QuantizeLinear", ["x"] + a, ["xa"], name="q_a"),
                 helper.make_node("DequantizeLinear", ["xa"] + a, ["da"], name="dq_a"),
                 helper.make_node("DequantizeLinear", ["xa"] + b, ["db"], name="dq_b"),
                 helper.make_node("Add", ["da", "db"], ["s"], name="add1"),
                 helper.make_node("QuantizeLinear", ["s"] + y, ["y"], name="q_y")]
        return model(nodes, helper.make_tensor_value_info("x", TP.FLOAT, shape),
                     helper.make_tensor_value_info("y", TP.UINT8, shape), inits + i2 + i3)

    xs = [rng.normal(0, 4, shape).astype(F32) for _ in range(6)]
    save("qdq_add_scalar", add_model(False), xs, {"expect": "exact"})
    save("qdq_add_vector_scale", add_model(True), xs, {"expect": "refuse", "rule": "qdq-structure", "node": "add1"})

    inits, a = pair("a", 0.05, 3, TP.UINT8, True)
    i2, y = pair("y", 0.02, 7, TP.UINT8, False)
    nodes = [helper.make_node("QuantizeLinear", ["x"] + a, ["xa"], name="q_a"),
             helper.make_node("DequantizeLinear", ["xa"] + a, ["da"], name="dq_a"),
             helper.make_node("GlobalAveragePool", ["da"], ["p"], name="gap1"),
             helper.make_node("QuantizeLinear", ["p"] + y, ["y"], name="q_y")]
    m = model(nodes, helper.make_tensor_value_info("x", TP.FLOAT, [1, 3, 5, 7]),
              helper.make_tensor_value_info("y", TP.UINT8, [1, 3, 1, 1]), inits + i2)
    save("qdq_global_avg_pool", m, [rng.normal(0, 4, [1, 3, 5, 7]).astype(F32) for _ in range(6)], {"expect": "exact"})

    # DQ -> Relu -> Q on int4 with zero point -7: ONNX Runtime drops the Relu (ReluQuantFusion)
    inits, a = pair("a", 0.1, -7, TP.INT4, False)
    nodes = [helper.make_node("QuantizeLinear", ["x"] + a, ["xa"], name="q_a"),
             helper.make_node("DequantizeLinear", ["xa"] + a, ["da"], name="dq_a"),
             helper.make_node("Relu", ["da"], ["r"], name="relu1"),
             helper.make_node("QuantizeLinear", ["r"] + a, ["rq"], name="q_r"),
             helper.make_node("DequantizeLinear", ["rq"] + a, ["y"], name="dq_y")]
    m = model(nodes, helper.make_tensor_value_info("x", TP.FLOAT, [1, 8]),
              helper.make_tensor_value_info("y", TP.FLOAT, [1, 8]), inits, opset=21)
    save("qdq_relu_int4", m, [np.linspace(-0.5, 0.5, 8, dtype=F32).reshape(1, 8)],
         {"expect": "refuse", "rule": "qdq-activation", "node": "relu1"},
         ort_drops_relu=True,
         note="ONNX Runtime removes the Relu: its outputs include negative values")


def main():
    import argparse

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    groups = {"refusals": refusals, "int8_pairs": int8_pairs, "float16": float16, "mnist_rr": mnist_rr,
              "residual_ops": residual_ops}
    ap.add_argument("--only", nargs="*", choices=sorted(groups), help="write only these groups of models")
    args = ap.parse_args()
    ort.set_default_logger_severity(3)
    os.makedirs(OUT, exist_ok=True)
    for name, f in groups.items():
        if not args.only or name in args.only:
            f()


if __name__ == "__main__":
    main()
