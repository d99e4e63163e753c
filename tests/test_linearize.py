"""linearize: f_jvp equals jvp's tangent, generated over every rule of the tables, and the
contract around it (validity at one point, shapes, fallback, nesting, SciPy operator)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dualnumpy as dn
from dualnumpy import Dual
from dualnumpy.numpy_facts.sampling import Sample
from dualnumpy.numpy_facts.signatures import public_name
from dualnumpy.numpy_facts.trees import flatten, tree_map
from dualnumpy.rules.functions import FUNCTION_RULES
from dualnumpy.rules.kinds import DIFFERENTIABLE_KINDS
from dualnumpy.rules.ufuncs import UFUNC_RULES, differentiable
from dualnumpy.transforms.linearize import Linearization, linearize

RTOL = 1e-9


def _assert_trees_close(got: Any, want: Any, rtol: float = RTOL, what: str = "") -> None:
    got_leaves, got_def = flatten(got)
    want_leaves, want_def = flatten(want)
    assert got_def == want_def, what
    for i, (g, w) in enumerate(zip(got_leaves, want_leaves, strict=True)):
        assert not isinstance(g, Dual), f"{what} leaf {i} is a Dual"
        g, w = np.asarray(g), np.asarray(w)
        assert g.shape == w.shape, f"{what} leaf {i}: shape {g.shape} against {w.shape}"
        scale = float(np.max(np.abs(w[np.isfinite(w)]), initial=1.0))
        np.testing.assert_allclose(g, w, rtol=rtol, atol=rtol * scale, err_msg=f"{what} leaf {i}")


def _directions(primals: tuple[Any, ...], seed: int, k: int | None = None) -> tuple[Any, ...]:
    rng = np.random.default_rng(seed)

    def direction(x: Any) -> Any:
        shape = np.shape(x) if k is None else (k, *np.shape(x))
        t = rng.standard_normal(shape)
        if np.iscomplexobj(x):
            t = t + 1j * rng.standard_normal(shape)
        return t

    return tuple(tree_map(direction, primals))


def _check_against_jvp(f: Any, primals: tuple[Any, ...], what: str) -> Linearization:
    """f_jvp against jvp, one direction and three at once; out against f."""
    out, f_jvp = linearize(f, *primals)
    want_out, want_t = dn.jvp(f, primals, _directions(primals, 1))
    _assert_trees_close(out, want_out, 0.0, f"{what}: out")
    _assert_trees_close(f_jvp(*_directions(primals, 1)), want_t, RTOL, f"{what}: f_jvp")
    batch = _directions(primals, 2, k=3)
    _, want_batch = dn.jvp(f, primals, batch, batched=True)
    _assert_trees_close(f_jvp(*batch), want_batch, RTOL, f"{what}: batched f_jvp")
    _assert_trees_close(f_jvp(*batch, batched=True), want_batch, RTOL, f"{what}: batched=True")
    return f_jvp


# ---------------------------------------------------------------- generated: ufuncs

UFUNCS = sorted((uf for uf, rule in UFUNC_RULES.items() if differentiable(rule)), key=lambda u: u.__name__)


def _ufunc_args(uf: np.ufunc, shapes: list[tuple[int, ...]]) -> tuple[list[Any], list[int]]:
    """Fixed arguments inside the rule's domain; the positions that become primals."""
    dom = UFUNC_RULES[uf].domain  # type: ignore[union-attr]
    rng = np.random.default_rng(0)
    args, duals = [], []
    for i, shape in enumerate(shapes):
        lo, hi = dom.intervals[i]
        if i in dom.integer_args:
            args.append(rng.integers(math.ceil(lo), math.floor(hi) + 1, size=shape))
            continue
        args.append(lo + (hi - lo) * rng.uniform(0.1, 0.9, size=shape))
        if i not in dom.constant_args:
            duals.append(i)
    return args, duals


