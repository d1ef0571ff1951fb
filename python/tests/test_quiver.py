"""pytest suite of quiver's Python package (run by .ci/run after `pip install .`).

The oracles are the real runtimes' own outputs (benchmarks/models/*.vectors.json, written by
PyTorch and ONNX Runtime) and the `quiver` binary built from the same tree (QUIVER_BIN, or the
release binary in CARGO_TARGET_DIR).
"""

import _thread
import json
import os
import pathlib
import signal
import subprocess
import threading
import time

import numpy as np
import pytest

import quiver

ROOT = pathlib.Path(__file__).resolve().parents[2]
MODELS = ROOT / "benchmarks" / "models"
# Each bundled model with the vectors its runtime produced.
VECTORS = [
    ("mnist_mlp.json", "mnist_mlp.vectors.json"),
    ("mnist_cnn.json", "mnist_cnn.vectors.json"),
    ("mnist_cnn_avg.json", "mnist_cnn_avg.vectors.json"),
    # ONNX Runtime 1.32 (quantize_static with reduce_range: CPU-independent).
    ("../../tests/data/onnx/mnist_mlp_ort_qdq_rr.onnx", "../../tests/data/onnx/mnist_mlp_ort_qdq_rr.json"),
]


def quiver_bin():
    """The CLI built from this tree, or None."""
    if os.environ.get("QUIVER_BIN"):
        return pathlib.Path(os.environ["QUIVER_BIN"])
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    b = target / "release" / "quiver"
    return b if b.exists() else None


@pytest.mark.parametrize("model,vectors", VECTORS)
def test_run_is_bit_exact_with_the_runtime(model, vectors):
    net = quiver.load(MODELS / model)
    v = json.loads((MODELS / vectors).read_text())
    assert len(v["inputs"]) >= 100
    mismatches = 0
    for x, y in zip(v["inputs"], v["outputs"]):
        out = net.run(np.array(x))
        assert out.dtype == np.int64 and out.shape == (net.output_len,)
        mismatches += int(np.sum(out != np.array(y)))
    assert mismatches == 0, f"{model}: {mismatches} output values differ from {v['source']}"


def test_cpu_dependent_onnx_models_are_refused_by_name():
    # uint8 x int8 with weights that saturate int16 pairs on AVX2: refused unless told the CPU.
    with pytest.raises(quiver.ModelError, match="/fc1/Gemm"):
        quiver.load(MODELS / "mnist_mlp_ort_qdq.onnx")
    net = quiver.load(MODELS / "mnist_mlp_ort_qdq.onnx", ort_cpu="vnni")
    assert net.output_len == 10
    with pytest.raises(quiver.OptionError):
        quiver.load(MODELS / "mnist_mlp_ort_qdq.onnx", ort_cpu="arm")


def test_load_from_bytes_equals_load_from_path():
    for name in ["mnist_mlp.json", "../../tests/data/onnx/mnist_mlp_ort_qdq_rr.onnx"]:
        a = quiver.load(MODELS / name)
        b = quiver.load((MODELS / name).read_bytes())
        x = np.arange(a.input_len) % 256
        assert np.array_equal(a.run(x), b.run(x))
        assert a.layers() == b.layers()


def test_bundled_model_and_metadata():
    net = quiver.load("@bundled")
    assert net.input_shape == [784] and net.output_len == 10 and net.input_dtype == "uint8"
    assert [k for _, k in net.layers()] == ["dense", "dense", "dense"]
    x = net.quantize_input(np.full(784, 0.5, dtype=np.float32))
    assert x.shape == (784,)
    # round(0.5 / scale) + zero_point, as PyTorch's quantize_per_tensor does
    assert x[0] == round(0.5 / net.input_scale) + net.input_zero_point


def test_verify_round_trip_and_witness_replay():
    net = quiver.load(MODELS / "mnist_mlp.json")
    v = json.loads((MODELS / "mnist_mlp.vectors.json").read_text())
    x, label = np.array(v["inputs"][0]), v["labels"][0]
    small = quiver.verify(net, quiver.robustness(net, x, eps=1, label=label), timeout=120)
    assert small.verdict == "verified" and small.witness is None
    assert [s["name"] for s in small.stages][0] == "probe"
    big = quiver.verify(net, quiver.robustness(net, x, eps=40, label=label), timeout=120)
    assert big.verdict == "falsified"
    w = big.witness
    spec = quiver.robustness(net, x, eps=40, label=label)
    assert np.all(w["input"] >= spec.lower) and np.all(w["input"] <= spec.upper)
    # The witness replays: the exact executor gives the recorded outputs, which beat the label.
    y = net.run(w["input"])
    assert np.array_equal(y, w["output"])
    assert max(y[j] for j in range(10) if j != label) >= y[label]
    d = big.to_dict()
    assert d["verdict"] == "falsified" and d["witness"]["input"] == w["input"].tolist()


