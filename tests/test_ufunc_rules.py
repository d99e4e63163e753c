"""Tests generated from the ufunc rule table ``dualnumpy.rules.ufuncs.UFUNC_RULES``.

Every differentiable line (Elementwise, Linear, Bilinear, Custom, PiecewiseConstant) is checked on
values drawn from its own ``domain``: the value is exactly NumPy's, the tangent agrees with a
Richardson-extrapolated central difference (also along complex directions for ``complex_ok``
rules), k stacked directions equal k single ones, the tangent is linear in the seed, and
float32 stays float32, and (f) under ``np.errstate(all="raise")`` with warnings as errors a
finite derivative raises nothing (the points include 0, -0.0 and the interval's ends, so
hypot and arctan2 meet the origin). Binary ufuncs also get ``reduce``, ``accumulate`` and ``outer``.
Adding a line to the table is all it takes to have it tested; a differentiable line without
a usable domain fails ``test_rule_is_well_formed``.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.testing.overrides import get_overridable_numpy_ufuncs

from dualnumpy import Dual
from dualnumpy.core import interpreter as _dispatch
from dualnumpy.core import scalar as _scalar
from dualnumpy.rules import Bilinear, Custom, Domain, Elementwise, NonDiff, Unsupported
from dualnumpy.rules.ufuncs import UFUNC_RULES, UNRELIABLE_REDUCE, differentiable

SETTINGS = settings(max_examples=25, deadline=None)
H = 1e-4  # base step of the Richardson difference; directions have entries in [-1, 1]
GAP = 1e-3  # two inputs closer than this, but not equal, would put a kink inside the stencil
MAX_SIZE = 24  # elements per drawn array
IMAG = 0.5  # imaginary parts of complex samples stay in [-IMAG, IMAG] (clear of arctan's +-i)


def _name(uf: np.ufunc) -> str:
    return uf.__name__


def _domain(uf: np.ufunc) -> Domain:
    dom = getattr(UFUNC_RULES[uf], "domain", None)
    assert isinstance(dom, Domain), f"np.{uf.__name__}: a differentiable rule needs a Domain"
    return dom


def _complex_ok(uf: np.ufunc) -> bool:
    return bool(getattr(getattr(UFUNC_RULES[uf], "domain", None), "complex_ok", False))


def _numpy_reduces(uf: np.ufunc, axis: Any) -> bool:
    try:
        uf.reduce(np.full((2, 2), 0.5), axis=axis)
    except (TypeError, ValueError):
        return False
    return True


DIFF = sorted((uf for uf, rule in UFUNC_RULES.items() if differentiable(rule)), key=_name)
COMPLEX = [uf for uf in DIFF if _complex_ok(uf)]
BINARY = [uf for uf in DIFF if uf.nin == 2 and uf.signature is None]
BROADCASTING = [uf for uf in DIFF if uf.nin >= 2 and uf.signature is None]
GUFUNCS = [uf for uf in DIFF if uf.signature is not None]
# reduce/accumulate: binary, one output, and NumPy itself reduces floats (ldexp's int exponent does not)
ACCUMULABLE = [uf for uf in BINARY if uf.nout == 1 and _numpy_reduces(uf, 0)]
# reduce is refused where NumPy's own reduce is not the left fold (see UNRELIABLE_REDUCE)
REDUCIBLE = [uf for uf in ACCUMULABLE if uf not in UNRELIABLE_REDUCE]
MULTI_AXIS = {uf for uf in REDUCIBLE if _numpy_reduces(uf, None)}  # reorderable ufuncs
NONDIFF = sorted((uf for uf, rule in UFUNC_RULES.items() if isinstance(rule, NonDiff)), key=_name)
UNSUPPORTED = sorted((uf for uf, r in UFUNC_RULES.items() if isinstance(r, Unsupported)), key=_name)

per_ufunc = pytest.mark.parametrize("uf", DIFF, ids=_name)


# ---------------------------------------------------------------- calling and differencing


def outputs(out: Any) -> tuple[Any, ...]:
    return out if isinstance(out, tuple) else (out,)


def with_duals(args: Sequence[Any], duals: Sequence[bool], tangents: Sequence[Any]) -> list[Any]:
    return [Dual(a, t) if d else a for a, d, t in zip(args, duals, tangents, strict=True)]


def fd_jvp(fn: Callable[..., Any], args: Sequence[Any], duals: Sequence[bool],
           dirs: Sequence[Any]) -> list[np.ndarray]:
    """Directional derivative of every output: central differences, Richardson-extrapolated.

    A real step along a complex direction gives the JVP of holomorphic and R-linear maps alike.
    """

    def central(h: float) -> list[np.ndarray]:
        plus = outputs(fn(*[a + h * t if d else a for a, d, t in zip(args, duals, dirs, strict=True)]))
        minus = outputs(fn(*[a - h * t if d else a for a, d, t in zip(args, duals, dirs, strict=True)]))
        return [(np.asarray(p) - np.asarray(m)) / (2 * h) for p, m in zip(plus, minus, strict=True)]

    with np.errstate(all="ignore"):
        coarse, fine = central(H), central(H / 2)
    return [(4 * f - c) / 3 for f, c in zip(fine, coarse, strict=True)]


def scale(*arrays: Any) -> float:
    return 1.0 + max(float(np.max(np.abs(a), initial=0.0)) for a in arrays)


def is_inexact(x: Any) -> bool:
    return np.asarray(x).dtype.kind in "fc"


def check_value_and_fd(fn: Callable[..., Any], args: Sequence[Any], duals: Sequence[bool],
                       dirs: Sequence[Any], rtol: float) -> None:
    """(a) the value is exactly NumPy's and (b) the tangent matches finite differences."""
    expected = outputs(fn(*args))
    got = outputs(fn(*with_duals(args, duals, dirs)))
    assert len(got) == len(expected)
    for i, (e, g, fd) in enumerate(zip(expected, got, fd_jvp(fn, args, duals, dirs), strict=True)):
        if not is_inexact(e):
            assert not isinstance(g, Dual), f"output {i} is an integer: it carries no tangent"
            np.testing.assert_array_equal(g, e, strict=True)
            continue
        assert isinstance(g, Dual), f"output {i} lost its tangent"
        np.testing.assert_array_equal(g.value, e, strict=True)
        t = np.asarray(g.tangent)
        assert t.shape == np.shape(e), f"output {i}: tangent {t.shape} for value {np.shape(e)}"
        assert t.dtype == np.asarray(e).dtype, f"output {i}: tangent dtype {t.dtype}"
        np.testing.assert_allclose(t, fd, rtol=rtol, atol=1e-9 * scale(e, fd),
                                   err_msg=f"output {i}: tangent against finite differences")