def _ufunc_function(uf: np.ufunc, args: list[Any], duals: list[int]) -> Any:
    def f(*xs: Any) -> Any:
        full = list(args)
        for i, x in zip(duals, xs, strict=True):
            full[i] = x
        return uf(*full)
    return f


SHAPES = {"same": lambda nin: [(2, 3)] * nin, "broadcast": lambda nin: [(2, 3), (3,), (1, 3)][:nin]}


@pytest.mark.parametrize("shapes", sorted(SHAPES))
@pytest.mark.parametrize("uf", UFUNCS, ids=lambda u: u.__name__)
def test_every_ufunc_rule_linearizes_to_its_jvp(uf: np.ufunc, shapes: str) -> None:
    if uf.signature is not None:  # a gufunc (matmul, vecdot, matvec): its core dimensions, 3 each
        cores = uf.signature.split("->")[0].replace(" ", "")[1:-1].split("),(")
        args = [np.random.default_rng(i).uniform(-1, 1, (2, *[3 for d in core.split(",") if d]))
                for i, core in enumerate(cores)]
        duals = list(range(uf.nin))
    else:
        args, duals = _ufunc_args(uf, SHAPES[shapes](uf.nin))
    if not duals:
        pytest.skip("no differentiable argument")
    f_jvp = _check_against_jvp(_ufunc_function(uf, args, duals), tuple(args[i] for i in duals),
                               f"np.{uf.__name__}")
    assert f_jvp.strategy == "recorded", f_jvp.reason


# ---------------------------------------------------------------- generated: functions

FUNCS = sorted(((f, r) for f, r in FUNCTION_RULES.items() if isinstance(r, DIFFERENTIABLE_KINDS)),
               key=lambda item: public_name(item[0]))
CASES = [pytest.param(f, s, id=f"{public_name(f)}-{i}") for f, r in FUNCS for i, s in enumerate(r.samples)]


def _get(args: tuple[Any, ...], path: int | tuple[int, int]) -> Any:
    return args[path] if isinstance(path, int) else args[path[0]][path[1]]


def _sample_function(func: Any, s: Sample) -> tuple[Any, tuple[Any, ...]]:
    paths = list(s.duals)

    def f(*xs: Any) -> Any:
        out = list(s.args)
        for path, x in zip(paths, xs, strict=True):
            if isinstance(path, int):
                out[path] = x
            else:
                seq = list(out[path[0]])
                seq[path[1]] = x
                out[path[0]] = type(s.args[path[0]])(seq)
        return func(*out, **s.kwargs)

    primals = []
    for path in paths:
        x = np.asarray(_get(s.args, path), dtype=np.float64)
        primals.append(x if x.ndim else np.float64(x))
    return f, tuple(primals)


#: Rules whose tangent computation cannot be recorded; linearize falls back to jvp for
#: them (the same numbers, by running the function at every call). Kept short on purpose:
#: a new entry here is a rule whose tangent code branches on the tangent or converts it.
FALLBACK_EXPECTED = {"np.piecewise"}  # it runs the user's functions on the values it builds


@pytest.mark.parametrize("func,s", CASES)
def test_every_function_rule_linearizes_to_its_jvp(func: Any, s: Sample) -> None:
    f, primals = _sample_function(func, s)
    f_jvp = _check_against_jvp(f, primals, public_name(func))
    if public_name(func) not in FALLBACK_EXPECTED:
        assert f_jvp.strategy == "recorded", f_jvp.reason


# ---------------------------------------------------------------- the recorded program


def _chain(x: Any) -> Any:
    return np.sin(np.exp(np.tanh(x)) * x + x ** 2) * np.cos(x) - x / 3.0


def test_an_elementwise_chain_collapses_to_one_multiplier() -> None:
    x = np.linspace(-1.0, 1.0, 50)
    _, f_jvp = linearize(_chain, x)
    assert f_jvp.operations == 1
    assert f_jvp.nbytes == x.nbytes  # the one multiplier, nothing else
    t = np.random.default_rng(0).standard_normal(50)
    np.testing.assert_allclose(f_jvp(t), dn.jvp(_chain, (x,), (t,))[1], rtol=1e-13)


