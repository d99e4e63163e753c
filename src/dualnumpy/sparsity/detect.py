"""``jacobian_sparsity`` and ``hessian_sparsity``: exact structural patterns, by tracing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dualnumpy.core import sums
from dualnumpy.sparsity.patterns import Pattern
from dualnumpy.sparsity.tracing import Dependent, Trace, Traced

Fun = Callable[..., Any]


def _input(x: Any, name: str) -> np.ndarray[Any, Any]:
    if isinstance(x, (Traced, Dependent)):
        raise TypeError(f"{name}: x is already traced; call it on a plain array")
    array = np.asarray(x)
    if array.dtype.kind in "iub":
        array = array.astype(np.float64)
    if array.dtype.kind not in "fc":
        raise TypeError(f"{name}: x has dtype {array.dtype}; it needs a float array")
    return array


def _output_pattern(out: Any, trace: Trace, name: str) -> tuple[Pattern, tuple[int, ...]]:
    if isinstance(out, Traced):
        return out.deps, out.shape
    if isinstance(out, Dependent):
        out = out.value
    if isinstance(out, (tuple, list, dict)):
        raise TypeError(f"{name} needs a function with one array output; got a "
                        f"{type(out).__name__}: np.concatenate the raveled outputs")
    if isinstance(out, (np.ndarray, np.generic, float, int, complex, bool)):
        shape = np.shape(out)
        return Pattern.empty(int(np.prod(shape)), trace.n), shape
    raise TypeError(f"{name}: the function returned a {type(out).__name__}, not an array")


def trace(f: Fun, x: Any, *, local: bool = False, second_order: bool = False,
          name: str = "jacobian_sparsity") -> tuple[Pattern, Trace, tuple[int, ...]]:
    """Run ``f`` once on ``x`` traced; return the output's pattern, the trace and its shape.

    When ``f`` returns a whole-array ``np.sum`` of its own, ``run.terms`` is the pattern of
    what it summed (noted as it ran, ``core/sums.py``)."""
    array = _input(x, name)
    run = Trace(array.size, local, second_order)
    seeded = Traced(array.copy(), Pattern.identity(array.size), run)
    with sums.noting() as last:
        out = f(seeded)
    if last and last[0] is out and isinstance(last[1], Traced):
        run.terms = last[1].deps
    deps, shape = _output_pattern(out, run, name)
    return deps, run, shape


def jacobian_sparsity(f: Fun, x: Any, *, local: bool = False) -> Any:
    """The structural sparsity pattern of the Jacobian of ``f`` at ``x``.

    One pass of ``f`` on index sets, through the same rule tables as the Duals: every
    entry of every intermediate array carries the set of entries of ``x`` it depends on.
    The pattern is exact for elementwise operations, slicing and every function that only
    moves elements, reductions, products (matmul, dot, einsum, kron, convolve, ...: a
    boolean sparse product of their terms, a constant's zeros included), banded maps
    (np.gradient) and other linear maps (found from their basis images), and
    conservative elsewhere (a rule with no sharper fact makes each output depend on every
    input it was given): it never misses a dependency.

    Parameters
    ----------
    f : callable
        ``f(x)`` returns one array; written with NumPy.
    x : array_like
        The point: its shape and dtype, and its values in local mode.
    local : bool
        False (the default) gives a pattern that holds at every point: code that branches
        on the values (``if x[0] > 0``, an index from ``np.argmax``) is refused with a
        TypeError; ``np.where`` unites both branches. True uses the values at ``x``.

    Returns
    -------
    scipy.sparse.csr_matrix of bool, shape ``(out.size, x.size)``, rows and columns in
    C order (as ``jacfwd(f)(x).reshape(out.size, x.size)``).

    Examples
    --------
    >>> import numpy as np
    >>> import dualnumpy as dn
    >>> f = lambda x: x[1:] * x[:-1] + np.sin(x[1:])
    >>> dn.jacobian_sparsity(f, np.ones(4)).toarray().astype(int)
    array([[1, 1, 0, 0],
           [0, 1, 1, 0],
           [0, 0, 1, 1]])
    """
    deps, _, _ = trace(f, x, local=local, name="jacobian_sparsity")
    return deps.to_scipy("jacobian_sparsity's result")


def hessian_pairs(run: Trace) -> Pattern:
    """The symmetric Hessian pattern recorded by a second-order trace."""
    assert run.pairs is not None
    keys = np.concatenate(run.pairs) if run.pairs else np.zeros(0, np.int64)
    low = np.int64((1 << 32) - 1)
    swapped = ((keys & low) << np.int64(32)) | (keys >> np.int64(32))
    return Pattern.from_keys(np.concatenate([keys, swapped]), run.n, run.n)


def hessian_sparsity(f: Fun, x: Any, *, local: bool = False) -> Any:
    """The structural sparsity pattern of the Hessian of a scalar ``f`` at ``x``.

    Every nonlinear operation records the pairs of inputs its second derivatives couple
    (``x * y`` couples the inputs of x with those of y; ``sin(u)`` every pair among u's
    inputs; linear and piecewise-linear operations none). The pattern is the union over
    the whole evaluation, so it is conservative where an intermediate result does not
    reach the output, and it never misses an entry. Piecewise-linear functions (abs,
    maximum, np.max, np.sort, ...) have zero second derivatives, as ``hessian`` computes.

    Returns
    -------
    scipy.sparse.csr_matrix of bool, shape ``(x.size, x.size)``, symmetric.

    Examples
    --------
    >>> import numpy as np
    >>> import dualnumpy as dn
    >>> rosenbrock = lambda x: np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)
    >>> dn.hessian_sparsity(rosenbrock, np.zeros(4)).toarray().astype(int)
    array([[1, 1, 0, 0],
           [1, 1, 1, 0],
           [0, 1, 1, 1],
           [0, 0, 1, 1]])
    """
    _, run, shape = trace(f, x, local=local, second_order=True, name="hessian_sparsity")
    if shape != ():
        raise TypeError(f"hessian_sparsity needs a function with a scalar output; got shape "
                        f"{shape}. Reduce it (np.sum) or use jacobian_sparsity")
    return hessian_pairs(run).to_scipy("hessian_sparsity's result")
