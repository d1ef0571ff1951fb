#!/usr/bin/env python3
"""Conformance generator for quiver's ONNX importer, with ONNX Runtime as the oracle.

    python scripts/onnx/conformance.py --seed 1 --cases 300 --out DIR      # from the repository root

Builds random small quantized ONNX graphs over what quiver's importer accepts and what users'
quantizers emit -- QDQ groups (DequantizeLinear -> Conv/MatMul/Gemm [-> Relu/Clip] ->
QuantizeLinear, pools, activations, shape ops, multi-layer chains, models written by
onnxruntime.quantization.quantize_static, residual blocks with Add and GlobalAveragePool) and
QOperator graphs (QLinearMatMul, QLinearConv,
com.microsoft QGemm/QLinearAdd/QLinearAveragePool/..., MatMulInteger, ConvInteger, integer
Relu/Clip/MaxPool) -- over activation/weight types (uint8, int8, uint16, int16, uint4, int4),
per-tensor/per-channel weights, symmetric/asymmetric zero points, random and tie-prone scales,
opsets 13-25. Each model is run by ONNX Runtime's CPU execution provider in a default inference
session (ORT_ENABLE_ALL, batch 1, one intra-op thread) on several inputs, including saturating
ones, and the optimized graph ONNX Runtime actually executes is saved to record its operators.

Output (DIR is created):
    DIR/case_NNNNN.onnx     the model
    DIR/cases.jsonl         one JSON object per case: id, file, family, desc, node names, input
                            kind/values, ONNX Runtime's outputs (integers, or float32 values for
                            models with a float output), ONNX Runtime's status and the operators of
                            its optimized graph ("ort_ops"), and the ones among them that compute
                            in float ("ort_float_ops": a float Conv/Gemm/MatMul/pool... that quiver
                            cannot reproduce bit for bit).

Case i is generated from numpy's default_rng([seed, i]) alone, so any slice of a run can be
regenerated (--first). quiver's side of the comparison is tests/onnx_conformance.rs.
Requirements: scripts/requirements-onnx.txt (onnx, onnxruntime, numpy, protobuf; pinned).
"""

import argparse
import json
import os
import sys
import tempfile
import time
import traceback

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto as TP
from onnx import helper, numpy_helper

F32 = np.float32

# name -> (onnx type, min, max, numpy dtype or None for sub-byte types)
TYPES = {
    "uint8": (TP.UINT8, 0, 255, np.uint8),
    "int8": (TP.INT8, -128, 127, np.int8),
    "uint16": (TP.UINT16, 0, 65535, np.uint16),
    "int16": (TP.INT16, -32768, 32767, np.int16),
    "uint4": (TP.UINT4, 0, 15, None),
    "int4": (TP.INT4, -8, 7, None),
}
# Operators whose float execution in ONNX Runtime's optimized graph quiver cannot reproduce bit
# for bit (float summation order, float averaging): a model quiver accepts must have none.
FLOAT_COMPUTE = {
    "Conv", "Gemm", "MatMul", "FusedConv", "FusedGemm", "FusedMatMul", "AveragePool",
    "GlobalAveragePool", "MatMulIntegerToFloat", "MatMulNBits", "Add", "Sub", "Mul", "Div", "Sum",
    "Softmax", "Sigmoid", "LeakyRelu", "Tanh", "BatchNormalization", "LpPool", "GlobalMaxPool",
}


def choice(rng, items, p=None):
    if p is not None:
        p = np.array(p, dtype=float)
        p = p / p.sum()
    return items[int(rng.choice(len(items), p=p))]


class Graph:
    """A small graph builder: named nodes, initializers, one input, one output."""

    def __init__(self, rng, opset):
        self.rng = rng
        self.opset = opset
        self.nodes = []
        self.inits = []
        self.k = 0
        self.ms_domain = False
        self.desc = []

    def name(self, base):
        self.k += 1
        return f"{base}_{self.k}"

    def const(self, value, tname, base="c"):
        """An initializer of quantized type `tname` (or 'float'/'int32'/'int64') from integers/floats."""
        name = self.name(base)
        if tname == "float":
            t = numpy_helper.from_array(np.asarray(value, dtype=F32), name)
        elif tname == "int32":
            t = numpy_helper.from_array(np.asarray(value, dtype=np.int32), name)
        elif tname == "int64":
            t = numpy_helper.from_array(np.asarray(value, dtype=np.int64), name)
        else:
            code, lo, hi, npd = TYPES[tname]
            arr = np.asarray(value)
            assert arr.min(initial=lo) >= lo and arr.max(initial=hi) <= hi, (tname, arr)
            if npd is None:
                t = helper.make_tensor(name, code, list(arr.shape), arr.astype(np.int64).flatten().tolist())
            else:
                t = numpy_helper.from_array(arr.astype(npd), name)
        self.inits.append(t)
        return name

    def node(self, op, inputs, domain="", outputs=1, base=None, **attrs):
        name = self.name(base or op.lower())
        outs = [f"{name}_out{j}" if outputs > 1 else f"{name}_out" for j in range(outputs)]
        self.nodes.append(helper.make_node(op, inputs, outs, name=name, domain=domain, **attrs))
        if domain == "com.microsoft":
            self.ms_domain = True
        return outs[0] if outputs == 1 else outs

    def qp(self, scale, zp, tname, flexible=True):
        """Scale and zero-point constants of a QuantizeLinear/DequantizeLinear pair; sometimes as
        1-element vectors, and a zero zero point sometimes omitted (QDQ only: flexible)."""
        vec = flexible and self.rng.random() < 0.15
        sn = self.const(np.array(scale, dtype=F32).reshape([1] if vec else []), "float", "scale")
        omit = flexible and zp == 0 and (tname == "uint8" or self.opset >= 21) and self.rng.random() < 0.25
        if omit:
            return sn, (None, tname)
        return sn, (self.const(np.array(zp).reshape([1] if vec else []), tname, "zero_point"), tname)

    def q(self, x, sn, zq, base="quant"):
        zn, tname = zq
        attrs = {} if zn is not None or tname == "uint8" else {"output_dtype": TYPES[tname][0]}
        return self.node("QuantizeLinear", [x, sn] + ([zn] if zn is not None else []), base=base, **attrs)

    def dq(self, x, sn, zq, base="dequant", **attrs):
        zn, _ = zq
        return self.node("DequantizeLinear", [x, sn] + ([zn] if zn is not None else []), base=base, **attrs)

    def model(self, inp, out):
        g = helper.make_graph(self.nodes, "conformance", [inp], [out], self.inits)
        opsets = [helper.make_opsetid("", self.opset)]
        if self.ms_domain:
            opsets.append(helper.make_opsetid("com.microsoft", 1))
        ir = 10 if self.opset >= 21 else (9 if self.opset >= 19 else 8)
        return helper.make_model(g, opset_imports=opsets, ir_version=ir, producer_name="quiver-conformance")


