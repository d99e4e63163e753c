"""Finite differences: the numerical oracle of the comparison harness (DESIGN.md section 8).

Three estimators of a directional derivative ``d/dh f(x + h v)`` at ``h = 0``, each
returning the estimate *and* an elementwise error estimate (:class:`Estimate`):

- ``"central"``: ``(f(x + h v) - f(x - h v)) / 2h`` with ``h = eps**(1/3) * max(1, |x|)``
  (the step that balances the O(h²) truncation against rounding); the error estimate is
  the truncation error read off the same quotient at ``2h`` plus the rounding error
  ``eps |f| / h``.
- ``"richardson"`` (the default): Ridders' method, a Richardson-extrapolation tableau
  over central differences at steps ``h0, h0/2, h0/4, ...`` (``h0 = 32 eps**(1/3) max(1, |x|)``
  down to the central step), keeping per entry the extrapolation whose neighbours agree
  best; that disagreement is the error estimate. Typically 1e-10 or better on smooth
  functions, and a kink inside the larger stencils shows up as a large error, not as a
  silently wrong answer.
- ``"complex"``: the complex step ``Im f(x + i h v) / h`` with ``h = 1e-20``: no
  subtractive cancellation, exact to rounding, but only for real inputs and functions that
  are analytic (no ``abs``, ``conj``, ``maximum``, comparisons, ...) and keep a complex
  result for complex input. A real result for a complex input is refused with a ValueError.

:func:`jvp` estimates one direction (pytrees as in :func:`dualnumpy.jvp`), :func:`jacobian`
every basis direction (``out.shape + in.shape``, as :func:`dualnumpy.jacfwd`). The steps
scale with the input: a direction's step is relative to the largest ``|x|`` it moves.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from dualnumpy.numpy_facts.trees import TreeDef, flatten, unflatten

__all__ = ["Estimate", "Method", "central_step", "jacobian", "jvp"]

Method = Literal["richardson", "central", "complex"]
METHODS: tuple[str, ...] = ("richardson", "central", "complex")

EPS = float(np.finfo(np.float64).eps)
#: Ridders' tableau: how many steps, each this much smaller than the one before.
LEVELS = 6
RATIO = 2.0
#: The complex step: far below any truncation error, and free of cancellation.
COMPLEX_STEP = 1e-20

Array = np.ndarray[Any, Any]


@dataclass(frozen=True)
class Estimate:
    """A finite-difference estimate and its error estimate.

    Attributes
    ----------
    value : array or pytree of arrays
        The estimated derivative, shaped like the function's output (:func:`jvp`) or
        ``out.shape + in.shape`` (:func:`jacobian`).
    error : same structure as ``value``
        A non-negative elementwise estimate of ``|value - exact|``.
    method : str
        ``"richardson"``, ``"central"`` or ``"complex"``.
    step : float
        The largest step used.

    Examples
    --------
    >>> import numpy as np
    >>> from dualnumpy import finite_diff
    >>> est = finite_diff.jvp(np.exp, (0.0,), (1.0,))
    >>> round(float(est.value), 12), bool(est.error < 1e-9)
    (1.0, True)
    """

    value: Any
    error: Any
    method: str
    step: float


def central_step(x: Any, eps: float | None = None) -> Any:
    """The central-difference step for an input ``x``: ``eps**(1/3) * max(1, |x|)``.

    It balances the truncation error, O(h²), against rounding, O(eps / h). ``eps`` is
    the machine epsilon of ``x``'s dtype unless given (float64's for non-float input).

    Examples
    --------
    >>> from dualnumpy.finite_diff import central_step
    >>> print(f"{central_step(0.5):.2e} {central_step(1000.0):.2e}")
    6.06e-06 6.06e-03
    """
    if eps is None:
        dtype = np.asarray(x).dtype
        eps = float(np.finfo(dtype).eps) if dtype.kind in "fc" else EPS
    return eps ** (1.0 / 3.0) * np.maximum(1.0, np.abs(x))


# ---------------------------------------------------------------- plumbing


def _as_input(x: Any, where: str) -> Array:
    if isinstance(x, bool) or (isinstance(x, (np.ndarray, np.generic)) and x.dtype.kind == "b"):
        raise TypeError(f"{where} is boolean and has no derivative")
    try:
        a = np.asarray(x)
    except (TypeError, ValueError):
        raise TypeError(f"{where} is a {type(x).__name__}, not an array or a number") from None
    if a.dtype.kind in "iu":
        return a.astype(np.float64)
    if a.dtype.kind not in "fc":
        raise TypeError(f"{where} has dtype {a.dtype}; finite differences need float or complex inputs")
    return a


def _restore(template: Any, a: Array) -> Any:
    """A perturbed input in the caller's form: a Python or NumPy scalar stays a scalar."""
    if isinstance(template, (np.ndarray, list, tuple)):
        return a
    return a[()]


