#!/usr/bin/env python3
"""Evidence for docs/pytorch-fbgemm.md: which float steps PyTorch/FBGEMM's requantization,
QuantStub and quantized avg_pool2d take. Counts, for several candidate formulas, how many
integer outputs differ from PyTorch's on

  * every Dense/Conv layer of the models built by make_models.py, fed PyTorch's own layer
    inputs (MNIST train + test images), and
  * a stress test: the same quantized modules fed random uint8 tensors over the full 0..255
    range (well outside the calibrated activation range, many more rounding boundaries).

    /root/venvs/torch/bin/python scripts/pytorch/hypotheses.py
    FBGEMM_ENABLE_INSTRUCTIONS=AVX2 /root/venvs/torch/bin/python scripts/pytorch/hypotheses.py

(retrains the models deterministically, ~1 minute). Nothing is written.
"""

import os
import sys
import warnings

import numpy as np
import torch
import torch.ao.nn.quantized as nnq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import emulate  # noqa: E402
import make_models as M  # noqa: E402

warnings.filterwarnings("ignore")
F32 = np.float32
N_STRESS = 4000


def accumulators(mod, xq, zx, saturate_pairs=False):
    """Integer accumulators Σ (x − zx)(w − zw) of a quantized Linear/Conv2d, [N, C, ...].

    saturate_pairs models FBGEMM's AVX2/AVX-512 kernels without VNNI: vpmaddubsw multiplies the
    raw uint8 activations by the int8 weights and adds adjacent products (k = 2i, 2i+1 of the
    packed K dimension, which for convolutions is im2col order (kh, kw, ic) with padding holding
    the raw zero point) with int16 saturation; the zero point is subtracted afterwards as
    zx · Σ_k w (FBGEMM's column offsets). Exact on VNNI hardware (vpdpbusd), which has no
    intermediate saturation."""
    w, _, wz = M.weight_fields(mod.weight())
    assert all(z == 0 for z in wz)
    x = xq.astype(np.int64)
    if isinstance(mod, nnq.Linear):
        rows, wk = x, w  # [N, K], [C, K]
    else:
        assert mod.groups == 1
        ph, pw = mod.padding
        cols = []
        for s in x:  # raw patches, padded taps hold the zero point
            p, (oh, ow), _ = emulate.patches(s, list(mod.kernel_size), list(mod.stride), [ph, pw, ph, pw],
                                             list(mod.dilation), zx)
            cols.append(p.transpose(3, 4, 1, 2, 0).reshape(oh * ow, -1))  # [OH*OW, kh*kw*ic]
        rows, wk = np.concatenate(cols), w.transpose(0, 2, 3, 1).reshape(len(w), -1)
    if saturate_pairs:
        if rows.shape[1] % 2:
            rows, wk = np.pad(rows, ((0, 0), (0, 1))), np.pad(wk, ((0, 0), (0, 1)))
        r2, w2 = rows.reshape(len(rows), -1, 2), wk.reshape(len(wk), -1, 2)
        acc = np.zeros((len(rows), len(wk)), dtype=np.int64)
        for c in range(len(wk)):
            acc[:, c] = np.clip(r2[:, :, 0] * w2[c, :, 0] + r2[:, :, 1] * w2[c, :, 1], -32768, 32767).sum(1)
    else:
        acc = rows @ wk.T
    acc = acc - zx * wk.sum(1)
    if isinstance(mod, nnq.Linear):
        return acc
    return acc.reshape(len(x), oh, ow, -1).transpose(0, 3, 1, 2)