def tangents_of(out: Any) -> list[np.ndarray | None]:
    return [np.asarray(o.tangent) if isinstance(o, Dual) else None for o in outputs(out)]


def check_batched(fn: Callable[..., Any], args: Sequence[Any], duals: Sequence[bool],
                  dirs: Sequence[Any], k: int) -> None:
    """(c) k directions at once equal k single-direction JVPs stacked."""
    got = outputs(fn(*with_duals(args, duals, dirs)))
    singles = [tangents_of(fn(*with_duals(args, duals, [t[j] if d else None
                                                        for d, t in zip(duals, dirs, strict=True)])))
               for j in range(k)]
    for i, g in enumerate(got):
        if not isinstance(g, Dual):
            assert all(s[i] is None for s in singles)
            continue
        t = np.asarray(g.tangent)
        assert t.shape == (k, *np.shape(g.value)), f"output {i}: batched tangent shape {t.shape}"
        stacked = np.stack([s[i] for s in singles])
        np.testing.assert_allclose(t, stacked, rtol=1e-12, atol=1e-12 * scale(stacked),
                                   err_msg=f"output {i}: batched against stacked directions")


def check_linear(fn: Callable[..., Any], args: Sequence[Any], duals: Sequence[bool],
                 t1: Sequence[Any], t2: Sequence[Any], a: float, b: float) -> None:
    """(d) JVP(a t1 + b t2) == a JVP(t1) + b JVP(t2)."""
    combo = [a * x + b * y if d else None for d, x, y in zip(duals, t1, t2, strict=True)]
    lhs = tangents_of(fn(*with_duals(args, duals, combo)))
    r1, r2 = tangents_of(fn(*with_duals(args, duals, t1))), tangents_of(fn(*with_duals(args, duals, t2)))
    for i, (lt, x, y) in enumerate(zip(lhs, r1, r2, strict=True)):
        if lt is None:
            continue
        rhs = a * x + b * y
        np.testing.assert_allclose(lt, rhs, rtol=1e-9, atol=1e-12 * scale(x, y, lt),
                                   err_msg=f"output {i}: the tangent is not linear in the seed")


# ---------------------------------------------------------------- strategies


def floats(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False, allow_subnormal=False)


def small(shapes: Sequence[tuple[int, ...]]) -> bool:
    return all(math.prod(s) <= MAX_SIZE for s in shapes)


def call_shapes(uf: np.ufunc) -> st.SearchStrategy[hnp.BroadcastableShapes]:
    """Mutually broadcastable input shapes; core dimensions from a gufunc's signature."""
    if uf.signature is None:
        strategy = hnp.mutually_broadcastable_shapes(num_shapes=uf.nin, max_dims=3, max_side=3)
    else:
        strategy = hnp.mutually_broadcastable_shapes(signature=uf.signature, max_dims=2, max_side=3)
    return strategy.filter(lambda s: small((*s.input_shapes, s.result_shape)))


def draw_duals(data: st.DataObject, nin: int, dom: Domain) -> list[bool]:
    """Each input is a Dual or a constant; at least one Dual, never a constant_args input."""
    free = [i for i in range(nin) if i not in dom.constant_args]
    mask = [i in free and data.draw(st.booleans()) for i in range(nin)]
    if not any(mask):
        mask[data.draw(st.sampled_from(free))] = True
    return mask


def draw_arg(data: st.DataObject, dom: Domain, i: int, shape: tuple[int, ...],
             complex_: bool = False) -> np.ndarray:
    lo, hi = dom.intervals[i]
    if i in dom.integer_args:
        return data.draw(hnp.arrays(np.int64, shape, elements=st.integers(math.ceil(lo), math.floor(hi))))
    x = data.draw(hnp.arrays(np.float64, shape, elements=floats(lo, hi)))
    if complex_:
        x = x + 1j * data.draw(hnp.arrays(np.float64, shape, elements=floats(-IMAG, IMAG)))
    return x