def _out_leaves(out: Any) -> tuple[list[Array], TreeDef]:
    leaves, treedef = flatten(out)
    arrays = []
    for i, leaf in enumerate(leaves):
        a = np.asarray(leaf) if isinstance(leaf, (np.ndarray, np.generic, int, float, complex)) else None
        if a is None or a.dtype.kind not in "biufc":
            raise TypeError(f"the function returned a {type(leaf).__name__} as output leaf {i}; "
                            f"finite differences need numbers or arrays")
        arrays.append(a)
    return arrays, treedef


class _Directional:
    """``f`` along one direction: the quotients that the three estimators combine."""

    def __init__(self, f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any]) -> None:
        if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
            raise TypeError("primals and tangents must be tuples of arguments, as in "
                            "finite_diff.jvp(f, (x,), (v,))")
        p_leaves, self.p_def = flatten(tuple(primals))
        t_leaves, t_def = flatten(tuple(tangents))
        if t_def != self.p_def:
            raise ValueError(f"primals and tangents differ in structure: {self.p_def} against {t_def}")
        self.f = f
        self.templates = p_leaves
        self.x = [_as_input(p, f"primal leaf {i}") for i, p in enumerate(p_leaves)]
        self.v = [_as_input(t, f"tangent leaf {i}") for i, t in enumerate(t_leaves)]
        for i, (x, v) in enumerate(zip(self.x, self.v, strict=True)):
            if x.shape != v.shape:
                raise ValueError(f"tangent leaf {i} has shape {v.shape}, its primal {x.shape}")
            if v.dtype.kind == "c" and x.dtype.kind != "c":
                raise TypeError(f"tangent leaf {i} is complex but its primal is real; make the "
                                f"primal complex")
        moved = [np.abs(x[(v != 0) & np.isfinite(x)]) for x, v in zip(self.x, self.v, strict=True)]
        self.x_scale = max([1.0] + [float(np.max(m)) for m in moved if m.size])
        self.v_scale = max([0.0] + [float(np.max(np.abs(v))) for v in self.v if v.size])
        self.out_def: TreeDef | None = None
        self.shapes: list[tuple[int, ...]] = []
        self.f_abs: Array | None = None
        self.f0: Array | None = None  # f at the point, flattened
        self.memo: dict[float, Array] = {}
        # the coarsest float in play (inputs and, once evaluated, outputs) sets the steps
        self.eps = max([EPS] + [float(np.finfo(x.dtype).eps) for x in self.x])

    def base_step(self) -> float:
        """The central step, relative to the largest |x| the direction moves."""
        return float(central_step(self.x_scale, self.eps)) / max(self.v_scale, 1e-300)

    def evaluate(self, shift: Sequence[Array]) -> Array:
        """f at x + shift, flattened to one 1-D array (output leaves concatenated)."""
        with np.errstate(all="ignore"):  # a probe past a domain boundary is expected, and handled
            args = unflatten(self.p_def, [_restore(t, x + s) for t, x, s in
                                          zip(self.templates, self.x, shift, strict=True)])
            out = self.f(*args)
        arrays, treedef = _out_leaves(out)
        if self.out_def is None:
            self.out_def, self.shapes = treedef, [a.shape for a in arrays]
        elif treedef != self.out_def or [a.shape for a in arrays] != self.shapes:
            raise ValueError("the function's output changed structure or shape between nearby points")
        inexact = [a for a in arrays if a.dtype.kind in "fc"]
        self.eps = max([self.eps] + [float(np.finfo(a.dtype).eps) for a in inexact])
        # differences in float64 (complex128): a float32 output loses nothing more there
        flat = [a.astype(np.complex128 if a.dtype.kind == "c" else np.float64) for a in arrays]
        out = np.concatenate([a.ravel() for a in flat]) if flat else np.zeros(0)
        size = np.where(np.isfinite(out), np.abs(out), 0.0)
        self.f_abs = size if self.f_abs is None else np.maximum(self.f_abs, size)
        return out

    def rounding(self, h: Any, slope: Array) -> Array:
        """The rounding error of a central quotient at step h, elementwise.

        ``eps |f| / h`` from the subtraction, and ``eps |x| |slope| / h`` because the
        step actually taken, ``(x + h v) - x``, differs from ``h v`` by ``eps |x|``.
        """
        assert self.f_abs is not None
        error: Array = self.eps * (self.f_abs + self.x_scale * np.abs(slope)) / (h * max(self.v_scale, 1e-300))
        return error

    def quotient(self, h: float) -> Array:
        if h in self.memo:
            return self.memo[h]
        with np.errstate(all="ignore"):
            plus = self.evaluate([h * v for v in self.v])
            minus = self.evaluate([-h * v for v in self.v])
            self.memo[h] = (plus - minus) / (2.0 * h)
        return self.memo[h]

    def split(self, flat: Array) -> Any:
        assert self.out_def is not None
        pieces, offset = [], 0
        for shape in self.shapes:
            size = math.prod(shape)
            piece = flat[offset:offset + size].reshape(shape)
            pieces.append(piece if shape else piece[()])
            offset += size
        return unflatten(self.out_def, pieces)


