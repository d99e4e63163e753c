"""``hvp``: Hessian-vector products, forward over forward in one pass per chunk.

The input is seeded twice: an inner perturbation along ``v`` and, outside it,
the basis directions of the gradient. Each basis direction's tangent then
carries its own derivative along ``v``, so one evaluation of the function per
chunk of basis directions gives ``e_i . H v`` for every i of the chunk: the
gradient's passes, each doing up to four times the gradient's arithmetic (the
product rule on the inner level; 2 to 2.5 times its time measured on Rosenbrock
at n = 10**4 and 10**5), and no Hessian is ever formed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from dualnumpy.core.dual import Dual
from dualnumpy.core.tags import new_tag
from dualnumpy.core.tangent import dtype_of, shape_of, tangent_dtype
from dualnumpy.numpy_facts.trees import flatten, unflatten
from dualnumpy.rules.kinds import is_number
from dualnumpy.transforms.api import chunk_budget

Fun = Callable[..., Any]
#: Given by ``sparsity/separable.py`` (which sits above this layer): ``H v`` of an objective
#: ``np.sum(F(x))`` from its terms' colored Jacobian, or None when ``f`` is not of that form.
_by_terms: list[Callable[[Fun, Any, Any, bool], Any]] = []


def use_separable(hvp_by_terms: Callable[[Fun, Any, Any, bool], Any]) -> None:
    _by_terms[:] = [hvp_by_terms]

def default_chunk_size(n: int, k: int = 1, itemsize: int = 8) -> int:
    """The basis directions per pass that ``hvp`` uses for ``n`` inputs and ``k`` directions
    ``v``: as many as keep the largest tangent array of a pass, ``(k, chunk, n)``, within
    the memory budget of ``jacfwd`` and ``grad`` (:func:`dualnumpy.set_chunk_budget`).

    Each basis direction also carries its ``k`` derivatives along v, so a pass holds
    ``k + 1`` such arrays per intermediate; counting only the largest keeps the chunks
    of ``hvp`` and ``grad`` alike for one v, where the nested level's Python cost per
    pass makes smaller chunks slower (Rosenbrock, n = 10**4: 0.8 s at 13 directions per
    pass, 1.3 s at 6).
    """
    return max(1, min(n, chunk_budget() // max(1, n * itemsize * max(1, k))))


def _as_real_primal(x: Any, where: str) -> Any:
    if is_number(x):
        return x
    if isinstance(x, bool) or (isinstance(x, (np.ndarray, np.generic)) and x.dtype.kind == "b"):
        raise TypeError(f"hvp: {where} is boolean and has no derivative; pass it as a float")
    if isinstance(x, int):
        return float(x)
    if not isinstance(x, (np.ndarray, np.generic, float)):
        try:
            x = np.asarray(x)
        except (TypeError, ValueError):
            raise TypeError(f"hvp: {where} is a {type(x).__name__}, not an array or a number") from None
    if isinstance(x, float):
        return x
    if x.dtype.kind in "iu":
        return x.astype(np.float64)
    if x.dtype.kind == "c":
        raise TypeError(f"hvp: {where} is complex; the Hessian is of a real function of real "
                        f"inputs (pass real and imaginary parts as separate inputs)")
    if x.dtype.kind != "f":
        raise TypeError(f"hvp: {where} has dtype {x.dtype}; derivatives need float inputs")
    return x


def _as_direction(v: Any, x: Any, where: str, batched: bool | None) -> tuple[Any, int | None]:
    if not is_number(v):
        if not isinstance(v, (np.ndarray, np.generic)):
            try:
                v = np.asarray(v)
            except (TypeError, ValueError):
                raise TypeError(f"hvp: {where} is a {type(v).__name__}, not an array") from None
        if v.dtype.kind not in "iuf":
            raise TypeError(f"hvp: {where} has dtype {v.dtype}; v must be real (float or int)")
        v = v.astype(tangent_dtype(dtype_of(x)), copy=False)
    shape, want = shape_of(v), shape_of(x)
    if shape == want and batched is not True:
        return v, None
    if len(shape) == len(want) + 1 and shape[1:] == want and batched is not False:
        return v, shape[0]
    expected = {None: f"{want} or (k, *{want})", True: f"(k, *{want})", False: str(want)}[batched]
    raise ValueError(f"hvp: {where} has shape {shape}, but x has shape {want}: expected {expected}")


def hvp(fun: Fun, x: Any, v: Any, *, chunk_size: int | None = None,
        batched: bool | None = None) -> Any:
    """The Hessian of a scalar ``fun`` at ``x`` times ``v``, without forming the Hessian.

    When ``x`` is one array and ``fun`` returns ``np.sum`` of terms that each read a few
    of its entries (Rosenbrock, energies on grids: partially separable), ``H v`` comes
    from one pass with a few colored directions, whatever ``x.size`` is
    (``dualnumpy.sparsity.separable``; needs SciPy for the coloring). Otherwise:

    Forward over forward: ``x`` is perturbed along ``v`` inside the basis directions of
    the gradient, so each pass of ``fun`` over a chunk of basis directions yields those
    entries of ``H v``. The cost is that of :func:`grad` by forward mode (``n / chunk``
    passes) times two to four, and the memory that of one chunk.

    Parameters
    ----------
    fun : callable
        ``fun(x)`` returns a real scalar; ``x`` may be an array, a scalar, or a pytree
        (tuples, lists, dicts) of them.
    x : array_like or pytree
        The point.
    v : array_like or pytree
        The direction, of ``x``'s structure and shapes; or k directions at once, every
        leaf of shape ``(k, *leaf.shape)`` (then the result gets that leading axis).
    chunk_size : int, optional
        Basis directions per pass (memory against speed; same result). The default
        comes from the memory budget of ``jacfwd`` and ``grad``
        (:func:`dualnumpy.set_chunk_budget`), see :func:`default_chunk_size`.
    batched : bool, optional
        Insist on one layout of ``v`` (True: ``(k, *shape)``); by default read from the
        shapes, which never leave a doubt (``(k, *shape)`` cannot equal ``shape``).

    Returns
    -------
    ``H v``, of ``x``'s structure and shapes (``(k, *shape)`` per leaf for k directions).

    Examples
    --------
    >>> import numpy as np
    >>> from dualnumpy.transforms.hvp import hvp  # also dualnumpy.hvp
    >>> f = lambda x: x[0] ** 2 * x[1]
    >>> hvp(f, np.array([1.0, 2.0]), np.array([1.0, 0.0]))  # H = [[4, 2], [2, 0]]
    array([4., 2.])
    >>> hvp(f, np.array([1.0, 2.0]), np.eye(2))  # two directions: the rows of H
    array([[4., 2.],
           [2., 0.]])
    """
    if chunk_size is not None and (isinstance(chunk_size, bool)
                                   or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1):
        raise ValueError(f"hvp: chunk_size must be a positive int or None; got {chunk_size!r}")
    x_leaves, x_def = flatten(x)
    v_leaves, v_def = flatten(v)
    if x_def != v_def:
        raise ValueError(f"hvp: v has structure {v_def}, x has {x_def}; they must match")
    x_leaves = [_as_real_primal(p, f"x leaf {i}") for i, p in enumerate(x_leaves)]
    pairs = [_as_direction(t, p, f"v leaf {i}", batched)
             for i, (t, p) in enumerate(zip(v_leaves, x_leaves, strict=True))]
    ks = {k for _, k in pairs}
    if len(ks) > 1:
        raise ValueError(f"hvp: the leaves of v mix single directions and batches, or batches "
                         f"of different sizes ({sorted(ks, key=str)})")
    k = ks.pop() if ks else None
    if _by_terms and x_def.kind == "leaf" and isinstance(x_leaves[0], np.ndarray) and x_leaves[0].ndim:
        fast = _by_terms[0](fun, x_leaves[0], pairs[0][0], k is not None)
        if fast is not None:
            return fast
    inner = new_tag()
    along_v = [Dual(p, t, tag=inner) for p, (t, _) in zip(x_leaves, pairs, strict=True)]
    sizes = [math.prod(shape_of(p)) for p in x_leaves]
    offsets = np.cumsum([0, *sizes]).tolist()
    n = int(offsets[-1])
    itemsize = max((np.dtype(tangent_dtype(dtype_of(p))).itemsize for p in x_leaves), default=8)
    step = int(chunk_size) if chunk_size is not None else default_chunk_size(n, k or 1, itemsize)
    lead = () if k is None else (k,)
    dtype = np.result_type(*[tangent_dtype(dtype_of(p)) for p in x_leaves]) if x_leaves else np.float64
    rows: list[Any] = []
    for lo in range(0, n, step):
        hi = min(lo + step, n)
        rows.append(_chunk(fun, along_v, x_def, offsets, sizes, lo, hi, inner, lead, dtype))
    flat = np.concatenate(rows, axis=-1) if len(rows) != 1 else rows[0]
    if not rows:
        flat = np.zeros((*lead, 0), dtype)
    pieces = [np.reshape(flat[..., o:o + s], lead + shape_of(p))
              for p, o, s in zip(x_leaves, offsets, sizes, strict=False)]
    pieces = [piece if np.ndim(piece) else piece[()] for piece in pieces]
    return unflatten(x_def, pieces)


def _chunk(fun: Fun, along_v: list[Dual], x_def: Any, offsets: list[int], sizes: list[int],
           lo: int, hi: int, inner: int, lead: tuple[int, ...], dtype: Any) -> Any:
    """Entries lo..hi-1 of H v: one call of ``fun`` with those basis directions seeded."""
    outer = new_tag()
    m = hi - lo
    seeded: list[Any] = []
    for xv, offset, size in zip(along_v, offsets, sizes, strict=False):
        start, stop = max(lo, offset), min(hi, offset + size)
        if start >= stop:
            seeded.append(xv)
            continue
        e = np.zeros((m, size), dtype=tangent_dtype(dtype_of(xv)))
        e[np.arange(start - lo, stop - lo), np.arange(start - offset, stop - offset)] = 1
        seeded.append(Dual(xv, e.reshape((m, *shape_of(xv))), tag=outer))
    out = fun(unflatten(x_def, seeded))
    if isinstance(out, (tuple, list, dict)) or shape_of(out) != ():
        shape = type(out).__name__ if isinstance(out, (tuple, list, dict)) else shape_of(out)
        raise TypeError(f"hvp needs a function with a scalar output; got {shape}. Reduce "
                        f"the output (np.sum) first, or use jacfwd")
    if dtype_of(out).kind == "c":
        raise TypeError("hvp needs a real scalar output; got a complex one")
    if isinstance(out, Dual) and out.tag > outer:
        raise ValueError(f"the function returned a Dual of tag {out.tag}, newer than hvp's: a "
                         f"perturbation escaped an inner transform")
    gradient = out.tangent if isinstance(out, Dual) and out.tag == outer else None
    if isinstance(gradient, Dual) and gradient.tag == inner:
        t = gradient.tangent  # (m,) or (k, m)
        if shape_of(t) != (*lead, m):
            t = np.broadcast_to(t, (*lead, m))
        return t
    return np.zeros((*lead, m), dtype)
