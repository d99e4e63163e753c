"""The calculus of products, polynomials and signal functions: one line per function (see rules/kinds.py for the kinds).

Products are ``Bilinear``: the tangent is the product rule, one term per Dual
operand, each computed with the batch axis kept leading (lower-rank operands
aligned first, so k equal to a data dimension cannot broadcast wrongly);
``einsum`` is the same sum over its sequence of operands. Polynomial and signal
functions are compositions of supported operations on Duals (``Composite``),
linear maps applied to the tangent (``Linear``), or ``Custom`` tangents of
least squares, roots, gradients and phase unwrapping. The value is always NumPy's own.

Semantics at edges (README):
  * ``interp`` at a breakpoint ``x == xp[j]``: the derivative from the right
    (the interval ``xp[j] <= x < xp[j+1]`` NumPy's search selects); at and
    beyond ``xp[-1]`` and before ``xp[0]`` the function is constant in ``x``.
  * ``unwrap``: the tangent passes through (the jumps are piecewise constant);
    a Dual ``period`` contributes the number of periods added.
  * ``polydiv``: quotient and remainder are exact; when NumPy trims remainder
    coefficients that are zero only numerically their derivatives would be
    lost, and the call is refused.
  * ``polymul`` trims leading zero coefficients (poly1d): refused for a Dual
    with a leading zero, whose tangent would be dropped.
  * ``roots``: -p_dot(z)/p'(z) at simple roots; repeated roots have no derivative.
  * ``corrcoef``: the tangent of the unclipped quotient (NumPy's clip to
    [-1, 1] only trims rounding).
"""

from __future__ import annotations

import math
import string
from collections.abc import Sequence
from typing import Any

import numpy as np

from dualnumpy.core.tangent import align, dtype_of, shape_of, tangent_dtype
from dualnumpy.core.types import ArrayLike
from dualnumpy.numpy_facts.sampling import arr, sample
from dualnumpy.numpy_facts.signatures import Args
from dualnumpy.rules.kinds import (
    Bilinear,
    BilinearTerm,
    Composite,
    Custom,
    Dependence,
    Linear,
    NonDiff,
    Params,
    Rule,
    Switch,
    as_array,
    is_number,
    primal,
)

# NumPy's stubs cannot know that a Dual dispatches through the array protocols.
_np: Any = np


# ---------------------------------------------------------------- small helpers


def _cast(x: Any, dtype: Any) -> Any:
    if dtype_of(x) == np.dtype(dtype):
        return x
    return _np.astype(x, dtype) if is_number(x) else np.asarray(x, dtype)


def _ndim(x: Any) -> int:
    return len(shape_of(x))


def _along(axis: int, ndim: int, part: slice) -> tuple[slice, ...]:
    """An index taking ``part`` along ``axis`` and everything elsewhere."""
    return (slice(None),) * axis + (part,)


def _1d(x: Any) -> Any:
    """np.atleast_1d for one array, Duals included."""
    x = as_array(x)
    return np.reshape(x, (1,)) if _ndim(x) == 0 else x


# ---------------------------------------------------------------- the terms of the product rules


def _scalar_term(i: int, t: ArrayLike, ops: list[Any]) -> ArrayLike:
    """The term of a product in which an operand is 0-d: plain multiplication."""
    other = ops[1 - i]
    return align(t, _ndim(other)) * other


def _dot_term(i: int, t: ArrayLike, ops: list[Any], args: Args) -> ArrayLike:
    a, b = ops
    if _ndim(a) == 0 or _ndim(b) == 0:
        return _scalar_term(i, t, ops)
    na, nb = _ndim(a), _ndim(b)
    # dot(a, b) contracts a's last axis with b's second-to-last (its only one if 1-D); matmul
    # agrees where b has rank <= 2 and, for b's term, a has rank <= 2 too (BLAS, batched over k).
    if i == 0:
        return np.matmul(t, b) if nb <= 2 else np.tensordot(t, b, ([-1], [nb - 2]))
    if na <= 2 and nb == 2:
        return np.matmul(a, t)
    out = np.tensordot(a, t, ([na - 1], [max(nb - 2, 0) + 1]))
    return np.moveaxis(out, na - 1, 0)


def _inner_term(i: int, t: ArrayLike, ops: list[Any], args: Args) -> ArrayLike:
    a, b = ops
    if _ndim(a) == 0 or _ndim(b) == 0:
        return _scalar_term(i, t, ops)
    if i == 0:
        return np.inner(t, b)
    return np.moveaxis(np.inner(a, t), _ndim(a) - 1, 0)


def _outer_term(i: int, t: ArrayLike, ops: list[Any], args: Args) -> ArrayLike:
    k = shape_of(t)[0]
    if i == 0:
        return np.reshape(t, (k, -1, 1)) * np.reshape(ops[1], (1, -1))
    return np.reshape(ops[0], (-1, 1)) * np.reshape(t, (k, 1, -1))


def _vdot_term(i: int, t: ArrayLike, ops: list[Any], args: Args) -> ArrayLike:
    """vdot(a, b) = sum(conj(a) * b) over the flattened arrays: R-linear in a."""
    k = shape_of(t)[0]
    flat = np.reshape(t, (k, -1))
    if i == 0:
        return np.matmul(np.conjugate(flat), np.ravel(ops[1]))
    return np.matmul(flat, np.conjugate(np.ravel(ops[0])))


def _tensordot_axes(axes: Any, na: int, nb: int) -> tuple[list[int], list[int]]:
    """NumPy's reading of ``axes``: an int N (last N of a, first N of b) or two sequences."""
    try:
        axes_a, axes_b = axes
    except TypeError:
        n = int(axes)
        return list(range(na - n, na)), list(range(n))

    def listed(ax: Any, nd: int) -> list[int]:
        seq = ax if isinstance(ax, (list, tuple, np.ndarray)) else [ax]
        return [int(x) % nd for x in seq]

    return listed(axes_a, na), listed(axes_b, nb)


