"""Memory-bounded dense Jacobians (issue 10, part 1): the default chunk size comes from a
budget in bytes, every chunking gives the same bits, and peak memory stays near the output.
"""

from __future__ import annotations

import platform
import sys
import tracemalloc
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import dualnumpy as dn
from dualnumpy.transforms import api

RNG = np.random.default_rng(10)


@pytest.fixture
def budget() -> Iterator[Any]:
    """Set the chunk budget for one test; the default comes back afterwards."""
    old = api.chunk_budget()
    yield api.set_chunk_budget
    api.set_chunk_budget(old)


def counting(f: Any) -> tuple[Any, list[int]]:
    """``f`` that records the number of directions it was called with."""
    seen: list[int] = []

    def g(*args: Any, **kwargs: Any) -> Any:
        leaf = next(a for a in args if isinstance(a, dn.Dual))
        seen.append(leaf.tangent.shape[0])
        return f(*args, **kwargs)

    return g, seen


def assert_same(a: Any, b: Any) -> None:
    """Identical structure, shapes, dtypes and bits."""
    assert type(a) is type(b)
    if isinstance(a, dict):
        assert list(a) == list(b)
        for key in a:
            assert_same(a[key], b[key])
    elif isinstance(a, (tuple, list)):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_same(x, y)
    else:
        assert np.shape(a) == np.shape(b)
        assert np.asarray(a).dtype == np.asarray(b).dtype
        np.testing.assert_array_equal(a, b)


def one_pass_jacobian(f: Any, x: np.ndarray) -> np.ndarray:
    """What jacfwd computed before chunks had a default: one batched pass over the identity."""
    _, t = dn.jvp(f, (x,), (np.eye(x.size).reshape((x.size, *x.shape)),), batched=True)
    t = np.reshape(t, (x.size, -1))
    return np.reshape(np.moveaxis(t, 0, -1), np.shape(f(x)) + x.shape)


def vector_map(x: Any) -> Any:
    return np.stack([np.sum(np.sin(x) * x[::-1]), np.prod(x[:3]) ** 2]) + x[:2] * np.exp(x[-2:])


def bratu(x: Any) -> Any:
    h = 1.0 / (x.size + 1)
    xp = np.pad(x, 1)
    return xp[:-2] - 2.0 * x + xp[2:] + h * h * np.exp(x)


def rosenbrock(x: Any) -> Any:
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


# ---------------------------------------------------------------- the default from the budget


def test_the_default_budget_is_documented() -> None:
    assert api.DEFAULT_CHUNK_BUDGET == api.chunk_budget()
    assert "chunk" in (api.__doc__ or "") + (api.set_chunk_budget.__doc__ or "")


def test_a_tiny_budget_takes_several_passes_and_the_same_jacobian(budget: Any) -> None:
    x = RNG.uniform(0.1, 0.9, 40)
    reference = one_pass_jacobian(bratu, x)
    f, seen = counting(bratu)
    budget(40 * 8 * 6)  # six float64 directions of 40 inputs per pass
    jac = dn.jacfwd(f)(x)
    assert seen == [6] * 6 + [4]
    assert_same(jac, reference)
    assert jac.dtype == np.float64 and jac.shape == (40, 40)


def test_the_default_budget_takes_one_pass_for_small_inputs() -> None:
    f, seen = counting(bratu)
    dn.jacfwd(f)(np.linspace(0.1, 0.9, 100))
    assert seen == [100]


def test_large_inputs_are_chunked_by_default() -> None:
    n = 4000
    f, seen = counting(lambda x: np.sin(x) * x)
    dn.jacfwd(f)(np.linspace(0.0, 1.0, n))
    k = api.DEFAULT_CHUNK_BUDGET // (n * 8)
    assert seen[0] == k and sum(seen) == n and max(seen) == k


def test_an_output_larger_than_the_input_counts_after_the_first_pass(budget: Any) -> None:
    budget(10 * 8 * 4)  # four directions of 10 inputs, but only one of 40 outputs
    f, seen = counting(lambda x: np.outer(x, x[:4]).ravel())
    x = RNG.standard_normal(10)
    assert_same(dn.jacfwd(f)(x), one_pass_jacobian(lambda x: np.outer(x, x[:4]).ravel(), x))
    assert seen == [4, 1, 1, 1, 1, 1, 1]


def test_an_explicit_chunk_size_wins_over_the_budget(budget: Any) -> None:
    budget(8)
    f, seen = counting(bratu)
    dn.jacfwd(f, chunk_size=7)(np.linspace(0.1, 0.9, 20))
    assert seen == [7, 7, 6]