def draw_dir(data: st.DataObject, arg: Any, lead: tuple[int, ...] = ()) -> np.ndarray:
    """A tangent direction (complex for a complex argument), optionally with k leading."""
    shape = (*lead, *np.shape(arg))
    t = data.draw(hnp.arrays(np.float64, shape, elements=floats(-1.0, 1.0)))
    if np.iscomplexobj(arg):
        t = t + 1j * data.draw(hnp.arrays(np.float64, shape, elements=floats(-1.0, 1.0)))
    return t


def draw_dirs(data: st.DataObject, args: Sequence[Any], duals: Sequence[bool],
              lead: tuple[int, ...] = ()) -> list[Any]:
    return [draw_dir(data, a, lead) if d else None for a, d in zip(args, duals, strict=True)]


def draw_k(data: st.DataObject, shapes: Sequence[tuple[int, ...]]) -> int:
    """The number of directions, on purpose often equal to an axis that broadcasts."""
    dims = sorted({n for s in shapes for n in s if n > 1})
    if dims and data.draw(st.booleans()):
        return data.draw(st.sampled_from(dims))
    return data.draw(st.integers(1, 3))


def separated(args: Sequence[Any]) -> bool:
    """No two real inputs are within GAP of each other unless exactly equal.

    At an exact tie the central difference is the 0.5/0.5 split of DESIGN.md section 6;
    a near tie puts the kink of maximum or clip inside the stencil, an artefact of the
    difference and not of the rule.
    """
    real = [np.asarray(a, dtype=float) for a in args if not np.iscomplexobj(a)]
    for a, b in itertools.combinations(real, 2):
        gap = np.abs(a - b)
        if np.any((gap > 0) & (gap < GAP)):
            return False
    return True


def draw_call(data: st.DataObject, uf: np.ufunc, complex_: bool = False
              ) -> tuple[list[Any], list[bool], tuple[tuple[int, ...], ...]]:
    dom = _domain(uf)
    shapes = data.draw(call_shapes(uf))
    duals = draw_duals(data, uf.nin, dom)
    cplx = [False] * uf.nin
    if complex_:
        candidates = [i for i in range(uf.nin) if i not in dom.integer_args]
        cplx = [i in candidates and data.draw(st.booleans()) for i in range(uf.nin)]
        if not any(cplx):
            cplx[data.draw(st.sampled_from(candidates))] = True
    args = [draw_arg(data, dom, i, s, c) for i, (s, c) in enumerate(zip(shapes.input_shapes, cplx, strict=True))]
    if uf.signature is None:
        assume(separated(args))
    return args, duals, (*shapes.input_shapes, shapes.result_shape)


# ---------------------------------------------------------------- the table itself


def test_every_numpy_ufunc_is_classified() -> None:
    missing = sorted(u.__name__ for u in get_overridable_numpy_ufuncs() if u not in UFUNC_RULES)
    assert not missing, f"ufuncs NumPy lets us override but the table does not classify: {missing}"


def test_every_ufunc_in_the_numpy_namespace_is_covered() -> None:
    names = sorted(n for n in dir(np) if isinstance(getattr(np, n), np.ufunc))
    missing = [n for n in names if getattr(np, n) not in UFUNC_RULES]
    assert not missing, f"np.<name> ufuncs without a rule: {missing}"


@per_ufunc
def test_rule_is_well_formed(uf: np.ufunc) -> None:
    rule = UFUNC_RULES[uf]
    dom = _domain(uf)
    assert len(dom.intervals) == uf.nin, f"np.{uf.__name__}: one interval per input"
    for lo, hi in dom.intervals:
        assert math.isfinite(lo) and math.isfinite(hi) and lo <= hi
    for i in (*dom.integer_args, *dom.constant_args):
        assert 0 <= i < uf.nin
    assert set(dom.constant_args) != set(range(uf.nin)), "some input must be able to be a Dual"
    assert 0 < dom.rtol < 1e-2
    if isinstance(rule, Elementwise):
        assert rule.nin == uf.nin
    if isinstance(rule, Custom):
        assert rule.nin == uf.nin


# ---------------------------------------------------------------- (a) value, (b) tangent


@per_ufunc
@SETTINGS
@given(data=st.data())
def test_value_and_tangent(uf: np.ufunc, data: st.DataObject) -> None:
    args, duals, _ = draw_call(data, uf)
    dirs = draw_dirs(data, args, duals)
    check_value_and_fd(uf, args, duals, dirs, _domain(uf).rtol)


@pytest.mark.parametrize("uf", COMPLEX, ids=_name)
@SETTINGS
@given(data=st.data())
def test_complex_value_and_tangent(uf: np.ufunc, data: st.DataObject) -> None:
    args, duals, _ = draw_call(data, uf, complex_=True)
    dirs = draw_dirs(data, args, duals)
    check_value_and_fd(uf, args, duals, dirs, _domain(uf).rtol)


# ---------------------------------------------------------------- (c) batched, (d) linearity


@per_ufunc
@SETTINGS
@given(data=st.data())
def test_batched_equals_stacked_directions(uf: np.ufunc, data: st.DataObject) -> None:
    args, duals, shapes = draw_call(data, uf, complex_=_complex_ok(uf) and data.draw(st.booleans()))
    k = draw_k(data, shapes)
    check_batched(uf, args, duals, draw_dirs(data, args, duals, (k,)), k)


