"""Coloring of sparsity patterns (dualnumpy.sparsity.coloring): validity, color counts on
the issue's problems, decompression against dense matrices, the dense-row warning, and the
pure-Python path against SciPy's C grouping."""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np
import pytest

pytest.importorskip("scipy", reason="coloring returns scipy.sparse matrices (dualnumpy[sparse])")

import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from problems import bratu, rosenbrock

from dualnumpy.sparsity import coloring as coloring_module
from dualnumpy.sparsity import hessian_sparsity, jacobian_sparsity
from dualnumpy.sparsity.coloring import (
    ORDERS,
    Coloring,
    SparsityWarning,
    color_columns,
    color_hessian,
    color_symmetric,
    decompress,
    decompress_hessian,
)
from dualnumpy.sparsity.patterns import Pattern

# ---------------------------------------------------------------- the problems of the issue






def laplacian_periodic(a: Any) -> Any:
    return np.roll(a, 1, 0) + np.roll(a, -1, 0) + np.roll(a, 1, 1) + np.roll(a, -1, 1) - 4 * a


def brusselator(x: Any) -> Any:
    """The 2-D Brusselator right-hand side, layout (N, N, 2): species interleaved per cell."""
    u, v = x[..., 0], x[..., 1]
    du = 1 + u * u * v - 4.4 * u + 3.4 * laplacian_periodic(u)
    dv = 3.4 * u - u * u * v + 3.4 * laplacian_periodic(v)
    return np.stack([du, dv], axis=-1)


def tridiagonal(n: int) -> Any:
    return sp.diags([np.ones(n - 1), np.ones(n), np.ones(n - 1)], [-1, 0, 1], format="csr").astype(bool)


# ---------------------------------------------------------------- properties


def assert_distance2(pattern: Any, colors: Any) -> None:
    """No two columns with a nonzero in the same row share a color."""
    csr = sp.csr_matrix(pattern)
    for i in range(csr.shape[0]):
        row = colors[csr.indices[csr.indptr[i]:csr.indptr[i + 1]]]
        assert len(set(row.tolist())) == len(row), f"row {i}: colors {row}"


def neighbors(pattern: Any) -> list[set[int]]:
    csr = sp.csr_matrix(pattern)
    csr = ((csr + csr.T) != 0).tocsr()
    return [set(csr.indices[csr.indptr[i]:csr.indptr[i + 1]].tolist()) - {i} for i in range(csr.shape[0])]


def assert_star(pattern: Any, colors: Any) -> None:
    """Adjacent vertices differ, and no path on four vertices has only two colors."""
    near = neighbors(pattern)
    for b, nb in enumerate(near):
        for c in nb:
            assert colors[b] != colors[c], f"adjacent {b}, {c} share color {colors[b]}"
            for a in nb - {c}:
                for d in near[c] - {a, b}:
                    assert not (colors[a] == colors[c] and colors[b] == colors[d]), \
                        f"two-colored path {a}-{b}-{c}-{d}"


def random_pattern(rng: np.random.Generator, m: int, n: int, density: float) -> Any:
    return rng.random((m, n)) < density


patterns = st.tuples(st.integers(1, 30), st.integers(1, 30), st.floats(0.0, 0.6),
                     st.integers(0, 2**32 - 1))


# ---------------------------------------------------------------- counts on the problems


@pytest.mark.parametrize("n", [50, 1000])
def test_bratu_takes_three_colors(n: int) -> None:
    pattern = jacobian_sparsity(bratu, np.zeros(n))
    c = color_columns(pattern)
    assert (c.count, c.lower_bound, c.symmetric, c.n) == (3, 3, False, n)
    assert c.order == "natural"  # meets the bound at once: no other order computed
    assert_distance2(pattern, c.colors)


def test_rosenbrock_hessian_takes_three_colors() -> None:
    pattern = hessian_sparsity(rosenbrock, np.zeros(100))
    c = color_hessian(pattern)
    assert (c.count, c.lower_bound, c.symmetric) == (3, 3, True)
    assert_star(pattern, c.colors)


def test_brusselator_takes_eight_colors() -> None:
    x = np.random.default_rng(0).random((32, 32, 2))
    pattern = jacobian_sparsity(brusselator, x)
    assert pattern.shape == (2048, 2048) and pattern.nnz == 2048 * 6
    c = color_columns(pattern)
    assert c.count == 8 and c.lower_bound == 6
    assert_distance2(pattern, c.colors)
    # the orders differ on this problem: keeping the best matters
    counts = {o: color_columns(pattern, orders=(o,)).count for o in ORDERS}
    assert min(counts.values()) == 8 and max(counts.values()) > 8


