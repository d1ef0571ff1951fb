"""Pure-NumPy reference of quiver's integer IR (JSON format version 1).

This is an independent re-implementation of the semantics documented in
docs/pytorch-fbgemm.md and src/net/ir.rs, used by make_models.py to check that an exported
model reproduces PyTorch/FBGEMM bit for bit. It reads the *parsed JSON* of a model, so what is
checked is exactly what quiver will load.

Integers are int64 throughout. Every float32 step of a `float32` rescale is a NumPy binary32
operation (np.float32 arrays: each +, * rounds to binary32; there is no fused multiply-add).
No torch import here on purpose.
"""

import numpy as np

F32 = np.float32

DTYPES = {"uint8": (0, 255), "int8": (-128, 127)}


def dtype_range(name):
    if name in DTYPES:
        return DTYPES[name]
    signed = name.startswith("int")
    bits = int(name[3:] if signed else name[4:])
    return (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)


def round_f32(x, mode):
    """Round binary32 values to integers (as int64)."""
    x = np.asarray(x, dtype=F32).astype(np.float64)  # exact
    if mode == "half_even":
        r = np.rint(x)
    elif mode == "half_up":
        r = np.floor(x + 0.5)  # exact in float64 for |x| < 2^52
    elif mode == "half_away_from_zero":
        r = np.sign(x) * np.floor(np.abs(x) + 0.5)
    else:
        raise ValueError(f"unknown rounding {mode!r}")
    return r.astype(np.int64)


def round_div(num, den, mode):
    """Round the rationals num/den (int64 arrays, den > 0) exactly."""
    num = np.asarray(num, dtype=np.int64)
    den = np.asarray(den, dtype=np.int64)
    q = np.floor_divide(num, den)
    r = num - q * den
    twice = 2 * r
    up = twice > den
    tie = twice == den
    if mode == "half_even":
        up |= tie & (q % 2 == 1)
    elif mode == "half_up":
        up |= tie
    elif mode == "half_away_from_zero":
        up |= tie & (q >= 0)
    else:
        raise ValueError(f"unknown rounding {mode!r}")
    return q + up.astype(np.int64)


def rescale(acc, rescales, axis_len):
    """Apply the (per-channel or single) rescales; acc has channels on axis 0."""
    rs = rescales if len(rescales) == axis_len else rescales * axis_len
    out = np.empty_like(acc)
    for c, r in enumerate(rs):
        a = acc[c]
        if r["kind"] == "float32":
            assert np.all(np.abs(a) < 2**31), "accumulator leaves int32"
            m = F32(r["m"])
            b = F32(r.get("bias", 0.0))
            assert float(m) == r["m"] and float(b) == r.get("bias", 0.0), "not binary32"
            t = (a.astype(F32) + b) * m  # fl(fl(fl(acc) + bias) * m)
            assert t.dtype == F32
            out[c] = round_f32(t, r["rounding"])
        elif r["kind"] == "dyadic":
            out[c] = round_div(a * int(r["m"]), np.int64(1) << int(r["shift"]), r["rounding"])
        else:
            raise NotImplementedError(r["kind"])
    return out


def requant(acc, layer):
    rq = layer["requant"]
    y = rescale(acc, rq["rescale"], acc.shape[0])
    o = layer["output"]
    lo, hi = dtype_range(o["dtype"])
    if rq["relu"]:
        lo = max(lo, o["zero_point"])
    return np.clip(y + o["zero_point"], lo, hi)


def dense(layer, x, zx):
    n_out, n_in = layer["out_features"], layer["in_features"]
    w = np.asarray(layer["weights"], dtype=np.int64).reshape(n_out, n_in)
    zw = np.asarray(layer["weight_zero_point"], dtype=np.int64).reshape(-1, 1)
    acc = (w - zw) @ (x - zx)
    if layer["bias"]:
        acc = acc + np.asarray(layer["bias"], dtype=np.int64)
    return requant(acc, layer)


def window_taps(n_in, n_out, k, s, d, pad_lo):
    """For each output position and kernel tap: input index, or -1 if in the padding."""
    o = np.arange(n_out)[:, None] * s - pad_lo + np.arange(k)[None, :] * d
    return np.where((o >= 0) & (o < n_in), o, -1)


def out_size(n, k, s, d, p0, p1):
    return (n + p0 + p1 - d * (k - 1) - 1) // s + 1


