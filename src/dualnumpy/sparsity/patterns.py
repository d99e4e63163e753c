"""Boolean dependency matrices, one per traced array, with whole-array NumPy kernels.

A ``Pattern`` of ``m`` rows and ``n`` columns says which of the ``n`` inputs each of
the ``m`` entries of an array depends on. It is stored as compressed sparse rows
(``indptr``, ``indices``), every row sorted and free of duplicates, like a
``scipy.sparse.csr_matrix`` of booleans; it does not use SciPy itself, whose per-call
overhead (tens of microseconds a matrix operation) would dominate detection on small
problems. Every operation here is a handful of NumPy calls over all entries at once:
never a Python loop over rows or scalars.
"""

from __future__ import annotations

from typing import Any

import numpy as np

Index = np.ndarray[Any, np.dtype[np.int64]]

#: Column indices and row numbers are packed into one int64 key (row << 32 | col) to
#: sort and deduplicate entries in one pass.
_SHIFT = np.int64(32)
_LOW = np.int64((1 << 32) - 1)
MAX_COLUMNS = 1 << 31
#: Unions of rows this short (summed over the parts) take the sorting network.
_NETWORK_WIDTH = 8


def _as_index(x: Any) -> Index:
    return np.asarray(x, dtype=np.int64)


def unique_keys(keys: Index) -> Index:
    """The distinct keys, sorted (by sort and compare: NumPy's hashing np.unique is several
    times slower on int64 keys, and a sorted input costs one pass)."""
    if len(keys) > 1 and not bool(np.all(keys[1:] > keys[:-1])):
        keys = np.sort(keys)
        keep = np.empty(len(keys), dtype=bool)
        keep[0] = True
        np.not_equal(keys[1:], keys[:-1], out=keep[1:])
        keys = keys[keep]
    return keys


