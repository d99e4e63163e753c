"""Tests of the reverse-mode reference ``dualnumpy.reverse`` on its own.

Every rule of its table (``UFUNC_VJPS``, ``REDUCE_VJPS``, ``ACCUMULATE_VJPS``,
``FUNCTION_VJPS``) is checked on the sample points attached to it: the value is
exactly NumPy's, and ``vjp_fn(w)`` equals the gradient of ``Re(vdot(w, f(x)))``
by central differences (a small helper here, independent of
``dualnumpy.finite_diff``), with respect to real and imaginary parts for
complex inputs. The adjoint convention is also checked against the forward
mode by the dot-product test ``<w, J v> = <vjp(w), v>`` (real inner product).
Then come broadcasting reductions, repeated indices, the conventions at kinks
and ties, the API, and the refusals (``NoReference`` names the operation).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

import dualnumpy as dn
from dualnumpy import reverse
from dualnumpy.reverse import rules as R
from dualnumpy.rules.ufuncs import UFUNC_RULES, differentiable  # coverage only, never the partials

H = 1e-4  # step of the 4-point central difference (error ~ H**4)
IMAG = 0.5  # imaginary parts of complex samples lie in [-IMAG, IMAG]


# ---------------------------------------------------------------- helpers


def _leaves(out: Any) -> list[Any]:
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _differentiable(o: Any) -> bool:
    return np.asarray(o).dtype.kind in "fc"


def _phi(f: Callable[..., Any], args: Sequence[Any], ws: Sequence[Any]) -> float:
    """Re <w, f(args)>, summed over the outputs that take a cotangent."""
    total = 0.0
    for o, w in zip(_leaves(f(*args)), ws, strict=True):
        if w is not None:
            total += float(np.real(np.vdot(w, np.asarray(o))))
    return total


def fd_vjp(f: Callable[..., Any], args: Sequence[np.ndarray], ws: Sequence[Any]) -> list[np.ndarray]:
    """The gradient of ``Re <w, f(x)>`` by a 4-point central difference; for a
    complex entry ``d/dRe + 1j d/dIm`` (the reverse reference's convention)."""
    grads = []
    for k, x in enumerate(args):
        x = np.asarray(x)
        g = np.zeros(x.shape, dtype=x.dtype)
        units = (1.0, 1j) if x.dtype.kind == "c" else (1.0,)
        for idx in np.ndindex(*x.shape):
            for unit in units:
                def at(step: float, idx: tuple[int, ...] = idx, unit: complex = unit) -> float:
                    moved = [np.array(a, copy=True) for a in args]
                    moved[k][idx] += step * unit
                    return _phi(f, moved, ws)

                d = (8.0 * (at(H) - at(-H)) - (at(2 * H) - at(-2 * H))) / (12.0 * H)
                g[idx] += d * unit
        grads.append(g)
    return grads


def _cotangents(out: Any, rng: np.random.Generator) -> list[Any]:
    ws: list[Any] = []
    for o in _leaves(out):
        o = np.asarray(o)
        if not _differentiable(o):
            ws.append(None)
            continue
        w = rng.uniform(-1.0, 1.0, o.shape)
        if o.dtype.kind == "c":
            w = w + 1j * rng.uniform(-1.0, 1.0, o.shape)
        ws.append(w)
    return ws


def _as_cotangent(out: Any, ws: list[Any]) -> Any:
    return ws if isinstance(out, (tuple, list)) else ws[0]


def _assert_same_values(got: Any, want: Any) -> None:
    for g, w in zip(_leaves(got), _leaves(want), strict=True):
        np.testing.assert_array_equal(np.asarray(g), np.asarray(w))
        assert np.shape(g) == np.shape(w)


def _scale(arrays: Sequence[Any]) -> float:
    return max([1.0] + [float(np.max(np.abs(a))) for a in arrays if a is not None and np.size(a)])


def check_against_fd(f: Callable[..., Any], args: Sequence[np.ndarray], seed: int = 0,
                     rtol: float = 1e-6) -> None:
    """Value equal to NumPy's, VJP equal to the finite-difference gradient."""
    rng = np.random.default_rng(seed)
    out, vjp_fn = reverse.vjp(f, *args)
    _assert_same_values(out, f(*args))
    ws = _cotangents(out, rng)
    got = vjp_fn(_as_cotangent(out, ws))
    want = fd_vjp(f, args, ws)
    assert len(got) == len(args)
    scale = _scale(want)
    for i, (g, w, x) in enumerate(zip(got, want, args, strict=True)):
        assert np.shape(g) == np.shape(x), f"cotangent {i}: shape {np.shape(g)} != {np.shape(x)}"
        assert np.asarray(g).dtype == np.asarray(x).dtype
        np.testing.assert_allclose(g, w, rtol=rtol, atol=rtol * scale, err_msg=f"cotangent {i}")


def check_against_forward(f: Callable[..., Any], args: Sequence[np.ndarray], seed: int = 1,
                          rtol: float = 1e-9) -> None:
    """<w, J v> (forward JVP) equals <vjp(w), v> (reverse), in the real inner product."""
    rng = np.random.default_rng(seed)
    vs = []
    for x in args:
        v = rng.uniform(-1.0, 1.0, np.shape(x))
        if np.asarray(x).dtype.kind == "c":
            v = v + 1j * rng.uniform(-1.0, 1.0, np.shape(x))
        vs.append(v)
    out, jv = dn.jvp(f, tuple(args), tuple(vs))
    _, vjp_fn = reverse.vjp(f, *args)
    ws = _cotangents(out, rng)
    lhs = sum(float(np.real(np.vdot(w, np.asarray(t))))
              for w, t in zip(ws, _leaves(jv), strict=True) if w is not None)
    rhs = sum(float(np.real(np.vdot(c, v))) for c, v in zip(vjp_fn(_as_cotangent(out, ws)), vs, strict=True))
    assert lhs == pytest.approx(rhs, rel=rtol, abs=rtol * _scale([np.asarray(lhs), *ws]))


def _draw(rng: np.random.Generator, shape: tuple[int, ...], low: float, high: float,
          complex_: bool, integer: bool = False) -> np.ndarray:
    if integer:
        return rng.integers(int(low), int(high) + 1, size=shape)
    x = rng.uniform(low, high, shape)
    if complex_:
        x = x + 1j * rng.uniform(-IMAG, IMAG, shape)
    return x


# ---------------------------------------------------------------- ufunc rules

UFUNC_PARAMS = [
    pytest.param(uf, shapes, cplx, id=f"{uf.__name__}-{'x'.join(map(str, itertools.chain(*shapes)))}"
                                      f"{'-complex' if cplx else ''}")
    for uf, rule in R.UFUNC_VJPS.items()
    for shapes in rule.sample.cases()
    for cplx in ((False, True) if rule.complex_ok else (False,))
]


def _ufunc_call(uf: np.ufunc, shapes: Sequence[tuple[int, ...]], cplx: bool, seed: int = 0
                ) -> tuple[Callable[..., Any], list[np.ndarray]]:
    """A function of the differentiated inputs of ``uf`` and those inputs."""
    sample = R.UFUNC_VJPS[uf].sample
    rng = np.random.default_rng(seed)
    drawn = [_draw(rng, s, lo, hi, cplx and i not in sample.constant, i in sample.integer)
             for i, (s, (lo, hi)) in enumerate(zip(shapes, sample.intervals, strict=True))]
    diff = [i for i in range(len(drawn)) if i not in sample.constant]

    def f(*xs: Any) -> Any:
        full: list[Any] = list(drawn)
        for i, x in zip(diff, xs, strict=True):
            full[i] = x
        return uf(*full)

    return f, [drawn[i] for i in diff]


@pytest.mark.parametrize(("uf", "shapes", "cplx"), UFUNC_PARAMS)
def test_ufunc_rule_against_finite_differences(uf: np.ufunc, shapes: Any, cplx: bool) -> None:
    f, args = _ufunc_call(uf, shapes, cplx)
    check_against_fd(f, args)


@pytest.mark.parametrize(("uf", "shapes", "cplx"), UFUNC_PARAMS)
def test_ufunc_rule_is_the_adjoint_of_the_forward_jvp(uf: np.ufunc, shapes: Any, cplx: bool) -> None:
    f, args = _ufunc_call(uf, shapes, cplx, seed=3)
    check_against_forward(f, args)


@pytest.mark.parametrize("uf", [u for u, r in R.UFUNC_VJPS.items() if len(r.sample.intervals) >= 2],
                         ids=lambda u: u.__name__)
def test_ufunc_with_constant_inputs(uf: np.ufunc) -> None:
    """Only the first input is a Var; the others stay plain arrays (no tangent, no node)."""
    sample = R.UFUNC_VJPS[uf].sample
    shapes = sample.cases()[0]
    rng = np.random.default_rng(5)
    drawn = [_draw(rng, s, lo, hi, False, i in sample.integer)
             for i, (s, (lo, hi)) in enumerate(zip(shapes, sample.intervals, strict=True))]
    check_against_fd(lambda x: uf(x, *drawn[1:]), [drawn[0]])


def test_every_differentiable_forward_ufunc_has_a_reverse_rule() -> None:
    forward = {u for u, r in UFUNC_RULES.items() if differentiable(r)}
    assert forward <= set(R.UFUNC_VJPS), sorted(u.__name__ for u in forward - set(R.UFUNC_VJPS))


def test_every_rule_has_samples() -> None:
    for uf, rule in R.UFUNC_VJPS.items():
        for shapes in rule.sample.cases():
            assert len(shapes) == len(rule.sample.intervals) == uf.nin, uf.__name__
    for func, frule in R.FUNCTION_VJPS.items():
        assert frule.cases or not frule.differentiable, R.public_name(func)


# ---------------------------------------------------------------- reduce and accumulate

_INITIAL = {np.add: 1.5, np.multiply: 1.5, np.maximum: -10.0, np.minimum: 10.0, np.fmax: -10.0,
            np.fmin: 10.0, np.logaddexp: 0.3, np.logaddexp2: -0.4}
REDUCE_KWARGS: list[dict[str, Any]] = [
    {}, {"axis": 1}, {"axis": (0, 2)}, {"axis": None}, {"axis": -1, "keepdims": True},
    {"axis": (0, 1), "keepdims": True}, {"axis": 2, "initial": "initial"},
    {"axis": 1, "initial": "initial", "where": np.array([[True], [False], [True]])},
]
REDUCE_PARAMS = [
    pytest.param(uf, kw, cplx, id=f"{uf.__name__}-{kw}{'-complex' if cplx else ''}")
    for uf in R.REDUCE_VJPS for kw in REDUCE_KWARGS
    for cplx in ((False, True) if uf in (np.add, np.multiply) else (False,))
]


@pytest.mark.parametrize(("uf", "kwargs", "cplx"), REDUCE_PARAMS)
def test_reduce_against_finite_differences(uf: np.ufunc, kwargs: dict[str, Any], cplx: bool) -> None:
    kw = {k: (_INITIAL[uf] if isinstance(v, str) else v) for k, v in kwargs.items()}
    x = _draw(np.random.default_rng(7), (2, 3, 4), -2.0, 2.0, cplx)
    check_against_fd(lambda a: uf.reduce(a, **kw), [x])
    if "where" not in kw:  # the forward mode refuses where=
        check_against_forward(lambda a: uf.reduce(a, **kw), [x])


ACCUMULATE_PARAMS = [
    pytest.param(uf, axis, cplx, id=f"{uf.__name__}-axis{axis}{'-complex' if cplx else ''}")
    for uf in R.ACCUMULATE_VJPS for axis in (0, 1, -1)
    for cplx in ((False, True) if uf in (np.add, np.multiply) else (False,))
]


@pytest.mark.parametrize(("uf", "axis", "cplx"), ACCUMULATE_PARAMS)
def test_accumulate_against_finite_differences(uf: np.ufunc, axis: int, cplx: bool) -> None:
    x = _draw(np.random.default_rng(11), (2, 3, 4), -2.0, 2.0, cplx)
    check_against_fd(lambda a: uf.accumulate(a, axis=axis), [x])
    check_against_forward(lambda a: uf.accumulate(a, axis=axis), [x])


def test_ufunc_outer() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.uniform(-1, 1, (2,)), rng.uniform(-1, 1, (3, 2))
    check_against_fd(lambda x, y: np.multiply.outer(x, y), [a, b])
    check_against_fd(lambda x: np.subtract.outer(x, b), [a])


# ---------------------------------------------------------------- function rules

FUNCTION_PARAMS = [
    pytest.param(func, i, cplx, id=f"{R.public_name(func)}-{i}{'-complex' if cplx else ''}")
    for func, rule in R.FUNCTION_VJPS.items()
    for i, case in enumerate(rule.cases)
    for cplx in ((False, True) if case.complex_ok else (False,))
]


def _case_args(case: R.Case, cplx: bool, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    args = []
    for shape in case.shapes:
        x = _draw(rng, shape, case.low, case.high, cplx)
        if case.shift and len(shape) >= 2 and shape[-1] == shape[-2]:
            x = x + case.shift * np.eye(shape[-1])
        args.append(x)
    return args


@pytest.mark.parametrize(("func", "i", "cplx"), FUNCTION_PARAMS)
def test_function_rule_against_finite_differences(func: Any, i: int, cplx: bool) -> None:
    case = R.FUNCTION_VJPS[func].cases[i]
    check_against_fd(case.call, _case_args(case, cplx, seed=i), rtol=case.rtol)


@pytest.mark.parametrize(("func", "i", "cplx"), [
    p for p in FUNCTION_PARAMS if R.FUNCTION_VJPS[p.values[0]].cases[int(p.values[1])].forward])
def test_function_rule_is_the_adjoint_of_the_forward_jvp(func: Any, i: int, cplx: bool) -> None:
    case = R.FUNCTION_VJPS[func].cases[i]
    check_against_forward(case.call, _case_args(case, cplx, seed=100 + i), rtol=case.rtol * 1e-3)


REQUIRED_FUNCTIONS = [
    "sum", "mean", "prod", "max", "min", "var", "std", "cumsum", "reshape", "ravel", "transpose",
    "moveaxis", "swapaxes", "squeeze", "expand_dims", "broadcast_to", "concatenate", "stack", "where",
    "clip", "dot", "einsum", "tensordot", "outer", "trace", "diagonal", "linalg.inv", "linalg.solve",
    "linalg.det", "linalg.slogdet", "linalg.norm", "real", "imag",
]


def test_covered_names_the_required_operations() -> None:
    cov = reverse.covered()
    assert set(cov) == {"ufuncs", "ufunc.reduce", "ufunc.accumulate", "functions", "methods"}
    assert all(isinstance(v, list) and all(isinstance(s, str) for s in v) for v in cov.values())
    assert set(REQUIRED_FUNCTIONS) <= set(cov["functions"]), set(REQUIRED_FUNCTIONS) - set(cov["functions"])
    assert {"matmul", "vecdot", "matvec", "vecmat", "conjugate", "sin"} <= set(cov["ufuncs"])
    assert {"add", "multiply", "maximum", "minimum"} <= set(cov["ufunc.reduce"])
    assert {"add", "multiply", "maximum", "minimum"} <= set(cov["ufunc.accumulate"])
    assert len(cov["ufuncs"]) == len(R.UFUNC_VJPS)


# ---------------------------------------------------------------- indexing

INDEXES: list[Any] = [
    (slice(None), 1),
    (Ellipsis, slice(None, None, -2)),
    (None, 0, slice(1, 3)),
    np.array([2, 0, 2, 2]),  # repeated rows accumulate
    (np.array([0, 1, 1]), np.array([3, 3, 3])),  # the same element three times
    (slice(None), [0, 0, 1]),
    np.array([[True, False, True, True], [False, False, True, False], [True, True, True, True]]),
    (np.array([True, False, True]), slice(1, None)),
    (np.array([[0], [2]]), np.array([1, 1, 3])),
]


@pytest.mark.parametrize("index", INDEXES, ids=range(len(INDEXES)))
def test_getitem(index: Any) -> None:
    x = np.random.default_rng(4).uniform(-1, 1, (3, 4))
    check_against_fd(lambda a: a[index], [x])
    check_against_forward(lambda a: a[index], [x])


def test_repeated_indices_accumulate_exactly() -> None:
    _, vjp_fn = reverse.vjp(lambda a: a[[0, 0, 2, 0]], np.arange(3.0))
    np.testing.assert_array_equal(vjp_fn(np.array([1.0, 2.0, 10.0, 4.0]))[0], [7.0, 0.0, 10.0])


@pytest.mark.parametrize("how", ["set", "add"])
def test_functional_index_update(how: str) -> None:
    rng = np.random.default_rng(8)
    x, v = rng.uniform(-1, 1, (5,)), rng.uniform(-1, 1, (4,))
    index = np.array([1, 3, 1, 0])  # position 1 is written twice

    def f(a: Any, b: Any) -> Any:
        if isinstance(a, reverse.Var):
            return getattr(a.at[index], how)(b) * a
        out = np.array(a, copy=True)
        if how == "set":
            out[index] = b
        else:
            np.add.at(out, index, b)
        return out * a

    check_against_fd(f, [x, v])


# ---------------------------------------------------------------- broadcasting


def test_broadcasting_is_summed_back_keeping_size_one_axes() -> None:
    x, y = np.ones((3, 1)), np.ones((4,))
    out, vjp_fn = reverse.vjp(lambda a, b: a * b + 0.0, x, y)
    assert out.shape == (3, 4)
    gx, gy = vjp_fn(np.ones((3, 4)))
    assert gx.shape == (3, 1) and gy.shape == (4,)
    np.testing.assert_array_equal(gx, np.full((3, 1), 4.0))
    np.testing.assert_array_equal(gy, np.full((4,), 3.0))


def test_broadcasting_through_a_chain_and_scalars() -> None:
    rng = np.random.default_rng(9)
    a, b, c = rng.uniform(0.5, 1.5, (2, 1, 3)), rng.uniform(0.5, 1.5, (4, 1)), rng.uniform(0.5, 1.5, ())
    check_against_fd(lambda x, y, z: np.sin(x * y) / (z + x) - y ** z, [a, b, c])
    _, vjp_fn = reverse.vjp(lambda s: s * np.ones((2, 3)), 2.0)
    assert vjp_fn(np.ones((2, 3)))[0] == 6.0


def test_a_value_used_twice_accumulates() -> None:
    g = reverse.grad(lambda x: np.sum(x * x + np.sin(x) * x))(np.array([0.5, -1.0]))
    x = np.array([0.5, -1.0])
    np.testing.assert_allclose(g, 2 * x + np.sin(x) + x * np.cos(x))


# ---------------------------------------------------------------- conventions


def test_abs_at_zero_is_zero() -> None:
    assert reverse.grad(lambda x: np.abs(x))(0.0) == 0.0
    assert reverse.grad(lambda x: np.fabs(x))(0.0) == 0.0
    _, vjp_fn = reverse.vjp(np.abs, np.array([0.0 + 0.0j, 3.0 + 4.0j]))
    np.testing.assert_allclose(vjp_fn(np.ones(2))[0], [0.0, 0.6 + 0.8j])


def test_ties_split_evenly() -> None:
    assert reverse.grad(lambda x: np.maximum(x, 1.0))(1.0) == 0.5
    assert reverse.grad(lambda x: np.minimum(x, x))(2.0) == 1.0
    x = np.array([1.0, 3.0, 3.0, 2.0, 3.0])
    np.testing.assert_allclose(reverse.grad(np.max)(x), [0, 1 / 3, 1 / 3, 0, 1 / 3])
    np.testing.assert_allclose(reverse.grad(lambda a: np.maximum.reduce(a))(x), [0, 1 / 3, 1 / 3, 0, 1 / 3])
    np.testing.assert_allclose(reverse.grad(lambda a: np.sum(np.maximum.accumulate(a)))(x),
                               [1, 1 + 1 / 2 + 1 / 2 + 1 / 3, 1 / 2 + 1 / 2 + 1 / 3, 0, 1 / 3])
    assert reverse.grad(lambda a: np.clip(a, 0.0, 1.0))(1.0) == 0.5
    np.testing.assert_allclose(reverse.grad(lambda a: np.sum(np.maximum(a, a[::-1])))(np.array([1.0, 2.0, 1.0])),
                               [1.0, 1.0, 1.0])  # 2 max(a0, a2) + a1 at a0 = a2


def test_products_through_zeros_are_exact() -> None:
    np.testing.assert_array_equal(reverse.grad(np.prod)(np.array([0.0, 2.0, 3.0])), [6.0, 0.0, 0.0])
    np.testing.assert_array_equal(reverse.grad(np.prod)(np.array([0.0, 2.0, 0.0])), [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(reverse.jacrev(np.cumprod)(np.array([2.0, 0.0, 3.0])),
                                  [[1, 0, 0], [0, 2, 0], [0, 6, 0]])
    assert reverse.grad(np.linalg.det)(np.zeros((2, 2))).tolist() == [[0.0, 0.0], [0.0, 0.0]]
    np.testing.assert_allclose(reverse.grad(np.linalg.det)(np.array([[1.0, 2.0], [2.0, 4.0]])),
                               [[4.0, -2.0], [-2.0, 1.0]], atol=1e-14)


def test_zero_cotangent_beats_an_infinite_partial() -> None:
    J = reverse.jacrev(lambda x: np.sqrt(x[0]) + x[1])(np.array([0.0, 1.0]))
    assert J[0] == np.inf and J[1] == 1.0
    J2 = reverse.jacrev(lambda x: np.stack([np.sqrt(x[0]), x[1]]))(np.array([0.0, 1.0]))
    np.testing.assert_array_equal(J2, [[np.inf, 0.0], [0.0, 1.0]])
    assert reverse.grad(lambda x: np.where(x > 0, np.sqrt(x), 0.0))(0.0) == 0.0


def test_power_edges() -> None:
    assert reverse.grad(lambda x: x ** 0.0)(0.0) == 0.0
    assert reverse.grad(lambda y: 0.0 ** y)(2.0) == 0.0
    assert reverse.grad(lambda x: x ** 2)(3) == 6.0
    assert reverse.grad(lambda y: np.power(2.0, y))(3.0) == pytest.approx(8 * math.log(2))


def test_piecewise_constant_operations_stop_the_cotangent() -> None:
    x = np.array([1.3, -2.6])
    for f in (np.floor, np.ceil, np.trunc, np.rint, np.sign, np.spacing, lambda a: a // 2.0,
              lambda a: np.round(a, 1), lambda a: np.divmod(a, 2.0)[0], lambda a: np.modf(a)[1]):
        g = reverse.grad(lambda a, f=f: np.sum(f(a) * a))(x)
        np.testing.assert_array_equal(g, f(x))  # f(x) is a constant factor


# ---------------------------------------------------------------- complex convention


def test_holomorphic_vjp_is_the_conjugate_transpose() -> None:
    z = np.array([0.3 + 0.4j, -1.0 + 0.2j])
    w = np.array([1.0 - 2.0j, 0.5 + 1.0j])
    _, vjp_fn = reverse.vjp(np.sin, z)
    np.testing.assert_allclose(vjp_fn(w)[0], w * np.conj(np.cos(z)))
    A = np.array([[1.0 + 1.0j, 2.0], [0.5j, -1.0]])
    _, vjp_fn = reverse.vjp(lambda x: A @ x, z)
    np.testing.assert_allclose(vjp_fn(w)[0], A.conj().T @ w)


def test_real_function_of_complex_input_gives_the_real_gradient() -> None:
    z = np.array([3.0 + 4.0j])
    np.testing.assert_allclose(reverse.grad(lambda a: np.sum(np.abs(a) ** 2))(z), 2 * z)
    np.testing.assert_allclose(reverse.grad(lambda a: np.sum(np.real(a) + 2 * np.imag(a)))(z), [1.0 + 2.0j])


def test_real_input_complex_output() -> None:
    x = np.array([0.5, -1.5])
    J = reverse.jacrev(lambda a: np.exp(1j * a))(x)
    np.testing.assert_allclose(J, np.diag(1j * np.exp(1j * x)))
    np.testing.assert_allclose(J, dn.jacfwd(lambda a: np.exp(1j * a))(x))


# ---------------------------------------------------------------- API


def test_vjp_of_several_outputs_and_none_cotangents() -> None:
    x = np.array([1.0, 2.0])
    out, vjp_fn = reverse.vjp(lambda a: (np.sin(a), np.sum(a), np.argmax(a)), x)
    assert isinstance(out, tuple) and len(out) == 3 and out[2] == 1
    (g,) = vjp_fn((np.ones(2), None, None))
    np.testing.assert_allclose(g, np.cos(x))
    (g,) = vjp_fn((np.zeros(2), 2.0, None))
    np.testing.assert_allclose(g, [2.0, 2.0])


def test_nested_outputs() -> None:
    x = np.array([0.5, 1.5])

    def f(a: Any) -> Any:
        return {"s": np.sum(a), "pair": (a * 2.0, [np.exp(a)])}

    out, vjp_fn = reverse.vjp(f, x)
    assert set(out) == {"s", "pair"} and isinstance(out["pair"][1], list)
    np.testing.assert_array_equal(out["pair"][1][0], np.exp(x))
    (g,) = vjp_fn({"s": 1.0, "pair": (np.ones(2), None)})
    np.testing.assert_allclose(g, [3.0, 3.0])
    (g,) = vjp_fn({"s": 0.0, "pair": (None, [np.ones(2)])})
    np.testing.assert_allclose(g, np.exp(x))
    with pytest.raises(ValueError, match="keys"):
        vjp_fn({"s": 1.0})
    J = reverse.jacrev(f)(x)
    np.testing.assert_allclose(J["pair"][1][0], np.diag(np.exp(x)))
    np.testing.assert_allclose(J["s"], [1.0, 1.0])


def test_long_scans_stay_linear_in_memory() -> None:
    x = np.random.default_rng(13).uniform(0.9, 1.1, 20_000)
    g = reverse.grad(lambda a: np.sum(np.cumprod(a)) + np.sum(np.maximum.accumulate(a)))(x)
    assert g.shape == x.shape and np.all(np.isfinite(g))


def test_the_reference_is_written_separately_from_the_forward_rules() -> None:
    """Nothing of the forward mode's calculus reaches the reference. The shared modules hold no
    derivative: ``core.surface`` maps operators and methods to NumPy calls (checked against
    NumPy in tests/test_dual.py and below), ``numpy_facts`` binds signatures and walks pytrees."""
    import pathlib
    import re

    root = pathlib.Path(reverse.__file__).parent
    for path in root.rglob("*.py"):
        package = ["dualnumpy", "reverse", *path.relative_to(root).parent.parts]
        imports = re.findall(r"^\s*(?:from|import)\s+(\.*)([\w.]*)", path.read_text(), flags=re.MULTILINE)
        modules = [".".join(package[:len(package) + 1 - len(dots)] + ([name] if name else [])) if dots else name
                   for dots, name in imports]  # relative imports resolved from the file's package
        shared = [m for m in modules if m.split(".")[0] == "dualnumpy" and m != "dualnumpy.core.surface"
                  and not (m + ".").startswith(("dualnumpy.reverse.", "dualnumpy.numpy_facts."))]
        assert not shared, (path.relative_to(root), shared)
    surface = pathlib.Path(reverse.__file__).parent.parent / "core" / "surface.py"
    assert not re.findall(r"^\s*(?:from|import)\s+\.", surface.read_text(), flags=re.MULTILINE)


def test_operators_on_vars_are_numpys_ufuncs() -> None:
    a, b = np.array([1.5, -2.0]), np.array([0.5, 3.0])
    cases = {
        "x + c": (lambda x: x + b, np.ones(2)), "c + x": (lambda x: b + x, np.ones(2)),
        "x - c": (lambda x: x - b, np.ones(2)), "c - x": (lambda x: b - x, -np.ones(2)),
        "x * c": (lambda x: x * b, b), "c * x": (lambda x: b * x, b),
        "x / c": (lambda x: x / b, 1 / b), "c / x": (lambda x: b / x, -b / a ** 2),
        "x ** 3": (lambda x: x ** 3, 3 * a ** 2), "2 ** x": (lambda x: 2.0 ** x, np.log(2) * 2 ** a),
        "-x": (lambda x: -x, -np.ones(2)), "abs": (lambda x: abs(x), np.sign(a)),
    }
    for name, (f, slope) in cases.items():
        out, vjp_fn = reverse.vjp(f, a)
        np.testing.assert_array_equal(out, f(a), err_msg=name)
        np.testing.assert_allclose(vjp_fn(np.ones(2))[0], slope, err_msg=name)
    with pytest.raises(TypeError, match="modulus"):
        reverse.vjp(lambda x: pow(x, 2, 3), a)


def test_slogdet_returns_numpys_named_tuple() -> None:
    a = np.array([[2.0, 1.0], [0.5, 3.0]])
    out, vjp_fn = reverse.vjp(np.linalg.slogdet, a)
    assert type(out) is type(np.linalg.slogdet(a))
    np.testing.assert_allclose(vjp_fn((0.0, 1.0))[0], np.linalg.inv(a).T)


def test_grad_and_jacrev_argnums() -> None:
    def f(a: Any, b: Any, c: float) -> Any:
        return np.sum(a * b) * c

    a, b = np.array([1.0, 2.0]), np.array([3.0, -1.0])
    ga, gb = reverse.grad(f, argnums=(0, 1))(a, b, 2.0)
    np.testing.assert_allclose(ga, 2 * b)
    np.testing.assert_allclose(gb, 2 * a)
    np.testing.assert_allclose(reverse.grad(f, argnums=1)(a, b, 2.0), 2 * a)
    J = reverse.jacrev(lambda x, y: np.outer(x, y), argnums=(0, 1))(a, np.array([1.0, 2.0, 3.0]))
    assert J[0].shape == (2, 3, 2) and J[1].shape == (2, 3, 3)
    fwd = dn.jacfwd(lambda x, y: np.outer(x, y), argnums=(0, 1))(a, np.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(J[0], fwd[0])
    np.testing.assert_allclose(J[1], fwd[1])
    Js = reverse.jacrev(lambda x: (x * 2, np.sum(x)))(a)
    assert Js[0].shape == (2, 2) and Js[1].shape == (2,)


def test_jacrev_matches_jacfwd_on_a_composite() -> None:
    def f(x: Any) -> Any:
        m = np.reshape(x, (2, 3))
        return np.tanh(m @ m.T).ravel() + np.linalg.norm(x) * np.cumsum(x)[:4]

    x = np.random.default_rng(12).uniform(-1, 1, 6)
    np.testing.assert_allclose(reverse.jacrev(f)(x), dn.jacfwd(f)(x), rtol=1e-12, atol=1e-12)


def test_dtypes_and_promotion() -> None:
    assert reverse.grad(lambda x: x * x)(3) == 6.0
    g = reverse.grad(lambda x: np.sum(x * 2.0))(np.array([1, 2], dtype=np.int32))
    assert g.dtype == np.float64
    g32 = reverse.grad(lambda x: np.sum(np.sin(x)))(np.array([1.0, 2.0], dtype=np.float32))
    assert g32.dtype == np.float32
    _, vjp_fn = reverse.vjp(lambda x: x * (1 + 1j), np.array([1.0]))
    (g,) = vjp_fn(np.array([1.0 + 0.0j]))
    assert g.dtype == np.float64 and g[0] == 1.0  # Re(conj(1 + i) * 1)


def test_unused_input_gets_zeros() -> None:
    _, vjp_fn = reverse.vjp(lambda a, b: a * 2.0, np.ones(2), np.ones(3))
    ga, gb = vjp_fn(np.ones(2))
    np.testing.assert_array_equal(ga, [2.0, 2.0])
    np.testing.assert_array_equal(gb, np.zeros(3))
    _, vjp_fn = reverse.vjp(lambda a: np.ones(2), np.ones(2))
    np.testing.assert_array_equal(vjp_fn(np.ones(2))[0], np.zeros(2))


def test_bad_cotangents_and_outputs_are_refused() -> None:
    _, vjp_fn = reverse.vjp(np.sin, np.ones(2))
    with pytest.raises(ValueError, match="shape"):
        vjp_fn(np.ones(3))
    with pytest.raises(TypeError, match="complex"):
        vjp_fn(np.ones(2) * 1j)
    with pytest.raises(TypeError, match="scalar"):
        reverse.grad(np.sin)(np.ones(2))
    with pytest.raises(TypeError, match="real"):
        reverse.grad(lambda x: x * 1j)(1.0)
    with pytest.raises(TypeError, match="boolean"):
        reverse.vjp(np.sin, True)
    with pytest.raises(TypeError, match="complex"):
        reverse.jacrev(np.sin)(np.ones(2) * 1j)


# ---------------------------------------------------------------- refusals


@pytest.mark.parametrize(("f", "name"), [
    (lambda x: np.linalg.eig(np.eye(2) + 0 * x), "np.linalg.eig: repeated eigenvalues"),
    (lambda x: np.hypot.reduce(x), "np.hypot.reduce"),
    (lambda x: np.subtract.accumulate(x), "np.subtract.accumulate"),
    (lambda x: np.add.reduceat(x, [0, 1]), "np.add.reduceat"),
    (lambda x: np.maximum(x * 1j, 0.0), "np.maximum"),
    (lambda x: np.asarray(x), "np.asarray"),
    (lambda x: float(x[0, 0]), "float"),
    (lambda x: np.var(x, where=x > 0), "np.var(where=...)"),
    (lambda x: np.gradient(np.ones(3), x[0, 0]), "np.gradient with a Var spacing"),
    (lambda x: np.matmul(x, x, axes=[(0, 1), (0, 1), (0, 1)]), "np.matmul(axes=...)"),
    (lambda x: np.emath.arcsin(x * 2.0), "np.emath.arcsin outside [-1, 1]"),
    (lambda x: np.pad(x, 1, mode="mean"), "np.pad(mode='mean')"),
    (lambda x: np.pad(x, 1, mode="reflect", reflect_type="odd"), "np.pad(reflect_type='odd')"),
    (lambda x: np.choose(x, [np.ones(2), np.zeros(2)]), "np.choose with a Var as a"),
    (lambda x: x.at[0].multiply(2.0), "x.at[...].multiply"),
])
def test_uncovered_operations_raise_no_reference_naming_them(f: Callable[..., Any], name: str) -> None:
    with pytest.raises(reverse.NoReference) as info:
        reverse.vjp(f, np.eye(2) + 1.0)
    assert str(info.value).startswith(name), str(info.value)
    assert isinstance(info.value, TypeError)


def test_out_and_mutation_are_refused() -> None:
    with pytest.raises(TypeError, match="out="):
        reverse.vjp(lambda x: np.sin(x, out=np.empty(2)), np.ones(2))
    with pytest.raises(TypeError, match="out="):
        reverse.vjp(lambda x: np.sum(x, out=np.empty(())), np.ones(2))

    def assign(x: Any) -> Any:
        x[0] = 1.0
        return x

    with pytest.raises(TypeError, match="immutable"):
        reverse.vjp(assign, np.ones(2))
    with pytest.raises(TypeError, match="index cannot be a Var"):
        reverse.vjp(lambda x: x[x], np.ones(2))


def test_comparisons_and_integer_results_are_plain() -> None:
    def f(x: Any) -> Any:
        assert type(x > 0) is np.ndarray
        assert type(np.argmax(x)) is np.intp
        assert np.shape(x) == (3,)
        return np.where(x > 0, x, -x)

    np.testing.assert_array_equal(reverse.grad(lambda x: np.sum(f(x)))(np.array([1.0, -2.0, 3.0])),
                                  [1.0, -1.0, 1.0])


# ---------------------------------------------------------------- pytree inputs


def _layer(params: Any, x: Any) -> Any:
    return np.tanh(params["w"] @ x + params["b"]) * params["scale"]


PARAMS = {"w": np.array([[1.0, 2.0], [3.0, -4.0]]), "b": np.array([0.5, -1.0]), "scale": 2.0}
X = np.array([0.3, -0.7])


def test_grad_and_vjp_take_pytrees_of_inputs() -> None:
    loss = lambda p, x: np.sum(_layer(p, x) ** 2)
    g = reverse.grad(loss)(PARAMS, X)
    assert set(g) == set(PARAMS)
    # the same by hand: d/dz of sum((s tanh z)^2) is 2 s^2 tanh z (1 - tanh^2 z)
    z = PARAMS["w"] @ X + PARAMS["b"]
    dz = 2 * PARAMS["scale"] ** 2 * np.tanh(z) * (1 - np.tanh(z) ** 2)
    np.testing.assert_allclose(g["b"], dz)
    np.testing.assert_allclose(g["w"], np.outer(dz, X))
    np.testing.assert_allclose(g["scale"], 2 * PARAMS["scale"] * np.sum(np.tanh(z) ** 2))
    assert np.shape(g["scale"]) == ()
    both = reverse.grad(loss, argnums=(0, 1))(PARAMS, X)
    np.testing.assert_allclose(both[1], PARAMS["w"].T @ dz)
    # nested tuples and lists come back in their own structure
    out, vjp_fn = reverse.vjp(lambda t: t[0] * t[1][0] + t[1][1], (np.array(2.0), [np.array([1.0, 2.0]), 3.0]))
    np.testing.assert_allclose(out, [5.0, 7.0])
    (cot,) = vjp_fn(np.array([1.0, 10.0]))
    assert isinstance(cot, tuple) and isinstance(cot[1], list)
    np.testing.assert_allclose(cot[0], 21.0)
    np.testing.assert_allclose(cot[1][0], [2.0, 20.0])
    np.testing.assert_allclose(cot[1][1], 11.0)


def test_jacrev_of_a_pytree_input_matches_jacfwd() -> None:
    jr = reverse.jacrev(_layer)(PARAMS, X)
    jf = dn.jacfwd(_layer)(PARAMS, X)
    assert set(jr) == set(PARAMS)
    for key in PARAMS:
        assert np.shape(jr[key]) == (2, *np.shape(PARAMS[key]))
        np.testing.assert_allclose(jr[key], jf[key], rtol=1e-12)
    per_arg = reverse.jacrev(_layer, argnums=(0, 1))(PARAMS, X)
    np.testing.assert_allclose(per_arg[1], dn.jacfwd(_layer, argnums=1)(PARAMS, X), rtol=1e-12)
    with pytest.raises(TypeError, match="argument 0 is complex"):
        reverse.jacrev(lambda p: p["z"] * 2)({"z": np.array([1j])})