def patches(x, kernel, stride, padding, dilation, fill):
    """x [C,H,W] -> [C, kh, kw, OH, OW]; out-of-bounds taps hold `fill`."""
    c, h, w = x.shape
    (kh, kw), (sh, sw), (pt, pl, pb, pr), (dh, dw) = kernel, stride, padding, dilation
    oh, ow = out_size(h, kh, sh, dh, pt, pb), out_size(w, kw, sw, dw, pl, pr)
    ty = window_taps(h, oh, kh, sh, dh, pt)  # [OH, kh]
    tx = window_taps(w, ow, kw, sw, dw, pl)  # [OW, kw]
    xp = np.concatenate([x, np.full((c, 1, w), fill, dtype=x.dtype)], axis=1)
    xp = np.concatenate([xp, np.full((c, h + 1, 1), fill, dtype=x.dtype)], axis=2)
    iy = np.where(ty < 0, h, ty).T[:, None, :, None]  # [kh,1,OH,1]
    ix = np.where(tx < 0, w, tx).T[None, :, None, :]  # [1,kw,1,OW]
    return xp[:, iy, ix], (oh, ow), ((ty >= 0).T[:, None, :, None] & (tx >= 0).T[None, :, None, :])


def conv2d(layer, x, zx):
    cin, cout, g = layer["in_channels"], layer["out_channels"], layer["groups"]
    kh, kw = layer["kernel"]
    w = np.asarray(layer["weights"], dtype=np.int64).reshape(cout, cin // g, kh, kw)
    zw = np.asarray(layer["weight_zero_point"], dtype=np.int64).reshape(-1, 1, 1, 1)
    w = w - zw
    # padded taps hold the input zero point, i.e. contribute 0 after subtracting it
    p, (oh, ow), _ = patches(x - zx, layer["kernel"], layer["stride"], layer["padding"], layer["dilation"], 0)
    cg_in, cg_out = cin // g, cout // g
    acc = np.empty((cout, oh, ow), dtype=np.int64)
    for gi in range(g):
        pg = p[gi * cg_in:(gi + 1) * cg_in].reshape(cg_in * kh * kw, oh * ow)
        wg = w[gi * cg_out:(gi + 1) * cg_out].reshape(cg_out, cg_in * kh * kw)
        acc[gi * cg_out:(gi + 1) * cg_out] = (wg @ pg).reshape(cg_out, oh, ow)
    if layer["bias"]:
        acc = acc + np.asarray(layer["bias"], dtype=np.int64).reshape(-1, 1, 1)
    return requant(acc, layer)


def max_pool2d(layer, x):
    lo = np.iinfo(np.int64).min
    p, _, _ = patches(x, layer["kernel"], layer["stride"], layer.get("padding", [0, 0, 0, 0]),
                      layer.get("dilation", [1, 1]), lo)
    y = p.max(axis=(1, 2))
    assert np.all(y > lo), "empty pooling window"
    return y


def avg_pool2d(layer, x, z, dtype):
    p, _, valid = patches(x - z, layer["kernel"], layer["stride"], layer.get("padding", [0, 0, 0, 0]), [1, 1], 0)
    s = p.sum(axis=(1, 2))
    if layer.get("count_include_pad", True):
        n = np.full(s.shape, layer["kernel"][0] * layer["kernel"][1], dtype=np.int64)
    else:
        n = np.broadcast_to(valid.sum(axis=(0, 1)).astype(np.int64), s.shape)
    lo, hi = dtype_range(dtype)
    return np.clip(round_div(s, n, layer["rounding"]) + z, lo, hi)


def trace(model, x):
    """Run the IR model on one integer input; returns [input, out of layer 0, out of layer 1, ...]."""
    inp = model["input"]
    x = np.asarray(x, dtype=np.int64).reshape(inp["shape"])
    lo, hi = dtype_range(inp["dtype"])
    assert x.min() >= lo and x.max() <= hi
    zx, dtype = inp["zero_point"], inp["dtype"]
    ts = [x]
    for layer in model["layers"]:
        t = layer["type"]
        if t == "dense":
            assert x.shape == (layer["in_features"],)
            x = dense(layer, x, zx)
        elif t == "conv2d":
            assert x.ndim == 3 and x.shape[0] == layer["in_channels"]
            x = conv2d(layer, x, zx)
        elif t == "max_pool2d":
            x = max_pool2d(layer, x)
        elif t == "avg_pool2d":
            x = avg_pool2d(layer, x, zx, dtype)
        elif t == "flatten":
            x = x.reshape(-1)
        elif t == "relu":
            x = np.maximum(x, zx)
        else:
            raise ValueError(f"unknown layer type {t!r}")
        if t in ("dense", "conv2d"):
            zx, dtype = layer["output"]["zero_point"], layer["output"]["dtype"]
        ts.append(x)
    return ts


def run(model, x):
    return trace(model, x)[-1]


def quantize_input(x, scale, zero_point, lo=0, hi=255):
    """PyTorch/FBGEMM QuantStub (quantize_per_tensor) on float32 input, see docs/pytorch-fbgemm.md:
    q = clamp(rint(fl32(x * fl32(1 / fl32(scale)))) + zero_point, lo, hi)."""
    inv = F32(1.0) / F32(scale)
    t = np.asarray(x, dtype=F32) * inv
    assert t.dtype == F32
    return np.clip(np.rint(t).astype(np.int64) + zero_point, lo, hi)