def _fixed_args(dom: Domain, shapes: Sequence[tuple[int, ...]], seed: int = 0) -> list[np.ndarray]:
    """Deterministic samples well inside each interval, all distinct."""
    rng = np.random.default_rng(seed)
    args = []
    for i, shape in enumerate(shapes):
        lo, hi = dom.intervals[i]
        if i in dom.integer_args:
            args.append(rng.integers(math.ceil(lo), math.floor(hi) + 1, size=shape))
        else:
            args.append(lo + (hi - lo) * rng.uniform(0.1, 0.9, size=shape))
    return args


@pytest.mark.parametrize("uf", BROADCASTING, ids=_name)
def test_batch_axis_is_aligned_when_k_equals_a_broadcast_dimension(uf: np.ufunc) -> None:
    """Shapes (3,) against (2, 3) with k = 2: a misaligned batch axis broadcasts silently."""
    dom = _domain(uf)
    k = 2
    for low in range(uf.nin):
        shapes = [(3,) if i == low else (k, 3) for i in range(uf.nin)]
        args = _fixed_args(dom, shapes)
        for duals in itertools.product([False, True], repeat=uf.nin):
            if not any(duals) or any(duals[i] for i in dom.constant_args):
                continue
            rng = np.random.default_rng(1)
            dirs = [rng.standard_normal((k, *s)) if d else None for s, d in zip(shapes, duals, strict=True)]
            check_batched(uf, args, list(duals), dirs, k)
            for j in range(k):
                single = [t[j] if d else None for d, t in zip(duals, dirs, strict=True)]
                check_value_and_fd(uf, args, list(duals), single, dom.rtol)


@per_ufunc
@SETTINGS
@given(data=st.data())
def test_tangent_is_linear_in_the_seed(uf: np.ufunc, data: st.DataObject) -> None:
    args, duals, _ = draw_call(data, uf, complex_=_complex_ok(uf) and data.draw(st.booleans()))
    t1, t2 = draw_dirs(data, args, duals), draw_dirs(data, args, duals)
    a, b = data.draw(floats(-2.0, 2.0)), data.draw(floats(-2.0, 2.0))
    check_linear(uf, args, duals, t1, t2, a, b)


# ---------------------------------------------------------------- (e) float32


def _single(x: Any) -> Any:
    if isinstance(x, np.ndarray) and x.dtype.kind in "fc":
        return x.astype(np.complex64 if x.dtype.kind == "c" else np.float32)
    return x


def _double(x: Any) -> Any:
    if isinstance(x, np.ndarray) and x.dtype.kind in "fc":
        return x.astype(np.complex128 if x.dtype.kind == "c" else np.float64)
    return x


@per_ufunc
@SETTINGS
@given(data=st.data())
def test_float32_stays_float32(uf: np.ufunc, data: st.DataObject) -> None:
    args, duals, _ = draw_call(data, uf, complex_=_complex_ok(uf) and data.draw(st.booleans()))
    args32 = [_single(a) for a in args]
    # a 0-d constant may be a Python scalar: weak under NEP 50, it must not promote float32
    args32 = [a.item() if not d and a.ndim == 0 and a.dtype.kind in "fc" and data.draw(st.booleans())
              else a for a, d in zip(args32, duals, strict=True)]
    dirs = [None if t is None else _single(t) for t in draw_dirs(data, args, duals)]
    expected = outputs(uf(*args32))
    got = outputs(uf(*with_duals(args32, duals, dirs)))
    # the same points and directions in double precision, for the accuracy of the float32 tangent
    wide = tangents_of(uf(*with_duals([_double(a) for a in args32], duals, [_double(t) for t in dirs])))
    for i, (e, g, w) in enumerate(zip(expected, got, wide, strict=True)):
        if not is_inexact(e):
            assert not isinstance(g, Dual)
            continue
        assert isinstance(g, Dual)
        np.testing.assert_array_equal(g.value, e, strict=True)
        t = np.asarray(g.tangent)
        if np.asarray(e).dtype in (np.float32, np.complex64):
            assert t.dtype == np.asarray(e).dtype, f"output {i}: {t.dtype} tangent for a {np.asarray(e).dtype} value"
        np.testing.assert_allclose(t, w, rtol=1e-4, atol=1e-4 * scale(w),
                                   err_msg=f"output {i}: the float32 tangent against float64")


# ---------------------------------------------------------------- (f) no floating-point warnings where the answer exists

RAISING = [uf for uf in DIFF if isinstance(UFUNC_RULES[uf], (Elementwise, Bilinear, Custom))]
TINY = 1e-100  # nonzero magnitudes below this become 0 (see _clear_of_underflow)


def _snap(v: np.ndarray) -> np.ndarray:
    return np.where(np.abs(v) < TINY, np.copysign(0.0, v), v)


def _clear_of_underflow(x: np.ndarray) -> np.ndarray:
    """Magnitudes in (0, TINY) become zeros of the same sign (real and imaginary parts apart).

    Under ``all="raise"`` an underflow raises too, and the product of two such numbers (a tangent
    1e-200 times a partial 1e-200) underflows whatever the rule: rounding, not a singular
    partial. Exact zeros are kept (they are the interesting points), and products of up to three
    sampled numbers stay clear of the subnormals.
    """
    if x.dtype.kind == "c":
        return _snap(x.real) + 1j * _snap(x.imag)
    return _snap(x)