def test_the_function_runs_once() -> None:
    calls = []

    def f(x: Any) -> Any:
        calls.append(1)
        return np.sum(np.sin(x) * x)

    x = np.arange(4.0)
    _, f_jvp = linearize(f, x)
    for seed in range(3):
        f_jvp(np.random.default_rng(seed).standard_normal(4))
    f_jvp(np.eye(4))
    assert len(calls) == 1


def test_changing_the_inputs_or_outputs_afterwards_changes_nothing() -> None:
    x = np.array([0.5, 1.0, 2.0])
    y, f_jvp = linearize(np.exp, x)
    t = np.array([1.0, -1.0, 2.0])
    want = np.exp(x) * t
    x *= 10.0
    y *= 3.0  # the partial of exp is its output: the program holds its own copy
    np.testing.assert_allclose(f_jvp(t), want, rtol=1e-15)


def test_batched_k_equal_to_a_data_dimension() -> None:
    x = np.random.default_rng(0).uniform(-1, 1, (2, 3))
    b = np.random.default_rng(1).uniform(-1, 1, 3)

    def f(x: Any) -> Any:
        return np.sum(np.sin(x) * b, axis=0) + (x.T @ x)[0]

    f_jvp = _check_against_jvp(f, (x,), "k == 2 == x.shape[0]")
    assert f_jvp.batchable
    T = np.random.default_rng(2).standard_normal((2, 2, 3))
    np.testing.assert_allclose(f_jvp(T), np.stack([f_jvp(T[0]), f_jvp(T[1])]), rtol=1e-12)


def test_pytrees_in_and_out() -> None:
    def f(p: Any, z: Any) -> Any:
        return {"a": np.sin(p["w"]) * z, "b": (np.sum(p["w"] ** 2), z * 2.0)}

    primals = ({"w": np.array([0.1, 0.2, 0.3])}, 1.5)
    _check_against_jvp(f, primals, "pytrees")


def test_scalar_and_float32_primals() -> None:
    _check_against_jvp(lambda x: np.sin(x) * x ** 3, (0.7,), "a Python float")
    x = np.linspace(0.1, 1.0, 5, dtype=np.float32)
    _, f_jvp = linearize(lambda x: np.exp(x) * x, x)
    t = f_jvp(np.ones(5, np.float32))
    assert t.dtype == np.float32
    np.testing.assert_allclose(t, dn.jvp(lambda x: np.exp(x) * x, (x,), (np.ones(5, np.float32),))[1],
                               rtol=1e-6)


def test_complex_primal() -> None:
    z = np.array([0.3 + 0.2j, -0.5 + 1.0j])
    _check_against_jvp(lambda z: np.exp(z) * z ** 2 + np.sin(z), (z,), "complex")


def test_an_output_that_does_not_depend_on_the_input_has_a_zero_tangent() -> None:
    x = np.arange(3.0)
    _, f_jvp = linearize(lambda x: (np.floor(x) * 2.0, np.ones(2), x * 0.5), x)
    a, b, c = f_jvp(np.ones(3))
    np.testing.assert_array_equal(a, np.zeros(3))
    np.testing.assert_array_equal(b, np.zeros(2))
    np.testing.assert_array_equal(c, np.full(3, 0.5))
    a, b, _ = f_jvp(np.ones((4, 3)))
    assert a.shape == (4, 3) and b.shape == (4, 2)


def test_indexing_and_pad_and_reductions() -> None:
    def bratu(x: Any) -> Any:
        padded = np.pad(x, 1)
        return padded[:-2] - 2.0 * padded[1:-1] + padded[2:] + 0.01 * np.exp(x)

    x = np.random.default_rng(0).uniform(-1, 1, 20)
    _check_against_jvp(bratu, (x,), "Bratu")
    _check_against_jvp(lambda x: np.cumsum(x[::2] ** 2) @ np.arange(10.0), (x,), "cumsum, matmul")
    _check_against_jvp(lambda x: x.reshape(4, 5).T[1:, ::2].sum(axis=0) * np.max(x), (x,), "views")