def test_arrowhead_hessian_takes_two_colors_where_columns_take_n() -> None:
    n = 60
    arrow = np.eye(n, dtype=bool)
    arrow[0] = arrow[:, 0] = True
    c = color_symmetric(arrow)
    assert c.count == 2 and c.method == "star"
    assert_star(arrow, c.colors)
    with pytest.warns(SparsityWarning):
        assert color_columns(arrow).count == n


def test_two_d_laplacian_hessian_is_star_colored() -> None:
    def energy(x: Any) -> Any:
        xp = np.pad(x, 1)
        return np.sum((xp[:-2, 1:-1] + xp[2:, 1:-1] + xp[1:-1, :-2] + xp[1:-1, 2:] - 4 * x) ** 2)

    # the squared stencil couples distance-2 neighbors: a 13-point Hessian pattern
    pattern = hessian_sparsity(energy, np.zeros((9, 9)))
    c = color_symmetric(pattern)
    assert_star(pattern, c.colors)
    assert c.count <= color_columns(pattern).count


# ---------------------------------------------------------------- validity on random patterns


@settings(max_examples=60, deadline=None)
@given(patterns)
def test_column_coloring_is_valid_and_decompresses_exactly(case: tuple[int, int, float, int]) -> None:
    m, n, density, seed = case
    rng = np.random.default_rng(seed)
    mask = random_pattern(rng, m, n, density)
    jac = np.where(mask, rng.standard_normal((m, n)), 0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SparsityWarning)
        for orders in [ORDERS, *((o,) for o in ORDERS)]:
            c = color_columns(mask, orders=orders)
            assert_distance2(mask, c.colors)
            assert c.lower_bound == mask.sum(axis=1).max() <= c.count <= n
            compressed = jac @ c.seeds().T
            got = decompress(mask, c, compressed)
            assert isinstance(got, sp.csr_matrix) and got.shape == (m, n)
            np.testing.assert_array_equal(got.toarray(), jac)
            assert got.nnz == mask.sum()
            got_t = decompress(sp.csc_matrix(mask), c, compressed.T.copy(), directions_first=True)
            np.testing.assert_array_equal(got_t.toarray(), jac)


@settings(max_examples=60, deadline=None)
@given(patterns)
def test_star_coloring_is_valid_and_decompresses_exactly(case: tuple[int, int, float, int]) -> None:
    _, n, density, seed = case
    rng = np.random.default_rng(seed)
    upper = np.triu(random_pattern(rng, n, n, density / 2))
    values = rng.standard_normal((n, n))
    for diagonal in (False, True):  # without a diagonal entry a vertex may share its color
        if diagonal:
            upper |= np.eye(n, dtype=bool)
        mask = upper | upper.T
        hess = np.where(mask, values + values.T, 0.0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SparsityWarning)
            for orders in [ORDERS, *((o,) for o in ORDERS)]:
                c = color_symmetric(mask, orders=orders)
                assert c.symmetric and c.lower_bound <= c.count
                if diagonal:
                    assert_star(mask, c.colors)
                got = decompress_hessian(upper, c, hess @ c.seeds().T)  # a triangle is enough
                np.testing.assert_array_equal(got.toarray(), hess)
                got_t = decompress_hessian(mask, c, c.seeds() @ hess, directions_first=True)
                np.testing.assert_array_equal(got_t.toarray(), hess)


@settings(max_examples=40, deadline=None)
@given(patterns)
def test_python_path_equals_scipy_grouping(case: tuple[int, int, float, int]) -> None:
    m, n, density, seed = case
    mask = random_pattern(np.random.default_rng(seed), m, n, density)
    s = coloring_module.as_structure(mask)
    for name in ORDERS:
        order = coloring_module._ORDER_FUNCTIONS[name](*coloring_module._conflict_graph(s))
        c_path = coloring_module.greedy_columns(s, order)
        python_path = coloring_module._greedy_columns_python(s, order)
        np.testing.assert_array_equal(c_path, python_path)


def test_fallback_without_scipy_grouping(monkeypatch: pytest.MonkeyPatch) -> None:
    x = np.random.default_rng(1).random((8, 8, 2))
    pattern = jacobian_sparsity(brusselator, x)
    fast = color_columns(pattern)
    monkeypatch.setattr(coloring_module, "_load_group_sparse", lambda: None)
    slow = color_columns(pattern)
    np.testing.assert_array_equal(slow.colors, fast.colors)
    assert (slow.count, slow.order) == (fast.count, fast.order)
    assert_distance2(pattern, slow.colors)


# ---------------------------------------------------------------- the warning