def _special_points(data: st.DataObject, x: np.ndarray, interval: tuple[float, float]) -> np.ndarray:
    """Some entries replaced by the ends of the interval, or by 0.0 or -0.0.

    The zeros come even where the domain leaves them out (hypot's is y >= 0.5, kept clear
    of the origin for the finite differences): 0 is where partials divide, and the test
    asserts only where NumPy's value is quiet and the derivative is finite.
    """
    lo, hi = interval
    special = [0.0, -0.0, lo, hi]  # zeros first: hypothesis draws small integers more often
    pick = data.draw(hnp.arrays(np.int64, np.shape(x), elements=st.integers(0, len(special) + 1)))
    replaced = np.where(pick < len(special), np.array(special)[np.minimum(pick, len(special) - 1)], np.real(x))
    return replaced + 1j * np.imag(x) if np.iscomplexobj(x) else replaced


@pytest.mark.parametrize("uf", RAISING, ids=_name)
@SETTINGS
@given(data=st.data())
def test_no_floating_point_warning_where_the_derivative_exists(uf: np.ufunc, data: st.DataObject) -> None:
    """Under ``np.errstate(all="raise")``, with warnings as errors, a JVP whose value and tangent
    are finite raises nothing: no rule may compute 0/0, x/0 or an overflow it then masks. The
    general path, the array fast path and the scalar fast path (ScalarDual) are each run."""
    dom = _domain(uf)
    args, duals, shapes = draw_call(data, uf, complex_=_complex_ok(uf) and data.draw(st.booleans()))
    args = [a if i in dom.integer_args else
            _clear_of_underflow(_special_points(data, a, dom.intervals[i]))
            for i, a in enumerate(args)]
    lead = (draw_k(data, shapes),) if data.draw(st.booleans()) else ()
    dirs = [None if t is None else _clear_of_underflow(t) for t in draw_dirs(data, args, duals, lead)]
    with np.errstate(all="ignore"):
        expected = outputs(uf(*args))
        tangents = tangents_of(uf(*with_duals(args, duals, dirs)))
    # where NumPy's own value raises, the warning is NumPy's (no domain has such points today)
    try:
        with np.errstate(all="raise"):
            uf(*args)
    except FloatingPointError:
        assume(False)
    # an infinite or NaN derivative may warn: it has no finite answer to protect
    assume(all(np.all(np.isfinite(e)) for e in expected if is_inexact(e)))
    assume(all(t is None or np.all(np.isfinite(t)) for t in tangents))
    calls: list[Callable[[], Any]] = [lambda: uf(*with_duals(args, duals, dirs))]
    if uf.nout == 1 and uf.signature is None and not any(np.iscomplexobj(a) for a in args) and (
            uf in _scalar._UNARY or uf in _scalar._BINARY):
        # the first element of each argument as a ScalarDual, or a Python constant
        first = [np.ravel(a)[0] for a in args]
        seeds = [None if t is None else tuple(float(v) for v in np.reshape(t, (*lead, -1))[..., 0].ravel())
                 for t in dirs]
        inputs = [_scalar.make_scalar(np.float64(v), seed, 7, bool(lead)) if seed is not None
                  else (int(v) if i in dom.integer_args else float(v))
                  for i, (v, seed) in enumerate(zip(first, seeds, strict=True))]
        calls.append(lambda: uf(*inputs))
    for fast in (True, False):
        saved = _dispatch.fast_elementwise
        _dispatch.fast_elementwise = fast
        try:
            for call in calls:
                with warnings.catch_warnings(), np.errstate(all="raise"):
                    warnings.simplefilter("error")
                    call()
        finally:
            _dispatch.fast_elementwise = saved


# ---------------------------------------------------------------- gufuncs: core dimensions


def _core_dims(signature: str) -> list[tuple[str, ...]]:
    inputs = signature.split("->")[0]
    return [tuple(d for d in part.split(",") if d) for part in re.findall(r"\(([^)]*)\)", inputs)]


def _gufunc_cases(uf: np.ufunc) -> list[tuple[tuple[int, ...], ...]]:
    """Operand shapes from the signature: every optional core dimension present or absent,
    and loop dimensions that broadcast (() or (1,) against (2,)), with k = 2 chosen to equal them."""
    cores = _core_dims(uf.signature)
    names = sorted({d.rstrip("?") for core in cores for d in core})
    sizes = {n: 3 + i for i, n in enumerate(names)}  # distinct, and never 2
    optional = sorted({d.rstrip("?") for core in cores for d in core if d.endswith("?")})
    cases = []
    for present in itertools.product([True, False], repeat=len(optional)):
        keep = dict(zip(optional, present, strict=True))
        core_shapes = [tuple(sizes[d.rstrip("?")] for d in core if not d.endswith("?") or keep[d[:-1]])
                       for core in cores]
        truncated = [len(c) < len(core) for c, core in zip(core_shapes, cores, strict=True)]
        for loops in [((), ()), ((), (2,)), ((2,), ()), ((2, 1), (2,)), ((1,), (2, 2))]:
            if any(t and loop for t, loop in zip(truncated, loops, strict=True)):
                continue  # a 1-D matmul operand has no loop dimensions
            cases.append(tuple((*loop, *core) for loop, core in zip(loops, core_shapes, strict=True)))
    return cases


