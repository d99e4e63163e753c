"""Coloring of sparsity patterns, and the decompression of a compressed Jacobian or Hessian.

Columns of a Jacobian pattern that share no row can be seeded by one direction together:
``J @ s`` with ``s`` the sum of their basis vectors holds each of their entries alone in
its row. A *coloring* gives every column a color so that no two columns of one row share
a color (a partial distance-2 coloring of the column-row graph); one forward pass per
color, then every entry ``J[i, j]`` is read back from the compressed result at row ``i``,
column ``color[j]``. The fewest colors any coloring can use is at least the most
nonzeros in a row (``lower_bound``); greedy coloring in a good vertex order reaches it
on stencils and banded patterns.

A symmetric (Hessian) pattern needs less: a *star* coloring (adjacent vertices differ and
every path on four vertices uses at least three colors) still lets every entry be read
directly, from ``(i, color[j])`` or, by symmetry, ``(j, color[i])``. An arrowhead Hessian
takes two colors this way where column coloring takes ``n``.

Speed: patterns, graphs, orders and decompression are whole-array NumPy; the greedy
column grouping is SciPy's C routine (``scipy.optimize._group_columns``, behind
``approx_derivative(sparsity=)``) when it can be imported, with a pure-Python loop of the
same result otherwise. The smallest-last and incidence-degree orders and star coloring
are Python loops over vertices, run only below size limits (``SEQUENTIAL_LIMIT``,
``STAR_LIMIT``), and nothing beyond the natural order runs once it meets the lower bound
(a tridiagonal pattern of 10**6 columns colors in tens of milliseconds).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dualnumpy.sparsity.patterns import Pattern, scipy_sparse

IntArray = np.ndarray[Any, np.dtype[np.int64]]

#: The vertex orders tried by greedy coloring, in order of preference on ties.
ORDERS = ("natural", "largest_first", "smallest_last", "incidence_degree")
#: The orders computed with a Python loop over vertices (smallest last, incidence degree)
#: and star coloring run on graphs of at most this many edges; above it only the natural
#: and largest-first orders are tried (both whole-array).
SEQUENTIAL_LIMIT = 200_000
#: Star coloring (a Python loop too, about 1 s a million edges) runs in the natural and
#: largest-first orders on graphs of at most this many edges, in the others up to
#: ``SEQUENTIAL_LIMIT``.
STAR_LIMIT = 1_000_000
#: Orders other than natural need the graph of columns sharing a row (``A^T A``); it is
#: formed only when its size, bounded by the sum of squared row lengths, is at most this.
GRAPH_LIMIT = 1 << 25
#: A coloring needing more than this fraction of the columns saves (almost) nothing over
#: dense evaluation: warned about, with the reason, from this many columns on.
DENSE_FRACTION = 0.5
WARN_MIN_COLUMNS = 32

class SparsityWarning(UserWarning):
    """Compressed evaluation will not pay off for this pattern (a dense row or block)."""


def require_scipy(name: str) -> Any:
    """``scipy.sparse``, or an ImportError that names the optional extra."""
    return scipy_sparse(f"{name}'s result")


def _load_group_sparse() -> Callable[..., Any] | None:
    """SciPy's C greedy column grouping, or None (a SciPy without the private module)."""
    try:
        from scipy.optimize._group_columns import group_sparse
    except ImportError:
        return None
    grouping: Callable[..., Any] = group_sparse
    return grouping


# ---------------------------------------------------------------- the coloring


