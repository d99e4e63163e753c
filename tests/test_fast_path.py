"""The elementwise array fast path gives bit-identical results to the general path.

``_dispatch._elementwise_call`` serves plain ``np.<ufunc>(...)`` calls on Duals with ndarray
parts. Generated from the ufunc table: every Elementwise rule is run both ways (the general
path by emptying the fast path's table) on its own domain, in the layouts that matter:
one direction, k directions, broadcasting against a constant and against another Dual,
arrays large enough for the in-place products, float32, and the singular points where a
zero tangent must win over an infinite partial.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from dualnumpy.core import interpreter as _dispatch
from dualnumpy.core.dual import Dual
from dualnumpy.rules import Elementwise
from dualnumpy.rules.ufuncs import UFUNC_RULES

ELEMENTWISE = sorted((uf for uf, rule in UFUNC_RULES.items()
                      if isinstance(rule, Elementwise) and uf.nout == 1), key=lambda u: u.__name__)
LARGE = 1 << 15  # above the size at which rules multiply in place


def _same(a: Any, b: Any) -> None:
    """Equal to the bit: dtype, shape, NaNs in the same places, zeros of the same sign."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(np.signbit(a.real), np.signbit(b.real))
    np.testing.assert_array_equal(a, b)


def _both_ways(call: Callable[[], Dual], monkeypatch: pytest.MonkeyPatch) -> tuple[Dual, Dual]:
    calls = []
    original = _dispatch._elementwise_call

    def counting(*args: Any) -> Any:
        out = original(*args)
        calls.append(out is not None)
        return out

    with monkeypatch.context() as patch:
        patch.setattr(_dispatch, "_elementwise_call", counting)
        fast = call()
    assert calls and all(calls), "the fast path declined a call it is meant to serve"
    with monkeypatch.context() as patch:
        patch.setattr(_dispatch, "fast_elementwise", False)
        general = call()
    return fast, general


def _check(call: Callable[[], Dual], monkeypatch: pytest.MonkeyPatch) -> None:
    fast, general = _both_ways(call, monkeypatch)
    assert type(fast) is Dual and fast.tag == general.tag
    _same(fast.value, general.value)
    _same(fast.tangent, general.tangent)


def _samples(uf: np.ufunc, shape: tuple[int, ...], seed: int, dtype: Any = np.float64) -> list[Any]:
    rule = UFUNC_RULES[uf]
    assert isinstance(rule, Elementwise)
    rng = np.random.default_rng(seed)
    out = []
    for i, (lo, hi) in enumerate(rule.domain.intervals):
        if i in rule.domain.integer_args:
            out.append(rng.integers(int(lo), int(hi) + 1, shape))
        else:
            out.append(rng.uniform(lo, hi, shape).astype(dtype))
    return out


def _dual_args(uf: np.ufunc) -> list[int]:
    rule = UFUNC_RULES[uf]
    assert isinstance(rule, Elementwise)
    skip = set(rule.domain.constant_args) | set(rule.domain.integer_args)
    return [i for i in range(uf.nin) if i not in skip]


per_ufunc = pytest.mark.parametrize("uf", ELEMENTWISE, ids=lambda u: u.__name__)