@pytest.mark.parametrize(
    ("uf", "shapes"),
    [(uf, shapes) for uf in GUFUNCS for shapes in _gufunc_cases(uf)],
    ids=lambda p: _name(p) if isinstance(p, np.ufunc) else "x".join(map(str, p)),
)
def test_gufunc_core_dimensions(uf: np.ufunc, shapes: tuple[tuple[int, ...], ...]) -> None:
    dom = _domain(uf)
    k = 2
    for complex_ in [False, True] if dom.complex_ok else [False]:
        args = _fixed_args(dom, shapes)
        if complex_:
            args = [a + 1j * IMAG * np.cos(np.arange(a.size)).reshape(a.shape) for a in args]
        for duals in itertools.product([False, True], repeat=uf.nin):
            if not any(duals):
                continue
            rng = np.random.default_rng(2)
            dirs = [(rng.standard_normal((k, *np.shape(a))) + (1j * rng.standard_normal((k, *np.shape(a)))
                                                               if complex_ else 0)) if d else None
                    for a, d in zip(args, duals, strict=True)]
            check_batched(uf, args, list(duals), dirs, k)
            check_value_and_fd(uf, args, list(duals), [t[0] if d else None
                                                        for d, t in zip(duals, dirs, strict=True)], dom.rtol)


# ---------------------------------------------------------------- ufunc methods


def _spread(data: st.DataObject, n: int) -> np.ndarray:
    """n fractions in (0, 1), pairwise at least 0.2 / n apart: no ties, no near ties."""
    perm = np.array(data.draw(st.permutations(range(n))), dtype=float)
    offset = data.draw(hnp.arrays(np.float64, (n,), elements=floats(0.1, 0.9)))
    return (perm + offset) / n


def _in(interval: tuple[float, float], fraction: Any) -> Any:
    lo, hi = interval
    return lo + (hi - lo) * fraction


def _first_mask(shape: tuple[int, ...], axes: tuple[int, ...]) -> np.ndarray:
    """Elements that start a fold along ``axes``: they play the left (first) argument."""
    mask = np.ones(shape, dtype=bool)
    for ax in axes:
        index = [slice(None)] * len(shape)
        index[ax] = slice(1, None)
        mask[tuple(index)] = False
    return mask


def _method_values(data: st.DataObject, dom: Domain, shape: tuple[int, ...], axes: tuple[int, ...],
                   initial: bool = False) -> tuple[np.ndarray, float | None]:
    """Values for a fold: starting elements from interval 0, the others from interval 1.

    An initial value starts every fold, so then it comes from interval 0 and all of x from 1.
    """
    n = math.prod(shape)
    fractions = _spread(data, n + int(initial))
    first = np.zeros(shape, dtype=bool) if initial else _first_mask(shape, axes)
    x = np.where(first, _in(dom.intervals[0], fractions[:n].reshape(shape)),
                 _in(dom.intervals[1], fractions[:n].reshape(shape)))
    return x, float(_in(dom.intervals[0], fractions[n])) if initial else None


def _reduce_axis(data: st.DataObject, uf: np.ufunc, ndim: int) -> Any:
    if uf in MULTI_AXIS:
        if not ndim:
            return data.draw(st.sampled_from([None, ()]))
        return data.draw(st.one_of(st.none(), st.integers(-ndim, ndim - 1),
                                   st.lists(st.integers(0, ndim - 1), unique=True, max_size=ndim).map(tuple)))
    return data.draw(st.integers(-ndim, ndim - 1))