def _zero_direction(d: _Directional) -> Estimate:
    out = d.evaluate([np.zeros_like(v) for v in d.v])
    zero = np.zeros_like(out, dtype=np.result_type(out.dtype, np.float64))
    return Estimate(d.split(zero), d.split(np.zeros(zero.shape)), "exact", 0.0)


def _fit(d: _Directional, h: float, widest: float) -> float:
    """Shrink the step until the widest stencil stays where ``f`` is finite.

    Near a domain boundary (log at 1e-6, sqrt near 0) a step scaled to ``max(1, |x|)``
    reaches past the boundary; the quotients there are NaN or infinite where ``f(x)``
    itself is finite. Each try divides every step by 4, at most 20 times.
    """
    assert d.f0 is not None
    defined = np.isfinite(d.f0)
    for _ in range(20):
        if np.all(np.isfinite(d.quotient(h * widest))[defined]):
            return h
        h /= 4.0
    return h


def _central(d: _Directional, step: float) -> Estimate:
    step = _fit(d, step, 2.0)
    fine, coarse = d.quotient(step), d.quotient(2.0 * step)
    with np.errstate(all="ignore"):
        error = np.abs(coarse - fine) / 3.0 + d.rounding(step, fine)
    return Estimate(d.split(fine), d.split(error), "central", 2.0 * step)