def test_dense_row_warns_and_says_why() -> None:
    n = 100
    arrow = sp.eye(n, format="lil", dtype=bool)
    arrow[0, :] = True
    with pytest.warns(SparsityWarning, match=r"dense row: row 0 has 100 of the 100 columns") as record:
        c = color_columns(arrow)
    message = str(record[0].message)
    assert "jacfwd" in message and "reverse mode" in message
    assert c.count == c.lower_bound == n
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        color_columns(arrow, warn=False)
        color_columns(tridiagonal(n))  # no warning where compression pays


def test_a_poor_coloring_is_reported_without_blaming_a_row() -> None:
    poor = Coloring(np.arange(40) % 30, 30, 3, "natural", False, 40)
    message = coloring_module.dense_message(poor, 0)
    assert message is not None and "needs 30 colors for 40 columns (lower bound 3)" in message
    assert "dense row" not in message
    assert coloring_module.dense_message(color_columns(tridiagonal(40))) is None


def test_no_column_graph_above_its_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    x = np.random.default_rng(4).random((8, 8, 2))
    pattern = jacobian_sparsity(brusselator, x)
    monkeypatch.setattr(coloring_module, "GRAPH_LIMIT", 10)
    monkeypatch.setattr(coloring_module, "_conflict_graph", None)  # must not be reached
    c = color_columns(pattern)
    assert c.order == "natural"
    assert_distance2(pattern, c.colors)


def test_dense_hessian_warns() -> None:
    with pytest.warns(SparsityWarning, match="dense block"):
        c = color_symmetric(np.ones((40, 40), dtype=bool))
    assert c.count == c.lower_bound == 40


# ---------------------------------------------------------------- inputs, the dataclass, errors


def test_pattern_inputs_agree() -> None:
    rng = np.random.default_rng(3)
    mask = random_pattern(rng, 12, 9, 0.3)
    rows, cols = np.nonzero(mask)
    with_duplicates = sp.coo_matrix((np.ones(2 * len(rows)), (np.r_[rows, rows], np.r_[cols, cols])),
                                    shape=mask.shape)
    stored_zero = sp.csr_matrix(mask.astype(float))
    stored_zero.data[0] = 0.0  # a stored zero is not an entry
    expected = mask.copy()
    expected[np.unravel_index(np.flatnonzero(mask)[0], mask.shape)] = False
    reference = color_columns(mask).colors
    for given_ in [mask.astype(int), sp.csr_matrix(mask), sp.csc_matrix(mask), with_duplicates,
                   Pattern(sp.csr_matrix(mask).indptr.astype(np.int64),
                           sp.csr_matrix(mask).indices.astype(np.int64), 9)]:
        np.testing.assert_array_equal(color_columns(given_).colors, reference)
    s = coloring_module.as_structure(stored_zero)
    np.testing.assert_array_equal(s.to_scipy().toarray(), expected)


def test_coloring_dataclass() -> None:
    c = color_columns(tridiagonal(7))
    assert c.colors.dtype == np.int64 and not c.colors.flags.writeable
    np.testing.assert_array_equal(c.seeds(), [[1, 0, 0, 1, 0, 0, 1], [0, 1, 0, 0, 1, 0, 0],
                                              [0, 0, 1, 0, 0, 1, 0]])
    assert c.seeds(np.float32).dtype == np.float32
    assert "3 colors for 7 columns" in repr(c)
    with pytest.raises(AttributeError):
        c.count = 2  # type: ignore[misc]
    mine = np.array([0, 1, 0])
    made = Coloring(mine, 2, 2, "natural", False, 3)
    mine[0] = 1
    assert made.colors[0] == 0  # a copy
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        Coloring(np.array([0, 1]), 2, 2, "natural", False, 3)
    with pytest.raises(ValueError, match=r"0\.\.1"):
        Coloring(np.array([0, 1, 2]), 2, 2, "natural", False, 3)


def test_errors_name_the_problem() -> None:
    pattern = tridiagonal(5)
    c = color_columns(pattern)
    with pytest.raises(ValueError, match=r"shape \(5, 2\); this pattern and coloring give \(5, 3\)"):
        decompress(pattern, c, np.zeros((5, 2)))
    bad = Coloring(np.zeros(5, dtype=np.int64), 1, 3, "natural", False, 5)
    with pytest.raises(ValueError, match=r"does not separate 13 entries.*\(0, 1\)"):
        decompress(pattern, bad, np.zeros((5, 1)))
    with pytest.raises(ValueError, match="coloring is of 5 columns but the pattern has 4"):
        decompress(np.ones((5, 4)), c, np.zeros((5, 3)))
    with pytest.raises(ValueError, match="unknown vertex order"):
        color_columns(pattern, orders=("random",))
    with pytest.raises(ValueError, match="2-D"):
        color_columns(np.ones(3))
    with pytest.raises(ValueError, match="square"):
        color_symmetric(np.ones((3, 4)))
    with pytest.raises(ValueError, match="symmetric coloring"):
        decompress_hessian(pattern, c, np.zeros((5, 3)))