class Pattern:
    """An ``m x n`` boolean matrix in canonical CSR form (rows sorted, no duplicates)."""

    __slots__ = ("indices", "indptr", "n")

    def __init__(self, indptr: Index, indices: Index, n: int) -> None:
        self.indptr = indptr
        self.indices = indices
        self.n = n

    # ------------------------------------------------------------ construction

    @staticmethod
    def identity(n: int) -> Pattern:
        """Entry i depends on input i: the pattern of the seeded input itself."""
        if n >= MAX_COLUMNS:
            raise ValueError(f"sparsity detection supports fewer than {MAX_COLUMNS} inputs; got {n}")
        return Pattern(np.arange(n + 1, dtype=np.int64), np.arange(n, dtype=np.int64), n)

    @staticmethod
    def empty(m: int, n: int) -> Pattern:
        """No entry depends on any input (a constant)."""
        return Pattern(np.zeros(m + 1, dtype=np.int64), np.zeros(0, dtype=np.int64), n)

    @staticmethod
    def every_row(columns: Index, m: int, n: int) -> Pattern:
        """Each of ``m`` rows depends on the same sorted ``columns`` (a dense block)."""
        width = len(columns)
        indptr = np.arange(m + 1, dtype=np.int64) * width
        return Pattern(indptr, np.tile(columns, m), n)

    @staticmethod
    def from_keys(keys: Index, m: int, n: int, unique: bool = False) -> Pattern:
        """From packed ``row << 32 | col`` keys, in any order and with repeats (unless
        ``unique``, for keys already sorted and distinct)."""
        if m == 1 and not unique and len(keys) > 1:  # one row: its columns by bitmap, no sort
            seen = np.zeros(n, dtype=bool)
            seen[keys & _LOW] = True
            columns = np.flatnonzero(seen).astype(np.int64)
            return Pattern(np.array([0, len(columns)], dtype=np.int64), columns, n)
        if not unique:
            keys = unique_keys(keys)
        rows = keys >> _SHIFT
        indptr = np.zeros(m + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=m), out=indptr[1:])
        return Pattern(indptr, keys & _LOW, n)

    # ------------------------------------------------------------ facts

    @property
    def m(self) -> int:
        return len(self.indptr) - 1

    @property
    def nnz(self) -> int:
        return int(self.indptr[-1])

    def row_lengths(self) -> Index:
        return np.diff(self.indptr)

    def rows_of_entries(self) -> Index:
        return np.repeat(np.arange(self.m, dtype=np.int64), self.row_lengths())

    def keys(self) -> Index:
        """Packed ``row << 32 | col`` keys of every entry, sorted."""
        return (self.rows_of_entries() << _SHIFT) | self.indices

    def columns(self) -> Index:
        """Every input some row depends on, sorted."""
        if self.nnz == 0:
            return np.zeros(0, dtype=np.int64)
        seen = np.zeros(self.n, dtype=bool)
        seen[self.indices] = True
        return np.flatnonzero(seen).astype(np.int64)

    def same_as(self, other: Pattern) -> bool:
        return self is other or (self.n == other.n and self.m == other.m and self.nnz == other.nnz
                                 and np.array_equal(self.indptr, other.indptr)
                                 and np.array_equal(self.indices, other.indices))

    # ------------------------------------------------------------ operations

    def gather(self, rows: Index) -> Pattern:
        """Row ``i`` of the result is row ``rows[i]`` of this pattern (``-1``: an empty row)."""
        rows = _as_index(rows).ravel()
        m = self.m
        if len(rows) == m and m and rows[0] == 0 and np.array_equal(rows, np.arange(m)):
            return self
        indptr = self.indptr
        missing = rows < 0
        if missing.any():  # an entry that no input reaches (a pad value, an inserted constant)
            indptr = np.append(indptr, indptr[-1])
            rows = np.where(missing, m, rows)
        starts = indptr[rows]
        lengths = indptr[rows + 1] - starts
        out_ptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lengths, out=out_ptr[1:])
        total = int(out_ptr[-1])
        if total == len(rows) and np.all(lengths == 1):  # one dependency a row: the common case
            return Pattern(out_ptr, self.indices[starts], self.n)
        # entry e of the result comes from position starts[row] + (e - out_ptr[row])
        offsets = np.repeat(starts - out_ptr[:-1], lengths)
        positions = np.arange(total, dtype=np.int64) + offsets
        return Pattern(out_ptr, self.indices[positions], self.n)

    @staticmethod
    def union(parts: list[Pattern]) -> Pattern:
        """Entrywise union of patterns with the same rows."""
        distinct: list[Pattern] = []
        for part in parts:
            if part.nnz and not any(part.same_as(seen) for seen in distinct):
                distinct.append(part)
        if not distinct:
            return parts[0]
        if len(distinct) == 1:
            return distinct[0]
        first = distinct[0]
        widths = [int(p.row_lengths().max()) for p in distinct]
        if sum(widths) <= _NETWORK_WIDTH:
            return Pattern._union_short_rows(distinct, widths)
        return Pattern.from_keys(np.concatenate([p.keys() for p in distinct]), first.m, first.n)

    @staticmethod
    def _union_short_rows(parts: list[Pattern], widths: list[int]) -> Pattern:
        """The union when every row is short (stencils): the rows side by side in an
        ``m x width`` table, sorted by a network of elementwise minima and maxima, which
        costs a few passes over the table instead of a sort of every entry."""
        m, n = parts[0].m, parts[0].n
        columns: list[Index] = []  # column j of the table: each row's j-th entry, or n (padding)
        for part, w in zip(parts, widths, strict=True):
            if part.nnz == m * w:  # every row full: strided reads, no padding
                columns.extend(part.indices[j::w] for j in range(w))
                continue
            starts, lengths = part.indptr[:-1], part.row_lengths()
            last = max(part.nnz - 1, 0)
            for j in range(w):
                column = part.indices[np.minimum(starts + j, last)]
                column[lengths <= j] = n
                columns.append(column)
        width = len(columns)
        for round_ in range(width):  # odd-even transposition: sorted after ``width`` rounds
            for j in range(round_ % 2, width - 1, 2):
                low = np.minimum(columns[j], columns[j + 1])
                columns[j + 1] = np.maximum(columns[j], columns[j + 1])
                columns[j] = low
        keeps = [columns[0] < n]
        keeps.extend((columns[j] < n) & (columns[j] != columns[j - 1]) for j in range(1, width))
        counts = np.zeros(m, dtype=np.int64)
        for keep in keeps:
            counts += keep
        indptr = np.zeros(m + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        return Pattern(indptr, np.stack(columns, axis=1)[np.stack(keeps, axis=1)], n)

    def group(self, owners: Index, m_out: int) -> Pattern:
        """Row ``o`` of the result is the union of the rows ``i`` with ``owners[i] == o``
        (``-1``: a row that reaches no output)."""
        owners = _as_index(owners).ravel()
        entry_owner = np.repeat(owners, self.row_lengths())
        keep = entry_owner >= 0
        if m_out == 1:  # one row (a full reduction): the columns seen, with no sort
            seen = np.zeros(self.n, dtype=bool)
            seen[self.indices[keep]] = True
            columns = np.flatnonzero(seen).astype(np.int64)
            return Pattern(np.array([0, len(columns)], dtype=np.int64), columns, self.n)
        keys = (entry_owner[keep] << _SHIFT) | self.indices[keep]
        return Pattern.from_keys(keys, m_out, self.n)

    def compose(self, structure: Pattern) -> Pattern:
        """The pattern of ``S @ self`` for a boolean ``structure`` S (m_out x self.m): row
        ``o`` is the union of this pattern's rows ``j`` with ``S[o, j]``."""
        if self.is_increasing_map():  # one input a row, in order: relabel the columns
            return Pattern(structure.indptr, self.indices[structure.indices], self.n)
        gathered = self.gather(structure.indices)
        return gathered.group(structure.rows_of_entries(), structure.m)

    def is_increasing_map(self) -> bool:
        """Every row one input, increasing from row to row (the input itself, a slice):
        composing with it keeps every row sorted."""
        m = self.m
        if self.nnz != m:
            return False
        return bool(np.all(self.indptr == np.arange(m + 1)) and np.all(self.indices[1:] > self.indices[:-1]))

    # ------------------------------------------------------------ second order

    @staticmethod
    def pair_keys(a: Pattern, b: Pattern) -> Index:
        """Packed ``(i, j)`` keys of every pair with ``i`` in row r of ``a`` and ``j`` in row r
        of ``b``, for some row r: the Hessian entries a product of the two can create."""
        la, lb = a.row_lengths(), b.row_lengths()
        counts = la * lb
        total = int(counts.sum())
        if total == 0:
            return np.zeros(0, dtype=np.int64)
        rows = np.repeat(np.arange(a.m, dtype=np.int64), counts)
        start = np.zeros(a.m + 1, dtype=np.int64)
        np.cumsum(counts, out=start[1:])
        local = np.arange(total, dtype=np.int64) - start[rows]
        lb_rows = lb[rows]
        i = a.indices[a.indptr[rows] + local // lb_rows]
        j = b.indices[b.indptr[rows] + local % lb_rows]
        return (i << _SHIFT) | j

    # ------------------------------------------------------------ out

    def to_scipy(self, what: str = "a sparsity pattern") -> Any:
        """As a ``scipy.sparse.csr_matrix`` of booleans."""
        sparse = scipy_sparse(what)
        data = np.ones(self.nnz, dtype=bool)
        return sparse.csr_matrix((data, self.indices.copy(), self.indptr.copy()),
                                       shape=(self.m, self.n))

    def __repr__(self) -> str:
        return f"Pattern({self.m} x {self.n}, {self.nnz} entries)"


def scipy_sparse(what: str) -> Any:
    """``scipy.sparse``, or an ImportError that says how to install it (SciPy is an extra)."""
    try:
        import scipy.sparse
    except ImportError as e:
        raise ImportError(f"{what} is a scipy.sparse matrix, and SciPy is not installed: "
                          f"pip install 'dualnumpy[sparse]' (or pip install scipy)") from e
    return scipy.sparse