def test_replay_at_a_single_direction_reproduces_linearity() -> None:
    x = np.random.default_rng(0).uniform(0.2, 2, 6)
    _, f_jvp = linearize(lambda x: np.log(x) * np.sqrt(x) + np.linalg.norm(x), x)
    t1, t2 = np.random.default_rng(1).standard_normal((2, 6))
    np.testing.assert_allclose(f_jvp(2.0 * t1 - 3.0 * t2), 2.0 * f_jvp(t1) - 3.0 * f_jvp(t2), rtol=1e-12)


# ---------------------------------------------------------------- bad input


def test_tangents_of_the_wrong_shape_raise() -> None:
    _, f_jvp = linearize(np.sin, np.zeros(3))
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        f_jvp(np.zeros(4))
    with pytest.raises(ValueError, match="expected"):
        f_jvp(np.zeros((2, 2, 3)))
    with pytest.raises(ValueError, match=r"\(k, \*\(3,\)\)"):
        f_jvp(np.zeros(3), batched=True)
    with pytest.raises(ValueError):
        f_jvp(np.zeros((2, 3)), batched=False)
    with pytest.raises(TypeError, match="1 tangent"):
        f_jvp(np.zeros(3), np.zeros(3))
    with pytest.raises(TypeError, match="complex"):
        f_jvp(np.zeros(3, complex))


def test_mixed_layouts_raise() -> None:
    _, f_jvp = linearize(lambda a, b: a * b, np.ones(2), np.ones(2))
    with pytest.raises(ValueError, match="mix"):
        f_jvp(np.ones(2), np.ones((3, 2)))
    with pytest.raises(ValueError, match="mix"):
        f_jvp(np.ones((2, 2)), np.ones((3, 2)))


def test_bad_primals_raise() -> None:
    with pytest.raises(TypeError, match="boolean"):
        linearize(np.sin, np.array([True]))
    with pytest.raises(TypeError, match="at least one"):
        linearize(np.sin)
    with pytest.raises(TypeError, match="cannot become a plain NumPy array"):
        linearize(lambda x: np.asarray(x) * 2, np.ones(2))


def test_there_is_no_way_to_pass_a_new_point() -> None:
    _, f_jvp = linearize(lambda x: x ** 2, np.array([1.0, 2.0]))
    # a second argument is a second tangent, never a point
    with pytest.raises(TypeError):
        f_jvp(np.ones(2), np.array([5.0, 5.0]))
    np.testing.assert_array_equal(f_jvp(np.ones(2)), [2.0, 4.0])


# ---------------------------------------------------------------- fallback and nesting


@dn.custom_jvp
def _branchy(x: Any) -> Any:
    return np.sin(x)


@_branchy.defjvp
def _branchy_jvp(primals: Any, tangents: Any) -> Any:
    (x,), (t,) = primals, tangents
    if np.all(t == 0):  # branches on the tangent: not recordable
        return np.sin(x), t
    return np.sin(x), np.cos(x) * t


def test_an_unrecordable_tangent_computation_falls_back_to_jvp() -> None:
    # custom_jvp hands its rule tangents it builds as Duals, which cannot hold a recording
    x = np.array([0.1, 0.5])
    f_jvp = _check_against_jvp(lambda x: _branchy(x) * x, (x,), "custom_jvp")
    assert f_jvp.strategy == "jvp" and f_jvp.reason
    assert f_jvp.operations is None
    assert f_jvp.nbytes == x.nbytes  # the stored point