def _ridders(d: _Directional, step: float, levels: int) -> Estimate:
    """Ridders' Richardson tableau, elementwise: the best extrapolation and its error."""
    h0 = _fit(d, step, RATIO ** (levels - 1)) * RATIO ** (levels - 1)
    factor = RATIO * RATIO
    previous = [d.quotient(h0)]
    best = previous[0].copy()
    best_step = np.full(best.shape, h0)  # the smallest step inside the chosen entry
    last, before, smallest = previous[0], previous[0], h0
    error = np.full(best.shape, np.inf)
    done = np.zeros(best.shape, dtype=bool)
    with np.errstate(all="ignore"):
        for i in range(1, levels):
            smallest = h0 / RATIO ** i
            row = [d.quotient(smallest)]
            weight = factor
            for j in range(1, i + 1):
                row.append((row[j - 1] * weight - previous[j - 1]) / (weight - 1.0))
                weight *= factor
                candidate = np.maximum(np.abs(row[j] - row[j - 1]), np.abs(row[j] - previous[j - 1]))
                better = ~done & (candidate <= error)
                best = np.where(better, row[j], best)
                best_step = np.where(better, smallest, best_step)
                error = np.where(better, candidate, error)
            # Ridders' stop: once the highest order drifts away from the best, smaller
            # steps only add rounding error.
            done |= np.abs(row[i] - previous[i - 1]) >= 2.0 * error
            last, before = row[0], previous[0]
            previous = row
            if done.all():
                break
        # The tableau's differences understate rounding: add twice (the extrapolation's
        # amplification) the rounding error of the smallest step inside the chosen entry.
        error = np.where(np.isnan(error), np.inf, error) + 2.0 * d.rounding(best_step, best)
        # A kink (or a jump) inside the larger stencils can fool the tableau, which sees
        # d/h as smooth in h. The plain quotient at the smallest step used is the most local
        # estimate: when the extrapolation strays from it by more than both error estimates
        # allow, the honest error is that distance.
        local_error = np.abs(last - before) / 3.0 + d.rounding(smallest, last)
        stray = np.abs(best - last)
        error = np.where(stray > 2.0 * (error + local_error), stray + local_error, error)
    return Estimate(d.split(best), d.split(error), "richardson", h0)


def _complex(d: _Directional, step: float | None) -> Estimate:
    for i, (x, v) in enumerate(zip(d.x, d.v, strict=True)):
        if x.dtype.kind == "c" or v.dtype.kind == "c":
            raise ValueError(f"the complex step needs real inputs and directions; leaf {i} is "
                             f"complex (use method='richardson')")
    h = COMPLEX_STEP / max(d.v_scale, 1e-300) if step is None else step

    def at(h: float) -> Array:
        out = d.evaluate([1j * h * v for v in d.v])
        if out.dtype.kind != "c":
            raise ValueError("the function returned a real result for a complex input, so it is "
                             "not analytic there (abs, maximum, comparisons, casts...); the "
                             "complex step does not apply: use method='richardson'")
        return np.imag(out) / h

    fine, coarse = at(h), at(2.0 * h)
    error = np.abs(coarse - fine) + 4.0 * EPS * np.abs(fine)
    return Estimate(d.split(fine), d.split(error), "complex", 2.0 * h)


# ---------------------------------------------------------------- public estimators