@dataclass(frozen=True, eq=False)
class Coloring:
    """A coloring of the ``n`` columns of a sparsity pattern.

    Attributes
    ----------
    colors : ndarray of int64, shape ``(n,)``
        The color of each column, from 0 to ``count - 1`` (read-only).
    count : int
        The number of colors: the number of directions of a compressed evaluation.
    lower_bound : int
        No coloring of this kind uses fewer colors. For columns, the most nonzeros in a
        row; for symmetric recovery, the size of a clique found greedily among the
        vertices with a diagonal entry, and 3 when a path on four of them exists.
    order : str
        The vertex order of the greedy coloring kept (one of ``ORDERS``).
    symmetric : bool
        A coloring of a symmetric pattern for direct symmetric recovery (star or
        distance-2), read back by :func:`decompress_hessian`.
    n : int
        The number of columns.
    method : str
        ``"distance-2"`` (no two columns of a row share a color) or ``"star"``.
    """

    colors: IntArray
    count: int
    lower_bound: int
    order: str
    symmetric: bool
    n: int
    method: str = "distance-2"

    def __post_init__(self) -> None:
        colors = np.asarray(self.colors)
        if colors.shape != (self.n,) or colors.dtype.kind not in "iu":
            raise ValueError(f"Coloring: colors must be an int array of shape ({self.n},); got "
                             f"{colors.dtype} of shape {colors.shape}")
        if self.n and (int(colors.min()) < 0 or int(colors.max()) >= self.count):
            raise ValueError(f"Coloring: colors must lie in 0..{self.count - 1}; got "
                             f"{int(colors.min())}..{int(colors.max())}")
        colors = colors.astype(np.int64)  # always a copy: the caller's array stays theirs
        colors.setflags(write=False)
        object.__setattr__(self, "colors", colors)

    def seeds(self, dtype: Any = np.float64) -> np.ndarray[Any, Any]:
        """The ``(count, n)`` seed matrix: row ``c`` is the sum of the basis vectors of the
        columns of color ``c``.

        Examples
        --------
        >>> import numpy as np
        >>> from dualnumpy.sparsity.coloring import color_columns
        >>> color_columns(np.eye(4, k=1) + np.eye(4)).seeds()
        array([[1., 0., 1., 0.],
               [0., 1., 0., 1.]])
        """
        seeds = np.zeros((self.count, self.n), dtype=dtype)
        seeds[self.colors, np.arange(self.n)] = 1
        return seeds

    def __repr__(self) -> str:
        return (f"Coloring({self.count} colors for {self.n} columns, lower bound "
                f"{self.lower_bound}, {self.method} in {self.order} order)")


# ---------------------------------------------------------------- patterns in


class Structure:
    """A pattern in canonical CSR form (rows sorted, no duplicates) with its transpose on
    demand: what every function here reads, whatever it was given."""

    __slots__ = ("_csc", "indices", "indptr", "m", "n")

    def __init__(self, m: int, n: int, indptr: IntArray, indices: IntArray) -> None:
        self.m, self.n = m, n
        self.indptr, self.indices = indptr, indices
        self._csc: tuple[IntArray, IntArray] | None = None

    @property
    def nnz(self) -> int:
        return int(self.indptr[-1])

    def rows(self) -> IntArray:
        """The row of every entry."""
        return np.repeat(np.arange(self.m, dtype=np.int64), np.diff(self.indptr))

    def csc(self) -> tuple[IntArray, IntArray]:
        """``(indptr, indices)`` by columns, rows sorted within each column."""
        if self._csc is None:
            sparse = require_scipy("coloring")
            data = np.ones(self.nnz, dtype=np.int8)
            t = sparse.csr_matrix((data, self.indices, self.indptr), shape=(self.m, self.n)).tocsc()
            t.sort_indices()
            self._csc = (t.indptr, t.indices)  # one index dtype, int32 when it fits
        return self._csc

    def to_scipy(self) -> Any:
        sparse = require_scipy("coloring")
        return sparse.csr_matrix((np.ones(self.nnz, dtype=bool), self.indices.copy(),
                                  self.indptr.copy()), shape=(self.m, self.n))