def test_empty_and_degenerate_patterns() -> None:
    c = color_columns(np.zeros((4, 6), dtype=bool))
    assert c.count == 1 and c.lower_bound == 0
    assert decompress(np.zeros((4, 6)), c, np.zeros((4, 1))).nnz == 0
    c = color_symmetric(np.eye(5, dtype=bool))
    assert (c.count, c.lower_bound) == (1, 1)
    np.testing.assert_array_equal(decompress_hessian(np.eye(5), c, np.arange(5.0)[:, None]).toarray(),
                                  np.diag(np.arange(5.0)))
    c = color_columns(np.zeros((3, 0), dtype=bool))
    assert c.count == 0 and c.seeds().shape == (0, 0)


def test_large_orders_skip_above_the_sequential_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    x = np.random.default_rng(2).random((16, 16, 2))
    pattern = jacobian_sparsity(brusselator, x)
    monkeypatch.setattr(coloring_module, "SEQUENTIAL_LIMIT", 0)
    c = color_columns(pattern)
    assert c.order in ("natural", "largest_first")
    assert_distance2(pattern, c.colors)
    assert color_columns(pattern, orders=("smallest_last",)).order == "natural"  # skipped: too large
    assert color_symmetric(pattern[:, :512].T @ pattern[:, :512], orders=("incidence_degree",)).order == "natural"
    monkeypatch.setattr(coloring_module, "_star_greedy", None)  # must not be reached
    assert_star(np.eye(30) + np.eye(30, k=1) + np.eye(30, k=-1),
                color_symmetric(sp.diags([1.0, 1.0, 1.0], [-1, 0, 1], shape=(30, 30))).colors)


def test_star_orders_follow_their_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    arrow = np.eye(50, dtype=bool)
    arrow[0] = arrow[:, 0] = True
    monkeypatch.setattr(coloring_module, "SEQUENTIAL_LIMIT", 0)
    c = color_symmetric(arrow)
    assert (c.count, c.method, c.order) == (2, "star", "natural")
    monkeypatch.setattr(coloring_module, "STAR_LIMIT", 0)
    with pytest.warns(SparsityWarning):
        c = color_symmetric(arrow)
    assert (c.count, c.method) == (50, "distance-2")


def test_a_million_columns_color_and_decompress_quickly() -> None:
    n = 10**6
    pattern = tridiagonal(n)
    color_columns(tridiagonal(10))  # imports done
    start = time.perf_counter()
    c = color_columns(pattern)
    jac = decompress(pattern, c, np.ones((3, n)), directions_first=True)
    elapsed = time.perf_counter() - start
    assert c.count == 3 and jac.nnz == 3 * n - 2
    assert elapsed < 2.0, f"{elapsed:.2f} s (about 0.1 s expected): something went quadratic"
    h = color_symmetric(pattern)
    assert h.count == 3 and h.method == "distance-2"


# ---------------------------------------------------------------- the vertex orders


def _graph(mask: Any) -> tuple[Any, Any]:
    return coloring_module._conflict_graph(coloring_module.as_structure(mask))


@settings(max_examples=40, deadline=None)
@given(patterns)
def test_orders_are_what_they_say(case: tuple[int, int, float, int]) -> None:
    m, n, density, seed = case
    ptr, idx = _graph(random_pattern(np.random.default_rng(seed), m, n, density))
    near = [set(idx[ptr[v]:ptr[v + 1]].tolist()) for v in range(n)]
    degree = np.diff(ptr)
    for name in ORDERS:
        order = coloring_module._ORDER_FUNCTIONS[name](ptr, idx)
        assert sorted(order.tolist()) == list(range(n)), name
    largest = coloring_module._largest_first(ptr, idx)
    assert np.all(np.diff(degree[largest]) <= 0)
    # smallest last: read backwards, each vertex has the least degree among those left
    left = set(range(n))
    for v in coloring_module._smallest_last(ptr, idx)[::-1].tolist():
        degrees = {u: len(near[u] & left) for u in left}
        assert degrees[v] == min(degrees.values())
        left.remove(v)
    # incidence degree: each vertex has the most neighbours among those already taken
    taken: set[int] = set()
    for v in coloring_module._incidence_degree(ptr, idx).tolist():
        counts = {u: len(near[u] & taken) for u in set(range(n)) - taken}
        assert counts[v] == max(counts.values())
        taken.add(v)