def jvp(f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any], *,
        method: Method = "richardson", step: float | None = None, levels: int = LEVELS) -> Estimate:
    """Estimate the directional derivative of ``f`` at ``primals`` along ``tangents``.

    Parameters
    ----------
    f : callable
        A function of ``len(primals)`` arguments; its output may be an array, a number, or a
        pytree (tuple, list, dict) of them. Integer and bool outputs count as float.
    primals, tangents : tuple
        The point and the direction, tuples of pytrees of matching structure and shapes, as
        in :func:`dualnumpy.jvp`. Complex primals take complex directions (``"richardson"``
        and ``"central"`` only).
    method : {"richardson", "central", "complex"}
        The estimator (see the module docstring).
    step : float, optional
        The (smallest) step along the direction. By default
        ``eps**(1/3) * max(1, |x|) / max|v|``, with ``|x|`` the largest input entry the
        direction moves; ``1e-20 / max|v|`` for the complex step.
    levels : int
        Steps in the Richardson tableau.

    Returns
    -------
    Estimate
        ``value`` and ``error`` shaped like ``f``'s output.

    Examples
    --------
    >>> import numpy as np
    >>> from dualnumpy import finite_diff
    >>> est = finite_diff.jvp(np.sin, (np.array([0.0, np.pi]),), (np.array([1.0, 2.0]),))
    >>> np.round(est.value, 10)
    array([ 1., -2.])
    >>> bool(np.all(est.error < 1e-8))
    True
    >>> bool(finite_diff.jvp(np.exp, (1.0,), (1.0,), method="complex").value == np.exp(1.0))
    True
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}")
    if not isinstance(levels, int) or levels < 2:
        raise ValueError(f"levels must be an int of at least 2; got {levels!r}")
    if step is not None and not (isinstance(step, (int, float)) and math.isfinite(step) and step > 0):
        raise ValueError(f"step must be a positive finite number; got {step!r}")
    d = _Directional(f, primals, tangents)
    if d.v_scale == 0.0:
        return _zero_direction(d)
    if method != "complex":  # f at the point: its dtype may coarsen the steps; where it is defined
        d.f0 = d.evaluate([np.zeros_like(v) for v in d.v])
    if method == "complex":
        return _complex(d, step)
    h = d.base_step() if step is None else float(step)
    if method == "central":
        return _central(d, h)
    return _ridders(d, h, levels)


def _argnums(argnums: int | Sequence[int], nargs: int) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for n in nums:
        if not isinstance(n, int) or isinstance(n, bool) or not -nargs <= n < nargs:
            raise ValueError(f"argnums {argnums!r} does not pick from {nargs} positional arguments")
    return tuple(n % nargs for n in nums)


def jacobian(f: Callable[..., Any], *args: Any, argnums: int | Sequence[int] = 0,
             method: Method = "richardson", step: float | None = None, levels: int = LEVELS) -> Estimate:
    """Estimate the Jacobian of ``f`` with respect to ``args[argnums]``, one basis direction at a time.

    Each basis direction ``e_j`` gets its own step, scaled to ``max(1, |x_j|)``. Shapes
    follow :func:`dualnumpy.jacfwd`: every output leaf becomes ``out.shape + in.shape``;
    with a tuple ``argnums`` (or a pytree argument) each output leaf holds the inputs'
    structure. Complex inputs are refused, as by ``jacfwd``.

    Parameters
    ----------
    f : callable
    *args
        The point.
    argnums : int or tuple of int
        Which positional arguments to differentiate.
    method, step, levels
        As for :func:`jvp`.

    Returns
    -------
    Estimate

    Examples
    --------
    >>> import numpy as np
    >>> from dualnumpy import finite_diff
    >>> est = finite_diff.jacobian(lambda x: x[::-1] * x[0], np.array([1.0, 2.0]))
    >>> np.round(est.value, 8)
    array([[2., 1.],
           [2., 0.]])
    >>> bool(np.all(est.error < 1e-8))
    True
    """
    nums = _argnums(argnums, len(args))
    leaves, treedef = flatten(tuple(args[n] for n in nums))
    inputs = [_as_input(x, f"input leaf {i}") for i, x in enumerate(leaves)]
    for i, x in enumerate(inputs):
        if x.dtype.kind == "c":
            raise TypeError(f"input leaf {i} is complex; jacobian seeds real directions only "
                            f"(use finite_diff.jvp with complex directions)")

    def g(*xs: Any) -> Any:
        full = list(args)
        for n, sub in zip(nums, unflatten(treedef, list(xs)), strict=True):
            full[n] = sub
        return f(*full)

    columns: list[Estimate] = []
    for i, x in enumerate(inputs):
        for j in range(x.size):
            direction = [np.zeros_like(y) for y in inputs]
            direction[i].reshape(-1)[j] = 1.0
            columns.append(jvp(g, leaves, direction, method=method, step=step, levels=levels))
    if not columns:  # no input entries: f at the point fixes the output structure
        out_leaves, out_def = _out_leaves(f(*args))
        empty = [np.zeros((*a.shape, 0)) for a in out_leaves]
        return Estimate(unflatten(out_def, empty), unflatten(out_def, empty), method, 0.0)
    out_def = flatten(columns[0].value)[1]
    sizes = [x.size for x in inputs]
    offsets = np.cumsum([0, *sizes]).tolist()
    single = isinstance(argnums, int)

    def assemble(part: str) -> Any:
        per_column = [flatten(getattr(c, part))[0] for c in columns]
        out = []
        for k in range(out_def.num_leaves):
            stacked = np.stack([np.asarray(col[k]) for col in per_column], axis=-1)
            blocks = [stacked[..., offsets[i]:offsets[i + 1]].reshape(stacked.shape[:-1] + x.shape)
                      for i, x in enumerate(inputs)]
            tree = unflatten(treedef, blocks)
            out.append(tree[0] if single else tree)
        return unflatten(out_def, out)

    return Estimate(assemble("value"), assemble("error"), method, max(c.step for c in columns))