def as_structure(pattern: Any, name: str = "coloring") -> Structure:
    """A 2-D pattern as given (a scipy.sparse matrix or array, a dense array of booleans or
    numbers, a ``Pattern``) in canonical form; stored zeros are not entries."""
    if isinstance(pattern, Structure):
        return pattern
    if isinstance(pattern, Pattern):
        return Structure(pattern.m, pattern.n, pattern.indptr, pattern.indices)
    sparse = require_scipy(name)
    if sparse.issparse(pattern):
        if pattern.ndim != 2:
            raise ValueError(f"{name}: the sparsity pattern must be 2-D; got shape {pattern.shape}")
        m, n = (int(s) for s in pattern.shape)
        if pattern.format == "csr" and pattern.has_canonical_format and (
                pattern.dtype == bool or np.all(pattern.data != 0)):
            return Structure(m, n, pattern.indptr.astype(np.int64), pattern.indices.astype(np.int64))
        coo = pattern.tocoo()
        keep = coo.data != 0
        rows, cols = coo.row[keep].astype(np.int64), coo.col[keep].astype(np.int64)
    else:
        dense = np.asarray(pattern)
        if dense.ndim != 2:
            raise ValueError(f"{name}: the sparsity pattern must be 2-D; got shape {dense.shape}")
        if dense.dtype.kind not in "biufc":
            raise TypeError(f"{name}: a sparsity pattern of dtype {dense.dtype}; pass booleans")
        m, n = dense.shape
        rows, cols = (np.asarray(a, dtype=np.int64) for a in np.nonzero(dense))
        return _from_sorted(m, n, rows, cols)
    keys = np.unique(rows * n + cols)  # sorted row-major, duplicates summed away
    return _from_sorted(m, n, keys // max(n, 1), keys % max(n, 1))


def _from_sorted(m: int, n: int, rows: IntArray, cols: IntArray) -> Structure:
    indptr = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=m), out=indptr[1:])
    return Structure(m, n, indptr, cols)