def test_nested_duals_count_against_the_budget(budget: Any) -> None:
    """The inner pass of a Hessian carries the outer directions in every tangent."""
    x = RNG.uniform(-1, 1, 12)
    reference = dn.hessian(rosenbrock, chunk_size=12)(x)
    budget(12 * 8 * 13 * 3)  # three inner directions, each holding 12 outer ones
    inner_seen: list[int] = []

    def f(x: Any) -> Any:
        inner_seen.append(x.tangent.shape[0])
        return rosenbrock(x)

    assert_same(dn.jacfwd(dn.jacfwd(f))(x), reference)
    assert inner_seen[0] == 3 and sum(inner_seen) == 12


# ---------------------------------------------------------------- the same bits for every chunking


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 8, 13, 64])
def test_jacfwd_chunkings_agree_bit_for_bit(chunk: int, budget: Any) -> None:
    x = RNG.uniform(0.2, 0.8, 13)
    reference = one_pass_jacobian(vector_map, x)
    assert_same(dn.jacfwd(vector_map, chunk_size=chunk)(x), reference)
    budget(chunk * 13 * 8)
    assert_same(dn.jacfwd(vector_map)(x), reference)


@pytest.mark.parametrize("chunk", [1, 2, 4, 7, 100])
def test_pytrees_and_aux_agree_for_every_chunk(chunk: int) -> None:
    a = RNG.standard_normal((2, 3))
    b = {"u": RNG.standard_normal(4), "v": 0.7}

    def f(a: Any, b: Any) -> Any:
        out = {"m": np.sin(a) * b["v"], "s": np.sum(a) * b["u"], "t": (b["u"][:2] ** 2, np.cos(b["v"]))}
        return out, {"note": "aux", "first": a[0, 0]}

    ref, ref_aux = dn.jacfwd(f, argnums=(0, 1), has_aux=True, chunk_size=10)(a, b)
    got, aux = dn.jacfwd(f, argnums=(0, 1), has_aux=True, chunk_size=chunk)(a, b)
    assert_same(got, ref)
    assert aux["note"] == "aux" and aux["first"] == a[0, 0] and ref_aux["first"] == a[0, 0]
    assert got["m"][0].shape == (2, 3, 2, 3) and got["t"][1][1]["v"].shape == ()


@pytest.mark.parametrize("chunk", [1, 3, 6, 50])
def test_grad_and_value_and_grad_agree_for_every_chunk(chunk: int, budget: Any) -> None:
    a, b = RNG.standard_normal(5), {"w": RNG.standard_normal((2, 2))}

    def f(a: Any, b: Any) -> Any:
        return np.sum(np.tanh(a) * np.sum(b["w"])) + np.sum(b["w"] ** 3), a[0]

    ref = dn.grad(f, argnums=(0, 1), has_aux=True, chunk_size=9)(a, b)
    assert_same(dn.grad(f, argnums=(0, 1), has_aux=True, chunk_size=chunk)(a, b), ref)
    budget(chunk * 9 * 8)
    assert_same(dn.grad(f, argnums=(0, 1), has_aux=True)(a, b), ref)
    value, g = dn.value_and_grad(f, argnums=(0, 1), has_aux=True)(a, b)
    assert_same(g, ref[0])
    assert value[1] == a[0]


@pytest.mark.parametrize("chunk", [1, 2, 5, 9])
def test_hessian_agrees_for_every_chunk(chunk: int, budget: Any) -> None:
    x = RNG.uniform(-1.0, 1.0, 9)
    ref = dn.hessian(rosenbrock, chunk_size=9)(x)
    assert_same(dn.hessian(rosenbrock, chunk_size=chunk)(x), ref)
    budget(chunk * 9 * 8)
    assert_same(dn.hessian(rosenbrock)(x), ref)
    h, aux = dn.hessian(lambda x: (rosenbrock(x), x[0]), has_aux=True, chunk_size=chunk)(x)
    assert_same(h, ref)
    assert aux == x[0]


def test_jacobian_is_a_view_of_one_array_per_input() -> None:
    """The final layout is written in place: no copy after the last pass."""
    jac = dn.jacfwd(lambda x: np.sin(x) * x, chunk_size=3)(np.linspace(0.0, 1.0, 10))
    assert jac.shape == (10, 10) and jac.flags.f_contiguous
    jac2 = dn.jacfwd(lambda x: x.T * 2.0, chunk_size=4)(np.ones((2, 3)))
    np.testing.assert_array_equal(jac2, 2.0 * np.eye(6).reshape(2, 3, 2, 3).transpose(1, 0, 2, 3))