def candidates(in_scale, w_scales, bias, out_scale):
    """name -> function(acc [N, C, ...] int64) -> rounded integer before adding the zero point."""
    C = len(w_scales)
    is32, os32 = F32(in_scale), F32(out_scale)
    ws32 = np.asarray(w_scales, dtype=np.float64).astype(F32)
    b32 = np.zeros(C, F32) if bias is None else np.asarray(bias, F32)
    atws = (is32 * ws32).astype(F32)
    m = (atws / os32).astype(F32)
    bdiv = (b32 / atws).astype(F32)
    ws64, b64 = np.asarray(w_scales, dtype=np.float64), b32.astype(np.float64)

    def per_channel(v, nd):
        return v.reshape((1, C) + (1,) * (nd - 2))

    def h_fbgemm(acc):  # fl(fl(fl(acc) + fl(b / atws)) * m), rint
        return np.rint((acc.astype(F32) + per_channel(bdiv, acc.ndim)) * per_channel(m, acc.ndim))

    def h_mul_then_add(acc):  # fl(fl(acc) * m) + fl(b / out_scale)
        return np.rint(acc.astype(F32) * per_channel(m, acc.ndim) + per_channel((b32 / os32).astype(F32), acc.ndim))

    def h_real(acc):  # exact-real formula in float64
        return np.rint(acc * per_channel(float(in_scale) * ws64 / float(out_scale), acc.ndim)
                       + per_channel(b64 / float(out_scale), acc.ndim))

    def h_int_bias(acc):  # bias rounded to an integer in accumulator units, then fl(acc') * m
        bi = np.rint(bdiv.astype(np.float64)).astype(np.int64)
        return np.rint((acc + per_channel(bi, acc.ndim)).astype(F32) * per_channel(m, acc.ndim))

    def h_m_double(acc):  # m = fl32(in_scale * w_scale / out_scale) computed in double
        md = (float(in_scale) * ws64 / float(out_scale)).astype(F32)
        return np.rint((acc.astype(F32) + per_channel(bdiv, acc.ndim)) * per_channel(md, acc.ndim))

    def h_no_inner_round(acc):  # (fl(acc) + bias_div) * m with a single final binary32 rounding (FMA-like)
        t = (acc.astype(F32).astype(np.float64) + per_channel(bdiv, acc.ndim).astype(np.float64)) \
            * per_channel(m, acc.ndim).astype(np.float64)
        return np.rint(t.astype(F32))

    def h_recip_bias(acc):  # bias_div = fl(b * fl(1 / atws))
        bd = (b32 * (F32(1) / atws).astype(F32)).astype(F32)
        return np.rint((acc.astype(F32) + per_channel(bd, acc.ndim)) * per_channel(m, acc.ndim))

    def h_half_away(acc):  # as fbgemm, ties away from zero (std::round)
        t = ((acc.astype(F32) + per_channel(bdiv, acc.ndim)) * per_channel(m, acc.ndim)).astype(np.float64)
        return np.sign(t) * np.floor(np.abs(t) + 0.5)

    return {
        "A fl(fl(fl(acc)+fl(b/atws))*m), m=fl(atws/os), atws=fl(is*ws) [chosen]": h_fbgemm,
        "B fl(fl(acc)*m) + fl(b/os)  (multiply first)": h_mul_then_add,
        "C float64 real: acc*is*ws/os + b/os": h_real,
        "D integer bias rint(b/atws) added to acc": h_int_bias,
        "E m = fl32(is*ws/os) computed in float64": h_m_double,
        "F no rounding between add and multiply (FMA-like)": h_no_inner_round,
        "G bias_div = fl(b*fl(1/atws)) (reciprocal)": h_recip_bias,
        "H as A but ties away from zero": h_half_away,
    }


def check_layer(mod, in_scale, in_zp, xq, yq, relu):
    """Mismatch counts of every candidate for one module on inputs xq and PyTorch outputs yq."""
    b = mod.bias()
    _, ws, _ = M.weight_fields(mod.weight())
    acc = accumulators(mod, xq, in_zp)
    lo = mod.zero_point if relu else 0
    res = {}
    cands = candidates(in_scale, ws, None if b is None else b.detach().numpy(), mod.scale)
    for name, f in cands.items():
        y = np.clip(f(acc).astype(np.int64) + mod.zero_point, lo, 255)
        res[name] = int(np.count_nonzero(y != yq))
    f = next(iter(cands.values()))
    y = np.clip(f(accumulators(mod, xq, in_zp, True)).astype(np.int64) + mod.zero_point, lo, 255)
    res["A with int16-saturated pair sums (vpmaddubsw, no VNNI)"] = int(np.count_nonzero(y != yq))
    return res, int(yq.size)


def layer_modules(qmodel, names):
    return [(n, getattr(qmodel.body, n)) for n in names]