def symmetrized(s: Structure, name: str) -> Structure:
    """The union of a square pattern with its transpose (an upper triangle is enough)."""
    if s.m != s.n:
        raise ValueError(f"{name}: a Hessian pattern must be square; got shape ({s.m}, {s.n})")
    cptr, cind = s.csc()
    if np.array_equal(cptr, s.indptr) and np.array_equal(cind, s.indices):
        return s
    rows, cols = s.rows(), s.indices
    t_rows = np.repeat(np.arange(s.n, dtype=np.int64), np.diff(cptr))
    keys = np.unique(np.concatenate([rows * s.n + cols, t_rows * s.n + cind]))
    return _from_sorted(s.n, s.n, keys // s.n, keys % s.n)


# ---------------------------------------------------------------- graphs and orders


def _conflict_graph(s: Structure) -> tuple[IntArray, IntArray]:
    """CSR adjacency (no self loops) of the columns that share a row: ``A^T A``."""
    sparse = require_scipy("coloring")
    a = sparse.csr_matrix((np.ones(s.nnz, dtype=np.int32), s.indices, s.indptr), shape=(s.m, s.n))
    g = (a.T.tocsr() @ a).tocsr()
    g.setdiag(0)
    g.eliminate_zeros()
    g.sort_indices()
    return g.indptr.astype(np.int64), g.indices.astype(np.int64)


def _graph_size(s: Structure) -> int:
    """An upper bound on the entries of ``A^T A``: each row of length r adds r**2."""
    lengths = np.diff(s.indptr)
    return int(np.dot(lengths, lengths))


def _adjacency(s: Structure) -> tuple[IntArray, IntArray]:
    """CSR adjacency of a symmetric pattern, its diagonal dropped."""
    rows = s.rows()
    keep = rows != s.indices
    return _from_sorted(s.n, s.n, rows[keep], s.indices[keep]).indptr, s.indices[keep]


def _natural(ptr: IntArray, idx: IntArray) -> IntArray:
    return np.arange(len(ptr) - 1, dtype=np.int64)


def _largest_first(ptr: IntArray, idx: IntArray) -> IntArray:
    return np.argsort(-np.diff(ptr), kind="stable").astype(np.int64)


def _smallest_last(ptr: IntArray, idx: IntArray) -> IntArray:
    """Repeatedly remove a vertex of least remaining degree; color in reverse removal order.
    Buckets with lazy deletion (a vertex is pushed again when its degree drops)."""
    n = len(ptr) - 1
    deg = np.diff(ptr).tolist()
    nbrs, starts = idx.tolist(), ptr.tolist()
    buckets: list[list[int]] = [[] for _ in range(max(deg, default=0) + 1)]
    for v in range(n - 1, -1, -1):
        buckets[deg[v]].append(v)
    removed = [False] * n
    order: list[int] = []
    d = 0
    while len(order) < n:
        while not buckets[d]:
            d += 1
        v = buckets[d].pop()
        if removed[v] or deg[v] != d:
            continue
        removed[v] = True
        order.append(v)
        for u in nbrs[starts[v]:starts[v + 1]]:
            if not removed[u]:
                deg[u] -= 1
                buckets[deg[u]].append(u)
        d = max(d - 1, 0)
    order.reverse()
    return np.array(order, dtype=np.int64)


def _incidence_degree(ptr: IntArray, idx: IntArray) -> IntArray:
    """Repeatedly take the vertex with the most neighbors already taken (ties: the larger
    degree first)."""
    n = len(ptr) - 1
    nbrs, starts = idx.tolist(), ptr.tolist()
    inc = [0] * n
    buckets: list[list[int]] = [[] for _ in range(int(np.diff(ptr).max(initial=0)) + 1)]
    buckets[0] = np.argsort(np.diff(ptr), kind="stable").tolist()  # pop() takes the largest
    taken = [False] * n
    order: list[int] = []
    d = 0
    while len(order) < n:
        while not buckets[d]:
            d -= 1
        v = buckets[d].pop()
        if taken[v] or inc[v] != d:
            continue
        taken[v] = True
        order.append(v)
        for u in nbrs[starts[v]:starts[v + 1]]:
            if not taken[u]:
                inc[u] += 1
                buckets[inc[u]].append(u)
                d = max(d, inc[u])
    return np.array(order, dtype=np.int64)


_ORDER_FUNCTIONS: dict[str, Callable[[IntArray, IntArray], IntArray]] = {
    "natural": _natural, "largest_first": _largest_first,
    "smallest_last": _smallest_last, "incidence_degree": _incidence_degree,
}
_WHOLE_ARRAY_ORDERS = ("natural", "largest_first")


def _check_orders(orders: Sequence[str], name: str) -> tuple[str, ...]:
    if isinstance(orders, str):
        orders = (orders,)
    unknown = [o for o in orders if o not in _ORDER_FUNCTIONS]
    if unknown or not orders:
        raise ValueError(f"{name}: unknown vertex order(s) {unknown or list(orders)}; choose from {ORDERS}")
    return tuple(orders)


# ---------------------------------------------------------------- greedy column coloring


def greedy_columns(s: Structure, order: IntArray) -> IntArray:
    """First-fit distance-2 coloring of the columns taken in ``order``: each column gets
    the smallest color that no column sharing a row with it has yet."""
    if s.n == 0:
        return np.zeros(0, dtype=np.int64)
    cptr, cind = s.csc()
    group_sparse = _load_group_sparse()
    if group_sparse is None:
        return _greedy_columns_python(s, order)
    if order[0] == 0 and np.array_equal(order, np.arange(s.n)):
        ptr, rows = cptr, cind
    else:  # the columns permuted into the order
        lengths = np.diff(cptr)[order]
        ptr = np.zeros(s.n + 1, dtype=cptr.dtype)
        np.cumsum(lengths, out=ptr[1:])
        rows = cind[np.repeat(cptr[:-1][order] - ptr[:-1], lengths) + np.arange(ptr[-1], dtype=cptr.dtype)]
    # SciPy's grouping forms one group at a time over the columns in order, which is
    # the sequential first-fit coloring in that order (the same colors, column by column)
    groups = np.asarray(group_sparse(s.m, s.n, rows, ptr), dtype=np.int64)
    colors = np.empty(s.n, dtype=np.int64)
    colors[order] = groups
    return colors


def _greedy_columns_python(s: Structure, order: IntArray) -> IntArray:
    """The same first-fit coloring as SciPy's C grouping, one column at a time."""
    cptr, cind = s.csc()
    col_ptr, col_rows = cptr.tolist(), cind.tolist()
    row_ptr, row_cols = s.indptr.tolist(), s.indices.tolist()
    color = [-1] * s.n
    stamp = [-1] * (s.n + 1)  # stamp[c] == v: color c is taken in a row of column v
    for v in order.tolist():
        for r in col_rows[col_ptr[v]:col_ptr[v + 1]]:
            for u in row_cols[row_ptr[r]:row_ptr[r + 1]]:
                c = color[u]
                if c >= 0:
                    stamp[c] = v
        c = 0
        while stamp[c] == v:
            c += 1
        color[v] = c
    return np.array(color, dtype=np.int64)


def _row_lower_bound(s: Structure) -> tuple[int, int]:
    """The most nonzeros in a row, and that row."""
    if s.m == 0:
        return 0, 0
    lengths = np.diff(s.indptr)
    row = int(np.argmax(lengths))
    return int(lengths[row]), row


def color_columns(pattern: Any, *, orders: Sequence[str] = ORDERS, warn: bool = True) -> Coloring:
    """Color the columns of a Jacobian pattern for compressed forward evaluation.

    Greedy partial distance-2 coloring (no two columns with a nonzero in the same row share
    a color) in each vertex order of ``orders``, keeping the one with the fewest colors
    (the earlier order on ties). It stops as soon as an order meets the lower bound, the
    most nonzeros in a row. Orders but natural need the graph of columns sharing a row,
    formed only up to ``GRAPH_LIMIT`` entries; ``smallest_last`` and ``incidence_degree``
    (Python loops) run only on graphs of at most ``SEQUENTIAL_LIMIT`` edges.

    Parameters
    ----------
    pattern : scipy.sparse matrix, ndarray or Pattern, shape ``(m, n)``
        Nonzero entries are the structural nonzeros of the Jacobian.
    orders : sequence of str
        Vertex orders to try, from ``ORDERS``.
    warn : bool
        Emit a :class:`SparsityWarning` when a dense row makes compression useless.

    Returns
    -------
    Coloring

    Examples
    --------
    >>> import numpy as np
    >>> from dualnumpy.sparsity.coloring import color_columns
    >>> tridiagonal = np.eye(6) + np.eye(6, k=1) + np.eye(6, k=-1)
    >>> c = color_columns(tridiagonal)
    >>> c.count, c.lower_bound, c.colors
    (3, 3, array([0, 1, 2, 0, 1, 2]))
    """
    orders = _check_orders(orders, "color_columns")
    s = as_structure(pattern, "color_columns")
    bound, row = _row_lower_bound(s)
    best: Coloring | None = None
    graph: tuple[IntArray, IntArray] | None = None
    for name in orders:
        if name == "natural":
            order = np.arange(s.n, dtype=np.int64)
        else:
            if graph is None and _graph_size(s) > GRAPH_LIMIT:
                continue
            if graph is None:
                graph = _conflict_graph(s)
            if name not in _WHOLE_ARRAY_ORDERS and len(graph[1]) > SEQUENTIAL_LIMIT:
                continue
            order = _ORDER_FUNCTIONS[name](*graph)
        colors = greedy_columns(s, order)
        count = int(colors.max()) + 1 if s.n else 0
        if best is None or count < best.count:
            best = Coloring(colors, count, bound, name, False, s.n)
        if best.count <= bound:
            break
    if best is None:  # only sequential orders asked for, on a large graph
        colors = greedy_columns(s, np.arange(s.n, dtype=np.int64))
        best = Coloring(colors, int(colors.max()) + 1 if s.n else 0, bound, "natural", False, s.n)
    if warn:
        message = dense_message(best, row)
        if message:
            warnings.warn(message, SparsityWarning, stacklevel=2)
    return best


def dense_message(coloring: Coloring, row: int | None = None) -> str | None:
    """Why compression does not pay off for this coloring, or None when it does."""
    n, count = coloring.n, coloring.count
    if n < WARN_MIN_COLUMNS or count <= DENSE_FRACTION * n:
        return None
    if coloring.symmetric:
        return (f"the Hessian pattern needs {count} colors for its {n} columns (a dense block "
                f"of at least {coloring.lower_bound} coupled inputs): a compressed Hessian "
                f"costs about as much as the dense one. Use dualnumpy.hessian")
    if coloring.lower_bound <= DENSE_FRACTION * n:
        return (f"the coloring needs {count} colors for {n} columns (lower bound "
                f"{coloring.lower_bound}): compressed evaluation saves little over dense "
                f"jacfwd. Use dualnumpy.jacfwd")
    where = f"row {row} has" if row is not None else "a row has"
    return (f"the Jacobian pattern has a dense row: {where} {coloring.lower_bound} of the "
            f"{n} columns, so every coloring needs at least {coloring.lower_bound} colors "
            f"({count} found) and compressed evaluation costs about as much as dense jacfwd "
            f"({n} directions). Use dualnumpy.jacfwd, or reverse mode for the dense rows "
            f"(one vector-Jacobian product a row) and compression for the rest")


# ---------------------------------------------------------------- star coloring


def _star_greedy(ptr: IntArray, idx: IntArray, order: IntArray) -> IntArray:
    """Greedy star coloring (Gebremedhin, Manne and Pothen, SIAM Review 47, 2005, Alg. 4.1).

    Coloring ``v`` last in a path on four vertices may close a two-colored path only as
    an end ``v-w-x-y``: ``v`` must not take ``x``'s color when ``w`` and ``y`` share one.
    The case of ``v`` inside the path cannot arise, because two vertices with a common
    neighbor still uncolored are kept apart (the distance-2 rule for an uncolored ``w``).
    """
    n = len(ptr) - 1
    starts, flat = ptr.tolist(), idx.tolist()
    nbrs = [flat[starts[v]:starts[v + 1]] for v in range(n)]
    color = [-1] * n
    stamp = [-1] * (n + 1)
    for v in order.tolist():
        near = nbrs[v]
        for w in near:
            if color[w] >= 0:
                stamp[color[w]] = v
        for w in near:
            cw = color[w]
            for x in nbrs[w]:
                cx = color[x]
                if x == v or cx < 0:
                    continue
                if cw < 0:
                    stamp[cx] = v
                elif stamp[cx] != v:
                    for y in nbrs[x]:
                        if y != w and color[y] == cw:
                            stamp[cx] = v
                            break
        c = 0
        while stamp[c] == v:
            c += 1
        color[v] = c
    return np.array(color, dtype=np.int64)


def _star_lower_bound(s: Structure) -> int:
    """A lower bound for direct symmetric recovery, from the vertices with a diagonal entry:
    each of them must differ in color from all its neighbors (its diagonal entry is read
    alone in its row), and a path on four of them needs three colors (two would leave the
    middle entry unreadable). So: a clique among them found greedily from a vertex of
    largest degree, and 3 as soon as an edge joins two of degree 2 or more."""
    if s.nnz == 0:
        return 0
    rows = s.rows()
    diagonal = np.zeros(s.n, dtype=bool)
    diagonal[rows[rows == s.indices]] = True
    keep = (rows != s.indices) & diagonal[rows] & diagonal[s.indices]
    if not keep.any():
        return 1
    rows, idx = rows[keep], s.indices[keep]
    ptr = _from_sorted(s.n, s.n, rows, idx).indptr
    deg = np.diff(ptr)
    bound = 3 if bool(np.any((deg[rows] >= 2) & (deg[idx] >= 2))) else 2
    start = int(np.argmax(deg))
    candidates = idx[ptr[start]:ptr[start + 1]]
    candidates = candidates[np.argsort(-deg[candidates], kind="stable")][:256]
    clique = [start]
    for u in candidates.tolist():
        if np.all(np.isin(clique, idx[ptr[u]:ptr[u + 1]])):
            clique.append(u)
    return max(bound, len(clique))


def color_symmetric(pattern: Any, *, orders: Sequence[str] = ORDERS, warn: bool = True) -> Coloring:
    """Color a symmetric (Hessian) pattern for direct symmetric recovery.

    A distance-2 coloring (SciPy's C grouping) is tried first: it is a star coloring and
    meets the lower bound on banded patterns. Otherwise greedy star coloring in each of
    ``orders`` (up to ``STAR_LIMIT`` edges in the natural and largest-first orders, up to
    ``SEQUENTIAL_LIMIT`` in the others), keeping the fewest colors.
    A pattern that is not symmetric is united with its transpose, so a triangle is enough.

    Examples
    --------
    >>> import numpy as np
    >>> from dualnumpy.sparsity.coloring import color_symmetric
    >>> arrow = np.eye(40, dtype=bool); arrow[0] = arrow[:, 0] = True
    >>> color_symmetric(arrow).count  # column coloring would need 40
    2
    """
    orders = _check_orders(orders, "color_symmetric")
    s = symmetrized(as_structure(pattern, "color_symmetric"), "color_symmetric")
    ptr, idx = _adjacency(s)
    bound = _star_lower_bound(s)
    best: Coloring | None = None
    for name in orders:  # distance-2 colorings: a pass of C each
        if name not in _WHOLE_ARRAY_ORDERS and len(idx) > SEQUENTIAL_LIMIT:
            continue
        colors = greedy_columns(s, _ORDER_FUNCTIONS[name](ptr, idx))
        count = int(colors.max()) + 1 if s.n else 0
        if best is None or count < best.count:
            best = Coloring(colors, count, bound, name, True, s.n, "distance-2")
        if best.count <= bound:
            break
    if best is None:  # only sequential orders asked for, on a large graph
        colors = greedy_columns(s, np.arange(s.n, dtype=np.int64))
        best = Coloring(colors, int(colors.max()) + 1 if s.n else 0, bound, "natural", True, s.n)
    assert best is not None
    for name in orders:
        if best.count <= bound or len(idx) > (STAR_LIMIT if name in _WHOLE_ARRAY_ORDERS
                                              else SEQUENTIAL_LIMIT):
            continue
        colors = _star_greedy(ptr, idx, _ORDER_FUNCTIONS[name](ptr, idx))
        count = int(colors.max()) + 1 if s.n else 0
        if count < best.count:
            best = Coloring(colors, count, bound, name, True, s.n, "star")
    if warn:
        message = dense_message(best)
        if message:
            warnings.warn(message, SparsityWarning, stacklevel=2)
    return best


color_hessian = color_symmetric


# ---------------------------------------------------------------- decompression


def _pair_counts(keys: IntArray, size: int) -> IntArray:
    """How often each key occurs, at every position of ``keys``."""
    if size <= max(8 * len(keys), 1 << 16):
        return np.bincount(keys, minlength=size)[keys]
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    return counts[inverse]


class Decompression:
    """Where each entry of a pattern is found in a compressed result, computed once: each
    decompression is then one gather into the ``data`` of a prebuilt CSR structure.

    ``compressed`` is ``(m, count)`` (``J @ seeds.T``), or ``(count, m)`` with
    ``directions_first`` (a batched JVP's tangent, one direction a row). ``verified``
    skips the check that the coloring separates the pattern's entries, for a distance-2
    coloring made from this very pattern.
    """

    __slots__ = ("count", "directions_first", "indices", "indptr", "shape", "sources")

    def __init__(self, pattern: Any, coloring: Coloring, *, directions_first: bool = False,
                 name: str = "decompress", verified: bool = False) -> None:
        s = as_structure(pattern, name)
        if coloring.symmetric:
            s = symmetrized(s, name)
        if s.n != coloring.n:
            raise ValueError(f"{name}: the coloring is of {coloring.n} columns but the pattern "
                             f"has {s.n} (shape ({s.m}, {s.n}))")
        rows, cols, colors = s.rows(), s.indices, coloring.colors
        count = max(coloring.count, 1)
        if verified and coloring.method == "distance-2":  # made for this pattern: valid
            alone = np.ones(s.nnz, dtype=bool)
        else:
            alone = _pair_counts(rows * count + colors[cols], s.m * count) == 1
        if coloring.symmetric:
            # entry (i, j) is also (j, i): read it from row j, color of i, when alone there;
            # and (j, i) from the same place as (i, j), so the result is exactly symmetric
            mirror = _mirror(s)
            bad = ~alone & ~alone[mirror]
            source_rows = np.where(alone, rows, cols)
            source_colors = np.where(alone, colors[cols], colors[rows])
            lower = rows > cols
            source_rows[lower] = source_rows[mirror[lower]]
            source_colors[lower] = source_colors[mirror[lower]]
        else:
            bad = ~alone
            source_rows, source_colors = rows, colors[cols]
        if bad.any():
            where = np.flatnonzero(bad)
            first = ", ".join(f"({rows[e]}, {cols[e]})" for e in where[:5])
            raise ValueError(f"{name}: the coloring does not separate {len(where)} entries of the "
                             f"pattern (first {first}): two columns of one row share a color. "
                             f"Color this very pattern with color_columns / color_symmetric")
        m = s.m
        if directions_first:
            sources = source_colors * m + source_rows
        else:
            sources = source_rows * count + source_colors
        # the CSR structure in SciPy's own index dtype, int32 when it fits (no conversion)
        index = np.int32 if max(s.nnz, m + 1, s.n) < np.iinfo(np.int32).max else np.int64
        self.sources = sources.astype(np.intp)  # NumPy gathers with intp; int32 would be cast
        self.indices, self.indptr = cols.astype(index), s.indptr.astype(index)
        self.shape = (m, s.n)
        self.count, self.directions_first = coloring.count, directions_first

    def __call__(self, compressed: Any, name: str = "decompress") -> Any:
        sparse = require_scipy(name)
        compressed = np.asarray(compressed)
        m, count = self.shape[0], self.count
        expected = (count, m) if self.directions_first else (m, count)
        if compressed.shape != expected:
            raise ValueError(f"{name}: the compressed result has shape {compressed.shape}; this "
                             f"pattern and coloring give {expected}"
                             + (" (directions first)" if self.directions_first else ""))
        data = np.take(compressed.reshape(-1), self.sources)
        return sparse.csr_matrix((data, self.indices.copy(), self.indptr.copy()), shape=self.shape)


def _mirror(s: Structure) -> IntArray:
    """For a symmetric pattern, the position of entry (j, i) for each entry (i, j): the
    entries listed by column (stably, so rows ascend within a column) are, transposed,
    the entries in row order."""
    by_column = np.argsort(s.indices, kind="stable")
    mirror = np.empty(s.nnz, dtype=np.int64)
    mirror[by_column] = np.arange(s.nnz, dtype=np.int64)
    return mirror


def decompress(pattern: Any, coloring: Coloring, compressed: Any, *,
               directions_first: bool = False) -> Any:
    """The sparse Jacobian from a compressed one, ``compressed = J @ coloring.seeds().T``.

    Parameters
    ----------
    pattern : scipy.sparse matrix or ndarray, shape ``(m, n)``
    coloring : Coloring
        Of ``pattern``'s columns (:func:`color_columns`).
    compressed : ndarray, shape ``(m, count)``, or ``(count, m)`` with ``directions_first``
    directions_first : bool
        The compressed result has one direction a row (a batched JVP's tangent).

    Returns
    -------
    scipy.sparse.csr_matrix, shape ``(m, n)``, with the entries of ``pattern``.

    Examples
    --------
    >>> import numpy as np
    >>> from dualnumpy.sparsity.coloring import color_columns, decompress
    >>> J = np.array([[1.0, 2.0, 0.0], [0.0, 3.0, 4.0]])
    >>> c = color_columns(J != 0)
    >>> decompress(J != 0, c, J @ c.seeds().T).toarray()
    array([[1., 2., 0.],
           [0., 3., 4.]])
    """
    return Decompression(pattern, coloring, directions_first=directions_first)(compressed)


def decompress_hessian(pattern: Any, coloring: Coloring, compressed: Any, *,
                       directions_first: bool = False) -> Any:
    """The sparse symmetric Hessian from ``compressed = H @ coloring.seeds().T``.

    ``coloring`` comes from :func:`color_symmetric`; each entry is read directly, from row
    ``i`` or (by symmetry) from row ``j``. A triangle of the pattern is enough.

    Examples
    --------
    >>> import numpy as np
    >>> from dualnumpy.sparsity.coloring import color_symmetric, decompress_hessian
    >>> H = np.array([[2.0, 1.0, 1.0], [1.0, 3.0, 0.0], [1.0, 0.0, 4.0]])
    >>> c = color_symmetric(H != 0)
    >>> c.count, decompress_hessian(H != 0, c, H @ c.seeds().T).toarray()[0]
    (2, array([2., 1., 1.]))
    """
    if not coloring.symmetric:
        raise ValueError("decompress_hessian needs a symmetric coloring (color_symmetric); "
                         "for a column coloring use decompress")
    return Decompression(pattern, coloring, directions_first=directions_first,
                         name="decompress_hessian")(compressed)