# ---------------------------------------------------------------------------------------------
# random parameters

def rand_scale(rng, style):
    if style == "tie":
        return F32(2.0 ** -int(rng.integers(0, 9)))
    if style == "tie3":
        return F32(3 * 2.0 ** -int(rng.integers(2, 10)))
    return F32(10 ** rng.uniform(-3.5, 0.3))


def rand_zp(rng, tname, style="any"):
    _, lo, hi, _ = TYPES[tname]
    if style == "zero" or (style == "any" and rng.random() < 0.3):
        return 0 if lo < 0 else (0 if rng.random() < 0.5 else (hi + 1) // 2)
    return int(rng.integers(lo, hi + 1))


def rand_ints(rng, shape, tname, style="full"):
    _, lo, hi, _ = TYPES[tname]
    if style == "s7" and lo < 0:
        lo, hi = max(lo, -(hi + 1) // 2), (hi + 1) // 2
    if style == "s7" and lo == 0:
        hi = hi // 2
    v = rng.integers(lo, hi + 1, size=shape)
    if style == "extreme":
        mask = rng.random(shape) < 0.6
        v = np.where(mask, np.where(rng.random(shape) < 0.5, lo, hi), v)
    if style == "sparse":
        v = np.where(rng.random(shape) < 0.5, 0 if lo <= 0 <= hi else lo, v)
    return v.astype(np.int64)


def pick_types(rng, opset):
    """(activation, weight, output) type names; 16-bit and 4-bit need opset >= 21."""
    wide = opset >= 21
    acts = ["uint8", "int8"] + (["uint16", "int16", "uint4", "int4"] if wide else [])
    pa = [45, 30] + ([8, 8, 3, 3] if wide else [])
    wts = ["int8", "uint8"] + (["int16", "uint16", "int4", "uint4"] if wide else [])
    pw = [50, 25] + ([6, 5, 7, 4] if wide else [])
    a = choice(rng, acts, pa)
    w = choice(rng, wts, pw)
    y = a if rng.random() < 0.8 else choice(rng, acts)
    return a, w, y


# ---------------------------------------------------------------------------------------------
# the network input and output

class Endpoint:
    """Builds the graph input (integer, or float followed by QuantizeLinear) and output."""

    def __init__(self, g, rng, tname, shape, scale, zp, float_in=None, flexible=True):
        self.g, self.rng, self.tname, self.shape, self.scale, self.zp = g, rng, tname, shape, scale, zp
        self.flexible = flexible
        self.float_in = (rng.random() < 0.4) if float_in is None else float_in
        if TYPES[tname][3] is None:
            self.float_in = True  # numpy cannot feed 4-bit graph inputs
        self.explicit_zp = True

    def input_value(self):
        """The graph input and the integer tensor name it yields (through Q if float)."""
        code = TYPES[self.tname][0]
        s, z = self.g.qp(self.scale, self.zp, self.tname, self.flexible)
        if self.float_in:
            vi = helper.make_tensor_value_info("x", TP.FLOAT, self.shape)
            return vi, self.g.q("x", s, z, base="quant_in"), s, z
        vi = helper.make_tensor_value_info("x", code, self.shape)
        return vi, "x", s, z

    def inputs(self, n):
        _, lo, hi, _ = TYPES[self.tname]
        size = int(np.prod(self.shape))
        qs = [np.full(size, lo), np.full(size, hi), np.tile([lo, hi], size)[:size]]
        while len(qs) < n:
            style = choice(self.rng, ["full", "extreme"], [3, 1])
            qs.append(rand_ints(self.rng, size, self.tname, style))
        qs = [np.asarray(q, dtype=np.int64) for q in qs[:n]]
        if not self.float_in:
            return qs
        out = []
        s = float(self.scale)
        for q in qs:
            off = self.rng.choice([0.0, 0.5, -0.5, 0.25], size=size)
            x = ((q - self.zp) + off) * s
            # some values beyond the range (saturation), some exactly representable ties
            far = self.rng.random(size) < 0.1
            x = np.where(far, x * 3 + np.sign(self.rng.random(size) - 0.5) * 4 * s * (hi - lo), x)
            out.append(x.astype(F32))
        return out


def finish(g, rng, y, yt, ys, yz, shape, float_out=None):
    """Graph output: the integer tensor `y`, or DequantizeLinear(y) if float_out."""
    float_out = (rng.random() < 0.35) if float_out is None else float_out
    if float_out:
        out = g.dq(y, ys, yz, base="dequant_out")
        return helper.make_tensor_value_info(out, TP.FLOAT, shape), True
    return helper.make_tensor_value_info(y, TYPES[yt][0], shape), False


def qdq_act(g, rng, tname, scale=None, zp=None, style=None):
    """Scale and zero point constants for an activation of type tname."""
    style = style or choice(rng, ["random", "tie", "tie3"], [5, 3, 1])
    s = rand_scale(rng, style) if scale is None else scale
    z = rand_zp(rng, tname) if zp is None else zp
    return s, z


# ---------------------------------------------------------------------------------------------
# QDQ families

def weight_dq(g, rng, w_shape, wt, out_axis, per_channel, asym, style):
    w = rand_ints(rng, w_shape, wt, style)
    n = w_shape[out_axis]
    if per_channel:
        ws = np.array([rand_scale(rng, choice(rng, ["random", "tie"], [3, 1])) for _ in range(n)], dtype=F32)
        wz = np.array([rand_zp(rng, wt, "any" if asym else "zero") for _ in range(n)])
    else:
        ws = rand_scale(rng, choice(rng, ["random", "tie"], [3, 1]))
        wz = rand_zp(rng, wt, "any" if asym else "zero")
    axis = out_axis
    if per_channel and rng.random() < 0.05:
        axis = 1 - out_axis if len(w_shape) == 2 else 1  # a wrong axis: must be refused
        n2 = w_shape[axis]
        ws = np.resize(ws, n2).astype(F32)
        wz = np.resize(wz, n2)
    wn = g.const(w, wt, "W")
    sn = g.const(ws, "float", "W_scale")
    zn = g.const(wz, wt, "W_zero_point")
    attrs = {"axis": axis} if per_channel else {}
    out = g.node("DequantizeLinear", [wn, sn, zn], base="dq_W", **attrs)
    return out, ws


def bias_input(g, rng, n, xs, ws, kind):
    if kind == "none":
        return None
    if kind == "float":
        return g.const(rng.normal(0, 1, n).astype(F32), "float", "B_float")
    big = rng.random() < 0.2
    b = rng.integers(-(1 << (20 if big else 12)), 1 << (20 if big else 12), size=n)
    bs = (F32(xs) * np.asarray(ws, dtype=F32)).astype(F32) if rng.random() < 0.9 else rand_scale(rng, "random")
    if np.ndim(bs) == 0:
        bs = np.array(bs, dtype=F32)
    bn = g.const(b, "int32", "B")
    sn = g.const(bs, "float", "B_scale")
    zn = g.const(np.zeros(np.shape(bs), dtype=np.int32), "int32", "B_zero_point")
    return g.node("DequantizeLinear", [bn, sn, zn], base="dq_B", **({"axis": 0} if np.ndim(bs) == 1 else {}))


def activation_tail(g, rng, y, yt, ys, yz):
    """Optional Relu/Clip between the float op and its QuantizeLinear."""
    kind = choice(rng, ["none", "relu", "clip"], [6, 3, 2])
    if kind == "relu":
        return g.node("Relu", [y]), "relu"
    if kind == "clip":
        _, lo, hi, _ = TYPES[yt]
        r = rng.random()
        if r < 0.4:  # redundant for the output quantization
            cmin, cmax = (lo - yz - 2) * ys, (hi - yz + 2) * ys
        elif r < 0.7:
            cmin, cmax = 0.0, float(rng.uniform(0.5, 6.0))
        else:
            cmin, cmax = float(rng.uniform(-3, 0)), float(rng.uniform(0, 3))
        return g.node("Clip", [y, g.const(F32(cmin), "float", "clip_min"), g.const(F32(cmax), "float", "clip_max")]), \
            f"clip[{cmin:.3g},{cmax:.3g}]"
    return y, ""


def gen_qdq_dense(rng, opset, op):
    g = Graph(rng, opset)
    at, wt, yt = pick_types(rng, opset)
    K, N = int(rng.integers(1, 17)), int(rng.integers(1, 9))
    rows = 1
    if op == "MatMul" and rng.random() < 0.15:
        rows = int(rng.integers(2, 4))
    xs, xz = qdq_act(g, rng, at)
    x_shape = [1, K] if rows == 1 else [1, rows, K]
    trans_a = op == "Gemm" and rng.random() < 0.08
    if trans_a:
        x_shape = [K, 1]
    ep = Endpoint(g, rng, at, x_shape, xs, xz)
    vi, xq, xsn, xzn = ep.input_value()
    xd = g.dq(xq, xsn, xzn, base="dq_x")
    between = choice(rng, ["", "Flatten", "Reshape", "Identity", "Relu"], [12, 1, 1, 1, 1]) if rows == 1 and not trans_a else ""
    if between == "Flatten":
        xd = g.node("Flatten", [xd])
    elif between == "Reshape":
        xd = g.node("Reshape", [xd, g.const(np.array([1, K]), "int64", "shape")])
    elif between in ("Identity", "Relu"):
        xd = g.node(between, [xd])
    trans_b = op == "Gemm" and rng.random() < 0.5
    per_channel = rng.random() < 0.5
    asym = rng.random() < 0.3
    wstyle = choice(rng, ["full", "s7", "extreme", "sparse"], [4, 3, 2, 1])
    w_shape = [N, K] if trans_b else [K, N]
    wd, ws = weight_dq(g, rng, w_shape, wt, 0 if trans_b else 1, per_channel, asym, wstyle)
    inputs = [xd, wd]
    attrs = {}
    bias = "none"
    if op == "Gemm":
        bias = choice(rng, ["none", "int32", "float"], [4, 6, 1])
        b = bias_input(g, rng, N, xs, ws, bias)
        if b:
            inputs.append(b)
        alpha = choice(rng, [1.0, 2.0, float(rng.uniform(0.1, 3))], [6, 2, 2])
        beta = choice(rng, [1.0, float(rng.uniform(0.1, 3))], [8, 2])
        if alpha != 1.0:
            attrs["alpha"] = alpha
        if beta != 1.0:
            attrs["beta"] = beta
        if trans_b:
            attrs["transB"] = 1
        if trans_a:
            attrs["transA"] = 1
    y = g.node(op, inputs, base=op.lower(), **attrs)
    ys, yz = qdq_act(g, rng, yt)
    y, tail = activation_tail(g, rng, y, yt, ys, yz)
    ysn, yzn = g.qp(ys, yz, yt)
    yq = g.q(y, ysn, yzn, base="quant_y")
    out_shape = [1, N] if rows == 1 else [1, rows, N]
    out, float_out = finish(g, rng, yq, yt, ysn, yzn, out_shape)
    desc = (f"{op} {at}x{wt}->{yt} K={K} N={N}{' rows=' + str(rows) if rows > 1 else ''}"
            f"{' transA' if trans_a else ''}{' transB' if trans_b else ''}"
            f"{' alpha=%.3g' % attrs['alpha'] if 'alpha' in attrs else ''}{' beta=%.3g' % attrs['beta'] if 'beta' in attrs else ''}"
            f" bias={bias} {'per-channel' if per_channel else 'per-tensor'}{' asym-w' if asym else ''} w={wstyle}"
            f"{' between=' + between if between else ''}{' ' + tail if tail else ''}")
    return g, ep, vi, out, float_out, f"qdq-{op.lower()}", desc


def gen_qdq_conv(rng, opset):
    g = Graph(rng, opset)
    at, wt, yt = pick_types(rng, opset)
    depthwise = rng.random() < 0.25
    C = int(rng.integers(1, 5))
    groups = C if depthwise else (2 if C % 2 == 0 and rng.random() < 0.15 else 1)
    M = C * int(rng.integers(1, 3)) if depthwise else groups * int(rng.integers(1, 4))
    H, W = int(rng.integers(3, 8)), int(rng.integers(3, 8))
    kh, kw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    stride = [int(rng.integers(1, 3)), int(rng.integers(1, 3))]
    dil = [int(rng.integers(1, 3)), int(rng.integers(1, 3))] if rng.random() < 0.2 else [1, 1]
    pads = [int(v) for v in rng.integers(0, 2, size=4)] if rng.random() < 0.6 else [0, 0, 0, 0]
    if (H + pads[0] + pads[2] - dil[0] * (kh - 1) - 1) < 0 or (W + pads[1] + pads[3] - dil[1] * (kw - 1) - 1) < 0:
        kh, kw, dil = 1, 1, [1, 1]
    oh = (H + pads[0] + pads[2] - dil[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (W + pads[1] + pads[3] - dil[1] * (kw - 1) - 1) // stride[1] + 1
    xs, xz = qdq_act(g, rng, at)
    ep = Endpoint(g, rng, at, [1, C, H, W], xs, xz)
    vi, xq, xsn, xzn = ep.input_value()
    xd = g.dq(xq, xsn, xzn, base="dq_x")
    per_channel = rng.random() < 0.6
    asym = rng.random() < 0.25
    wstyle = choice(rng, ["full", "s7", "extreme", "sparse"], [4, 3, 2, 1])
    wd, ws = weight_dq(g, rng, [M, C // groups, kh, kw], wt, 0, per_channel, asym, wstyle)
    bias = choice(rng, ["none", "int32", "float"], [3, 6, 1])
    inputs = [xd, wd]
    b = bias_input(g, rng, M, xs, ws, bias)
    if b:
        inputs.append(b)
    conv_attrs = dict(kernel_shape=[kh, kw], strides=stride, pads=pads, dilations=dil, group=groups)
    if rng.random() < 0.1:  # auto_pad SAME_UPPER/SAME_LOWER: output H/stride (rounded up)
        del conv_attrs["pads"]
        conv_attrs["auto_pad"] = choice(rng, ["SAME_UPPER", "SAME_LOWER"])
        pads = conv_attrs["auto_pad"]
        oh, ow = -(-H // stride[0]), -(-W // stride[1])
    y = g.node("Conv", inputs, **conv_attrs)
    ys, yz = qdq_act(g, rng, yt)
    y, tail = activation_tail(g, rng, y, yt, ys, yz)
    ysn, yzn = g.qp(ys, yz, yt)
    yq = g.q(y, ysn, yzn, base="quant_y")
    out, float_out = finish(g, rng, yq, yt, ysn, yzn, [1, M, oh, ow])
    desc = (f"Conv {at}x{wt}->{yt} C={C} M={M} group={groups} {H}x{W} k={kh}x{kw} s={stride} d={dil} p={pads}"
            f" bias={bias} {'per-channel' if per_channel else 'per-tensor'}{' asym-w' if asym else ''} w={wstyle}"
            f"{' ' + tail if tail else ''}")
    return g, ep, vi, out, float_out, "qdq-conv", desc


def pool_attrs(rng, op, H, W):
    kh, kw = int(rng.integers(1, min(3, H) + 1)), int(rng.integers(1, min(3, W) + 1))
    attrs = {"kernel_shape": [kh, kw]}
    stride = [int(rng.integers(1, 3)), int(rng.integers(1, 3))]
    attrs["strides"] = stride
    pads = [0, 0, 0, 0]
    if rng.random() < 0.4:
        pads = [int(rng.integers(0, kh)), int(rng.integers(0, kw)), int(rng.integers(0, kh)), int(rng.integers(0, kw))]
        attrs["pads"] = pads
    if op == "AveragePool" and rng.random() < 0.5:
        attrs["count_include_pad"] = 1
    if rng.random() < 0.1:
        attrs["ceil_mode"] = 1
    dil = [1, 1]
    if op == "MaxPool" and rng.random() < 0.2 and H + pads[0] + pads[2] >= 2 * kh - 1 and W + pads[1] + pads[3] >= 2 * kw - 1:
        dil = [2, 2]
        attrs["dilations"] = dil
    ekh, ekw = dil[0] * (kh - 1) + 1, dil[1] * (kw - 1) + 1
    oh = (H + pads[0] + pads[2] - ekh) // stride[0] + 1
    ow = (W + pads[1] + pads[3] - ekw) // stride[1] + 1
    if attrs.get("ceil_mode"):
        oh = -(-(H + pads[0] + pads[2] - ekh) // stride[0]) + 1
        ow = -(-(W + pads[1] + pads[3] - ekw) // stride[1]) + 1
    return attrs, [oh, ow]


def gen_qdq_unary(rng, opset):
    """DQ -> MaxPool/AveragePool/GlobalAveragePool/Relu/Clip/Flatten/Reshape/Transpose -> Q."""
    g = Graph(rng, opset)
    at = pick_types(rng, opset)[0]
    op = choice(rng, ["MaxPool", "AveragePool", "GlobalAveragePool", "Relu", "Clip", "Flatten", "Reshape",
                      "Transpose", "LeakyRelu"], [4, 3, 2, 3, 2, 1, 1, 1, 1])
    C, H, W = int(rng.integers(1, 4)), int(rng.integers(2, 7)), int(rng.integers(2, 7))
    xs, xz = qdq_act(g, rng, at)
    ep = Endpoint(g, rng, at, [1, C, H, W], xs, xz)
    vi, xq, xsn, xzn = ep.input_value()
    xd = g.dq(xq, xsn, xzn, base="dq_x")
    same = rng.random() < 0.8
    ys, yz = (xs, xz) if same else qdq_act(g, rng, at)
    out_shape = [1, C, H, W]
    extra = ""
    if op in ("MaxPool", "AveragePool"):
        attrs, (oh, ow) = pool_attrs(rng, op, H, W)
        y = g.node(op, [xd], **attrs)
        out_shape = [1, C, oh, ow]
        extra = json.dumps(attrs, separators=(",", ":"))
    elif op == "GlobalAveragePool":
        y = g.node(op, [xd])
        out_shape = [1, C, 1, 1]
    elif op == "Clip":
        cmin, cmax = sorted(rng.uniform(-2, 2, size=2) * 50 * xs)
        y = g.node("Clip", [xd, g.const(F32(cmin), "float", "clip_min"), g.const(F32(cmax), "float", "clip_max")])
        extra = f"[{cmin:.3g},{cmax:.3g}]"
    elif op == "Flatten":
        y = g.node("Flatten", [xd])
        out_shape = [1, C * H * W]
    elif op == "Reshape":
        y = g.node("Reshape", [xd, g.const(np.array([1, -1]), "int64", "shape")])
        out_shape = [1, C * H * W]
    elif op == "Transpose":
        y = g.node("Transpose", [xd], perm=[0, 1, 3, 2])
        out_shape = [1, C, W, H]
    else:
        y = g.node(op, [xd])
    ysn, yzn = g.qp(ys, yz, at)
    yq = g.q(y, ysn, yzn, base="quant_y")
    out, float_out = finish(g, rng, yq, at, ysn, yzn, out_shape)
    desc = f"DQ->{op}{extra}->Q {at} {'same params' if same else 'requantized'}"
    return g, ep, vi, out, float_out, "qdq-unary", desc


def gen_qdq_chain(rng, opset):
    """A small network as ONNX Runtime's quantizer writes it: Q/DQ pairs around every op."""
    g = Graph(rng, opset)
    at, wt, _ = pick_types(rng, opset)
    if rng.random() < 0.7:
        at = choice(rng, ["uint8", "int8"])
    C, H, W = int(rng.integers(1, 3)), int(rng.integers(4, 8)), int(rng.integers(4, 8))
    xs, xz = qdq_act(g, rng, at)
    conv = rng.random() < 0.7
    shape = [1, C, H, W] if conv else [1, int(rng.integers(2, 12))]
    ep = Endpoint(g, rng, at, shape, xs, xz)
    vi, cur, s, z = ep.input_value()
    per_channel = rng.random() < 0.5
    wstyle = choice(rng, ["full", "s7", "extreme"], [3, 3, 1])
    steps = []
    cs, cz = xs, xz

    def requant(y, fused_relu=False):
        ns, nz = qdq_act(g, rng, at, zp=(TYPES[at][1] if fused_relu else None))
        sn, zn = g.qp(ns, nz, at)
        return g.q(y, sn, zn, base="q"), sn, zn, ns, nz

    if conv:
        for _ in range(int(rng.integers(1, 3))):
            d = g.dq(cur, s, z, base="dq")
            M = int(rng.integers(1, 4))
            wd, ws = weight_dq(g, rng, [M, C, 3, 3], wt, 0, per_channel, False, wstyle)
            b = bias_input(g, rng, M, cs, ws, "int32")
            y = g.node("Conv", [d, wd, b], kernel_shape=[3, 3], pads=[1, 1, 1, 1])
            relu = rng.random() < 0.5
            if relu:
                y = g.node("Relu", [y])
            cur, s, z, cs, cz = requant(y, relu)
            C = M
            steps.append("Conv" + ("+Relu" if relu else ""))
        if rng.random() < 0.5:
            d = g.dq(cur, s, z, base="dq")
            y = g.node("MaxPool", [d], kernel_shape=[2, 2], strides=[2, 2])
            cur = g.q(y, s, z, base="q")
            H, W = H // 2, W // 2
            steps.append("MaxPool")
        d = g.dq(cur, s, z, base="dq")
        y = g.node("Flatten", [d])
        cur = g.q(y, s, z, base="q")
        K = C * H * W
        steps.append("Flatten")
    else:
        K = shape[1]
    for li in range(int(rng.integers(1, 3))):
        d = g.dq(cur, s, z, base="dq")
        N = int(rng.integers(2, 8))
        wd, ws = weight_dq(g, rng, [N, K], wt, 0, per_channel, False, wstyle)
        b = bias_input(g, rng, N, cs, ws, "int32")
        y = g.node("Gemm", [d, wd, b], transB=1)
        relu = rng.random() < 0.5
        if relu:
            y = g.node("Relu", [y])
        cur, s, z, cs, cz = requant(y, relu)
        K = N
        steps.append("Gemm" + ("+Relu" if relu else ""))
    out, float_out = finish(g, rng, cur, at, s, z, [1, K])
    desc = f"chain {at}x{wt} {'per-channel' if per_channel else 'per-tensor'} w={wstyle}: " + " -> ".join(steps)
    return g, ep, vi, out, float_out, "qdq-chain", desc


def gen_qdq_residual(rng, opset):
    """A residual block as ONNX Runtime's quantizer writes it, with variations it must refuse:

        x -> DQ -> branch (Conv [+Relu] | Relu | MaxPool | identity) -> Q -> DQ --+
        x -> DQ (the same DQ, or another one) --------------------------------- Add [-> Relu] -> Q
        [-> DQ -> GlobalAveragePool -> Q]

    Scales and zero points are sometimes 1-element vectors or omitted (g.qp), which decides
    whether ONNX Runtime fuses the Add into QLinearAdd."""
    g = Graph(rng, opset)
    wide = opset >= 21
    at = choice(rng, ["uint8", "int8"] + (["uint16", "int16"] if wide else []), [6, 3] + ([1, 1] if wide else []))
    C, H, W = int(rng.integers(1, 4)), int(rng.integers(2, 7)), int(rng.integers(2, 7))
    xs, xz = qdq_act(g, rng, at)
    ep = Endpoint(g, rng, at, [1, C, H, W], xs, xz)
    vi, xq, xsn, xzn = ep.input_value()
    xd = g.dq(xq, xsn, xzn, base="dq_x")
    branch = choice(rng, ["conv", "relu", "maxpool", "identity"], [4, 2, 1, 1])
    bs, bz = qdq_act(g, rng, at)
    if branch == "conv":
        wt = "uint8" if at == "uint8" and rng.random() < 0.3 else "int8"
        wd, ws = weight_dq(g, rng, [C, C, 3, 3], wt, 0, rng.random() < 0.5, False, choice(rng, ["full", "s7"]))
        b = bias_input(g, rng, C, xs, ws, "int32")
        y = g.node("Conv", [xd, wd] + ([b] if b else []), kernel_shape=[3, 3], pads=[1, 1, 1, 1])
        if rng.random() < 0.5:
            y = g.node("Relu", [y])
            bz = TYPES[at][1]
            branch += "+relu"
    elif branch == "relu":
        y = g.node("Relu", [xd])
        bs, bz = xs, xz
    elif branch == "maxpool":
        y = g.node("MaxPool", [xd], kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1])
        bs, bz = xs, xz
    else:
        y = None
    if y is None:
        other = xd if rng.random() < 0.5 else g.dq(xq, *g.qp(xs, xz, at), base="dq_x2")
    else:
        bsn, bzn = g.qp(bs, bz, at)
        other = g.dq(g.q(y, bsn, bzn, base="q_branch"), bsn, bzn, base="dq_branch")
    ins = [xd, other] if rng.random() < 0.5 else [other, xd]
    s = g.node("Add", ins)
    relu = rng.random() < 0.1
    if relu:
        s = g.node("Relu", [s])
    ys, yz = qdq_act(g, rng, at)
    ysn, yzn = g.qp(ys, yz, at)
    out = g.q(s, ysn, yzn, base="q_add")
    shape = [1, C, H, W]
    gap = rng.random() < 0.4
    if gap:
        p = g.node("GlobalAveragePool", [g.dq(out, ysn, yzn, base="dq_add")])
        ys, yz = qdq_act(g, rng, at)
        ysn, yzn = g.qp(ys, yz, at)
        out = g.q(p, ysn, yzn, base="q_gap")
        shape = [1, C, 1, 1]
    o, float_out = finish(g, rng, out, at, ysn, yzn, shape)
    desc = f"residual {at} branch={branch} Add{'+Relu' if relu else ''}{' -> GlobalAveragePool' if gap else ''}"
    return g, ep, vi, o, float_out, "qdq-residual", desc


# ---------------------------------------------------------------------------------------------
# QOperator families

def gen_qop(rng, opset):
    op = choice(rng, ["QLinearMatMul", "QLinearConv", "QGemm", "MatMulInteger", "ConvInteger", "IntElementwise",
                      "QLinearAdd", "QLinearAveragePool", "QLinearGlobalAveragePool"], [5, 5, 5, 2, 2, 3, 1, 1, 1])
    g = Graph(rng, opset)
    at = choice(rng, ["uint8", "int8"], [3, 2])
    wt = choice(rng, ["int8", "uint8"], [3, 2])
    yt = at if rng.random() < 0.8 else choice(rng, ["uint8", "int8"])
    xs, xz = qdq_act(g, rng, at)
    per_channel = rng.random() < 0.5
    wstyle = choice(rng, ["full", "s7", "extreme", "sparse"], [4, 3, 2, 1])
    asym = rng.random() < 0.3

    def Endpoint(*a):  # QLinear ops take every scale and zero point as an input: no omitted ones
        return globals()["Endpoint"](*a, flexible=False)

    def wparams(n):
        if per_channel:
            ws = np.array([rand_scale(rng, "random") for _ in range(n)], dtype=F32)
            wz = np.array([rand_zp(rng, wt, "any" if asym else "zero") for _ in range(n)])
            if op == "QLinearMatMul" and rng.random() < 0.5:
                wz = np.array(wz[0])  # per-column scales with a scalar zero point
        else:
            ws, wz = rand_scale(rng, "random"), rand_zp(rng, wt, "any" if asym else "zero")
        return g.const(ws, "float", "W_scale"), g.const(wz, wt, "W_zero_point"), ws

    if op in ("QLinearMatMul", "QGemm", "MatMulInteger"):
        K, N = int(rng.integers(1, 17)), int(rng.integers(1, 9))
        trans_b = op == "QGemm" and rng.random() < 0.5
        ep = Endpoint(g, rng, at, [1, K], xs, xz)
        vi, xq, xsn, (xzn, _) = ep.input_value()
        w = g.const(rand_ints(rng, [N, K] if trans_b else [K, N], wt, wstyle), wt, "W")
        if op == "MatMulInteger":
            wz = g.const(rand_zp(rng, wt, "any" if asym else "zero"), wt, "W_zero_point")
            y = g.node("MatMulInteger", [xq, w, xzn, wz])
            return g, ep, vi, helper.make_tensor_value_info(y, TP.INT32, [1, N]), False, "qop-matmulinteger", \
                f"MatMulInteger {at}x{wt} K={K} N={N} w={wstyle}"
        wsn, wzn, ws = wparams(N)
        ys, yz = qdq_act(g, rng, yt)
        ysn, yzn = g.const(ys, "float", "y_scale"), g.const(yz, yt, "y_zero_point")
        if op == "QLinearMatMul":
            y = g.node("QLinearMatMul", [xq, xsn, xzn, w, wsn, wzn, ysn, yzn])
            desc = f"QLinearMatMul {at}x{wt}->{yt} K={K} N={N} {'per-column' if per_channel else 'per-tensor'} w={wstyle}"
        else:
            alpha = choice(rng, [1.0, 2.0, float(rng.uniform(0.1, 3))], [5, 2, 2])
            bias = rng.random() < 0.6
            ins = [xq, xsn, xzn, w, wsn, wzn]
            ins.append(g.const(rng.integers(-4096, 4096, size=N), "int32", "C") if bias else "")
            float_y = rng.random() < 0.1
            if not float_y:
                ins += [ysn, yzn]
            attrs = {"alpha": alpha}
            if trans_b:
                attrs["transB"] = 1
            y = g.node("QGemm", ins, domain="com.microsoft", **attrs)
            desc = (f"QGemm {at}x{wt}->{'float' if float_y else yt} K={K} N={N} alpha={alpha:.3g} "
                    f"{'bias ' if bias else ''}{'transB ' if trans_b else ''}{'per-channel' if per_channel else 'per-tensor'} w={wstyle}")
            if float_y:
                return g, ep, vi, helper.make_tensor_value_info(y, TP.FLOAT, [1, N]), True, "qop-qgemm", desc
        out, float_out = finish(g, rng, y, yt, ysn, (yzn, yt), [1, N])
        return g, ep, vi, out, float_out, "qop-" + op.lower(), desc

    C, H, W = int(rng.integers(1, 4)), int(rng.integers(3, 7)), int(rng.integers(3, 7))
    ep = Endpoint(g, rng, at, [1, C, H, W], xs, xz)
    vi, xq, xsn, (xzn, _) = ep.input_value()
    if op in ("QLinearConv", "ConvInteger"):
        depthwise = rng.random() < 0.25
        groups = C if depthwise else 1
        M = C * int(rng.integers(1, 3)) if depthwise else int(rng.integers(1, 4))
        k = int(rng.integers(1, 4))
        pads = [int(v) for v in rng.integers(0, 2, size=4)]
        stride = int(rng.integers(1, 3))
        oh = (H + pads[0] + pads[2] - k) // stride + 1
        ow = (W + pads[1] + pads[3] - k) // stride + 1
        w = g.const(rand_ints(rng, [M, C // groups, k, k], wt, wstyle), wt, "W")
        attrs = dict(kernel_shape=[k, k], pads=pads, strides=[stride, stride], group=groups)
        if op == "ConvInteger":
            wz = g.const(rand_zp(rng, wt, "any" if asym else "zero"), wt, "W_zero_point")
            y = g.node("ConvInteger", [xq, w, xzn, wz], **attrs)
            return g, ep, vi, helper.make_tensor_value_info(y, TP.INT32, [1, M, oh, ow]), False, "qop-convinteger", \
                f"ConvInteger {at}x{wt} C={C} M={M} group={groups} k={k} s={stride} p={pads} w={wstyle}"
        wsn, wzn, ws = wparams(M)
        ys, yz = qdq_act(g, rng, yt)
        ysn, yzn = g.const(ys, "float", "y_scale"), g.const(yz, yt, "y_zero_point")
        ins = [xq, xsn, xzn, w, wsn, wzn, ysn, yzn]
        if rng.random() < 0.6:
            ins.append(g.const(rng.integers(-4096, 4096, size=M), "int32", "B"))
        y = g.node("QLinearConv", ins, **attrs)
        out, float_out = finish(g, rng, y, yt, ysn, (yzn, yt), [1, M, oh, ow])
        return g, ep, vi, out, float_out, "qop-qlinearconv", \
            (f"QLinearConv {at}x{wt}->{yt} C={C} M={M} group={groups} k={k} s={stride} p={pads} "
             f"{'bias ' if len(ins) == 9 else ''}{'per-channel' if per_channel else 'per-tensor'} w={wstyle}")
    ys, yz = qdq_act(g, rng, at)
    ysn, yzn = g.const(ys, "float", "y_scale"), g.const(yz, at, "y_zero_point")
    shape = [1, C, H, W]
    if op == "IntElementwise":
        kind = choice(rng, ["Relu", "Clip", "MaxPool"])
        if kind == "Clip":
            _, lo, hi, _ = TYPES[at]
            a, b = sorted(int(v) for v in rng.integers(lo, hi + 1, size=2))
            y = g.node("Clip", [xq, g.const(a, at, "min"), g.const(b, at, "max")])
            kind += f"[{a},{b}]"
        elif kind == "MaxPool":
            attrs, (oh, ow) = pool_attrs(rng, "MaxPool", H, W)
            y = g.node("MaxPool", [xq], **attrs)
            shape = [1, C, oh, ow]
        else:
            y = g.node("Relu", [xq])
        out, float_out = finish(g, rng, y, at, xsn, (xzn, at), shape)
        return g, ep, vi, out, float_out, "qop-int-elementwise", f"integer {kind} on {at}"
    if op == "QLinearAdd":
        # The second operand: a constant (quiver refuses: the IR has no constant tensors), the
        # input itself under another scale (x + x), or an integer Relu/MaxPool branch of it (a
        # skip connection), each read with its own scale.
        kind = choice(rng, ["const", "self", "relu", "maxpool"], [1, 1, 1, 1])
        bsn = g.const(rand_scale(rng, choice(rng, ["random", "tie"], [3, 1])), "float", "B_scale")
        if kind == "const":
            other, bsn = g.const(rand_ints(rng, shape, at), at, "B"), xsn
        elif kind == "self":
            other = xq
        elif kind == "relu":
            other = g.node("Relu", [xq])
        else:
            other = g.node("MaxPool", [xq], kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1])
        y = g.node("QLinearAdd", [xq, xsn, xzn, other, bsn, xzn, ysn, yzn], domain="com.microsoft")
        add_kind = f"[{kind}]"
    elif op == "QLinearAveragePool":
        attrs, (oh, ow) = pool_attrs(rng, "AveragePool", H, W)
        y = g.node("QLinearAveragePool", [xq, xsn, xzn, ysn, yzn], domain="com.microsoft", **attrs)
        shape = [1, C, oh, ow]
    else:
        y = g.node("QLinearGlobalAveragePool", [xq, xsn, xzn, ysn, yzn], domain="com.microsoft", channels_last=0)
        shape = [1, C, 1, 1]
    out, float_out = finish(g, rng, y, at, ysn, (yzn, at), shape)
    detail = add_kind if op == "QLinearAdd" else ""
    return g, ep, vi, out, float_out, "qop-" + op.lower(), f"{op}{detail} {at}"


# ---------------------------------------------------------------------------------------------
# models written by ONNX Runtime's own quantizer

class Calib:
    def __init__(self, xs):
        self.it = iter([{"x": x} for x in xs])

    def get_next(self):
        return next(self.it, None)

    def rewind(self):
        pass


def gen_quantizer(rng, opset, work):
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    g = Graph(rng, max(opset, 13))
    conv = rng.random() < 0.6
    steps = []
    if conv:
        C, H, W = int(rng.integers(1, 3)), int(rng.integers(4, 8)), int(rng.integers(4, 8))
        shape = [1, C, H, W]
        cur = "x"
        for _ in range(int(rng.integers(1, 3))):
            M = int(rng.integers(1, 4))
            w = g.const(rng.normal(0, 0.5, (M, C, 3, 3)), "float", "W")
            b = g.const(rng.normal(0, 0.1, M), "float", "B")
            prev = cur
            cur = g.node("Conv", [cur, w, b], kernel_shape=[3, 3], pads=[1, 1, 1, 1])
            if rng.random() < 0.6:
                cur = g.node("Relu", [cur])
            step = "Conv"
            if M == C and rng.random() < 0.5:  # a skip connection
                cur = g.node("Add", [prev, cur])
                step = "Conv+Add"
            C = M
            steps.append(step)
        pool = choice(rng, ["", "MaxPool", "AveragePool", "GlobalAveragePool"], [2, 3, 1, 1])
        if pool == "GlobalAveragePool":
            cur = g.node(pool, [cur])
            H = W = 1
        elif pool:
            cur = g.node(pool, [cur], kernel_shape=[2, 2], strides=[2, 2])
            H, W = H // 2, W // 2
        if pool:
            steps.append(pool)
        cur = g.node("Flatten", [cur])
        K = C * H * W
    else:
        K = int(rng.integers(2, 12))
        shape = [1, K]
        cur = "x"
    for _ in range(int(rng.integers(1, 3))):
        N = int(rng.integers(2, 8))
        if rng.random() < 0.7:
            cur = g.node("Gemm", [cur, g.const(rng.normal(0, 0.5, (N, K)), "float", "W"),
                                  g.const(rng.normal(0, 0.1, N), "float", "B")], transB=1)
            steps.append("Gemm")
        else:
            cur = g.node("MatMul", [cur, g.const(rng.normal(0, 0.5, (K, N)), "float", "W")])
            steps.append("MatMul")
        if rng.random() < 0.5:
            cur = g.node("Relu", [cur])
        K = N
    vi = helper.make_tensor_value_info("x", TP.FLOAT, shape)
    fm = g.model(vi, helper.make_tensor_value_info(cur, TP.FLOAT, [1, K]))
    fpath = os.path.join(work, "float.onnx")
    qpath = os.path.join(work, "quant.onnx")
    onnx.save(fm, fpath)
    qfmt = choice(rng, [QuantFormat.QDQ, QuantFormat.QOperator], [3, 1])
    act = choice(rng, [QuantType.QUInt8, QuantType.QInt8, QuantType.QUInt16, QuantType.QInt16], [5, 3, 1, 1])
    wt = choice(rng, [QuantType.QInt8, QuantType.QUInt8, QuantType.QInt16, QuantType.QInt4], [5, 3, 1, 1])
    if qfmt == QuantFormat.QOperator:
        act = choice(rng, [QuantType.QUInt8, QuantType.QInt8])
        wt = choice(rng, [QuantType.QInt8, QuantType.QUInt8])
    per_channel = rng.random() < 0.5
    reduce_range = rng.random() < 0.4
    extra = {"ActivationSymmetric": bool(rng.random() < 0.3), "WeightSymmetric": bool(rng.random() < 0.7)}
    calib = [rng.normal(0, 1, shape).astype(F32) for _ in range(6)]
    quantize_static(fpath, qpath, Calib(calib), quant_format=qfmt, activation_type=act, weight_type=wt,
                    per_channel=per_channel, reduce_range=reduce_range, extra_options=extra)
    m = onnx.load(qpath)
    for i, n in enumerate(m.graph.node):
        if not n.name:
            n.name = f"node_{i}"
    desc = (f"quantize_static {'QDQ' if qfmt == QuantFormat.QDQ else 'QOperator'} act={act.name} w={wt.name} "
            f"{'per-channel ' if per_channel else ''}{'reduce_range ' if reduce_range else ''}"
            f"{'act-sym ' if extra['ActivationSymmetric'] else ''}{'w-sym ' if extra['WeightSymmetric'] else ''}: "
            + " -> ".join(steps + ["Flatten"] * 0))
    return m, shape, "quantizer-" + ("qdq" if qfmt == QuantFormat.QDQ else "qop"), desc


# ---------------------------------------------------------------------------------------------
# running ONNX Runtime

def ort_session(model_bytes, work):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    opt_path = os.path.join(work, "optimized.onnx")
    so.optimized_model_filepath = opt_path
    sess = ort.InferenceSession(model_bytes, so, providers=["CPUExecutionProvider"])
    opt = onnx.load(opt_path)
    ops, float_ops = [], []
    for n in opt.graph.node:
        key = (n.domain + ":" if n.domain and n.domain != "ai.onnx" else "") + n.op_type
        ops.append(key)
        if n.op_type in FLOAT_COMPUTE or n.domain == "com.microsoft.nchwc" or (
                n.op_type == "QGemm" and (len(n.input) < 8 or not n.input[7])):
            float_ops.append(key)
    return sess, ops, float_ops


def to_json_values(a):
    a = np.asarray(a).reshape(-1)
    if a.dtype.kind == "f":
        return [float(v) for v in a.astype(F32)]
    return [int(v) for v in a]


def make_case(seed, i, work):
    rng = np.random.default_rng([seed, i])
    opset = int(choice(rng, [13, 17, 19, 21, 22, 23, 24, 25], [3, 6, 2, 6, 1, 2, 1, 1]))
    family = choice(rng, ["dense", "conv", "unary", "chain", "qop", "quantizer", "residual"], [30, 22, 12, 10, 18, 8, 8])
    n_inputs = NINPUTS
    if family == "quantizer":
        try:
            m, shape, fam, desc = gen_quantizer(rng, opset, work)
        except Exception as e:  # noqa: BLE001 - a quantizer failure is recorded, not fatal
            return None, {"family": "quantizer", "desc": f"quantize_static failed: {type(e).__name__}: {e}"[:300]}
        xs = [rng.normal(0, 1.5, shape).astype(F32) for _ in range(n_inputs)]
        inputs = {"kind": "float", "values": [x.reshape(-1) for x in xs], "shape": shape}
        float_out = m.graph.output[0].type.tensor_type.elem_type == TP.FLOAT
        return m, {"family": fam, "desc": desc, "inputs": inputs, "float_out": float_out}
    if family == "dense":
        g, ep, vi, out, float_out, fam, desc = gen_qdq_dense(rng, opset, choice(rng, ["Gemm", "MatMul"], [3, 2]))
    elif family == "conv":
        g, ep, vi, out, float_out, fam, desc = gen_qdq_conv(rng, opset)
    elif family == "unary":
        g, ep, vi, out, float_out, fam, desc = gen_qdq_unary(rng, opset)
    elif family == "chain":
        g, ep, vi, out, float_out, fam, desc = gen_qdq_chain(rng, opset)
    elif family == "residual":
        g, ep, vi, out, float_out, fam, desc = gen_qdq_residual(rng, opset)
    else:
        g, ep, vi, out, float_out, fam, desc = gen_qop(rng, opset)
    m = g.model(vi, out)
    vals = ep.inputs(n_inputs)
    inputs = {"kind": "float" if ep.float_in else "int", "values": vals, "shape": ep.shape, "dtype": ep.tname}
    return m, {"family": fam, "desc": f"opset {opset}: {desc}", "inputs": inputs, "float_out": float_out}


def run_case(seed, i, out_dir, work):
    t0 = time.time()
    rec = {"id": i, "seed": seed}
    try:
        m, info = make_case(seed, i, work)
    except Exception:  # noqa: BLE001 - a generator bug must not stop the run; it is recorded
        rec.update({"family": "generator-error", "desc": traceback.format_exc()[-600:], "ort": {"status": "skipped"}})
        return rec
    rec["family"] = info["family"]
    rec["desc"] = info["desc"]
    if m is None:
        rec["ort"] = {"status": "skipped"}
        return rec
    fname = f"case_{i:05d}.onnx"
    onnx.save(m, os.path.join(out_dir, fname))
    rec["file"] = fname
    rec["nodes"] = [n.name for n in m.graph.node]
    inp = info["inputs"]
    rec["input"] = {"kind": inp["kind"], "values": [to_json_values(v) for v in inp["values"]]}
    rec["output"] = {"kind": "float" if info["float_out"] else "int"}
    try:
        sess, ops, float_ops = ort_session(m.SerializeToString(), work)
    except Exception as e:  # noqa: BLE001
        rec["ort"] = {"status": "load_error", "error": str(e).splitlines()[0][:300]}
        return rec
    in_name = sess.get_inputs()[0].name
    in_type = sess.get_inputs()[0].type
    npt = {"tensor(float)": F32, "tensor(uint8)": np.uint8, "tensor(int8)": np.int8, "tensor(uint16)": np.uint16,
           "tensor(int16)": np.int16}
    outs = []
    try:
        for v in inp["values"]:
            if in_type in ("tensor(uint4)", "tensor(int4)"):
                raise RuntimeError("4-bit graph inputs cannot be fed from numpy")
            x = np.asarray(v).astype(npt[in_type]).reshape(inp["shape"])
            y = sess.run(None, {in_name: x})[0]
            outs.append(to_json_values(y))
    except Exception as e:  # noqa: BLE001
        rec["ort"] = {"status": "run_error", "error": str(e).splitlines()[0][:300], "ops": ops,
                      "float_ops": float_ops}
        return rec
    rec["outputs"] = outs
    rec["ort"] = {"status": "ok", "ops": ops, "float_ops": float_ops}
    rec["seconds"] = round(time.time() - t0, 3)
    return rec


NINPUTS = 6


def main():
    global NINPUTS
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cases", type=int, default=300)
    ap.add_argument("--first", type=int, default=0, help="index of the first case (to regenerate a slice)")
    ap.add_argument("--inputs", type=int, default=6, help="inputs per case (>= 3: all-min, all-max, alternating)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    NINPUTS = max(3, args.inputs)
    ort.set_default_logger_severity(3)
    import logging
    logging.getLogger().setLevel(logging.ERROR)
    os.makedirs(args.out, exist_ok=True)
    t0 = time.time()
    counts = {}
    with tempfile.TemporaryDirectory() as work, open(os.path.join(args.out, "cases.jsonl"), "w") as f:
        for i in range(args.first, args.first + args.cases):
            rec = run_case(args.seed, i, args.out, work)
            f.write(json.dumps(rec, separators=(",", ":")) + "\n")
            st = rec.get("ort", {}).get("status", "?")
            counts[st] = counts.get(st, 0) + 1
    meta = {"seed": args.seed, "first": args.first, "cases": args.cases, "inputs": NINPUTS,
            "onnxruntime": ort.__version__, "onnx": onnx.__version__, "numpy": np.__version__,
            "seconds": round(time.time() - t0, 1), "ort_status": counts}
    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print(json.dumps(meta), file=sys.stderr)


if __name__ == "__main__":
    main()