def test_a_swallowed_recording_failure_still_falls_back() -> None:
    def f(x: Any) -> Any:
        try:
            return _branchy(x) * 2.0
        except TypeError:
            return x  # would be a wrong derivative if the recording went on
    x = np.array([0.1, 0.5])
    _, f_jvp = linearize(f, x)
    assert f_jvp.strategy == "jvp"
    np.testing.assert_allclose(f_jvp(np.ones(2)), 2.0 * np.cos(x))


def test_linearize_inside_jacfwd_differentiates_through_the_point() -> None:
    v = np.array([1.0, -2.0, 0.5])
    f = lambda x: np.sin(x) * x[::-1]
    x0 = np.array([0.3, 0.6, 0.9])
    got = dn.jacfwd(lambda x: linearize(f, x)[1](v))(x0)
    want = dn.jacfwd(lambda x: dn.jvp(f, (x,), (v,))[1])(x0)
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_a_closure_over_an_outer_dual_is_differentiated() -> None:
    x0 = np.array([0.3, 0.6])
    t = np.array([1.0, 2.0])
    got = dn.derivative(lambda p: linearize(lambda x: np.sin(p * x), x0)[1](t))(1.5)
    want = dn.derivative(lambda p: dn.jvp(lambda x: np.sin(p * x), (x0,), (t,))[1])(1.5)
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_the_tangent_map_differentiates_to_the_jacobian() -> None:
    x = np.array([0.3, 0.6, 0.9])
    _, f_jvp = linearize(_chain, x)
    np.testing.assert_allclose(dn.jacfwd(f_jvp)(np.zeros(3)), dn.jacfwd(_chain)(x), rtol=1e-12)


# ---------------------------------------------------------------- SciPy


def test_as_linear_operator() -> None:
    scipy_linalg = pytest.importorskip("scipy.sparse.linalg")
    x = np.random.default_rng(0).uniform(-1, 1, (3, 4))
    f = lambda x: np.tanh(x) * 3.0 + np.roll(x, 1, axis=1)
    _, f_jvp = linearize(f, x)
    op = f_jvp.as_linear_operator()
    J = dn.jacfwd(f)(x).reshape(12, 12)
    assert op.shape == (12, 12)
    v = np.random.default_rng(1).standard_normal(12)
    np.testing.assert_allclose(op.matvec(v), J @ v, rtol=1e-12)
    V = np.random.default_rng(2).standard_normal((12, 5))
    np.testing.assert_allclose(op.matmat(V), J @ V, rtol=1e-12)
    b = J @ np.ones(12)
    sol, info = scipy_linalg.gmres(op, b, rtol=1e-12, atol=0.0, restart=12, maxiter=50)
    assert info == 0
    np.testing.assert_allclose(sol, np.ones(12), rtol=1e-6)


def test_as_linear_operator_needs_one_array_in_and_out() -> None:
    pytest.importorskip("scipy")
    _, f_jvp = linearize(lambda a, b: a * b, np.ones(2), np.ones(2))
    with pytest.raises(TypeError, match="one array input"):
        f_jvp.as_linear_operator()


def test_functional_index_updates_are_recorded() -> None:
    def residual(x: Any) -> Any:
        r = 2.0 * x - np.roll(x, 1) - np.roll(x, -1) + 0.1 * np.exp(x)
        r = r.at[0].set(x[0] - 1.0)  # boundary rows
        r = r.at[-1].add(x[-1] ** 2)
        return r.at[np.array([1, 1, 2])].multiply(x[3])

    x = np.random.default_rng(0).uniform(-1, 1, 6)
    f_jvp = _check_against_jvp(residual, (x,), ".at[...]")
    assert f_jvp.strategy == "recorded", f_jvp.reason
    np.testing.assert_allclose(dn.jacfwd(f_jvp)(np.zeros(6)), dn.jacfwd(residual)(x), rtol=1e-12)