def test_scalar_and_empty_inputs() -> None:
    assert_same(dn.jacfwd(lambda x: x ** 2, chunk_size=1)(np.array(3.0)), np.float64(6.0))
    assert_same(dn.grad(lambda x: np.sum(x ** 2))(np.array(3.0)), np.float64(6.0))
    assert dn.jacfwd(np.sin)(np.ones(0)).shape == (0, 0)
    assert dn.jacfwd(lambda x: np.sum(x) * np.ones(3))(np.ones(0)).shape == (3, 0)


def test_complex_outputs_of_real_inputs() -> None:
    x = RNG.standard_normal(6)
    ref = one_pass_jacobian(lambda x: x * (1.0 + 2.0j), x)
    assert_same(dn.jacfwd(lambda x: x * (1.0 + 2.0j), chunk_size=4)(x), ref)


# ---------------------------------------------------------------- tangents that are Duals


def test_an_outer_dual_appearing_in_a_later_chunk() -> None:
    """Chunks of plain tangents, then chunks whose tangents carry an outer perturbation."""
    x = RNG.standard_normal(5)

    def f(x: Any, y: Any) -> Any:
        first = int(np.argmax(x.tangent[0]))  # which chunk this is: a plain read of the seed
        return x * 2.0 if first < 2 else x * y

    def jac_of(y: Any) -> Any:
        return dn.jacfwd(lambda x: f(x, y), chunk_size=2)(x)

    value, tangent = dn.jvp(jac_of, (3.0,), (1.0,))
    expected = np.diag([2.0, 2.0, 3.0, 3.0, 3.0])
    np.testing.assert_array_equal(value, expected)
    np.testing.assert_array_equal(tangent, np.diag([0.0, 0.0, 1.0, 1.0, 1.0]))


def test_an_output_that_changes_between_passes_is_refused() -> None:
    def f(x: Any) -> Any:
        return x if int(np.argmax(x.tangent[0])) == 0 else x[:-1]

    with pytest.raises(ValueError, match="changed structure or shape between passes"):
        dn.jacfwd(f, chunk_size=2)(np.ones(4))


# ---------------------------------------------------------------- memory


def peak_ratio(f: Any, x: np.ndarray, **kwargs: Any) -> tuple[float, int]:
    jacobian = dn.jacfwd(f, **kwargs)
    jacobian(x[:10])  # warm caches (rule tables, signatures) outside the measurement
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        jac = jacobian(x)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / jac.nbytes, jac.nbytes


SLACK = 256 * 1024  # bytes for primal values and interpreter bookkeeping


def test_peak_memory_of_a_dense_diagonal_jacobian_stays_near_the_output() -> None:
    x = np.linspace(0.0, 1.0, 2000)
    ratio, nbytes = peak_ratio(lambda x: np.sin(x) * x, x)
    assert ratio * nbytes <= 1.2 * nbytes + SLACK, f"peak {ratio:.2f}x the Jacobian"


def test_the_memory_measurement_sees_a_full_pass() -> None:
    """The same measurement fails the bound when all directions go in one pass."""
    x = np.linspace(0.0, 1.0, 2000)
    ratio, nbytes = peak_ratio(lambda x: np.sin(x) * x, x, chunk_size=2000)
    assert ratio * nbytes > 1.2 * nbytes + SLACK


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("chunk_size", [0, -3, 2.0, "4", True, [2]])
@pytest.mark.parametrize("transform", [dn.jacfwd, dn.grad, dn.hessian, dn.value_and_grad])
def test_invalid_chunk_sizes_are_refused(transform: Any, chunk_size: Any) -> None:
    with pytest.raises(ValueError, match="chunk_size must be a positive int or None"):
        transform(lambda x: np.sum(x ** 2), chunk_size=chunk_size)(np.ones(3))


@pytest.mark.parametrize("nbytes", [0, -1, 1.5, "1024", True])
def test_invalid_budgets_are_refused(nbytes: Any, budget: Any) -> None:
    with pytest.raises(ValueError, match="positive number of bytes"):
        budget(nbytes)


def test_none_restores_the_default_budget(budget: Any) -> None:
    budget(123)
    assert budget(None) == 123
    assert api.chunk_budget() == api.DEFAULT_CHUNK_BUDGET


# ---------------------------------------------------------------- the allocator


@pytest.mark.skipif(sys.platform != "linux" or platform.libc_ver()[0] != "glibc",
                    reason="page-fault counts of glibc's malloc")
def test_chunked_passes_do_not_page_fault() -> None:
    """After the import's primer, the temporaries of every pass come from the heap."""
    import resource  # POSIX only
    x = RNG.uniform(-1.0, 1.0, 100)
    hess = dn.hessian(rosenbrock)
    hess(x)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(3):
        hess(x)
    faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 3
    assert faults < 200, f"{faults:.0f} page faults per Hessian (about 8800 without the primer)"