@per_ufunc
@pytest.mark.parametrize("layout", ["single", "batched", "large", "float32", "scalar", "scalar batched"])
def test_fast_path_is_bit_identical(uf: np.ufunc, layout: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Arrays, and the 0-d Duals reductions return (NumPy scalars, or (k,) tangents)."""
    shape = {"large": (LARGE,), "scalar": (), "scalar batched": ()}.get(layout, (3, 4))
    dtype = np.float32 if layout == "float32" else np.float64
    values = _samples(uf, shape, seed=len(uf.__name__), dtype=dtype)
    rng = np.random.default_rng(1)
    tangent_shape = (2, *shape) if "batched" in layout else shape

    def tangent() -> Any:
        t = rng.standard_normal(tangent_shape).astype(dtype)
        return t[()] if t.ndim == 0 else t  # a NumPy scalar, as np.sum(d).tangent is

    if not shape:
        values = [v[()] for v in values]
    inputs = [Dual(v, tangent()) if i in _dual_args(uf) else v for i, v in enumerate(values)]
    _check(lambda: uf(*inputs), monkeypatch)


@pytest.mark.parametrize("uf", [uf for uf in ELEMENTWISE if uf.nin >= 2], ids=lambda u: u.__name__)
@pytest.mark.parametrize("batched", [False, True])
def test_fast_path_broadcasts_like_the_general_path(uf: np.ufunc, batched: bool,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A Dual against a higher-rank constant or Dual: the batch axis must not meet a data axis."""
    duals = _dual_args(uf)
    rng = np.random.default_rng(2)
    low, high = _samples(uf, (3,), seed=3), _samples(uf, (3, 3), seed=4)
    k = (3,) if batched else ()  # k equal to a data dimension: the silent mix-up align() prevents
    for first in duals:
        args: list[Any] = list(high)
        args[first] = Dual(low[first], rng.standard_normal((*k, 3)))
        _check(lambda: uf(*args), monkeypatch)
        for other in duals:
            if other != first:
                args[other] = Dual(high[other], rng.standard_normal((*k, 3, 3)))
                _check(lambda: uf(*args), monkeypatch)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the primal's own log(0)
def test_zero_tangent_wins_over_an_infinite_partial(monkeypatch: pytest.MonkeyPatch) -> None:
    x = Dual(np.array([0.0, 0.0, 4.0]), np.array([0.0, 1.0, 1.0]))
    fast, _ = _both_ways(lambda: np.sqrt(x), monkeypatch)
    np.testing.assert_array_equal(fast.tangent, [0.0, np.inf, 0.25])
    _check(lambda: np.sqrt(x) + np.log(x) * np.arcsin(x / 8), monkeypatch)


@pytest.mark.parametrize("uf", [np.hypot, np.arctan2], ids=lambda u: u.__name__)
@pytest.mark.parametrize("layout", ["single", "batched", "float32", "scalar"])
def test_fast_path_at_the_origin_and_on_the_axes(uf: np.ufunc, layout: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """hypot and arctan2 at (0, 0) in every sign of zero and on the axes: bit-identical, no warning."""
    a = np.array([0.0, -0.0, 0.0, -0.0, 0.0, -0.0, 1.5, -2.0])
    b = np.array([0.0, 0.0, -0.0, -0.0, 1.5, -2.0, 0.0, -0.0])
    dtype = np.float32 if layout == "float32" else np.float64
    rng = np.random.default_rng(6)
    lead = (3,) if layout == "batched" else ()
    ta, tb = (rng.standard_normal((*lead, a.size)).astype(dtype) for _ in range(2))
    a, b = a.astype(dtype), b.astype(dtype)
    points = [(a[i], b[i], ta[i], tb[i]) for i in range(a.size)] if layout == "scalar" else [(a, b, ta, tb)]
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        for x, y, tx, ty in points:
            _check(lambda: uf(Dual(x, tx), Dual(y, ty)), monkeypatch)
            _check(lambda: uf(Dual(x, tx), y), monkeypatch)
            _check(lambda: uf(x, Dual(y, ty)), monkeypatch)
    fast, _ = _both_ways(lambda: uf(Dual(a, ta), Dual(b, tb)), monkeypatch)
    assert np.all(fast.tangent[..., :4] == 0.0)  # the origin


def test_inputs_survive_in_place_products(monkeypatch: pytest.MonkeyPatch) -> None:
    """Large partials are multiplied in place; never when the partial is an input or the answer."""
    rng = np.random.default_rng(5)
    x = Dual(rng.uniform(0.5, 2.0, LARGE), rng.standard_normal(LARGE))
    y = Dual(rng.uniform(0.5, 2.0, LARGE), rng.standard_normal(LARGE))
    saved = [a.copy() for a in (x.value, x.tangent, y.value, y.tangent)]
    for call in (lambda: x * y, lambda: np.exp(x), lambda: x / y, lambda: np.hypot(x, y), lambda: x - y):
        out = call()
        for a, b in zip((x.value, x.tangent, y.value, y.tangent), saved, strict=True):
            np.testing.assert_array_equal(a, b)
        assert not np.shares_memory(out.tangent, x.tangent) or out.tangent is not x.tangent
    np.testing.assert_array_equal(np.exp(x).tangent, np.exp(saved[0]) * saved[1])
    _check(lambda: x * y + np.exp(x) - x / y, monkeypatch)


@pytest.mark.parametrize("call", [
    lambda x, y: x * Dual(y.value, y.tangent, tag=y.tag + 1),  # two tags
    lambda x, y: np.exp(Dual(x, x.tangent, tag=x.tag + 1)),  # a nested Dual
    lambda x, y: x * [1.0, 2.0, 3.0],  # a list constant
    lambda x, y: np.multiply(x, y, dtype=np.float64),  # keyword arguments
    lambda x, y: x * np.float16(2),  # a half-precision NumPy scalar
    lambda x, y: np.sin(Dual(np.array([1, 2, 3]), np.ones(3))),  # integer values
], ids=["two tags", "nested", "list", "kwargs", "float16 scalar", "int values"])
def test_fast_path_declines_what_it_does_not_serve(call: Callable[[Dual, Dual], Any],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    x = Dual(np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, 0.5]))
    y = Dual(np.array([0.5, 1.5, 2.5]), np.array([0.0, 1.0, 1.0]))
    served = []
    original = _dispatch._elementwise_call
    monkeypatch.setattr(_dispatch, "_elementwise_call",
                        lambda *args: served.append(original(*args)) or served[-1])
    out = call(x, y)
    assert not served or served[0] is None  # the outermost call went the general way
    monkeypatch.setattr(_dispatch, "fast_elementwise", False)
    general = call(x, y)
    _same_dual(out, general)


def _same_dual(a: Any, b: Any) -> None:
    if isinstance(a, Dual):
        assert isinstance(b, Dual) and a.tag == b.tag
        _same_dual(a.value, b.value)
        _same_dual(a.tangent, b.tangent)
    else:
        _same(a, b)


def test_different_numbers_of_directions_get_the_general_error() -> None:
    x = Dual(np.array([1.0, 2.0]), np.ones(2))
    y = Dual(np.array([3.0, 4.0]), np.ones((3, 2)))
    with pytest.raises(ValueError, match="different numbers of directions"):
        _ = x * y