def _normalized(axis: Any, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    return tuple(a % ndim for a in (axis if isinstance(axis, tuple) else (axis,)))


def _check_method(fn: Callable[[Any], Any], x: np.ndarray, data: st.DataObject,
                  shapes: Sequence[tuple[int, ...]], rtol: float) -> None:
    check_value_and_fd(fn, [x], [True], [draw_dir(data, x)], rtol)
    k = draw_k(data, shapes)
    check_batched(fn, [x], [True], [draw_dir(data, x, (k,))], k)
    # float32 in: NumPy's dtype out (float32 but for float_power), and the tangent follows it
    x32 = x.astype(np.float32)
    out = fn(Dual(x32, np.ones_like(x32)))
    np.testing.assert_array_equal(out.value, fn(x32), strict=True)
    assert np.asarray(out.tangent).dtype == np.asarray(out.value).dtype


@pytest.mark.parametrize("uf", REDUCIBLE, ids=_name)
@SETTINGS
@given(data=st.data())
def test_reduce(uf: np.ufunc, data: st.DataObject) -> None:
    dom = _domain(uf)
    min_dims = 0 if uf in MULTI_AXIS else 1
    shape = data.draw(hnp.array_shapes(min_dims=min_dims, max_dims=3, min_side=1, max_side=3)
                      .filter(lambda s: math.prod(s) <= MAX_SIZE))
    axis = _reduce_axis(data, uf, len(shape))
    kwargs: dict[str, Any] = {"axis": axis, "keepdims": data.draw(st.booleans())}
    axes = _normalized(axis, len(shape))
    x, initial = _method_values(data, dom, shape, axes, initial=data.draw(st.booleans()))
    if initial is not None:
        kwargs["initial"] = initial
    result_shape = np.shape(uf.reduce(x, **kwargs))
    _check_method(lambda v: uf.reduce(v, **kwargs), x, data, [shape, result_shape], dom.rtol)


@pytest.mark.parametrize("uf", ACCUMULABLE, ids=_name)
def test_reduce_along_a_contiguous_row(uf: np.ufunc) -> None:
    """A fixed contiguous row of five, the path of NumPy's vectorised reduce loops."""
    dom = _domain(uf)
    fractions = (np.array([3, 0, 4, 1, 2]) + 0.3) / 5
    x = np.where(np.arange(5) == 0, _in(dom.intervals[0], fractions), _in(dom.intervals[1], fractions))
    direction = np.linspace(-1.0, 1.0, 5)
    for method in ("reduce", "accumulate") if uf in REDUCIBLE else ("accumulate",):
        try:
            check_value_and_fd(getattr(uf, method), [x], [True], [direction], dom.rtol)
        except AssertionError as error:
            fold = functools.reduce(uf, x)
            if method == "reduce" and uf.reduce(x) != fold:
                raise AssertionError(
                    f"{error}\nnp.{uf.__name__}.reduce({x.tolist()}) = {uf.reduce(x)!r}, but the "
                    f"left fold of np.{uf.__name__} gives {fold!r}: NumPy's own reduce is not the "
                    f"fold it documents, and the tangent is the fold's") from None
            raise


@pytest.mark.parametrize("uf", sorted(UNRELIABLE_REDUCE, key=_name), ids=_name)
def test_unreliable_reduce_is_refused_with_the_fold_to_write(uf: np.ufunc) -> None:
    x = np.array([1.3, 0.7, 1.9, 1.1])
    with pytest.raises(TypeError, match=r"functools\.reduce"):
        uf.reduce(Dual(x, np.ones_like(x)))
    # accumulate is reliable: its last entry is the fold, and so is its tangent
    out = uf.accumulate(Dual(x, np.ones_like(x)))
    assert out.value[-1] == functools.reduce(uf, x)


@pytest.mark.parametrize("uf", ACCUMULABLE, ids=_name)
@SETTINGS
@given(data=st.data())
def test_accumulate(uf: np.ufunc, data: st.DataObject) -> None:
    dom = _domain(uf)
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=3)
                      .filter(lambda s: math.prod(s) <= MAX_SIZE))
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    x, _ = _method_values(data, dom, shape, (axis % len(shape),))
    _check_method(lambda v: uf.accumulate(v, axis=axis), x, data, [shape], dom.rtol)


@pytest.mark.parametrize("uf", BINARY, ids=_name)
@SETTINGS
@given(data=st.data())
def test_outer(uf: np.ufunc, data: st.DataObject) -> None:
    dom = _domain(uf)
    a_shape, b_shape = data.draw(st.tuples(*[hnp.array_shapes(min_dims=0, max_dims=2, max_side=3)] * 2)
                                 .filter(lambda p: math.prod(p[0]) * math.prod(p[1]) <= MAX_SIZE))
    args = [draw_arg(data, dom, 0, a_shape), draw_arg(data, dom, 1, b_shape)]
    gaps = np.abs(np.subtract.outer(args[0], args[1]).astype(float))
    assume(not np.any((gaps > 0) & (gaps < GAP)))
    duals = draw_duals(data, 2, dom)
    check_value_and_fd(uf.outer, args, duals, draw_dirs(data, args, duals), dom.rtol)
    k = draw_k(data, [a_shape, b_shape])
    check_batched(uf.outer, args, duals, draw_dirs(data, args, duals, (k,)), k)


