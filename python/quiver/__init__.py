"""quiver: a formal verifier for quantized neural networks, from Python.

quiver proves or refutes properties of the exact integer arithmetic a quantized network runs
(int8 weights and activations, integer accumulators, requantization, rounding, clamping — as
PyTorch/FBGEMM and ONNX Runtime execute it). This package is a binding of the same Rust library
the ``quiver`` command-line tool is built from: the same loaders, executor and verification
pipeline (probe, bound propagation, gradient counterexample search, MILP via HiGHS, SMT via Z3).

    >>> import quiver, numpy as np
    >>> net = quiver.load("@bundled")                       # or a .json / .onnx / .h5 path, or bytes
    >>> x = net.quantize_input(np.zeros(net.input_shape))   # real -> integer input
    >>> y = net.run(x)                                      # exact integer outputs
    >>> spec = quiver.robustness(net, x, eps=2)             # L-inf box of +-2 integer steps
    >>> report = quiver.verify(net, spec, timeout=60)
    >>> report.verdict                                       # "verified" | "falsified" | "unknown"

Soundness: ``falsified`` always comes with a witness that the exact executor replayed;
``verified`` comes only from exact procedures. Errors are typed: :class:`ModelError`,
:class:`SpecError`, :class:`InputError`, :class:`OptionError`, all subclasses of
:class:`QuiverError`.
"""

from __future__ import annotations

import atexit
import json
import os
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np

from . import _quiver
from ._quiver import (
    EquivReport,
    InputError,
    ModelError,
    Network,
    OptionError,
    QuiverError,
    Report,
    Spec,
    SpecError,
)

__version__ = _quiver.__version__

#: The complete backend ``verify``, ``equiv`` and ``radius`` use when ``backend`` is not given:
#: the same as the command line's ``--backend`` default.
DEFAULT_BACKEND: str = _quiver.DEFAULT_BACKEND

# A MILP solve abandoned at its deadline may still be running on a helper thread; let it end
# before the interpreter's exit runs the solver library's static destructors under it.
atexit.register(_quiver._wait_for_solvers, 30.0)

__all__ = [
    "load",
    "run",
    "quantize_input",
    "robustness",
    "vnnlib",
    "verify",
    "equiv",
    "radius",
    "Network",
    "Spec",
    "Report",
    "EquivReport",
    "QuiverError",
    "ModelError",
    "SpecError",
    "InputError",
    "OptionError",
    "DEFAULT_BACKEND",
]


def _integers(x: Any, what: str) -> np.ndarray:
    """``x`` as a flat C-contiguous int64 array; refuses non-integral values instead of truncating."""
    a = np.asarray(x)
    if a.dtype.kind in "iu":
        return np.ascontiguousarray(a, dtype=np.int64).ravel()
    if a.dtype.kind == "b":
        raise InputError(f"{what}: expected integers, got booleans")
    if a.dtype.kind == "f" and np.all(np.isfinite(a)) and np.all(a == np.round(a)):
        return np.ascontiguousarray(a, dtype=np.int64).ravel()
    raise InputError(f"{what}: expected an array of integers, got dtype {a.dtype}")


def load(
    source: Union[str, os.PathLike, bytes, bytearray], q_bits: Optional[int] = None, *, ort_cpu: str = "x86"
) -> Network:
    """Load a quantized network.

    ``source`` is a path — quiver JSON (``.json``), ONNX (``.onnx``; ONNX Runtime 1.32's integer
    semantics on x86-64, patterns it runs in float are refused by name), Keras fixed-point
    ``.h5`` (QVIP/AAAI'21 networks; ``q_bits`` overrides the activation bits) or ``"@bundled"``
    (the bundled PyTorch-quantized MNIST network) — or the bytes of a JSON or ONNX model.

    ``ort_cpu`` names the CPU whose ONNX Runtime results an ONNX model must reproduce: ``"x86"``
    (default; AVX2 without VNNI, where MLAS adds pairs of uint8 × int8 products in int16 with
    saturation — models whose weights can saturate are refused) or ``"vnni"``.

    Raises :class:`ModelError` naming the file, the place and what was expected.
    """
    if isinstance(source, os.PathLike):
        source = os.fspath(source)
    return _quiver._load(source, q_bits, ort_cpu)


def run(net: Network, x: Any) -> np.ndarray:
    """Execute ``net`` exactly on the integer input ``x`` (any shape with ``net.input_len``
    elements, in the input's integer type); returns the int64 outputs, shape ``(output_len,)``.

    Raises :class:`InputError` if ``x`` has the wrong length or a value outside the input type.
    """
    return net._run(_integers(x, "input"))