def test_verdicts_agree_with_the_cli():
    b = quiver_bin()
    if b is None:
        pytest.skip("the quiver binary is not built (set QUIVER_BIN or CARGO_TARGET_DIR)")
    model = MODELS / "mnist_mlp.json"
    net = quiver.load(model)
    for index, eps in [(0, 1), (1, 3), (2, 40)]:
        cli = subprocess.run(
            [str(b), "verify", str(model), "--robust", "--dataset", "@bundled", "--index", str(index),
             "--eps", str(eps), "--json"],
            capture_output=True, text=True, timeout=300,
        )
        expected = json.loads(cli.stdout)
        v = json.loads((MODELS / "mnist_mlp.vectors.json").read_text())
        spec = quiver.robustness(net, v["inputs"][index], eps=eps, label=v["labels"][index])
        r = quiver.verify(net, spec)
        assert r.verdict == expected["verdict"], (index, eps)
        # The same stages, so the same default backend: no default drifts between the two.
        assert [s["name"] for s in r.stages] == [s["name"] for s in expected["stages"]], (index, eps)


def test_bad_input_gets_typed_errors(tmp_path):
    net = quiver.load("@bundled")
    with pytest.raises(quiver.ModelError, match="nope.json"):
        quiver.load(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"format_version": 1, "name": "x"')
    with pytest.raises(quiver.ModelError, match="bad.json"):
        quiver.load(bad)
    with pytest.raises(quiver.ModelError):
        quiver.load(b"\x00\x01 not a model")
    with pytest.raises(quiver.InputError):
        net.run(np.zeros(3, dtype=np.int64))
    with pytest.raises(quiver.InputError):
        net.run(np.full(784, 300))  # outside uint8
    with pytest.raises(quiver.InputError):
        net.run(np.full(784, 0.5))  # not integers: refused, never truncated
    x = np.zeros(784, dtype=np.int64)
    with pytest.raises(quiver.SpecError):
        quiver.robustness(net, x, eps=1, label=10)
    with pytest.raises(quiver.SpecError):
        quiver.robustness(net, x, label=0)
    spec = quiver.robustness(net, x, eps=1, label=0)
    with pytest.raises(quiver.OptionError, match="no-such"):
        quiver.verify(net, spec, backend="no-such")
    with pytest.raises(quiver.OptionError):
        quiver.verify(net, spec, timeout=-1)
    assert issubclass(quiver.ModelError, quiver.QuiverError)


def test_keyboard_interrupt_stops_a_running_solve():
    # A query the bit-vector SMT backend needs far more than 0.3 s for (no search): interrupted
    # then, it must raise KeyboardInterrupt instead of running to its end (the time limit only
    # keeps a broken interrupt from hanging the suite).
    net = quiver.load(MODELS / "mnist_mlp.json")
    v = json.loads((MODELS / "mnist_mlp.vectors.json").read_text())
    spec = quiver.robustness(net, v["inputs"][0], eps=6, label=v["labels"][0])
    # Python ignores SIGINT when started with it ignored (a background job, nohup); Ctrl-C's
    # handler must be installed for interrupt_main to reach the solve.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(0.3, _thread.interrupt_main)
    timer.start()
    t = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            quiver.verify(net, spec, search=False, backend="smt-bv", timeout=120)
    finally:
        elapsed = time.monotonic() - t
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
    assert elapsed < 60, f"the interrupt took {elapsed:.1f} s to stop the solve"
    # And the library is usable afterwards.
    assert quiver.verify(net, quiver.robustness(net, v["inputs"][0], eps=1, label=v["labels"][0])).verdict == "verified"


def _bundled_input(k):
    return np.array(json.loads((MODELS / "mnist_mlp.vectors.json").read_text())["inputs"][k])


def test_equiv_of_identical_and_of_changed_networks():
    a = quiver.load("@bundled")
    x = _bundled_input(0)
    # The bundled model against its own file: every node shared, equivalent with delta 0.
    r = quiver.equiv(a, quiver.load(MODELS / "mnist_mlp.json"), x, eps=2, delta=0)
    assert r.verdict == "verified" and r.witness is None and r.shared_nodes == 3
    assert r.to_dict()["verdict"] == "verified"
    # Row 0 of the last layer zeroed: output 0 changes, so delta 0 is falsified with an input
    # that each network, run separately, confirms.
    m = json.loads((MODELS / "mnist_mlp.json").read_text())
    last = m["layers"][-1]
    last["weights"][: last["in_features"]] = [0] * last["in_features"]
    b = quiver.load(json.dumps(m).encode())
    r = quiver.equiv(a, b, x, eps=1, delta=0)
    assert r.verdict == "falsified", r.reason
    w = r.witness
    assert np.array_equal(a.run(w["input"]), w["output_a"])
    assert np.array_equal(b.run(w["input"]), w["output_b"])
    assert np.any(w["output_a"] != w["output_b"]) and "output" in w["violation"]
    assert np.all(np.abs(w["input"] - x) <= 1)
    # The same pair on the dequantized outputs with a huge delta: equivalent; the class question
    # is answered either way without error.
    assert quiver.equiv(a, b, x, eps=1, delta_real=1e6).verdict == "verified"
    assert quiver.equiv(a, b, x, eps=1, same_class=True, tie="first-index", timeout=60).verdict in (
        "verified", "falsified")


def test_equiv_refusals_are_typed():
    a = quiver.load("@bundled")
    cnn = quiver.load(MODELS / "mnist_cnn.json")
    x = _bundled_input(0)
    with pytest.raises(quiver.SpecError, match="inputs differ"):
        quiver.equiv(a, cnn, x, eps=1, delta=0)
    with pytest.raises(quiver.SpecError, match="exactly one"):
        quiver.equiv(a, a, x, eps=1)
    with pytest.raises(quiver.SpecError, match="exactly one"):
        quiver.equiv(a, a, x, eps=1, delta=0, same_class=True)
    with pytest.raises(quiver.SpecError, match="delta"):
        quiver.equiv(a, a, x, eps=1, delta_real=-0.5)
    with pytest.raises(quiver.SpecError):
        quiver.equiv(a, a, x, eps=1, delta_real=[1])
    with pytest.raises(quiver.OptionError):
        quiver.equiv(a, a, x, eps=1, delta=0, backend="nope")
    lo, hi = np.zeros(784, dtype=np.int64), np.full(784, 3, dtype=np.int64)
    assert quiver.equiv(a, a, lower=lo, upper=hi, delta=0).verdict == "verified"


def test_radius_matches_verify_at_its_ends():
    net = quiver.load("@bundled")
    x = _bundled_input(1)
    r = quiver.radius(net, x, max_eps=6, eps_timeout=10, timeout=60)
    assert set(["radius", "lower", "upper", "runs", "unbounded"]) <= set(r)
    assert r["lower"] >= -1 and r["runs"]
    if r["lower"] >= 0:
        spec = quiver.robustness(net, x, eps=r["lower"])
        assert quiver.verify(net, spec, timeout=30).verdict != "falsified"
    if r["upper"] is not None:
        spec = quiver.robustness(net, x, eps=r["upper"])
        assert quiver.verify(net, spec, timeout=30).verdict != "verified"
    with pytest.raises(quiver.OptionError):
        quiver.radius(net, x, strategy="bogus")


def test_lp_tightening_is_on_by_default_and_can_be_turned_off():
    net = quiver.load(MODELS / "mnist_mlp.json")
    v = json.loads((MODELS / "mnist_mlp.vectors.json").read_text())
    x, label = np.array(v["inputs"][0]), v["labels"][0]
    # At ε = 4 the bounds leave disjuncts with unstable hidden neurons open, so the backend runs.
    spec = quiver.robustness(net, x, eps=4, label=label)
    # No search: under load it could spend the whole time limit before the backend.
    on = quiver.verify(net, spec, timeout=2, search=False)
    off = quiver.verify(net, spec, timeout=2, search=False, tighten=False)
    names = lambda r: [s["name"] for s in r.stages]
    assert "tighten (lp)" in names(on), names(on)
    assert "tighten (lp)" not in names(off), names(off)
    assert any(n.startswith("backend") for n in names(off))
    # Without `backend`, the CLI's default backend runs.
    assert f"backend ({quiver.DEFAULT_BACKEND})" in names(on), names(on)