def test_prod_through_zeros_is_exact() -> None:
    x = np.array([0.0, 2.0, 3.0])
    out = np.multiply.reduce(Dual(x, np.eye(3)))
    np.testing.assert_array_equal(out.tangent, [6.0, 0.0, 0.0])
    out = np.multiply.reduce(Dual(np.array([0.0, 0.0, 3.0]), np.eye(3)))
    np.testing.assert_array_equal(out.tangent, [0.0, 0.0, 0.0])
    m = np.array([[0.0, 2.0, 3.0], [4.0, 0.0, 0.5]])
    out = np.multiply.reduce(Dual(m, np.eye(6).reshape(6, 2, 3)), axis=1)
    np.testing.assert_array_equal(out.tangent, [[6, 0], [0, 0], [0, 0], [0, 0], [0, 2], [0, 0]])
    out = np.multiply.accumulate(Dual(x, np.eye(3)))
    np.testing.assert_array_equal(out.value, [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(out.tangent, [[1, 2, 6], [0, 0, 0], [0, 0, 0]])


@pytest.mark.parametrize("uf", [np.maximum, np.minimum, np.fmax, np.fmin], ids=_name)
def test_extremum_reduce_splits_ties_evenly(uf: np.ufunc) -> None:
    sign = 1.0 if uf in (np.maximum, np.fmax) else -1.0
    out = uf.reduce(Dual(sign * np.array([1.0, 3.0, 3.0, 2.0]), np.eye(4)))
    np.testing.assert_array_equal(out.value, sign * 3.0)
    np.testing.assert_allclose(out.tangent, [0.0, 0.5, 0.5, 0.0], rtol=0, atol=1e-15)
    out = uf.reduce(Dual(np.full(3, 3.0), np.eye(3)))
    np.testing.assert_allclose(out.tangent, [1 / 3, 1 / 3, 1 / 3], rtol=1e-15)
    out = uf.accumulate(Dual(sign * np.array([3.0, 3.0, 1.0]), np.eye(3)))
    np.testing.assert_allclose(out.tangent, [[1.0, 0.5, 0.5], [0.0, 0.5, 0.5], [0.0, 0.0, 0.0]],
                               rtol=0, atol=1e-15)


@pytest.mark.parametrize(("uf", "base"), [(np.logaddexp, np.e), (np.logaddexp2, 2.0)], ids=["e", "2"])
def test_logaddexp_reduce_is_stable_at_large_values(uf: np.ufunc, base: float) -> None:
    x = np.array([1000.0, 1000.0, 999.0, -1000.0])
    out = uf.reduce(Dual(x, np.eye(4)))
    weights = base ** (x - x.max())
    np.testing.assert_array_equal(out.value, uf.reduce(x))
    assert np.all(np.isfinite(out.tangent))
    np.testing.assert_allclose(out.tangent, weights / weights.sum(), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(np.sum(out.tangent), 1.0, rtol=1e-12)


# ---------------------------------------------------------------- the other kinds and refusals


def _probe(uf: np.ufunc) -> list[np.ndarray]:
    return [np.array([-1.0, 0.0, 2.5])[:: 1 if i % 2 == 0 else -1] for i in range(uf.nin)]


@pytest.mark.parametrize("uf", NONDIFF, ids=_name)
def test_nondiff_rules_return_plain_numpy_results(uf: np.ufunc) -> None:
    args = _probe(uf)
    for duals in itertools.product([False, True], repeat=uf.nin):
        if not any(duals):
            continue
        inputs = with_duals(args, duals, [np.ones(3)] * uf.nin)
        try:
            expected = uf(*args)
        except TypeError:  # np.isnat takes no floats: then the Dual call refuses alike
            with pytest.raises(TypeError):
                uf(*inputs)
            continue
        got = uf(*inputs)
        assert not isinstance(got, Dual)
        np.testing.assert_array_equal(got, expected, strict=True)


@pytest.mark.parametrize("uf", UNSUPPORTED, ids=_name)
def test_unsupported_rules_raise_a_type_error_naming_the_ufunc(uf: np.ufunc) -> None:
    inputs = [Dual(a, np.ones(3)) for a in _probe(uf)]
    with pytest.raises(TypeError, match=re.escape(uf.__name__)):
        uf(*inputs)


def _midpoints(uf: np.ufunc) -> list[Any]:
    dom = _domain(uf)
    shapes = [(2,) + (3,) * len(core) if uf.signature else (2,)
              for core in (_core_dims(uf.signature) if uf.signature else [()] * uf.nin)]
    return _fixed_args(dom, shapes)


@per_ufunc
def test_out_is_refused(uf: np.ufunc) -> None:
    args = _midpoints(uf)
    duals = [i not in _domain(uf).constant_args for i in range(uf.nin)]
    inputs = with_duals(args, duals, [np.ones_like(a, dtype=float) for a in args])
    out = tuple(np.empty_like(np.asarray(o)) for o in outputs(uf(*args)))
    with pytest.raises(TypeError, match="out="):
        uf(*inputs, out=out if len(out) > 1 else out[0])
    if uf in REDUCIBLE:
        with pytest.raises(TypeError, match="out="):
            uf.reduce(inputs[0], out=np.empty(np.shape(args[0])[1:]))


@per_ufunc
def test_where_is_refused(uf: np.ufunc) -> None:
    args = _midpoints(uf)
    duals = [i not in _domain(uf).constant_args for i in range(uf.nin)]
    inputs = with_duals(args, duals, [np.ones_like(a, dtype=float) for a in args])
    for where in (False, np.array([True, False])):
        # gufuncs take no where= at all: NumPy refuses it before dispatching
        with pytest.raises(TypeError, match="where" if uf.signature else "where="):
            uf(*inputs, where=where)
    if uf in REDUCIBLE:
        with pytest.raises(TypeError, match="where="):
            uf.reduce(inputs[0], where=np.array([True, False]), initial=1.0)


@pytest.mark.parametrize("uf", [np.add, np.subtract], ids=_name)
@pytest.mark.parametrize("batched", [False, True])
def test_reduceat_of_linear_ufuncs(uf: np.ufunc, batched: bool) -> None:
    x = np.arange(12.0).reshape(3, 4) / 7
    t = np.random.default_rng(0).standard_normal((2, 3, 4) if batched else (3, 4))
    out = uf.reduceat(Dual(x, t), [0, 1, 3], axis=1)
    np.testing.assert_array_equal(out.value, uf.reduceat(x, [0, 1, 3], axis=1))
    expected = uf.reduceat(t, [0, 1, 3], axis=2 if batched else 1)  # linear: the map itself
    np.testing.assert_allclose(out.tangent, expected, rtol=1e-15)


def test_reduceat_of_nonlinear_ufuncs_is_refused() -> None:
    x = Dual(np.arange(1.0, 7.0), np.ones(6))
    for uf in (np.multiply, np.maximum, np.floor_divide):
        with pytest.raises(TypeError, match=r"np\.split"):
            uf.reduceat(x, [0, 2])