def quant_stub_hypotheses(x, scale, zp, qref):
    s32 = F32(scale)
    x32 = np.asarray(x, F32)
    cands = {
        "rint(fl(x * fl(1/scale))) + zp [chosen]": np.rint(x32 * (F32(1) / s32)),
        "rint(fl(x / scale)) + zp": np.rint(x32 / s32),
        "rint(x / scale) in float64": np.rint(x32.astype(np.float64) / float(scale)),
        "ties away from zero, fl(x * fl(1/scale))": np.floor(x32 * (F32(1) / s32) + F32(0.5)),
    }
    return {k: int(np.count_nonzero(np.clip(v.astype(np.int64) + zp, 0, 255) != qref)) for k, v in cands.items()}


def quant_stub_stress(rng, scale):
    """torch.quantize_per_tensor (what the converted QuantStub calls) on random float32 values,
    half of them within a few ulps of the rounding boundaries (k + 1/2) * scale."""
    n = 1_000_000
    x = rng.uniform(0, 1.05, n).astype(F32)
    k = rng.randint(0, 140, n // 2)
    near = ((k + 0.5) * scale).astype(F32)
    x[: n // 2] = np.nextafter(near, F32(np.inf) * rng.choice([-1, 1], n // 2).astype(F32)).astype(F32)
    x[: n // 4] = near[: n // 4]
    q = torch.quantize_per_tensor(torch.from_numpy(x), scale, 0, torch.quint8).int_repr().numpy().astype(np.int64)
    return n, quant_stub_hypotheses(x, scale, 0, q)


def quant_stub_zero_point(rng):
    """Is the zero point added before or after rounding? Exact ties x·(1/scale) = k + 1/2
    (scale 0.25) plus random values, zero points 37 and 100."""
    x = np.concatenate([((rng.randint(-40, 40, 100_000) + 0.5) * 0.25), rng.uniform(-10, 10, 100_000)]).astype(F32)
    res = []
    for zp in (37, 100):
        q = torch.quantize_per_tensor(torch.from_numpy(x), 0.25, zp, torch.quint8).int_repr().numpy().astype(np.int64)
        t = x * (F32(1) / F32(0.25))
        after = np.clip(np.rint(t).astype(np.int64) + zp, 0, 255)
        before = np.clip(np.rint(t + F32(zp)).astype(np.int64), 0, 255)
        res.append((zp, len(x), int(np.count_nonzero(after != q)), int(np.count_nonzero(before != q))))
    return res


def avg_pool_hypotheses(rng):
    """Quantized avg_pool2d on random quint8 tensors, NCHW and channels-last input. Candidates:
    exact round_half_even(acc/n) + z (quiver's avg_pool2d), rint(fl(acc*fl(1/n))) + z,
    rint(fl(acc/n)) + z, and rint(fl(fl(acc*fl(1/n)) + z)) (zero point added before rounding)."""
    out = []
    for z in (37, 200):
        for k, s, p, cip in [(2, 1, 0, True), (2, 2, 0, True), (2, 2, 1, False), (3, 1, 0, True),
                             (3, 1, 1, True), (3, 1, 1, False), (5, 1, 0, True)]:
            x = torch.from_numpy(rng.uniform(0, 1, (64, 8, 12, 12)).astype(F32))
            qx = torch.quantize_per_tensor(x, 1 / 255, z, torch.quint8)
            xi = qx.int_repr().numpy().astype(np.int64)
            layer = {"kernel": [k, k], "stride": [s, s], "padding": [p] * 4, "count_include_pad": cip,
                     "rounding": "half_even"}
            exact = np.stack([emulate.avg_pool2d(layer, xi[i], z, "uint8") for i in range(len(xi))])
            ps, _, valid = zip(*[emulate.patches(xi[i] - z, [k, k], [s, s], [p] * 4, [1, 1], 0) for i in range(len(xi))])
            acc = np.stack([q.sum(axis=(1, 2)) for q in ps]).astype(F32)
            n = np.full(acc.shape, k * k) if cip else np.broadcast_to(valid[0].sum(axis=(0, 1)), acc.shape)
            inv = (F32(1) / n.astype(F32)).astype(F32)
            cands = [exact,
                     np.rint(acc * inv).astype(np.int64) + z,
                     np.rint(acc / n.astype(F32)).astype(np.int64) + z,
                     np.rint((acc * inv).astype(F32) + F32(z)).astype(np.int64)]
            for fmt in ("nchw", "channels_last"):
                q = qx.contiguous(memory_format=torch.channels_last) if fmt == "channels_last" else qx
                y = torch.nn.functional.avg_pool2d(q, k, s, p, count_include_pad=cip).int_repr().numpy().astype(np.int64)
                out.append((f"z={z} k={k} s={s} pad={p} count_include_pad={cip} {fmt}", y.size,
                            *[int(np.count_nonzero(np.clip(c, 0, 255) != y)) for c in cands]))
    return out


def main():
    torch.set_num_threads(1)
    torch.backends.quantized.engine = "fbgemm"
    print(f"torch {torch.__version__}, FBGEMM_ENABLE_INSTRUCTIONS={os.environ.get('FBGEMM_ENABLE_INSTRUCTIONS', '(unset)')}")
    train_set, test_set = M.load_mnist()
    x_all = np.concatenate([test_set[0], train_set[0]])
    rng = np.random.RandomState(1)
    for name, (ctor, epochs, lr) in M.MODELS.items():
        M.seed_all(M.SEED)
        model, fuse = ctor()
        M.train(model, train_set, epochs, lr)
        qmodel = M.quantize(model, fuse, train_set[0][:M.N_CALIB])
        ir, names = M.export(name, qmodel)
        ints, _ = M.torch_trace(qmodel, names, x_all)
        print(f"\n== {name}: QuantStub on {ints[0].size} pixels (5,000 images)")
        for h, c in quant_stub_hypotheses(x_all.reshape(ints[0].shape), ir["input"]["scale"],
                                          ir["input"]["zero_point"], ints[0]).items():
            print(f"   {c:8d}  {h}")
        in_scale, in_zp = ir["input"]["scale"], ir["input"]["zero_point"]
        for li, (n, mod) in enumerate(layer_modules(qmodel, names)):
            if not isinstance(mod, (nnq.Linear, nnq.Conv2d)):
                continue
            relu = ir["layers"][li]["requant"]["relu"]
            xq = ints[li].reshape((len(x_all),) + ((mod.in_features,) if isinstance(mod, nnq.Linear) else ints[li].shape[1:]))
            mnist, size = check_layer(mod, in_scale, in_zp, xq, ints[li + 1], relu)
            # stress: random full-range uint8 inputs straight into the quantized module
            shape = (N_STRESS,) + xq.shape[1:]
            xr = rng.randint(0, 256, size=shape)
            sparse = rng.rand(*shape) < 0.5  # half the rows sparse-ish, like ReLU outputs
            xr[: N_STRESS // 2][sparse[: N_STRESS // 2]] = in_zp
            qx = torch._make_per_tensor_quantized_tensor(torch.from_numpy(xr.astype(np.uint8)), in_scale, in_zp)
            with torch.no_grad():
                yr = mod(qx).int_repr().numpy().astype(np.int64)
            stress, ssize = check_layer(mod, in_scale, in_zp, xr, yr, relu)
            print(f"\n== {name}.{n} ({type(mod).__name__}): mismatches on MNIST ({size} values) | random full-range ({ssize} values)")
            for h in mnist:
                print(f"   {mnist[h]:8d} | {stress[h]:8d}  {h}")
            in_scale, in_zp = ir["layers"][li]["output"]["scale"], ir["layers"][li]["output"]["zero_point"]
    n, res = quant_stub_stress(rng, ir["input"]["scale"])
    print(f"\n== torch.quantize_per_tensor, scale {ir['input']['scale']!r}: {n} random float32 values near rounding boundaries")
    for h, c in res.items():
        print(f"   {c:8d}  {h}")
    print("\n== quantized avg_pool2d on random quint8 tensors: mismatches of exact round_half_even(acc/n) + z"
          " | rint(fl(acc*fl(1/n))) + z | rint(fl(acc/n)) + z | rint(fl(fl(acc*fl(1/n)) + z))")
    for desc, size, *c in avg_pool_hypotheses(rng):
        print(f"   {desc:58s} {size:7d} values: " + " | ".join(f"{v:6d}" for v in c))

    print("\n== torch.quantize_per_tensor: zero point added after rounding | before rounding")
    for zp, n, after, before in quant_stub_zero_point(rng):
        print(f"   zero point {zp:3d}, {n} values: {after:6d} | {before:6d}")


if __name__ == "__main__":
    main()