def quantize_input(net: Network, x_real: Any) -> np.ndarray:
    """Quantize real inputs (any shape with ``net.input_len`` elements, as binary32) exactly as
    the network's runtime does at its input (``round(x / scale) + zero_point``, saturated);
    returns int64, shape ``(input_len,)``."""
    a = np.ascontiguousarray(np.asarray(x_real, dtype=np.float32)).ravel()
    if a.size != net.input_len:
        raise InputError(f"input: expected {net.input_len} values, got {a.size}")
    return net._quantize_input(a)


Network.run = run  # type: ignore[attr-defined]
Network.quantize_input = quantize_input  # type: ignore[attr-defined]


def robustness(
    net: Network,
    x: Any,
    eps: Optional[int] = None,
    *,
    eps_real: Optional[float] = None,
    label: Optional[int] = None,
    tie: str = "any",
) -> Spec:
    """L∞ local robustness around the integer input ``x``.

    The box is ``x ± eps`` integer steps (or ``± eps_real`` in real input units, rounded inward to
    the integer grid), clipped to the input type. Unsafe: another output beats ``label`` (default:
    the class ``net`` predicts at ``x``). ``tie="any"`` (default) counts a tie as unsafe;
    ``tie="first-index"`` breaks ties towards the lower index as ``argmax`` does (AAAI'21/QVIP).

    Raises :class:`SpecError` (label out of range, eps missing or doubled) or :class:`InputError`.
    """
    xi = _integers(x, "x")
    if label is None:
        label = int(np.argmax(run(net, xi)))
    return _quiver._robustness(net, xi, label, eps, eps_real, tie)


def vnnlib(path: Union[str, os.PathLike], net: Network, *, integer: bool = False) -> Spec:
    """A VNN-LIB property over ``net``: real (dequantized) inputs/outputs mapped exactly through
    the network's quantization, or the integers themselves with ``integer=True``.

    Raises :class:`SpecError` naming the file and the place.
    """
    return _quiver._vnnlib(os.fspath(path), net, integer)


def _backends(backend: Union[None, str, Sequence[str]]) -> Optional[List[str]]:
    """``None`` stays ``None``: the Rust side then uses :data:`DEFAULT_BACKEND`."""
    if backend is None:
        return None
    return [backend] if isinstance(backend, str) else list(backend)


def verify(
    net: Network,
    spec: Spec,
    *,
    backend: Union[None, str, Sequence[str]] = None,
    bounds: str = "symbolic",
    search: bool = True,
    search_budget: float = 1.0,
    timeout: Optional[float] = None,
    threads: int = 1,
    crosscheck: bool = False,
    probe: bool = True,
    seed: int = 0,
    tighten: bool = True,
) -> Report:
    """Decide ``spec`` on ``net``; the same pipeline as ``quiver verify``.

    Stages: probe (box center and corners) → bounds (``"none"``, ``"interval"``,
    ``"symbolic"``) → gradient counterexample search (``search``, at most ``search_budget``
    seconds; 1 s by default, as ``quiver verify --search-budget``) → LP tightening of the
    symbolic bounds (``tighten``; ``quiver verify --tighten``)
    → complete backend(s) (default :data:`DEFAULT_BACKEND`, as ``quiver verify``; ``"milp"``,
    ``"smt-bv"``, ``"smt-lia"``, ``"cpsat"``, ``"portfolio"``,
    ``"bab"``, ``"milp-whole"``, ``"all"`` or ``"none"``; a list with ``crosscheck=True`` runs
    each and compares).
    ``timeout`` (seconds) bounds the whole pipeline; ``threads=0`` uses every core.

    The GIL is released while it runs; Ctrl-C (KeyboardInterrupt) stops the solvers and is
    re-raised. Returns a :class:`Report`; raises :class:`OptionError` on invalid options.
    """
    backends = _backends(backend)
    return _quiver._verify(
        net, spec, backends, bounds, search, search_budget, timeout, threads, crosscheck, probe, seed, tighten
    )


def _report_to_dict(self: Report) -> Dict[str, Any]:
    """The report as ``quiver verify --json`` writes it (plain Python types)."""
    return json.loads(self._json())


def _report_stages(self: Report) -> list:
    """Per-stage timings: a list of ``{"name", "seconds", "outcome"}``."""
    return _report_to_dict(self)["stages"]


def _report_stats(self: Report) -> Dict[str, Any]:
    """Query and effort statistics (inputs, disjuncts, unstable neurons, per-backend stats)."""
    return _report_to_dict(self)["stats"]


Report.to_dict = _report_to_dict  # type: ignore[attr-defined]
Report.stages = property(_report_stages)  # type: ignore[attr-defined]
Report.stats = property(_report_stats)  # type: ignore[attr-defined]