def _tensordot_term(i: int, t: ArrayLike, ops: list[Any], args: Args) -> ArrayLike:
    a, b = ops
    axes_a, axes_b = _tensordot_axes(args.get("axes", 2), _ndim(a), _ndim(b))
    if i == 0:
        return np.tensordot(t, b, ([x + 1 for x in axes_a], axes_b))
    out = np.tensordot(a, t, (axes_a, [x + 1 for x in axes_b]))
    return np.moveaxis(out, _ndim(a) - len(axes_a), 0)


def _kron_term(i: int, t: ArrayLike, ops: list[Any], args: Args) -> ArrayLike:
    """kron of the tangent against the other operand, both padded to one rank plus a unit batch axis."""
    a, b = ops
    k = shape_of(t)[0]
    nd = max(_ndim(a), _ndim(b))
    if _ndim(a) == 0 or _ndim(b) == 0:
        return _scalar_term(i, t, ops)

    def padded(x: Any) -> Any:
        return np.reshape(x, (1,) * (nd + 1 - _ndim(x)) + shape_of(x))

    own = np.reshape(t, (k,) + (1,) * (nd - _ndim(ops[i])) + shape_of(ops[i]))
    return np.kron(own, padded(b)) if i == 0 else np.kron(padded(a), own)


def _cross_term(i: int, t: ArrayLike, ops: list[Any], args: Args) -> ArrayLike:
    a, b = ops
    axis = args.get("axis")
    axes = [args.get("axisa", -1), args.get("axisb", -1)] if axis is None else [axis, axis]
    axisc = args.get("axisc", -1) if axis is None else axis
    moved = [np.moveaxis(x, int(ax) % _ndim(x), -1) for x, ax in zip(ops, axes, strict=True)]
    rest = np.broadcast_shapes(*(shape_of(x)[:-1] for x in moved))
    own = np.moveaxis(t, int(axes[i]) % _ndim(ops[i]) + 1, -1)
    own = align(own, len(rest) + 1)
    out = np.cross(own, moved[1]) if i == 0 else np.cross(moved[0], own)
    if 3 not in (shape_of(a)[int(axes[0]) % _ndim(a)], shape_of(b)[int(axes[1]) % _ndim(b)]):
        return out  # two 2-vectors: a scalar per pair
    return np.moveaxis(out, -1, int(axisc) % (len(rest) + 1) + 1)


def _convolution_term(func: Any) -> BilinearTerm:
    """convolve/correlate are bilinear in (a, v); 1-D only, so one call per direction."""

    def term(i: int, t: ArrayLike, ops: list[Any], args: Args) -> ArrayLike:
        kw = {"mode": args["mode"]} if "mode" in args else {}
        k = shape_of(t)[0]
        return np.stack([func(t[j], ops[1], **kw) if i == 0 else func(ops[0], t[j], **kw)
                         for j in range(k)])

    return term


# ---------------------------------------------------------------- einsum

_LABELS = string.ascii_uppercase + string.ascii_lowercase  # NumPy's labels for integer sublists


def _sublist(labels: Sequence[Any]) -> str:
    return "".join("..." if s is Ellipsis else _LABELS[int(s)] for s in labels)


def _einsum_spec(operands: Sequence[Any]) -> tuple[list[str], str, list[Any]]:
    """Input subscripts, explicit output subscripts and the arrays, from either calling form."""
    if isinstance(operands[0], str):
        spec = operands[0].replace(" ", "")
        arrays = list(operands[1:])
        inputs_part, _, output = spec.partition("->")
        inputs = inputs_part.split(",")
        explicit = "->" in spec
    else:
        n = len(operands) // 2
        arrays = list(operands[0:2 * n:2])
        inputs = [_sublist(s) for s in operands[1:2 * n:2]]
        explicit = len(operands) % 2 == 1
        output = _sublist(operands[-1]) if explicit else ""
    if not explicit:  # NumPy: broadcast dimensions first, then the labels seen once, sorted
        letters = "".join(inputs).replace(".", "")
        once = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
        output = ("..." if any("..." in s for s in inputs) else "") + once
    return inputs, output, arrays


