"""Edge cases of the structure table (rules/structure.py) that the generated tests do not reach.

Split sections, pad modes with batched tangents and Dual fill values, k equal to a
dimension, np.array of Duals, linspace and friends, scimath on its branch cuts,
constructors reached through like=, and the refusals.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from numpy.lib import recfunctions as rfn
from numpy.lib import scimath
from numpy.lib.stride_tricks import sliding_window_view

import dualnumpy as dn
from dualnumpy import Dual

RNG = np.random.default_rng(1234)
X = RNG.uniform(-2, 2, (3, 4))
X3 = RNG.uniform(-2, 2, (2, 3, 4))
VEC = RNG.uniform(-2, 2, 5)


def fd(f: Callable[[Any], Any], x: Any, t: Any, h: float = 1e-5) -> Any:
    """Central difference of f at x along t (f returns an array or a list of arrays)."""
    plus, minus = f(x + h * t), f(x - h * t)
    if isinstance(plus, (list, tuple)):
        return [(np.asarray(a) - np.asarray(b)) / (2 * h) for a, b in zip(plus, minus, strict=True)]
    return (np.asarray(plus) - np.asarray(minus)) / (2 * h)


def batched_vs_singles(f: Callable[[Any], Any], x: np.ndarray, k: int) -> None:
    """k directions at once equal k single directions, and the tangent is f(t) - f(0) (f affine)."""
    ts = RNG.standard_normal((k, *x.shape))
    _, t_batched = dn.jvp(f, (x,), (ts,), batched=True)
    offset = f(np.zeros_like(x))
    for i in range(k):
        _, t_single = dn.jvp(f, (x,), (ts[i],))
        if isinstance(t_batched, (list, tuple)):
            want = [np.asarray(a) - b for a, b in zip(f(ts[i]), offset, strict=True)]
            for tb, ts_, w in zip(t_batched, t_single, want, strict=True):
                np.testing.assert_allclose(tb[i], ts_, rtol=1e-12, atol=1e-12)
                np.testing.assert_allclose(tb[i], w, rtol=1e-12, atol=1e-12)
        else:
            np.testing.assert_allclose(t_batched[i], t_single, rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(t_batched[i], f(ts[i]) - offset, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- np.array of Duals


def test_np_array_of_duals_raises_naming_stack_and_value() -> None:
    d0, d1 = Dual(1.0, 1.0), Dual(2.0, 0.0)
    for build in (lambda: np.array([d0, d1]), lambda: np.asarray([d0, 2.0]), lambda: np.array([[d0, 1.0]]),
                  lambda: np.array([d0, d1], dtype=object), lambda: np.array(d0), lambda: np.asarray(d0)):
        with pytest.raises(TypeError) as info:
            build()
        assert "np.stack" in str(info.value) and "d.value" in str(info.value)


def test_conversions_through_like_refuse_naming_stack_and_value() -> None:
    d = Dual(X, np.ones_like(X))
    for conv in (np.array, np.asarray, np.asanyarray, np.ascontiguousarray, np.asfortranarray, np.require):
        with pytest.raises(TypeError, match=r"not supported for Duals.*d\.value.*np\.stack"):
            conv(d, like=d)
        with pytest.raises(TypeError, match="drop like="):
            conv([1.0, 2.0], like=d)


def test_stack_hstack_concatenate_of_scalar_duals_and_plain_numbers() -> None:
    def build(a: Any, b: Any) -> Any:
        return [np.stack([a, 2.0, b]), np.hstack([a, 1.0, b]), np.vstack([a, b, 3.0]),
                np.concatenate([np.atleast_1d(a), [1.0, 2.0], np.atleast_1d(b)]),
                np.column_stack([np.stack([a, b]), [5.0, 6.0]]), np.block([a, 4.0, b])]

    out, tangents = dn.jvp(build, (1.5, -0.5), (1.0, 10.0))
    want = build(1.5, -0.5)
    for o, w in zip(out, want, strict=True):
        np.testing.assert_array_equal(o, w)
    np.testing.assert_array_equal(tangents[0], [1.0, 0.0, 10.0])
    np.testing.assert_array_equal(tangents[1], [1.0, 0.0, 10.0])
    np.testing.assert_array_equal(tangents[2], [[1.0], [10.0], [0.0]])
    np.testing.assert_array_equal(tangents[3], [1.0, 0.0, 0.0, 10.0])
    np.testing.assert_array_equal(tangents[4], [[1.0, 0.0], [10.0, 0.0]])
    np.testing.assert_array_equal(tangents[5], [1.0, 0.0, 10.0])
    # k directions at once, k equal to the length of the result
    _, batched = dn.jvp(build, (1.5, -0.5), (np.array([1.0, 0.0, 2.0]), np.array([0.0, 1.0, 3.0])), batched=True)
    np.testing.assert_array_equal(batched[0], [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [2.0, 0.0, 3.0]])


def test_concatenate_with_a_plain_nested_list() -> None:
    d = Dual(np.array([1.0, 2.0]), np.array([1.0, 1.0]))
    out = np.concatenate([d, [3.0, 4.0]])
    np.testing.assert_array_equal(out.value, [1.0, 2.0, 3.0, 4.0])
    np.testing.assert_array_equal(out.tangent, [1.0, 1.0, 0.0, 0.0])
    out = np.stack([d, [3.0, 4.0]])
    np.testing.assert_array_equal(out.tangent, [[1.0, 1.0], [0.0, 0.0]])


# ---------------------------------------------------------------- split


@pytest.mark.parametrize("sections", [[1, 3], [2, 2, 4], [0, 5], [1, 10], [3, 1], np.array([2]), 5, 1])
def test_split_sections(sections: Any) -> None:
    d = Dual(VEC, np.arange(5.0))
    pieces = np.split(d, sections)
    want = np.split(VEC, sections)
    assert isinstance(pieces, list) and len(pieces) == len(want)
    for p, w, tw in zip(pieces, want, np.split(np.arange(5.0), sections), strict=True):
        np.testing.assert_array_equal(p.value, w)
        np.testing.assert_array_equal(p.tangent, tw)
    batched_vs_singles(lambda x: np.split(x, sections), VEC, 5)


def test_array_split_uneven_and_split_refuses_uneven() -> None:
    d = Dual(VEC, np.arange(5.0))
    assert [p.shape for p in np.array_split(d, 3)] == [(2,), (2,), (1,)]
    with pytest.raises(ValueError):
        np.split(d, 3)
    batched_vs_singles(lambda x: np.array_split(x, 3, axis=1), X, 4)
    batched_vs_singles(lambda x: np.array_split(x, [1, 1, 7], axis=-1), X, 3)


def test_hsplit_vsplit_dsplit_batched_with_k_equal_to_a_dimension() -> None:
    batched_vs_singles(lambda x: np.hsplit(x, [1, 3]), X, 3)
    batched_vs_singles(lambda x: np.hsplit(x, [2]), VEC, 5)
    batched_vs_singles(lambda x: np.vsplit(x, [1]), X3, 2)
    batched_vs_singles(lambda x: np.dsplit(x, [1, 2]), X3, 4)
    batched_vs_singles(lambda x: np.unstack(x, axis=1), X3, 3)


def test_split_index_cannot_be_a_dual() -> None:
    d = Dual(VEC, np.ones(5))
    with pytest.raises(TypeError, match="indices_or_sections"):
        np.split(d, Dual(np.array([2.0]), np.ones(1)))


# ---------------------------------------------------------------- pad

PAD_CASES = [
    dict(pad_width=1),
    dict(pad_width=((1, 2), (0, 3)), constant_values=7.0),
    dict(pad_width=((2, 0), (1, 1)), constant_values=((1.0, 2.0), (3.0, 4.0))),
    dict(pad_width=((1, 2), (3, 0)), mode="edge"),
    dict(pad_width=2, mode="reflect"),
    dict(pad_width=(2, 3), mode="reflect", reflect_type="odd"),
    dict(pad_width=((2, 1), (1, 5)), mode="symmetric"),
    dict(pad_width=3, mode="symmetric", reflect_type="odd"),
    dict(pad_width=((0, 4), (6, 1)), mode="wrap"),
    dict(pad_width=(1, 2), mode="linear_ramp", end_values=(1.0, -2.0)),
    dict(pad_width=2, mode="mean"),
    dict(pad_width=2, mode="mean", stat_length=((1, 2), (3, 1))),
    dict(pad_width={1: (0, 2)}),
    dict(pad_width={-2: 1, 1: (2, 0)}, mode="edge"),
    dict(pad_width=[[1], [2]]),
]


@pytest.mark.parametrize("kwargs", PAD_CASES, ids=[str(c) for c in PAD_CASES])
@pytest.mark.parametrize("k", [1, 3, 4])
def test_pad_modes_with_batched_tangents(kwargs: dict[str, Any], k: int) -> None:
    """k = 3 and 4 equal the dimensions of X: a wrong pairing of pad widths would broadcast silently."""
    width = kwargs["pad_width"]
    rest = {key: v for key, v in kwargs.items() if key != "pad_width"}
    want = np.pad(X, width, **rest)
    out = np.pad(Dual(X, np.ones_like(X)), width, **rest)
    np.testing.assert_array_equal(out.value, want)
    linear_rest = {key: (0 if key in ("constant_values", "end_values") else v) for key, v in rest.items()}
    ts = RNG.standard_normal((k, *X.shape))
    _, t_batched = dn.jvp(lambda x: np.pad(x, width, **rest), (X,), (ts,), batched=True)
    for i in range(k):
        np.testing.assert_allclose(t_batched[i], np.pad(ts[i], width, **linear_rest), rtol=1e-13, atol=1e-13)


def test_pad_3d_with_k_equal_to_each_dimension() -> None:
    for k in (2, 3, 4):
        batched_vs_singles(lambda x: np.pad(x, ((1, 0), (0, 2), (3, 1)), mode="reflect"), X3, k)
        batched_vs_singles(lambda x: np.pad(x, 1, mode="wrap"), X3, k)


@pytest.mark.parametrize("fill", [2.5, np.array([1.0, -1.0]), np.array([[1.0, 2.0], [3.0, 4.0]])])
@pytest.mark.parametrize("mode", ["constant", "linear_ramp"])
def test_pad_with_dual_fill_values_matches_finite_differences(fill: Any, mode: str) -> None:
    key = "constant_values" if mode == "constant" else "end_values"
    width = ((1, 2), (2, 1))

    def f(x: Any, c: Any) -> Any:
        return np.pad(x, width, mode, **{key: c})

    tx, tc = RNG.standard_normal(X.shape), RNG.standard_normal(np.shape(fill))
    out, t = dn.jvp(f, (X, fill), (tx, tc))
    np.testing.assert_array_equal(out, f(X, fill))
    h = 1e-6
    np.testing.assert_allclose(t, (f(X + h * tx, fill + h * tc) - f(X - h * tx, fill - h * tc)) / (2 * h),
                               rtol=1e-7, atol=1e-8)
    # only the fill values move: the padded area's tangent, zero inside
    _, t_fill_only = dn.jvp(f, (X, fill), (np.zeros_like(X), tc))
    np.testing.assert_array_equal(t_fill_only[1:-2, 2:-1], 0.0)
    # k directions at once, k equal to a dimension of X
    txs, tcs = RNG.standard_normal((3, *X.shape)), RNG.standard_normal((3, *np.shape(fill)))
    _, tb = dn.jvp(f, (X, fill), (txs, tcs), batched=True)
    for i in range(3):
        np.testing.assert_allclose(tb[i], dn.jvp(f, (X, fill), (txs[i], tcs[i]))[1], rtol=1e-13)


def test_pad_of_a_plain_array_with_dual_fill_raises_clearly() -> None:
    """NumPy dispatches np.pad on its array alone: a plain array with a Dual fill never reaches us."""
    with pytest.raises(TypeError, match=r"d\.value"):
        np.pad(X, 1, constant_values=Dual(2.0, 1.0))


def test_pad_with_dual_fill_second_derivative() -> None:
    """Forward over forward: d2/dc2 of sum(pad(x, c)**2) is 2 * (number of padded entries)."""
    n_pad = np.pad(X, 1).size - X.size
    def f(c: Any) -> Any:
        return np.sum(np.pad(X + 0.0 * c, 1, constant_values=c) ** 2)

    second = dn.derivative(dn.derivative(f))(0.7)
    np.testing.assert_allclose(second, 2.0 * n_pad)


@pytest.mark.parametrize("mode", ["maximum", "minimum", "median", "empty"])
def test_pad_refuses_selection_modes(mode: str) -> None:
    with pytest.raises(TypeError, match=rf"np.pad\(mode='{mode}'\) is not supported for Duals"):
        np.pad(Dual(X, np.ones_like(X)), 1, mode=mode)


def test_pad_refuses_callable_mode_and_dual_widths() -> None:
    d = Dual(X, np.ones_like(X))
    with pytest.raises(TypeError, match=r"np\.pad"):
        np.pad(d, 1, mode=lambda vector, width, axis, kwargs: None)
    with pytest.raises(TypeError, match="pad_width"):
        np.pad(d, Dual(1.0, 1.0))


# ---------------------------------------------------------------- k equal to a dimension

LINEAR_CASES: list[tuple[str, Callable[[Any], Any], np.ndarray]] = [
    ("tile", lambda x: np.tile(x, (2, 1, 3)), X),
    ("tile-scalar-reps", lambda x: np.tile(x, 3), X),
    ("roll-None", lambda x: np.roll(x, (1, 2)), X),
    ("roll-axes", lambda x: np.roll(x, (1, -2), axis=(1, 0)), X),
    ("roll-list", lambda x: np.roll(x, [1], axis=[-1]), X3),
    ("rollaxis", lambda x: np.rollaxis(x, 2, 1), X3),
    ("rollaxis-end", lambda x: np.rollaxis(x, 0, 3), X3),
    ("rot90", lambda x: np.rot90(x, 3), X),
    ("rot90-axes", lambda x: np.rot90(x, 1, axes=(2, 0)), X3),
    ("fliplr", np.fliplr, X3),
    ("flipud", np.flipud, X),
    ("diag-vector", lambda x: np.diag(x, 2), VEC),
    ("diag-vector-neg", lambda x: np.diag(x, -4), VEC),
    ("diag-matrix", lambda x: np.diag(x, 1), X),
    ("diag-matrix-out-of-range", lambda x: np.diag(x, 7), X),
    ("diagflat", lambda x: np.diagflat(x, -1), X),
    ("tril-vector", lambda x: np.tril(x, 1), VEC),
    ("triu-stack", lambda x: np.triu(x, -1), X3),
    ("delete-None", lambda x: np.delete(x, [0, 7]), X),
    ("delete-mask", lambda x: np.delete(x, [True, False, True], axis=0), X),
    ("resize-grow", lambda x: np.resize(x, (5, 4)), X),
    ("resize-shrink", lambda x: np.resize(x, 3), X3),
    ("sliding", lambda x: sliding_window_view(x, (2, 3)), X),
    ("sliding-axis", lambda x: sliding_window_view(x, 2, axis=0), X3),
    ("atleast_3d", np.atleast_3d, X),
    ("atleast_2d-pair", lambda x: np.atleast_2d(x, 1.0), VEC),
    ("broadcast_arrays", lambda x: np.broadcast_arrays(x, np.ones((3, 1, 1))), X),
    ("meshgrid-xy", lambda x: np.meshgrid(x, x[:3]), VEC),
    ("meshgrid-ij-sparse", lambda x: np.meshgrid(x[:2], x, indexing="ij", sparse=True), VEC),
    ("block-nested", lambda x: np.block([[x, np.zeros((3, 1))], [np.ones((1, 4)), 2.0]]), X),
    ("block-3d", lambda x: np.block([[x], [x]]), X3),
    ("append-None", lambda x: np.append(x, [1.0, 2.0]), X),
    ("append-axis", lambda x: np.append(x, x[:1], axis=0), X),
    ("insert-axis", lambda x: np.insert(x, [1, 1], 0.0, axis=1), X),
    ("insert-None", lambda x: np.insert(x, 2, x[0]), X),
    ("unstack", np.unstack, X),
]


@pytest.mark.parametrize("name,f,x", LINEAR_CASES, ids=[c[0] for c in LINEAR_CASES])
def test_linear_rules_with_k_equal_to_each_dimension(name: str, f: Callable[[Any], Any], x: np.ndarray) -> None:
    for k in sorted(set(x.shape) | {1}):
        batched_vs_singles(f, x, k)


def test_sliding_window_view_refuses_writeable() -> None:
    with pytest.raises(TypeError, match="immutable"):
        sliding_window_view(Dual(X, np.ones_like(X)), 2, axis=0, writeable=True)


def test_nested_block_values_and_tangents() -> None:
    a = Dual(X, np.ones_like(X))
    b = Dual(np.array([[7.0]]), np.array([[5.0]]))
    out = np.block([[a, np.zeros((3, 1))], [np.ones((1, 4)), b]])
    np.testing.assert_array_equal(out.value, np.block([[X, np.zeros((3, 1))], [np.ones((1, 4)), np.array([[7.0]])]]))
    want = np.zeros((4, 5))
    want[:3, :4], want[3, 4] = 1.0, 5.0
    np.testing.assert_array_equal(out.tangent, want)


# ---------------------------------------------------------------- linspace and friends


def test_linspace_derivative_in_start_and_stop() -> None:
    num = 6
    frac = np.arange(num) / (num - 1)
    _, d_start = dn.jvp(lambda a: np.linspace(a, 3.0, num), (0.5,), (1.0,))
    _, d_stop = dn.jvp(lambda b: np.linspace(0.5, b, num), (3.0,), (1.0,))
    np.testing.assert_allclose(d_start, 1.0 - frac, rtol=1e-15, atol=1e-15)
    np.testing.assert_allclose(d_stop, frac, rtol=1e-15, atol=1e-15)
    assert d_stop[-1] == 1.0 and d_start[0] == 1.0  # the end points follow their own arguments exactly


def test_linspace_endpoint_false_num_one_zero_and_retstep() -> None:
    _, t = dn.jvp(lambda a, b: np.linspace(a, b, 4, endpoint=False), (0.0, 2.0), (1.0, 0.0))
    np.testing.assert_allclose(t, 1.0 - np.arange(4) / 4)
    out, t = dn.jvp(lambda a, b: np.linspace(a, b, 1), (0.5, 2.0), (1.0, 3.0))
    np.testing.assert_array_equal(out, [0.5])
    np.testing.assert_array_equal(t, [1.0])
    out, t = dn.jvp(lambda a, b: np.linspace(a, b, 0), (0.5, 2.0), (1.0, 3.0))
    assert out.shape == t.shape == (0,)
    (_, step), (ty, tstep) = dn.jvp(lambda a, b: np.linspace(a, b, 5, retstep=True), (1.0, 3.0), (1.0, 3.0))
    assert step == 0.5 and tstep == 0.5
    np.testing.assert_allclose(ty, 1.0 + 2.0 * np.arange(5) / 4)
    (_, step), (_, tstep) = dn.jvp(lambda a, b: np.linspace(a, b, 1, retstep=True), (1.0, 3.0), (1.0, 3.0))
    assert np.isnan(step) and np.isnan(tstep)


def test_linspace_arrays_axis_and_batched() -> None:
    start, stop = RNG.uniform(size=(2, 1)), RNG.uniform(size=3)

    def f(a: Any, b: Any) -> Any:
        return np.linspace(a, b, 4, axis=-1)

    ta, tb = RNG.standard_normal((4, 2, 1)), RNG.standard_normal((4, 3))
    out, t = dn.jvp(f, (start, stop), (ta, tb), batched=True)
    np.testing.assert_array_equal(out, f(start, stop))
    for i in range(4):  # k = 4 equals num
        np.testing.assert_allclose(t[i], f(ta[i], tb[i]), rtol=1e-13, atol=1e-13)  # linear


def test_linspace_float32_and_integer_dtype() -> None:
    out, t = dn.jvp(lambda a: np.linspace(a, 2.0, 3), (np.float32(1.0),), (np.float32(1.0),))
    assert out.dtype == t.dtype == np.float32
    with pytest.raises(TypeError, match=r"np\.linspace"):
        dn.jvp(lambda a: np.linspace(a, 10.0, 3, dtype=int), (1.0,), (1.0,))


def test_logspace_and_geomspace_derivatives() -> None:
    _, t = dn.jvp(lambda a: np.logspace(a, 2.0, 5), (0.5,), (1.0,))
    y = np.logspace(0.5, 2.0, 5)
    np.testing.assert_allclose(t, y * np.log(10.0) * (1.0 - np.arange(5) / 4), rtol=1e-13)
    _, t = dn.jvp(lambda b: np.logspace(1.0, 2.0, 3, base=b), (2.0,), (1.0,))
    np.testing.assert_allclose(t, np.array([1.0, 1.5, 2.0]) * 2.0 ** np.array([0.0, 0.5, 1.0]), rtol=1e-13)
    # geomspace: start * (stop / start) ** f, also for negative and complex end points
    for a, b in ((2.0, 32.0), (-1.0, -8.0), (1.0 + 1.0j, 2.0 - 3.0j)):
        frac = np.arange(4) / 3
        _, ta = dn.jvp(lambda s: np.geomspace(s, b, 4), (a,), (1.0,))
        _, tb = dn.jvp(lambda s: np.geomspace(a, s, 4), (b,), (1.0,))
        np.testing.assert_allclose(ta, (1.0 - frac) * (b / a) ** frac, rtol=1e-12)
        np.testing.assert_allclose(tb, frac * (b / a) ** (frac - 1.0), rtol=1e-12)


# ---------------------------------------------------------------- constructors through like=


def test_constant_constructors_with_like_give_plain_arrays() -> None:
    like = Dual(X, np.ones_like(X))
    for made, want in ((np.zeros(3, like=like), np.zeros(3)), (np.ones((2, 2), like=like), np.ones((2, 2))),
                       (np.eye(3, k=1, like=like), np.eye(3, k=1)), (np.identity(2, like=like), np.identity(2)),
                       (np.tri(3, 2, like=like), np.tri(3, 2)), (np.full(3, 2.0, like=like), np.full(3, 2.0)),
                       (np.arange(4, like=like), np.arange(4)), (np.empty((2, 3), like=like).shape, (2, 3))):
        assert not isinstance(made, Dual)
        np.testing.assert_array_equal(made, want)


def test_full_and_arange_with_dual_data() -> None:
    like = Dual(X, np.ones_like(X))
    out = np.full((2, 3), Dual(2.5, 1.0), like=like)
    np.testing.assert_array_equal(out.value, np.full((2, 3), 2.5))
    np.testing.assert_array_equal(out.tangent, np.ones((2, 3)))
    _, t = dn.jvp(lambda a, s: np.arange(a, 4.0, s, like=like), (0.5, 0.75), (1.0, 2.0))
    np.testing.assert_array_equal(t, 1.0 + 2.0 * np.arange(5))
    with pytest.raises(TypeError, match="integer"):
        np.full(3, Dual(2.5, 1.0), dtype=int, like=like)


@pytest.mark.parametrize("call", [
    lambda d: np.fromiter([1.0], float, like=d), lambda d: np.frombuffer(b"\0" * 8, like=d),
    lambda d: np.fromstring("1 2", sep=" ", like=d), lambda d: np.fromfunction(lambda i: i, (3,), like=d)])
def test_raw_constructors_refuse(call: Callable[[Any], Any]) -> None:
    with pytest.raises(TypeError, match=r"not supported for Duals.*like="):
        call(Dual(X, np.ones_like(X)))


def test_files_refuse_naming_value_and_tangent() -> None:
    d = Dual(X, np.ones_like(X))
    for save in (np.save, np.savez, np.savez_compressed, np.savetxt):
        buffer = io.BytesIO()
        with pytest.raises(TypeError, match=r"save d\.value \(and d\.tangent\)"):
            save(buffer, d)
        assert buffer.getvalue() == b""
    with pytest.raises(TypeError, match=r"d\.value"):
        np.savez(io.BytesIO(), a=X, b=d)
    for load in (np.loadtxt, np.genfromtxt):
        with pytest.raises(TypeError, match="load without like="):
            load(io.StringIO("1 2"), like=d)
    with pytest.raises(TypeError, match="load without like="):
        np.fromfile("never-read.bin", like=d)


def test_printing_refuses_naming_repr() -> None:
    d = Dual(X, np.ones_like(X))
    for show in (np.array2string, np.array_repr, np.array_str):
        with pytest.raises(TypeError, match=r"repr\(d\).*d\.value"):
            show(d)
    assert "tangent=" in repr(d)


def test_dates_and_records_refuse() -> None:
    d = Dual(X, np.ones_like(X))
    with pytest.raises(TypeError, match="dates"):
        np.is_busday(d)
    with pytest.raises(TypeError, match="structured arrays cannot hold Duals"):
        rfn.structured_to_unstructured(d)
    with pytest.raises(TypeError, match="structured arrays cannot hold Duals"):
        rfn.unstructured_to_structured(d)


# ---------------------------------------------------------------- results without a derivative


def test_index_and_bit_functions_use_integer_duals_by_value() -> None:
    idx = Dual(np.array([3, 4]), np.zeros(2))
    got = np.unravel_index(idx, (2, 3))
    assert not any(isinstance(g, Dual) for g in got)
    np.testing.assert_array_equal(got, np.unravel_index([3, 4], (2, 3)))
    multi = (Dual(np.array([1, 0]), np.zeros(2)), np.array([2, 1]))
    np.testing.assert_array_equal(np.ravel_multi_index(multi, (2, 3)), [5, 1])
    bits = Dual(np.array([1, 0, 1]), np.zeros(3))
    np.testing.assert_array_equal(np.packbits(bits), np.packbits([1, 0, 1]))
    np.testing.assert_array_equal(np.unpackbits(Dual(np.array([5], np.uint8), np.zeros(1))),
                                  np.unpackbits(np.array([5], np.uint8)))
    square = Dual(np.ones((3, 3)), np.zeros((3, 3)))
    for got_idx, want in ((np.tril_indices_from(square), np.tril_indices(3)),
                          (np.triu_indices_from(square, 1), np.triu_indices(3, 1)),
                          (np.diag_indices_from(square), np.diag_indices(3))):
        np.testing.assert_array_equal(got_idx, want)
    with pytest.raises(TypeError, match="indices"):
        np.ix_(Dual(np.array([0, 1]), np.zeros(2)))


def test_dtype_and_memory_queries_are_plain() -> None:
    d = Dual(X.astype(np.float32), np.ones((3, 4), np.float32))
    assert np.result_type(d, 1.0) == np.float32
    assert np.can_cast(d, np.float64) and not np.can_cast(d, np.int8)
    assert np.min_scalar_type(d) == np.float32
    assert np.common_type(d) is np.float32
    assert np.may_share_memory(d, d.value) and np.shares_memory(d, d)
    assert not np.array_equiv(d, d.value[:1])
    assert np.array_equiv(Dual(np.ones((2, 3)), np.zeros((2, 3))), 1.0)


# ---------------------------------------------------------------- angle, insert, append


def test_angle_complex_and_real() -> None:
    z = np.array([1.0 + 2.0j, -3.0 + 0.5j, -1.0 - 1.0j])
    dz = np.array([0.3 - 1.0j, 2.0 + 0.0j, -1.0 + 1.0j])
    _, t = dn.jvp(np.angle, (z,), (dz,))
    np.testing.assert_allclose(t, np.imag(np.conj(z) * dz) / np.abs(z) ** 2, rtol=1e-14)
    _, t = dn.jvp(lambda w: np.angle(w, deg=True), (z,), (dz,))
    np.testing.assert_allclose(t, np.degrees(np.imag(np.conj(z) * dz) / np.abs(z) ** 2), rtol=1e-14)
    # real input: a step function (0 or pi); its tangent is zero, also at 0 and -0
    value, t = dn.jvp(np.angle, (np.array([2.0, -1.0, 0.0, -0.0]),), (np.ones(4),))
    np.testing.assert_array_equal(value, [0.0, np.pi, 0.0, np.pi])
    np.testing.assert_array_equal(t, 0.0)


def test_insert_values_and_refusals() -> None:
    out, t = dn.jvp(lambda a, v: np.insert(a, [1, 3], v), (VEC, np.array([9.0, 8.0])), (np.ones(5), np.full(2, 10.0)))
    np.testing.assert_array_equal(out, np.insert(VEC, [1, 3], [9.0, 8.0]))
    np.testing.assert_array_equal(t, [1.0, 10.0, 1.0, 1.0, 10.0, 1.0, 1.0])
    with pytest.raises(TypeError, match="obj"):
        np.insert(Dual(VEC, np.ones(5)), Dual(1.0, 1.0), 2.0)
    with pytest.raises(TypeError, match="integer result dtype"):
        np.insert(np.arange(3), 1, Dual(2.5, 1.0))


# ---------------------------------------------------------------- np.lib.scimath


def test_scimath_at_negative_inputs() -> None:
    out, t = dn.jvp(scimath.sqrt, (-4.0,), (1.0,))
    assert out == 2j and t == -0.25j
    out, t = dn.jvp(scimath.log, (-1.0,), (1.0,))
    assert out == scimath.log(-1.0) and t == -1.0
    out, t = dn.jvp(scimath.log10, (np.array([-10.0, 10.0]),), (np.ones(2),))
    np.testing.assert_array_equal(out, scimath.log10(np.array([-10.0, 10.0])))
    np.testing.assert_allclose(t, 1.0 / (np.array([-10.0, 10.0]) * np.log(10.0)))
    out, t = dn.jvp(lambda x: scimath.power(x, 0.5), (-9.0,), (1.0,))
    np.testing.assert_allclose(t, 0.5 / out)
    out, t = dn.jvp(lambda n: scimath.logn(n, 8.0), (-2.0,), (1.0,))
    assert out == scimath.logn(-2.0, 8.0)
    np.testing.assert_allclose(t, -np.log(8.0) / (-2.0 * np.log(-2.0 + 0j) ** 2))


def test_scimath_switches_to_complex_only_where_numpy_does() -> None:
    for f in (scimath.sqrt, scimath.log, scimath.log2, scimath.arcsin, scimath.arctanh):
        out, t = dn.jvp(f, (np.array([0.25, 0.5]),), (np.ones(2),))
        assert out.dtype == t.dtype == np.float64
        switching = np.array([2.0, 0.5]) if f in (scimath.arcsin, scimath.arctanh) else np.array([-0.25, 0.5])
        out, t = dn.jvp(f, (switching,), (np.ones(2),))
        assert out.dtype == t.dtype == np.complex128
    out, t = dn.jvp(scimath.sqrt, (np.array([-4.0, 1.0], np.float32),), (np.ones(2, np.float32),))
    assert out.dtype == t.dtype == np.complex64


@pytest.mark.parametrize("f", [scimath.sqrt, scimath.log, scimath.log2, scimath.log10, scimath.arccos,
                               scimath.arcsin, scimath.arctanh, lambda x: scimath.power(x, 1.5),
                               lambda x: scimath.logn(3.0, x)])
def test_scimath_tangent_follows_numpys_branch_on_the_real_line(f: Callable[[Any], Any]) -> None:
    """On the cuts (x < 0, |x| > 1) the tangent is the derivative along the real line of NumPy's value."""
    x = np.array([-3.0, -1.7, -0.4, 0.3, 1.6, 2.5])
    out, t = dn.jvp(f, (x,), (np.ones_like(x),))
    np.testing.assert_array_equal(out, f(x))
    np.testing.assert_allclose(t, fd(f, x, np.ones_like(x), h=1e-6), rtol=1e-7, atol=1e-8)


def test_scimath_power_in_the_exponent_and_nested() -> None:
    out, t = dn.jvp(lambda p: scimath.power(-2.0, p), (0.5,), (1.0,))
    np.testing.assert_allclose(t, out * np.log(-2.0 + 0j))
    second = dn.derivative(dn.derivative(scimath.sqrt))(-4.0)
    np.testing.assert_allclose(second, -0.25 * (-4.0 + 0j) ** -1.5)