def equiv(
    a: Network,
    b: Network,
    x: Any = None,
    eps: Optional[int] = None,
    *,
    eps_real: Optional[float] = None,
    lower: Any = None,
    upper: Any = None,
    delta: Optional[int] = None,
    delta_real: Union[None, float, int, str] = None,
    same_class: bool = False,
    tie: str = "any",
    backend: Union[None, str, Sequence[str]] = None,
    bounds: str = "symbolic",
    search: bool = True,
    search_budget: float = 1.0,
    timeout: Optional[float] = None,
    threads: int = 1,
    crosscheck: bool = False,
    probe: bool = True,
    seed: int = 0,
    tighten: bool = True,
) -> EquivReport:
    """δ-equivalence of two networks on an input box; the same procedure as ``quiver equiv``.

    ``a`` and ``b`` must take the same input (shape, integer type, scale, zero point) and have
    as many outputs. The box is ``x ± eps`` integer steps (or ``± eps_real`` real units) around
    the integer input ``x``, or the integer bounds ``lower``/``upper``. The relation is exactly
    one of:

    * ``delta=D``: ``|yA_i − yB_i| ≤ D`` on the integer outputs (needs equal output scales and
      zero points);
    * ``delta_real=X``: the same on the dequantized outputs, decided in exact rational
      arithmetic; ``X`` is taken as the decimal it prints as (a float's ``repr``, or a string);
    * ``same_class=True``: both predict the same class (``tie="first-index"``: equal first-index
      argmax; ``tie="any"``: some class is the strict maximum of both).

    Returns an :class:`EquivReport`: ``verdict`` is ``"verified"`` (equivalent on the whole
    box), ``"falsified"`` (``witness`` holds an input replayed on both networks, both outputs and
    what disagrees) or ``"unknown"`` (``reason``). The pipeline options are :func:`verify`'s.
    Raises :class:`SpecError` when the pair or the box does not fit, :class:`OptionError` on
    invalid options.
    """
    if delta_real is not None and not isinstance(delta_real, str):
        if isinstance(delta_real, bool) or not isinstance(delta_real, (int, float)):
            raise SpecError(f"delta_real: expected a number or a decimal string, got {type(delta_real).__name__}")
        delta_real = repr(float(delta_real)) if isinstance(delta_real, float) else str(delta_real)
    backends = _backends(backend)
    xi = None if x is None else _integers(x, "x")
    lo = None if lower is None else _integers(lower, "lower")
    hi = None if upper is None else _integers(upper, "upper")
    return _quiver._equiv(
        a, b, xi, eps, eps_real, lo, hi, delta, delta_real, same_class, tie,
        backends, bounds, search, search_budget, timeout, threads, crosscheck, probe, seed, tighten,
    )


def radius(
    net: Network,
    x: Any,
    *,
    label: Optional[int] = None,
    tie: str = "any",
    max_eps: Optional[int] = None,
    eps_real_step: Optional[float] = None,
    strategy: str = "search",
    eps_timeout: Optional[float] = None,
    timeout: Optional[float] = None,
    backend: Union[None, str, Sequence[str]] = None,
    bounds: str = "symbolic",
    search: bool = True,
    search_budget: float = 1.0,
    threads: int = 1,
    probe: bool = True,
    seed: int = 0,
    tighten: bool = True,
) -> Dict[str, Any]:
    """The maximum robustness radius around the integer input ``x``, as ``quiver radius --json``.

    The largest level ε (integer steps, or multiples of ``eps_real_step`` real units) at which
    L∞ robustness of ``label`` (default: the predicted class) holds, with ε + 1 falsified by a
    replayed witness. Returns a dict: ``radius`` (an int when decided, ``-1`` if ``x`` itself
    violates, ``None`` when undecided or unbounded), ``lower``, ``upper``, ``unbounded``,
    ``witness``, ``runs`` (every level's verdict, method and seconds), ``reason``.
    ``eps_timeout`` limits each level's pipeline, ``timeout`` the whole search.
    """
    xi = _integers(x, "x")
    if label is None:
        label = int(np.argmax(run(net, xi)))
    backends = _backends(backend)
    text = _quiver._radius(
        net, xi, label, tie, max_eps, eps_real_step, strategy, eps_timeout, timeout,
        backends, bounds, search, search_budget, threads, probe, seed, tighten,
    )
    return json.loads(text)


def _equiv_to_dict(self: EquivReport) -> Dict[str, Any]:
    """The report as ``quiver equiv --json`` writes it (plain Python types)."""
    return json.loads(self._json())


EquivReport.to_dict = _equiv_to_dict  # type: ignore[attr-defined]