def _einsum_arrays(operands: Sequence[Any], items: Sequence[Any]) -> Sequence[Any]:
    """The entries of ``items`` (the operands' tangents) at the array operands, in the
    order of ``_einsum_spec``, for either calling form."""
    if isinstance(operands[0], str):
        return items[1:]
    return items[0:2 * (len(operands) // 2):2]


def _einsum(ans: Any, primals: Any, tangents: Any, params: Params) -> Any:
    """Sum over Dual operands of einsum with that operand replaced by its tangent,
    the batch axis a fresh label leading that operand's and the output's subscripts."""
    inputs, output, plain = _einsum_spec(primals["operands"])
    operand_tangents = _einsum_arrays(primals["operands"], tangents["operands"])
    used = set("".join(inputs) + output)
    free = [c for c in _LABELS if c not in used]
    if not free:
        raise TypeError("np.einsum with all 52 labels in use leaves none for the batch axis of the "
                        "tangent; split the contraction into two einsum calls")
    z = free[0]
    total: Any = None
    for i, t in enumerate(operand_tangents):
        if t is None:
            continue
        spec = ",".join(z + s if j == i else s for j, s in enumerate(inputs)) + "->" + z + output
        term = np.einsum(spec, *(t if j == i else v for j, v in enumerate(plain)), **params)
        total = term if total is None else total + term
    return total


# ---------------------------------------------------------------- polynomials


def _horner(p: Any, x: Any) -> Any:
    """Horner's rule in the order np.polyval uses (p is 1-D, highest power first)."""
    y: Any = np.zeros_like(x)
    for i in range(shape_of(p)[0]):
        y = y * x + p[i]
    return y


def _polyval(p: Any, x: Any) -> Any:
    return _horner(as_array(p), as_array(x))


def _pad_front(a: Any, n: int) -> Any:
    return a if n <= 0 else np.concatenate((np.zeros(n, dtype_of(a)), a))


def _polyadd(a1: Any, a2: Any) -> Any:
    a1, a2 = _1d(a1), _1d(a2)
    diff = shape_of(a2)[0] - shape_of(a1)[0]
    return _pad_front(a1, diff) + _pad_front(a2, -diff)


def _polysub(a1: Any, a2: Any) -> Any:
    a1, a2 = _1d(a1), _1d(a2)
    diff = shape_of(a2)[0] - shape_of(a1)[0]
    return _pad_front(a1, diff) - _pad_front(a2, -diff)


def _trimmed(a: Any) -> Any:
    """poly1d's leading-zero trim; refused on a Dual, whose leading tangent it would drop."""
    a = _1d(a)
    raw = np.asarray(primal(a))
    nonzero = np.flatnonzero(raw)
    first = int(nonzero[0]) if nonzero.size else raw.shape[0]
    if first == 0 or raw.shape[0] == 1:  # nothing to trim ([0.] stays [0.])
        return a
    if is_number(a):
        raise ValueError(
            "np.polymul: a Dual polynomial with a leading zero coefficient: NumPy trims it, and "
            "its derivative (the tangent of that coefficient) would be lost; strip it first "
            "(p[k:] with k the first nonzero index) or use np.convolve(a1, a2)")
    return a[first:] if first < raw.shape[0] else np.zeros(1, raw.dtype)


def _polymul(a1: Any, a2: Any) -> Any:
    return np.convolve(_trimmed(a1), _trimmed(a2))


def _polyder_tangent(t: ArrayLike, ndim: int, args: Args) -> ArrayLike:
    """polyder scales each kept coefficient by a constant: polyder of ones gives the factors."""
    factors = np.polyder(np.ones(shape_of(t)[-1]), int(args.get("m", 1)))
    return t[:, :shape_of(factors)[0]] * factors


def _polyint(p: Any, m: int = 1, k: Any = None) -> Any:
    m = int(m)
    k = np.zeros(m, float) if k is None else _1d(k)
    if shape_of(k)[0] == 1 and m > 1:
        k = k[0] * np.ones(m, float)
    p = as_array(p)
    for i in range(m):
        p = np.concatenate((p / np.arange(shape_of(p)[0], 0, -1), np.reshape(k[i], (1,))))
    return p


def _polydiv_parts(u: Any, v: Any) -> tuple[Any, Any]:
    """Quotient by NumPy's recurrence and the full-length remainder u - q*v, on Duals."""
    u, v = _1d(u) + 0.0, _1d(v) + 0.0
    m, n = shape_of(u)[0] - 1, shape_of(v)[0] - 1
    if m < n:
        return np.reshape(0.0 * (u[0] + v[0]), (1,)), u
    scale = 1.0 / v[0]
    qs: list[Any] = []
    for i in range(m - n + 1):
        acc = u[i]
        for j in range(1, min(i, n) + 1):
            acc = acc - qs[i - j] * v[j]
        qs.append(acc * scale)
    q = np.stack(qs)
    return q, u - np.convolve(q, v)


def _polydiv(u: Any, v: Any) -> Any:
    q, r_full = _polydiv_parts(u, v)
    m, n = shape_of(_1d(u))[0] - 1, shape_of(_1d(v))[0] - 1
    kept = shape_of(np.polydiv(primal(u), primal(v))[1])[0]  # NumPy's trim, decided on the plain values
    if kept < m + 1 - max(m - n + 1, 0):
        raise ValueError(
            "np.polydiv: NumPy trimmed remainder coefficients that are zero only numerically "
            "(within 1e-8), so their derivatives would be lost; take the quotient q from "
            "np.polydiv and the remainder as u - np.polymul(q, v) at its full length")
    return q, r_full[-kept:]


def _roots(ans: Any, primals: Any, tangents: Any, params: Params) -> Any:
    """Simple roots z move by -p_dot(z) / p'(z)."""
    pv, t, z = primals["p"], tangents["p"], ans
    k = shape_of(t)[0]
    if shape_of(z)[0] == 0:
        return np.zeros((k, 0), tangent_dtype(dtype_of(z)))
    slope = _horner(np.polyder(_1d(pv)), z)
    moved = _horner(np.moveaxis(np.reshape(t, (k, -1)), 1, 0)[:, :, None], z[None, :])
    return -moved / slope


def _roots_of_items(p: Any) -> Any:
    """NumPy dispatches np.roots on the items of a list: the coefficients, stacked, may be Duals."""
    return np.roots(np.stack([as_array(c) for c in p]))


_ROOTS = Custom(_roots, (), args=("p",))
_ROOTS_OF_ITEMS = Composite(_roots_of_items, (), args=("p",))


def _choose_roots(values: Args) -> Rule:
    return _ROOTS_OF_ITEMS if isinstance(values["p"], (list, tuple)) else _ROOTS


def _poly(seq_of_zeros: Any) -> Any:
    if isinstance(seq_of_zeros, (list, tuple)):  # NumPy dispatches on the items: roots may be Duals
        seq_of_zeros = np.stack([as_array(z) for z in seq_of_zeros]) if seq_of_zeros else np.zeros(0)
    z = _1d(seq_of_zeros)
    shape = shape_of(z)
    if len(shape) == 2 and shape[0] == shape[1] and shape[0] != 0:
        return _characteristic(z)
    dtype = np.dtype(np.mintypecode(dtype_of(z).char))
    z = _cast(z, dtype)
    if shape[0] == 0:
        return 1.0
    one, zero = np.ones((1,), dtype), np.zeros((1,), dtype)
    a: Any = one
    for i in range(shape[0]):
        a = np.concatenate((a, zero)) - np.concatenate((zero, a)) * z[i]
    if dtype.kind == "c":
        roots = np.asarray(primal(z), complex)
        if np.all(np.sort(roots) == np.sort(roots.conjugate())):
            a = np.real(a)
    return a


def _characteristic(matrix: Any) -> Any:
    """det(lambda I - A) by Faddeev-LeVerrier: a polynomial in A, so its tangent is exact."""
    n = shape_of(matrix)[0]
    dtype = tangent_dtype(dtype_of(matrix))
    eye = np.eye(n, dtype=dtype)
    coeffs: list[Any] = [np.ones((1,), dtype)]
    c: Any = 1.0
    product: Any = None
    for j in range(1, n + 1):
        m = eye * c if product is None else product + eye * c
        product = np.matmul(matrix, m)
        c = -np.trace(product) / j
        coeffs.append(np.reshape(c, (1,)))
    return np.concatenate(coeffs)


#: The arguments np.polyfit's rule takes in: x and y carry tangents; w, deg and rcond are
#: listed so that the rule refuses a Dual there with its own message.
_POLYFIT_ARGS = ("x", "y", "w", "deg", "rcond")


def _polyfit(ans: Any, primals: Any, tangents: Any, params: Params) -> Any:
    """The least-squares coefficients: linear in y (NumPy's own map, rcond included);
    in x through the normal equations, where the fit has full rank."""
    for key in ("w", "deg", "rcond"):
        if tangents.get(key) is not None:
            raise TypeError(f"np.polyfit: {key!r} cannot be a Dual (the rule differentiates in x and y); "
                            f"pass its value ({key}.value)")
    full, cov = params.get("full", False), params.get("cov", False)
    tx, ty = tangents.get("x"), tangents.get("y")
    xv, yv = as_array(primals["x"]) + 0.0, as_array(primals["y"]) + 0.0
    deg, rcond, w = int(primals["deg"]), primals.get("rcond"), primals.get("w")
    order, n = deg + 1, shape_of(xv)[0]
    if tx is not None:
        if full:
            raise TypeError("np.polyfit(full=True) with a Dual x: the singular values have no rule; "
                            "call it with full=False, or pass x.value")
        rank = np.polyfit(primal(xv), primal(yv), deg, rcond=rcond, full=True, w=primal(w))[2]
        if rank < order:
            raise ValueError(f"np.polyfit: the fit is rank-deficient (rank {rank} < deg + 1 = {order}); "
                             f"its coefficients are not differentiable in x. Lower deg, or pass x.value")
    complex_x = tx is not None and dtype_of(xv).kind == "c"
    if complex_x and cov:
        raise TypeError("np.polyfit(cov=...) with a complex Dual x: NumPy's covariance uses plain "
                        "transposes, which has no consistent derivative here; pass x.value, or "
                        "differentiate the coefficients (cov=False)")
    c = ans[0] if (full or cov) else ans
    two_d = _ndim(yv) == 2
    k = shape_of(tx if ty is None else ty)[0]
    cc = c if two_d else c[:, None]
    y2 = yv if two_d else yv[:, None]
    w2 = 1.0 if w is None else (as_array(w) + 0.0)[:, None] ** 2
    design = np.vander(xv, order)
    err = np.matmul(design, cc) - y2  # A c - y, (n, K)
    z: Any = 0.0 if ty is None else (ty if two_d else ty[..., None])
    vbase: Any = None
    if tx is not None:  # G dc = A^T W^2 (dy - dA c) - dA^T W^2 (A c - y), G = A^T W^2 A
        slopes = np.concatenate((np.vander(xv, deg) * np.arange(deg, 0, -1), np.zeros((n, 1))), axis=1)
        z = z - np.matmul(slopes, cc) * tx[..., None]
        # Complex x: the least-squares fit is not holomorphic in x. Its derivative pairs the
        # conjugate terms, (dA)^H = conj(dA)^T, with G = A^H W^2 A (NumPy's unscaled covariance
        # uses A^T A, so G^-1 is formed here).
        vbase = (np.linalg.inv(np.matmul(np.conjugate(design).T, w2 * design)) if complex_x
                 else _unscaled_covariance(xv, yv, deg, rcond, w))
    solved = _polyfit_map(xv, z, k, deg, rcond, w, shape_of(cc)[1])
    if tx is not None:
        dual_terms = (np.matmul(np.conjugate(slopes).T, np.conjugate(tx)[..., None] * (w2 * err)) if complex_x
                      else np.matmul(np.transpose(slopes), tx[..., None] * (w2 * err)))
        solved = solved - np.matmul(vbase, dual_terms)
    dc = solved if two_d else solved[..., 0]
    if not (full or cov):
        return dc
    d_err = np.matmul(design, solved) - (0.0 if ty is None else (ty if two_d else ty[..., None]))
    if tx is not None:
        d_err = d_err + np.matmul(slopes, cc) * tx[..., None]
    resids = ans[1] if full else np.sum(w2 * np.real(np.conjugate(err) * err), axis=0)  # per column
    d_resids = (2.0 * np.sum(w2 * np.real(np.conjugate(err) * d_err), axis=1) if shape_of(resids)[0]
                else np.zeros((k, 0)))
    if full:  # (coefficients, residuals, rank, singular values, rcond)
        return (dc, d_resids, *(None for _ in ans[2:]))
    if vbase is None:
        vbase = _unscaled_covariance(xv, yv, deg, rcond, w)
    # NumPy: V = Vbase * fac, fac = resids / (n - order) or 1; with 2-D y, V[:, :, K].
    fac: Any = np.ones(1) if cov == "unscaled" else resids / (n - order)
    dv: Any = np.zeros((k, order, order, shape_of(fac)[0]), tangent_dtype(dtype_of(ans[1])))
    if tx is not None:  # d(G^-1) = -G^-1 dG G^-1
        half = np.matmul(np.transpose(slopes), tx[..., None] * (w2 * design))
        d_vbase = -np.matmul(np.matmul(vbase, half + np.swapaxes(half, -1, -2)), vbase)
        dv = dv + d_vbase[..., None] * fac
    if cov != "unscaled":
        dv = dv + vbase[None, :, :, None] * (d_resids / (n - order))[:, None, None, :]
    return dc, (dv if two_d else dv[..., 0])


def _unscaled_covariance(x: Any, y: Any, deg: int, rcond: Any, w: Any) -> Any:
    """(A^T W^2 A)^-1, as np.polyfit(cov="unscaled") computes it."""
    vbase = np.polyfit(x, y, deg, rcond=rcond, w=w, cov="unscaled")[1]
    return vbase if _ndim(vbase) == 2 else vbase[:, :, 0]


def _polyfit_map(x: Any, z: Any, k: int, deg: int, rcond: Any, w: Any, cols: int) -> Any:
    """NumPy's own least-squares map (x, w fixed) applied to ``z`` of shape (k, n, K)."""
    n = shape_of(x)[0]
    flat = np.reshape(np.moveaxis(z, 0, -1), (n, cols * k))
    solved = np.polyfit(x, flat, deg, rcond=rcond, w=w)
    return np.moveaxis(np.reshape(solved, (deg + 1, cols, k)), -1, 0)


def _vander(x: Any, N: Any = None, increasing: bool = False) -> Any:
    dtype = np.promote_types(dtype_of(x), int)
    x = _cast(as_array(x), dtype)
    n = shape_of(x)[0]
    width = n if N is None else int(N)
    columns = np.concatenate((np.ones((n, 1), dtype), np.broadcast_to(np.reshape(x, (n, 1)), (n, max(width - 1, 0)))),
                             axis=1)
    powers = np.cumprod(columns, axis=1)[:, :width]
    return powers if increasing else powers[:, ::-1]


# ---------------------------------------------------------------- differences, integrals, signals


def _diff(a: Any, n: int = 1, axis: int = -1, prepend: Any = np._NoValue, append: Any = np._NoValue) -> Any:
    a = as_array(a)
    if n == 0:
        return a
    nd = _ndim(a)
    axis = int(axis) % nd
    pieces = []
    for extra, first in ((prepend, True), (append, False)):
        if extra is np._NoValue:
            continue
        extra = as_array(extra)
        if _ndim(extra) == 0:
            shape = list(shape_of(a))
            shape[axis] = 1
            extra = np.broadcast_to(extra, tuple(shape))
        pieces.append((first, extra))
    if pieces:
        a = np.concatenate([e for f, e in pieces if f] + [a] + [e for f, e in pieces if not f], axis=axis)
    upper, lower = _along(axis, nd, slice(1, None)), _along(axis, nd, slice(None, -1))
    for _ in range(n):
        a = a[upper] - a[lower]
    return a


def _ediff1d(ary: Any, to_end: Any = None, to_begin: Any = None) -> Any:
    flat = np.ravel(as_array(ary))
    dtype = dtype_of(flat)
    pieces = [flat[1:] - flat[:-1]]
    if to_begin is not None:
        pieces.insert(0, _cast(np.ravel(as_array(to_begin)), dtype))
    if to_end is not None:
        pieces.append(_cast(np.ravel(as_array(to_end)), dtype))
    return np.concatenate(pieces) if len(pieces) > 1 else pieces[0]


def _gradient(ans: Any, primals: Any, tangents: Any, params: Params) -> Any:
    """Linear in f for fixed spacing: np.gradient of the tangent over the shifted axes.

    ``varargs`` (the spacing) is among the rule's arguments only to refuse a Dual there with
    this message; it arrives as given, so any number in it is refused."""
    spacing = primals.get("varargs", ())
    if any(is_number(d) for v in spacing for d in (v if isinstance(v, (list, tuple)) else [v])):
        raise TypeError("np.gradient: the spacing cannot be a Dual (the rule is linear in f for fixed "
                        "spacing); for a Dual uniform spacing h use np.gradient(f) / h")
    t = tangents["f"]
    ndim = _ndim(primals["f"])
    axis = params.get("axis")
    if axis is None:
        axes: Any = tuple(range(1, ndim + 1))
    elif isinstance(axis, (tuple, list)):
        axes = tuple(int(a) % ndim + 1 for a in axis)
    else:
        axes = int(axis) % ndim + 1
    return np.gradient(t, *spacing, axis=axes, edge_order=params.get("edge_order", 1))


def _trapezoid(y: Any, x: Any = None, dx: Any = 1.0, axis: int = -1) -> Any:
    y = as_array(y)
    nd = _ndim(y)
    ax = int(axis) % nd
    if x is None:
        d = dx
    else:
        x = as_array(x)
        if _ndim(x) == 1:
            d = np.diff(x)
            shape = [1] * nd
            shape[ax] = shape_of(d)[0]
            d = np.reshape(d, tuple(shape))
        else:
            d = np.diff(x, axis=axis)
    upper, lower = _along(ax, nd, slice(1, None)), _along(ax, nd, slice(None, -1))
    return np.sum(d * (y[upper] + y[lower]) / 2.0, axis=axis)


def _interp(x: Any, xp: Any, fp: Any, left: Any = None, right: Any = None, period: Any = None) -> Any:
    """Piecewise linear on Duals, the interval chosen by value as NumPy does (right-continuous)."""
    fp = as_array(fp)
    x = _cast(as_array(x), np.float64)
    xp = _cast(as_array(xp), np.float64)
    fp = _cast(fp, np.complex128 if dtype_of(fp).kind == "c" else np.float64)
    if period is not None:
        period = abs(period)
        left = right = None
        x, xp = x % period, xp % period
        order = np.argsort(np.asarray(primal(xp)))
        xp, fp = xp[order], fp[order]
        xp = np.concatenate((xp[-1:] - period, xp, xp[0:1] + period))
        fp = np.concatenate((fp[-1:], fp, fp[0:1]))
    raw_x, raw_xp = np.asarray(primal(x)), np.asarray(primal(xp))
    n = raw_xp.shape[0]
    j = np.searchsorted(raw_xp, raw_x, side="right") - 1
    below = fp[0] if left is None else left
    above = fp[-1] if right is None else right
    result: Any = np.where(j < 0, below, np.where(raw_x > raw_xp[-1], above, fp[-1]))
    if n >= 2:
        inside = (j >= 0) & (j < n - 1)
        jj = np.clip(j, 0, n - 2)
        x0, f0 = xp[jj], fp[jj]
        h = np.where(inside, xp[jj + 1] - x0, 1.0)
        result = np.where(inside, f0 + (fp[jj + 1] - f0) * ((x - x0) / h), result)
    return result


_SINC_SERIES = tuple((-1.0) ** i / math.factorial(2 * i + 1) for i in range(8))[::-1]


def _sinc(x: Any) -> Any:
    """sin(pi x)/(pi x), by its Taylor series near 0 so that every order of derivative is right there."""
    x = as_array(x)
    y = np.pi * x
    small = np.abs(np.pi * np.asarray(primal(x))) < 0.5
    safe = np.where(small, 1.0, y)
    y2 = y * y
    near: Any = 0.0
    for c in _SINC_SERIES:
        near = near * y2 + c
    return np.where(small, near, np.sin(safe) / safe)


_I0_SERIES = tuple(1.0 / math.factorial(i) ** 2 for i in range(16))[::-1]
# Cephes' Chebyshev coefficients, the ones np.i0 evaluates.
_I0A: tuple[float, ...] = tuple(float(c) for c in np.lib._function_base_impl._i0A)  # type: ignore[attr-defined]
_I0B: tuple[float, ...] = tuple(float(c) for c in np.lib._function_base_impl._i0B)  # type: ignore[attr-defined]


def _chbevl(x: Any, coeffs: tuple[float, ...]) -> Any:
    b0: Any = coeffs[0]
    b1: Any = 0.0
    b2: Any = 0.0
    for c in coeffs[1:]:
        b2 = b1
        b1 = b0
        b0 = x * b1 - b2 + c
    return 0.5 * (b0 - b2)


def _i0(x: Any) -> Any:
    """NumPy's Chebyshev expansions for |x| > 1; the power series in x^2 near 0, where |x| has a kink."""
    x = as_array(x)
    if dtype_of(x).kind != "f":
        x = _cast(x, np.float64)
    raw = np.abs(np.asarray(primal(x)))
    small = raw <= 1.0
    q = x * x * 0.25
    series: Any = 0.0
    for c in _I0_SERIES:
        series = series * q + c
    ax = np.abs(np.where(small, 2.0, x))
    mid = np.where(raw <= 8.0, ax, 2.0)
    far = np.where(raw <= 8.0, 9.0, ax)
    inner = np.exp(mid) * _chbevl(mid / 2.0 - 2, _I0A)
    outer = np.exp(far) * _chbevl(32.0 / far - 2.0, _I0B) / np.sqrt(far)
    return np.where(small, series, np.where(raw <= 8.0, inner, outer))


def _unwrap(ans: Any, primals: Any, tangents: Any, params: Params) -> Any:
    """The unwrapped signal is p plus whole periods: the tangent of p passes through.
    ``discont`` only chooses where to add (used by value); a Dual ``period`` adds its count."""
    tp, t_period = tangents.get("p"), tangents.get("period")
    ndim = _ndim(ans)
    k = next(shape_of(t)[0] for t in tangents.values() if t is not None)
    t_out: Any = np.zeros((k, *shape_of(ans)), tangent_dtype(dtype_of(ans))) if tp is None else tp
    if t_period is not None:
        raw_period = primal(primals["period"])
        counts = np.round((np.asarray(primal(ans)) - np.asarray(primal(primals["p"]))) / raw_period)
        t_out = t_out + align(t_period, ndim) * counts
    return t_out


# ---------------------------------------------------------------- covariance


def _rows(m: Any, dtype: Any) -> Any:
    x = _cast(as_array(m), dtype)
    nd = _ndim(x)
    return np.reshape(x, (1, 1)) if nd == 0 else np.reshape(x, (1, -1)) if nd == 1 else x


def _cov(m: Any, y: Any = None, rowvar: bool = True, bias: bool = False, ddof: Any = None,
         fweights: Any = None, aweights: Any = None, *, dtype: Any = None) -> Any:
    m = as_array(m)
    if dtype is None:
        dtype = np.result_type(*([dtype_of(m)] if y is None else [dtype_of(m), dtype_of(as_array(y))]), np.float64)
    X = _rows(m, dtype)
    if not rowvar and _ndim(m) != 1:
        X = np.transpose(X)
    if y is not None:
        Y = _rows(y, dtype)
        if not rowvar and shape_of(Y)[0] != 1:
            Y = np.transpose(Y)
        X = np.concatenate((X, Y), axis=0)
    if ddof is None:
        ddof = 0 if bias else 1
    w: Any = None if fweights is None else np.asarray(fweights, dtype=float)
    aw = None if aweights is None else _cast(as_array(aweights), np.float64)
    if aw is not None:
        w = aw if w is None else w * aw
    if w is None:
        avg = np.mean(X, axis=1)
        fact: Any = shape_of(X)[1] - ddof
    else:
        w_sum = np.sum(w)
        avg = np.sum(X * w, axis=1) / w_sum
        fact = w_sum if ddof == 0 else w_sum - ddof if aw is None else w_sum - ddof * np.sum(w * aw) / w_sum
    if np.asarray(primal(fact)) <= 0:
        fact = 0.0
    X = X - avg[:, None]
    X_T = np.transpose(X) if w is None else np.transpose(X * w)
    c = np.dot(X, np.conjugate(X_T)) * (1.0 / fact)
    return np.squeeze(c)


def _corrcoef(x: Any, y: Any = None, rowvar: bool = True, *, dtype: Any = None) -> Any:
    c = _cov(x, y, rowvar, dtype=dtype)
    if _ndim(c) == 0:
        return c / c
    stddev = np.sqrt(np.real(np.diagonal(c)))
    return c / stddev[:, None] / stddev[None, :]


# ---------------------------------------------------------------- sample points

A = arr(3, 4, seed=30)
B = arr(4, 2, seed=31)
V4 = arr(4, seed=32)
V5 = arr(5, seed=33)
T3 = arr(2, 3, 4, seed=34)
SQ = arr(3, 3, seed=35)
P = np.array([1.5, -0.7, 0.3, 2.0])  # 1.5 x^3 - 0.7 x^2 + 0.3 x + 2
Q = np.array([0.8, -1.1])
XS = np.linspace(-1.0, 1.0, 7)
YS = arr(7, seed=36)
XP = np.array([-1.5, -0.4, 0.3, 1.1, 2.0])
FP = arr(5, seed=37)
XQ = np.array([-2.0, -1.0, -0.1, 0.5, 1.5, 2.5])
PHASE = np.array([0.1, 2.9, -2.8, 0.4, 3.1, -3.0, 0.2])


def _bi(*args: Any, **kwargs: Any) -> Any:
    """A sample of a product with both operands Duals (and complex values too)."""
    return sample(*args, duals=(0, 1), complex_ok=True, **kwargs)


# ---------------------------------------------------------------- the table

PRODUCT_RULES: dict[Any, Rule] = {
    # --- bilinear products
    np.dot:        Bilinear(_dot_term, (_bi(A, B), _bi(V4, V4), _bi(A, V4), _bi(T3, arr(5, 4, 2)),
                                        _bi(V4, arr(2, 4, 3)), _bi(2.5, A), sample(A, B, duals=(1,)))),
    np.inner:      Bilinear(_inner_term, (_bi(A, A), _bi(V4, V4), _bi(T3, arr(5, 4)), _bi(A, 1.5))),
    np.outer:      Bilinear(_outer_term, (_bi(V4, V5), _bi(A, arr(2, 2)), sample(V4, V5, duals=(1,)))),
    np.vdot:       Bilinear(_vdot_term, (_bi(V4, V4 * 2), _bi(A, arr(4, 3)),
                                         sample(A, A, duals=(0,), complex_ok=True))),
    np.tensordot:  Bilinear(_tensordot_term, (_bi(T3, arr(3, 4, 5)), _bi(T3, arr(4, 3), axes=([1, 2], [1, 0])),
                                              _bi(A, V5, axes=0), _bi(T3, arr(4, 2), axes=(-1, 0)),
                                              _bi(T3, T3, axes=3))),
    np.kron:       Bilinear(_kron_term, (_bi(A, arr(2, 2)), _bi(V4, A), _bi(T3, V4), _bi(3.0, V4))),
    np.cross:      Bilinear(_cross_term, (_bi(arr(4, 3), arr(4, 3, seed=1)), _bi(arr(3), arr(2, 3)),
                                          _bi(arr(3, 4), arr(2, 4, 3), axisa=0, axisc=0),
                                          _bi(arr(3, 2), arr(2, 3, 2), axis=-2),
                                          _bi(arr(4, 2), arr(4, 3)))),
    np.convolve:   Bilinear(_convolution_term(np.convolve),
                            (_bi(V5, V4), _bi(V4, V5, mode="same"), _bi(V5, Q, mode="valid")), args=("a", "v")),
    np.correlate:  Bilinear(_convolution_term(np.correlate),
                            (_bi(V5, Q), _bi(V4, V5, mode="full"), _bi(V5, V4, mode="same")), args=("a", "v")),
    np.einsum:     Custom(_einsum, (sample("ij,jk->ik", A, B, duals=(1, 2), complex_ok=True),
                                    sample("ij,jk", A, B, duals=(1, 2)),
                                    sample("ii->", SQ, duals=(1,)), sample("ii->i", SQ, duals=(1,)), sample("ii", SQ, duals=(1,)),
                                    sample("...ij,...jk->...ik", T3, arr(1, 4, 5), duals=(1, 2)),
                                    sample("...ij,jk", T3, arr(4, 5), duals=(1, 2)),
                                    sample("i,i,i", V4, V4 * 2, V4 + 1, duals=(1, 3)),
                                    sample("bij,jk", T3, B, duals=(1, 2), optimize=True),
                                    sample(A, [0, 1], B, [1, 2], [2, 0], duals=(0, 2)),
                                    sample(T3, [Ellipsis, 1], duals=(0,))), args=("operands",), sequence=True),
    # --- polynomials
    np.polyval:    Composite(_polyval, (sample(P, XS, duals=(0, 1), complex_ok=True), sample(P, 0.7, duals=(1,)),
                                        sample(P, A, duals=(0,))), args=("p", "x")),
    np.polyadd:    Composite(_polyadd, (sample(P, Q, duals=(0, 1), complex_ok=True), sample(Q, P, duals=(1,)),
                                        sample(P, 2.0, duals=(1,))), args=("a1", "a2")),
    np.polysub:    Composite(_polysub, (sample(P, Q, duals=(0, 1), complex_ok=True), sample(Q, P, duals=(0,))), args=("a1", "a2")),
    np.polymul:    Composite(_polymul, (sample(P, Q, duals=(0, 1), complex_ok=True), sample(Q, P, duals=(1,)),
                                        sample([0.0, 1.0, 2.0], P, duals=(1,))), args=("a1", "a2")),
    np.polyder:    Linear((sample(P, complex_ok=True), sample(P, 2), sample(P, 0), sample(Q, 3)), arg="p", tangent=_polyder_tangent),
    np.polyint:    Composite(_polyint, (sample(P, complex_ok=True), sample(P, 2, [0.5, -1.0], duals=(0, 2)),
                                        sample(Q, 3, 0.25, duals=(0, 2)), sample(Q, 0)), args=("p", "k")),
    np.polydiv:    Composite(_polydiv, (sample(P, Q, duals=(0, 1), complex_ok=True), sample(P, [1.2, 0.5, -0.9], duals=(1,)),
                                        sample(Q, P, duals=(0, 1))), args=("u", "v")),
    np.polyfit:    Custom(_polyfit, (sample(XS, YS, 2, duals=(1,), complex_ok=True), sample(XS, YS, 3, duals=(0, 1)),
                                     sample(XS, np.stack([YS, YS ** 2], axis=1), 2, duals=(0, 1)),
                                     sample(XS, YS, 2, w=np.linspace(0.5, 1.5, 7), duals=(0, 1)),
                                     sample(XS, YS, 2, full=True, duals=(1,), complex_ok=True),
                                     sample(XS, YS, 3, cov=True, duals=(1,), complex_ok=True),
                                     sample(XS, YS, 2, cov=True, duals=(0, 1)),
                                     sample(XS, np.stack([YS, -YS], axis=1), 1, cov=True, duals=(0, 1)),
                                     sample(XS, YS, 2, cov="unscaled", duals=(0,)),
                                     sample(XS, YS, 2, w=np.linspace(0.5, 1.5, 7), duals=(0, 1), complex_ok=True)), args=_POLYFIT_ARGS),
    np.roots:      Switch(_choose_roots, (sample(np.poly([0.5, -1.2, 2.0]), complex_ok=True), sample(P))),
    np.poly:       Composite(_poly, (sample(V4, complex_ok=True), sample(SQ, complex_ok=True), sample(V4[:1])), args=("seq_of_zeros",)),
    np.vander:     Composite(_vander, (sample(V4, complex_ok=True), sample(V5, 3), sample(V4, 6, True),
                                       sample(V4, 0)), args=("x",)),
    # --- differences, integrals, signals
    np.diff:       Composite(_diff, (sample(A, complex_ok=True), sample(A, 2, 0), sample(T3, axis=1),
                                     sample(A, prepend=0.5, append=arr(3, 2), duals=(0,)),
                                     sample(V5, 1, -1, V4, 2.0, duals=(0, 3, 4)), sample(V5, 0)), args=("a", "prepend", "append")),
    np.ediff1d:    Composite(_ediff1d, (sample(A, complex_ok=True), sample(V5, V4, 1.5, duals=(0, 1, 2)),
                                        sample(V5, to_begin=[1.0, 2.0])), args=("ary", "to_end", "to_begin")),
    np.gradient:   Custom(_gradient, (sample(V5, complex_ok=True), sample(A), sample(A, 0.5, 2.0),
                                      sample(T3, axis=1, edge_order=2), sample(V5, XP),
                                      sample(A, axis=(-1,)), sample(T3, 2.0, 1.5, axis=(0, 2))), args=("f", "varargs")),
    np.trapezoid:  Composite(_trapezoid, (sample(V5, complex_ok=True), sample(A, XS[:4], duals=(0, 1)),
                                          sample(A, axis=0, dx=0.3), sample(T3, arr(2, 3, 4, seed=3), axis=1,
                                                                            duals=(0, 1)),
                                          sample(V4, None, 0.5, duals=(0, 2))), args=("y", "x", "dx")),
    np.interp:     Composite(_interp, (sample(XQ, XP, FP, duals=(0, 1, 2)), sample(XQ, XP, FP, duals=(2,), complex_ok=True),
                                       sample(XQ, XP, FP, -3.0, 4.0, duals=(0, 2, 3, 4)),
                                       sample(XQ * 3 + 0.05, XP, FP, period=2.5, duals=(0, 1, 2)),
                                       sample(0.37, XP, FP, duals=(0, 2))), args=("x", "xp", "fp", "left", "right")),
    np.sinc:       Composite(_sinc, (sample(V5, complex_ok=True), sample(np.array([0.0, 1e-3, -0.1, 0.3, 1.0, -2.5]))), args=("x",)),
    np.i0:         Composite(_i0, (sample(np.array([0.0, 0.3, -0.9, 1.5, -4.0, 7.5, 9.0, -20.0])), sample(V5)), args=("x",)),
    np.unwrap:     Custom(_unwrap, (sample(PHASE), sample(np.stack([PHASE, PHASE * 0.5]), axis=0),
                                    sample(PHASE, period=3.0), sample(PHASE, discont=4.0)), args=("p", "period", "discont"),
                          dependence=Dependence.ELEMENTWISE),  # whole periods added: p passes through
    np.cov:        Composite(_cov, (sample(A, complex_ok=True), sample(A, rowvar=False), sample(A, A[::-1] * 2, duals=(0, 1)),
                                    sample(V5, bias=True), sample(A, ddof=2),
                                    sample(A, None, True, False, None, [1, 2, 1, 3], [0.5, 1.0, 2.0, 1.5], duals=(0, 6)),
                                    sample(A, aweights=[0.5, 1.0, 2.0, 1.5], ddof=0)), args=("m", "y", "aweights")),
    np.corrcoef:   Composite(_corrcoef, (sample(A), sample(A, rowvar=False), sample(V5, V5 ** 2, duals=(0, 1)),
                                         sample(V5)), args=("x", "y")),
    # --- results without a derivative
    np.einsum_path: NonDiff("a contraction order", (sample("ij,jk,kl", A, B, arr(2, 3), duals=(1, 2)),)),
}


#: Public for sparsity detection, which runs einsum's contraction on index sets.
einsum_spec = _einsum_spec
tensordot_axes = _tensordot_axes