def test_a_program_pinned_to_one_direction_replays_each_direction() -> None:
    # the solve rule takes a shortcut for k == 1, so the recording (one direction) cannot
    # replay k directions in one pass: the check finds it, and each direction is replayed
    A = np.random.default_rng(0).standard_normal((3, 3)) + 3.0 * np.eye(3)
    f = lambda x: np.linalg.solve(A + np.diag(x), x)
    f_jvp = _check_against_jvp(f, (np.array([0.3, 0.6, 0.9]),), "solve")
    assert f_jvp.strategy == "recorded" and not f_jvp.batchable


def test_leading_unit_dimensions_are_data_not_directions() -> None:
    x = np.random.default_rng(0).uniform(-1, 1, (1, 3))
    f = lambda x: np.broadcast_to(x.reshape(1, 1, 3), (1, 2, 3)) * np.sin(x)
    f_jvp = _check_against_jvp(f, (x,), "unit dimensions")
    assert f_jvp.batchable
    T = np.random.default_rng(1).standard_normal((5, 1, 3))
    np.testing.assert_allclose(f_jvp(T), dn.jvp(f, (x,), (T,), batched=True)[1], rtol=1e-13)


# ---------------------------------------------------------------- random programs


_CONSTANT_SHAPES = [(), (3,), (1, 3), (2, 1), (2, 3)]
_UNARY = [np.sin, np.tanh, np.cos, lambda a: np.exp(np.tanh(a)), np.negative, lambda a: a[:, ::-1],
          lambda a: np.sum(np.stack([a, 2.0 * a]), axis=0), lambda a: a.T.T, np.square]
_BINARY = [np.add, np.subtract, np.multiply, lambda a, b: a / (2.0 + np.cos(b))]


@st.composite
def _programs(draw: Any) -> list[tuple[Any, ...]]:
    steps = []
    for _ in range(draw(st.integers(1, 9))):
        kind = draw(st.sampled_from(["unary", "binary", "scale", "scale"]))
        if kind == "unary":
            steps.append(("unary", draw(st.integers(0, len(_UNARY) - 1)), draw(st.integers(0, 99))))
        elif kind == "binary":
            steps.append(("binary", draw(st.integers(0, len(_BINARY) - 1)), draw(st.integers(0, 99)),
                          draw(st.integers(0, 99))))
        else:
            steps.append(("scale", draw(st.sampled_from(_CONSTANT_SHAPES)), draw(st.integers(0, 99)),
                          draw(st.booleans())))
    return steps


def _run(steps: list[tuple[Any, ...]], x: Any) -> Any:
    items = [x]
    for i, step in enumerate(steps):
        if step[0] == "unary":
            items.append(_UNARY[step[1]](items[step[2] % len(items)]))
        elif step[0] == "binary":
            items.append(_BINARY[step[1]](items[step[2] % len(items)], items[step[3] % len(items)]))
        else:
            c = np.random.default_rng(i).uniform(0.5, 1.5, step[1])
            a = items[step[2] % len(items)]
            items.append(c * a if step[3] else a * c)
    return items[-1] + 0.5 * items[len(items) // 2]


@settings(max_examples=60, deadline=None)
@given(_programs(), st.integers(1, 3))
def test_random_elementwise_programs_linearize_to_their_jvp(steps: list[tuple[Any, ...]], k: int) -> None:
    x = np.random.default_rng(0).uniform(-1, 1, (2, 3))
    f = lambda x: _run(steps, x)
    _, f_jvp = linearize(f, x)
    assert f_jvp.strategy == "recorded", f_jvp.reason
    t = np.random.default_rng(1).standard_normal((2, 3))
    np.testing.assert_allclose(f_jvp(t), dn.jvp(f, (x,), (t,))[1], rtol=1e-10, atol=1e-10)
    T = np.random.default_rng(2).standard_normal((k, 2, 3))  # k == 2 meets a data dimension
    np.testing.assert_allclose(f_jvp(T), dn.jvp(f, (x,), (T,), batched=True)[1], rtol=1e-10, atol=1e-10)
