"""The VJP rules of products (dot, inner, outer, vdot, tensordot, einsum, kron, cross),
covariance, differences, integrals and signals (diff, ediff1d, gradient, trapezoid,
convolve, correlate, interp, unwrap), polynomials (polyval, polyfit, roots, polydiv, ...)
and special functions (sinc, i0).

The forward counterpart is ``dualnumpy.rules.products``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..node import VJP, NoReference, Var, value_of
from .common import (
    _LETTERS,
    A3,
    SQ,
    A,
    FunctionApply,
    FunctionRule,
    V,
    _as_var_or_array,
    _bind,
    _call_values,
    _case,
    _cases,
    _composite,
    _given,
    _has_var,
    _missing,
    _refuse_out,
    einsum_node,
    node,
    times,
    with_value,
)

_np: Any = np


# ---------------------------------------------------------------- products


def _letters(n: int, skip: str = "") -> str:
    return "".join([c for c in _LETTERS if c not in skip][:n])


def _dot(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    b = _bind(func, name, args, kwargs)
    a, c = b["a"], b["b"]
    value = _call_values(func, (a, c), {})
    na, nc = np.ndim(value_of(a)), np.ndim(value_of(c))
    if na == 0 or nc == 0:
        return einsum_node(value, f"{_letters(na)},{_letters(nc)}->{_letters(max(na, nc))}", [a, c],
                           [False, False])
    la = _letters(na - 1, "yz") + "z"
    if nc == 1:
        lc, out = "z", la[:-1]
    else:
        rest = _letters(nc - 2, la + "yz")
        lc, out = rest + "zy", la[:-1] + rest + "y"
    return einsum_node(value, f"{la},{lc}->{out}", [a, c], [False, False])


def _inner(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    a, c = args
    value = _call_values(func, args, kwargs)
    na, nc = np.ndim(value_of(a)), np.ndim(value_of(c))
    if na == 0 or nc == 0:
        return einsum_node(value, f"{_letters(na)},{_letters(nc)}->{_letters(max(na, nc))}", [a, c],
                           [False, False])
    la = _letters(na - 1, "z")
    lc = _letters(nc - 1, la + "z")
    return einsum_node(value, f"{la}z,{lc}z->{la}{lc}", [a, c], [False, False])


def _flat_pair(spec: str, conj_first: bool) -> FunctionApply:
    """outer and vdot: both operands are flattened first."""

    def apply(f: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        b = _bind(f, name, args, kwargs)
        a, c = b["a"], b["b"]
        value = _call_values(f, (a, c), {})
        flat = [np.ravel(o) if isinstance(o, Var) else np.ravel(np.asarray(o)) for o in (a, c)]
        return einsum_node(value, spec, flat, [conj_first, False])

    return apply


def _tensordot(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    b = _bind(func, name, args, kwargs)
    a, c, axes = b["a"], b["b"], b["axes"]
    value = _call_values(func, (a, c), {"axes": axes})
    na, nc = np.ndim(value_of(a)), np.ndim(value_of(c))
    if isinstance(axes, (int, np.integer)):
        ax_a, ax_c = list(range(na - int(axes), na)), list(range(int(axes)))
    else:
        ax_a, ax_c = axes
        ax_a = [int(ax_a)] if isinstance(ax_a, (int, np.integer)) else [int(i) for i in ax_a]
        ax_c = [int(ax_c)] if isinstance(ax_c, (int, np.integer)) else [int(i) for i in ax_c]
    ax_a = [i % na for i in ax_a]
    ax_c = [i % nc for i in ax_c]
    letters = iter(_LETTERS)
    sa = [next(letters) for _ in range(na)]
    sc = [""] * nc
    for i, j in zip(ax_a, ax_c, strict=True):
        sc[j] = sa[i]
    sc = [s or next(letters) for s in sc]
    out = [s for i, s in enumerate(sa) if i not in ax_a] + [s for j, s in enumerate(sc) if j not in ax_c]
    return einsum_node(value, f"{''.join(sa)},{''.join(sc)}->{''.join(out)}", [a, c], [False, False])


def _sublist(sub: Any) -> str:
    try:
        return "".join("..." if s is Ellipsis else _LETTERS[int(s)] for s in sub)
    except (TypeError, ValueError, IndexError):
        raise _missing("np.einsum with this sublist", f" ({sub!r})") from None


def _einsum(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    _refuse_out(name, kwargs)
    value = _call_values(func, args, kwargs)
    if args and isinstance(args[0], str):
        return einsum_node(value, args[0], list(args[1:]), [False] * (len(args) - 1))
    # the interleaved form: op0, sublist0, op1, sublist1, ..., [sublist_out]
    operands = list(args[0:len(args) - len(args) % 2:2])
    spec = ",".join(_sublist(sub) for sub in args[1::2][:len(operands)])
    if len(args) % 2:
        spec += "->" + _sublist(args[-1])
    return einsum_node(value, spec, operands, [False] * len(operands))


def _kron(b: dict[str, Any]) -> Any:
    """kron: an outer product whose axes are interleaved, then merged pairwise."""
    a, c = b["a"], b["b"]
    sa, sc = np.shape(value_of(a)), np.shape(value_of(c))
    nd = max(len(sa), len(sc))
    sa, sc = (1,) * (nd - len(sa)) + sa, (1,) * (nd - len(sc)) + sc
    a = np.reshape(a, sa) if isinstance(a, Var) else np.reshape(np.asarray(a), sa)
    c = np.reshape(c, sc) if isinstance(c, Var) else np.reshape(np.asarray(c), sc)
    la, lc = _letters(nd), _letters(nd, _letters(nd))
    spec = f"{la},{lc}->{''.join(x + y for x, y in zip(la, lc, strict=True))}"
    outer = einsum_node(np.einsum(spec, value_of(a), value_of(c)), spec, [a, c], [False, False])
    return np.reshape(outer, [p * q for p, q in zip(sa, sc, strict=True)])


def _cross(b: dict[str, Any]) -> Any:
    """The cross product from its components (2-vectors have a zero third one)."""
    axisa, axisb, axisc = b.get("axisa", -1), b.get("axisb", -1), b.get("axisc", -1)
    if b.get("axis") is not None:
        axisa = axisb = axisc = b["axis"]
    a = np.moveaxis(b["a"], axisa, -1)
    c = np.moveaxis(b["b"], axisb, -1)
    na, nc = np.shape(value_of(a))[-1], np.shape(value_of(c))[-1]
    a0, a1, c0, c1 = a[..., 0], a[..., 1], c[..., 0], c[..., 1]
    if na == 2 and nc == 2:
        return a0 * c1 - a1 * c0
    a2: Any = a[..., 2] if na == 3 else 0.0
    c2: Any = c[..., 2] if nc == 3 else 0.0
    out = np.stack([a1 * c2 - a2 * c1, a2 * c0 - a0 * c2, a0 * c1 - a1 * c0], axis=-1)
    return np.moveaxis(out, -1, axisc)


# ---------------------------------------------------------------- covariance


def _cov(b: dict[str, Any]) -> Any:
    if b.get("fweights") is not None or b.get("aweights") is not None:
        raise _missing("np.cov with weights")
    m, y, rowvar = b["m"], b["y"], b["rowvar"]
    x = np.atleast_2d(m)
    if not rowvar and np.shape(value_of(x))[0] != 1:
        x = np.transpose(x)
    if y is not None:
        y = np.atleast_2d(y)
        if not rowvar and np.shape(value_of(y))[0] != 1:
            y = np.transpose(y)
        x = np.concatenate((x, y), axis=0)
    ddof = b["ddof"] if b["ddof"] is not None else (0 if b["bias"] else 1)
    fact = np.shape(value_of(x))[1] - ddof
    x = x - np.mean(x, axis=1)[:, None]
    return np.squeeze(np.dot(x, np.conjugate(np.transpose(x))) / fact)


def _corrcoef(b: dict[str, Any]) -> Any:
    """cov normalised by the standard deviations (NumPy's clip to [-1, 1] only
    touches the exact diagonal ones, where the derivative is zero anyway)."""
    c = _cov({"m": b["x"], "y": b["y"], "rowvar": b["rowvar"], "bias": False, "ddof": None})
    if np.ndim(value_of(c)) == 0:
        return c / c
    std = np.sqrt(np.real(np.diagonal(c)))
    return c / std[:, None] / std[None, :]


# ---------------------------------------------------------------- differences, integrals, signals


def _diff(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """diff as NumPy computes it: n rounds of a[1:] - a[:-1] along the axis."""
    b = _bind(func, name, args, kwargs)
    a, axis = b["a"], b["axis"]
    ndim = np.ndim(value_of(a))
    axis = int(axis) % ndim
    combined = []
    for key in ("prepend", "append"):
        extra = b[key]
        if _given(extra):
            if np.ndim(value_of(extra)) == 0:
                shape = list(np.shape(value_of(a)))
                shape[axis] = 1
                extra = np.broadcast_to(extra, tuple(shape))
            combined.append(extra)
        if key == "prepend":
            combined.append(a)
    if len(combined) > 1:
        a = np.concatenate(combined, axis)
    if not isinstance(a, Var):
        raise _missing(f"{name} with a Var outside the array argument")
    hi = tuple(slice(1, None) if i == axis else slice(None) for i in range(a.ndim))
    lo = tuple(slice(None, -1) if i == axis else slice(None) for i in range(a.ndim))
    for _ in range(int(b["n"])):
        a = a[hi] - a[lo]
    return with_value(_call_values(func, args, kwargs), a)


def _trapezoid(b: dict[str, Any]) -> Any:
    y, x, dx, axis = b["y"], b["x"], b["dx"], int(b["axis"])
    ndim = np.ndim(value_of(y))
    axis %= ndim
    if x is None:
        d: Any = dx
    elif np.ndim(value_of(x)) == 1:
        d = np.diff(x)
        shape = [1] * ndim
        shape[axis] = np.shape(value_of(d))[0]
        d = np.reshape(d, shape)
    else:
        d = np.diff(x, axis=axis)
    hi = tuple(slice(1, None) if i == axis else slice(None) for i in range(ndim))
    lo = tuple(slice(None, -1) if i == axis else slice(None) for i in range(ndim))
    return np.sum(d * (y[hi] + y[lo]) / 2.0, axis=axis)


def _convolve_node(value: Any, a: Any, v: Any) -> Var:
    """The full convolution y = a * v: the adjoint of da is g correlated with v
    (a_bar[k] = sum_n g[n] conj(v[n - k])), and likewise for dv."""
    av, vv = np.asarray(value_of(a)), np.asarray(value_of(v))
    edges: list[tuple[Var, VJP]] = []
    if isinstance(a, Var):
        edges.append((a, lambda g: np.correlate(g, vv, "valid")))
    if isinstance(v, Var):
        edges.append((v, lambda g: np.correlate(g, av, "valid")))
    return node(value, edges)


def _convolution(correlate: bool) -> Callable[[dict[str, Any]], Any]:
    def build(b: dict[str, Any]) -> Any:
        a, v, mode = b["a"], b["v"], b["mode"]
        if correlate:  # c_k = sum_n a[n + k] conj(v[n]): the convolution with conj(v) reversed
            v = np.conjugate(v[::-1]) if isinstance(v, Var) else np.conjugate(np.asarray(v)[::-1])
        na, nv = np.size(value_of(a)), np.size(value_of(v))
        full = _convolve_node(np.convolve(value_of(a), value_of(v)), a, v)
        long, short = max(na, nv), min(na, nv)
        if mode == "full":
            return full
        if mode == "same":
            start = (short - 1) // 2 if not correlate or na >= nv else short // 2
            return full[start:start + long]
        if mode == "valid":
            return full[short - 1:long]
        raise _missing(f"np.convolve(mode={mode!r})")

    return build


def _interp(b: dict[str, Any]) -> Any:
    """Piecewise linear: fp[i] + (x - xp[i]) (fp[i+1] - fp[i]) / (xp[i+1] - xp[i]) on each piece,
    the end values (or left/right) outside."""
    if b["period"] is not None:
        raise _missing("np.interp(period=...)")
    x, xp, fp = b["x"], _as_var_or_array(b["xp"]), _as_var_or_array(b["fp"])
    xv, xpv = np.asarray(value_of(x)), np.asarray(value_of(xp))
    n = xpv.shape[0]
    i = np.clip(np.searchsorted(xpv, xv, side="right") - 1, 0, n - 2)
    x0, x1, f0, f1 = xp[i], xp[i + 1], fp[i], fp[i + 1]
    inside = f0 + (x - x0) * (f1 - f0) / (x1 - x0)
    left = fp[0] if b["left"] is None else b["left"]
    right = fp[n - 1] if b["right"] is None else b["right"]
    out = np.where(xv < xpv[0], left, np.where(xv > xpv[-1], right, inside))
    return np.where(xv == xpv[-1], fp[n - 1], out)


def _unwrap(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """unwrap adds multiples of the period, constant between jumps: the identity to first order."""
    (p, *_rest) = args
    value = _call_values(func, args, kwargs)
    return node(value, [(p, lambda g: g)])


def _gradient(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Linear in f for fixed spacing: along each axis a matrix D = gradient(I) (its columns the
    gradients of unit vectors), so out = D applied along that axis and the pullback applies
    D^H along it."""
    b = _bind(func, name, args, kwargs)
    f = b["f"]
    varargs, axis, edge_order = b.get("varargs", ()), b.get("axis"), int(b.get("edge_order", 1))
    if not isinstance(f, Var) or _has_var(varargs) or _has_var(axis):
        raise _missing(f"{name} with a Var spacing", " (only f is differentiated)")
    value = _call_values(func, args, kwargs)
    nd = f.ndim
    axes = list(range(nd)) if axis is None else [int(a) % nd for a in np.atleast_1d(axis)]
    spacing: list[Any] = list(varargs)
    if len(spacing) == 0:
        spacing = [1.0] * len(axes)
    elif len(spacing) == 1:
        spacing = spacing * len(axes)
    outs = list(value) if isinstance(value, (tuple, list)) else [value]
    nodes = []
    for out, ax, h in zip(outs, axes, spacing, strict=True):
        size = f.shape[ax]
        d = _np.gradient(np.eye(size), h, axis=0, edge_order=edge_order)

        def vjp(g: Any, d: Any = d, ax: int = ax) -> Any:
            return np.moveaxis(np.tensordot(np.conjugate(d).T, g, axes=(1, ax)), 0, ax)

        nodes.append(node(out, [(f, vjp)]))
    return type(value)(nodes) if isinstance(value, (tuple, list)) else nodes[0]


# ---------------------------------------------------------------- polynomials


def _polyval(b: dict[str, Any]) -> Any:
    """Horner's scheme, as NumPy evaluates it."""
    p, x = _as_var_or_array(b["p"]), b["x"]
    y: Any = np.zeros(np.shape(value_of(x)))
    for i in range(np.shape(value_of(p))[0]):
        y = y * x + p[i]
    return y


def _strip_leading_zeros(a: Any) -> Any:
    """As np.poly1d does (polymul goes through it): drop leading zero coefficients."""
    a = np.atleast_1d(_as_var_or_array(a))
    nonzero = np.flatnonzero(np.asarray(value_of(a)))
    return a[nonzero[0]:] if nonzero.size else a[-1:]


def _poly_pad(a: Any, n: int) -> Any:
    extra = n - np.shape(value_of(a))[0]
    return np.concatenate([np.zeros(extra), a]) if extra > 0 else a


def _polyadd(sign: float) -> Callable[[dict[str, Any]], Any]:
    def build(b: dict[str, Any]) -> Any:
        a1, a2 = np.atleast_1d(_as_var_or_array(b["a1"])), np.atleast_1d(_as_var_or_array(b["a2"]))
        n = max(np.shape(value_of(a1))[0], np.shape(value_of(a2))[0])
        return _poly_pad(a1, n) + sign * _poly_pad(a2, n)

    return build


def _polyder(b: dict[str, Any]) -> Any:
    p = np.atleast_1d(_as_var_or_array(b["p"]))
    for _ in range(int(b["m"])):
        n = np.shape(value_of(p))[0] - 1
        p = p[:-1] * np.arange(n, 0, -1)
    return p


def _polyint(b: dict[str, Any]) -> Any:
    p, m, k = np.atleast_1d(_as_var_or_array(b["p"])), int(b["m"]), b["k"]
    ks: Any = np.zeros(m) if k is None else (np.broadcast_to(k, (m,)) if np.ndim(value_of(k)) == 0 else k)
    for i in range(m):
        n = np.shape(value_of(p))[0]
        p = np.concatenate([p / np.arange(n, 0, -1), np.reshape(ks[i], (1,))])
    return p


def _poly(b: dict[str, Any]) -> Any:
    zeros = b["seq_of_zeros"]
    if np.ndim(value_of(zeros)) != 1:
        raise _missing("np.poly of a matrix", " (pass its eigenvalues)")
    a: Any = np.ones(1)
    for k in range(np.shape(value_of(zeros))[0]):
        a = np.convolve(a, np.concatenate([np.ones(1), -zeros[k:k + 1]]))
    return a


def _vander(b: dict[str, Any]) -> Any:
    x, n = b["x"], b["N"]
    n = np.shape(value_of(x))[0] if n is None else int(n)
    if n == 0:
        return Var(np.zeros((np.shape(value_of(x))[0], 0)))
    cols = [np.power(x, k) if k else np.ones(np.shape(value_of(x))) for k in range(n)]
    out = np.stack(cols, axis=1)
    return out if b["increasing"] else out[:, ::-1]


def _polyfit(b: dict[str, Any]) -> Any:
    """Weighted least squares on the Vandermonde matrix A (rows scaled by w):
    c = (A^H A)^-1 A^H y, residuals sum |y - A c|^2, NumPy's cov (A^T A)^-1 (times
    residuals / (len(x) - deg - 1) unless cov="unscaled"); singular values of A with its
    columns scaled to unit norm, as NumPy hands A to lstsq. Full rank only."""
    x, y, deg = b["x"], _as_var_or_array(b["y"]), int(b["deg"])
    w, full, cov = b["w"], bool(b["full"]), b["cov"]
    order = deg + 1
    n = np.shape(value_of(x))[0]
    a: Any = np.vander(_as_var_or_array(x), order)
    if w is not None:
        wv = _as_var_or_array(w)
        a = a * wv[:, None]
        y = y * (wv if np.ndim(value_of(y)) == 1 else wv[:, None])
    norms = np.sqrt(np.sum(a * a, axis=0))
    scaled = a / norms
    rcond = n * np.finfo(float).eps if b["rcond"] is None else b["rcond"]
    sv = np.linalg.svd(scaled, compute_uv=False)
    svv = np.asarray(value_of(sv))
    if int(np.sum(svv > rcond * svv[0])) < order:
        raise _missing("np.polyfit of a rank-deficient fit")
    ah = np.conjugate(np.transpose(a))
    c = np.linalg.solve(ah @ a, ah @ y)
    r = y - a @ c
    resids = np.sum(np.real(r * np.conjugate(r)), axis=0)
    if np.ndim(value_of(y)) == 1:
        resids = np.reshape(resids, (1,))
    if full:
        return c, resids, None, sv, None
    if cov is False:
        return c
    vbase = np.linalg.inv(np.transpose(a) @ a)
    if cov == "unscaled":
        return c, vbase
    fac = resids / (n - order)
    return c, (vbase * fac if np.ndim(value_of(y)) == 1 else vbase[:, :, None] * fac)


def _roots(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """A simple root z of p(z) = sum_k p_k z^(N-k) moves by dz = -sum_k dp_k z^(N-k) / p'(z)
    (implicit differentiation of p(z) = 0; it holds for every coefficient, the leading and
    trailing zeros NumPy strips included). Pullback: gp_k = -sum_i g_i conj(z_i^(N-k) / p'(z_i))."""
    p = _bind(func, name, args, kwargs)["p"]
    value = _call_values(func, args, kwargs)
    if not isinstance(p, Var) or p.ndim != 1:
        raise _missing(f"{name} with a Var that is not the 1-d coefficient array")
    z = np.asarray(value)
    big = np.arange(p.size - 1, -1, -1)
    stripped = np.trim_zeros(p.value, "f")
    slope = np.polyval(np.polyder(stripped), z) if stripped.size > 1 else np.zeros(z.shape)
    scale = np.max(np.abs(z), initial=1.0)
    close = np.abs(z[:, None] - z[None, :]) <= 1e-7 * scale
    if np.any(close & ~np.eye(z.size, dtype=bool)) or np.any(slope == 0):
        raise NoReference(f"{name}: a multiple root has no derivative (it moves like a root of the "
                          f"perturbation)")
    jac = -(z[:, None] ** big[None, :]) / slope[:, None]  # (roots, coefficients)

    def vjp(g: Any) -> Any:
        return np.conjugate(jac).T @ np.asarray(g)

    return node(value, [(p, vjp)])


def _polydiv(b: dict[str, Any]) -> Any:
    """Synthetic division as NumPy runs it: q_k = r_k / v_0, r -= q_k v shifted by k; the
    leading remainder entries NumPy trims are the eliminated ones (exactly zero, flat)."""
    u = np.atleast_1d(_as_var_or_array(b["u"]))
    v = np.atleast_1d(_as_var_or_array(b["v"]))
    m, n = np.shape(value_of(u))[0] - 1, np.shape(value_of(v))[0] - 1
    value_q, value_r = np.polydiv(np.asarray(value_of(u)), np.asarray(value_of(v)))
    r: Any = u
    qs: list[Any] = []
    for k in range(m - n + 1):
        d = r[k] / v[0]
        qs.append(np.reshape(d, (1,)))
        r = r - np.concatenate([np.zeros(k), d * v, np.zeros(m - n - k)])
    q = np.concatenate(qs) if qs else Var(np.zeros(1, dtype=np.result_type(value_q)))
    kept = np.shape(value_r)[0]
    if m - n + 1 > 0 and m + 1 - kept > m - n + 1:
        raise NoReference("np.polydiv: NumPy trimmed a remainder coefficient that is zero only "
                          "numerically (its derivative is not)")
    return q, r[m + 1 - kept:]


# ---------------------------------------------------------------- special functions


def _sinc(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """sinc(x) = sin(pi x) / (pi x): sinc' = (cos(pi x) - sinc(x)) / x, 0 at x = 0."""
    (x,) = args
    value = np.sinc(x.value)

    def vjp(g: Any) -> Any:
        with np.errstate(all="ignore"):
            d = np.where(x.value == 0, 0.0, (np.cos(np.pi * x.value) - value) / x.value)
        return times(g, d)

    return node(value, [(x, vjp)])


def _bessel_i1(x: Any) -> Any:
    """I1(x) = sum_k (x/2)^(2k+1) / (k! (k+1)!), summed until the terms are negligible
    (every term has the sign of x: no cancellation)."""
    x = np.asarray(x, dtype=np.float64)
    if np.any(np.abs(x) > 700.0):
        raise _missing("np.i0 beyond |x| = 700", " (the series of I1 overflows)")
    half = x / 2.0
    term = half.copy()
    total = term.copy()
    for k in range(1, 1000):
        term = term * half * half / (k * (k + 1))
        total = total + term
        if np.all(np.abs(term) <= 1e-17 * np.abs(total)):
            break
    return total


def _i0(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """I0' = I1 (the modified Bessel function of order one)."""
    x = _bind(func, name, args, kwargs)["x"]
    value = _call_values(func, args, kwargs)
    if np.iscomplexobj(x.value):
        raise _missing(f"{name} of complex input")
    d = _bessel_i1(x.value)
    return node(value, [(x, lambda g: times(g, d))])


# ---------------------------------------------------------------- the table


#: Products, polynomials and signals (the forward table: rules/products.py).
PRODUCT_VJPS: dict[Any, FunctionRule] = {
    # --- products
    np.dot: FunctionRule(_dot, _cases(
        _case(lambda a, b: np.dot(a, b), V, V, complex_ok=True),
        _case(lambda a, b: np.dot(a, b), A, (3, 2)),
        _case(lambda a, b: np.dot(a, b), A3, V),
        _case(lambda a, b: np.dot(a, b), A3, (3, 4, 2)),
        _case(lambda a, b: np.dot(a, b), (), A),
        _case(lambda a, b: a.dot(b), (3,), (2, 3, 4)))),
    np.inner: FunctionRule(_inner, _cases(_case(lambda a, b: np.inner(a, b), A, (4, 3), complex_ok=True),
                                          _case(lambda a, b: np.inner(a, b), (), V))),
    np.outer: FunctionRule(_flat_pair("i,j->ij", False), _cases(
        _case(lambda a, b: np.outer(a, b), (3,), A, complex_ok=True))),
    np.vdot: FunctionRule(_flat_pair("i,i->", True), _cases(
        _case(lambda a, b: np.vdot(a, b), A, A, complex_ok=True))),
    np.tensordot: FunctionRule(_tensordot, _cases(
        _case(lambda a, b: np.tensordot(a, b), A3, (3, 4, 2), complex_ok=True),
        _case(lambda a, b: np.tensordot(a, b, axes=([0, 2], [2, 0])), A3, (4, 5, 2)),
        _case(lambda a, b: np.tensordot(a, b, axes=0), (2,), (3,)),
        _case(lambda a, b: np.tensordot(a, b, axes=(1, 0)), A, (3, 2)))),
    np.einsum: FunctionRule(_einsum, _cases(
        _case(lambda a, b: np.einsum("ij,jk->ik", a, b), A, (3, 2), complex_ok=True),
        _case(lambda a: np.einsum("ii->", a), SQ),
        _case(lambda a: np.einsum("ii->i", a), SQ),
        _case(lambda a: np.einsum("ijj->ij", a), (2, 3, 3)),
        _case(lambda a, b: np.einsum("...ij,...jk", a, b), (2, 2, 3), (3, 2)),
        _case(lambda a, b: np.einsum("ij,k", a, b), A, (2,)),
        _case(lambda a, b: np.einsum("i,i->i", a, b), (3,), (1,)),
        _case(lambda a, b, c: np.einsum("ab,bc,ca->", a, b, c), A, (3, 4), (4, 2)))),
    np.kron: FunctionRule(_composite(_kron), _cases(_case(lambda a, b: np.kron(a, b), A, (2, 2), complex_ok=True),
                                                    _case(lambda a, b: np.kron(a, b), (3,), A))),
    np.cross: FunctionRule(_composite(_cross), _cases(
        _case(lambda a, b: np.cross(a, b), (2, 3), (3,), complex_ok=True),
        _case(lambda a, b: np.cross(a, b, axisa=0, axisb=1, axisc=0), (3, 2), (2, 3)))),
    # --- covariance
    np.cov: FunctionRule(_composite(_cov), _cases(
        _case(lambda m: np.cov(m), (3, 5), complex_ok=True),
        _case(lambda m, y: np.cov(m, y, rowvar=False, bias=True), (5, 2), (5,)))),
    np.corrcoef: FunctionRule(_composite(_corrcoef), _cases(_case(lambda m: np.corrcoef(m), (3, 5)))),
    # --- differences, integrals and signals
    np.diff: FunctionRule(_diff, _cases(_case(lambda a: np.diff(a), A3, complex_ok=True),
                                        _case(lambda a: np.diff(a, n=2, axis=0), (4, 2)))),
    np.ediff1d: FunctionRule(_composite(lambda b: np.concatenate(
        [np.ravel(_as_var_or_array(b["to_begin"])) if b["to_begin"] is not None else np.zeros(0),
         np.diff(np.ravel(b["ary"])),
         np.ravel(_as_var_or_array(b["to_end"])) if b["to_end"] is not None else np.zeros(0)])),
        _cases(_case(lambda a: np.ediff1d(a), A), _case(lambda a, e: np.ediff1d(a, to_end=e, to_begin=-1.0), A, (2,)))),
    np.gradient: FunctionRule(_gradient, _cases(
        _case(lambda f: np.gradient(f), (5,), complex_ok=True),
        _case(lambda f: np.gradient(f, 0.5, 2.0), (3, 4)),
        _case(lambda f: np.gradient(f, axis=1, edge_order=2), (2, 3, 4)),
        _case(lambda f: np.gradient(f, np.array([-1.5, -0.4, 0.3, 1.1, 2.0]), edge_order=2), (5,)),
        _case(lambda f: np.gradient(f, 2.0, 1.5, axis=(0, 2)), (2, 3, 4)))),
    np.trapezoid: FunctionRule(_composite(_trapezoid), _cases(
        _case(lambda y: np.trapezoid(y, dx=0.5), A),
        _case(lambda y, x: np.trapezoid(y, x), A, (3,)),
        _case(lambda y, x: np.trapezoid(y, x, axis=0), A, A))),
    np.convolve: FunctionRule(_composite(_convolution(False)), _cases(
        _case(lambda a, v: np.convolve(a, v), (5,), (3,), complex_ok=True),
        _case(lambda a, v: np.convolve(a, v, "same"), (5,), (4,)),
        _case(lambda a, v: np.convolve(a, v, "same"), (3,), (6,)),
        _case(lambda a, v: np.convolve(a, v, "valid"), (4,), (6,)))),
    np.correlate: FunctionRule(_composite(_convolution(True)), _cases(
        _case(lambda a, v: np.correlate(a, v), (5,), (3,), complex_ok=True),
        _case(lambda a, v: np.correlate(a, v, "same"), (5,), (4,)),
        _case(lambda a, v: np.correlate(a, v, "same"), (3,), (6,), complex_ok=True),
        _case(lambda a, v: np.correlate(a, v, "full"), (4,), (6,), complex_ok=True))),
    np.interp: FunctionRule(_composite(_interp), _cases(
        _case(lambda x, fp: np.interp(x, [-1.0, 0.0, 0.5, 1.5], fp), (5,), (4,), low=-1.9, high=1.9),
        _case(lambda x, xp: np.interp(x, xp, [1.0, 3.0, 2.0], left=-1.0), (3,), (3,), low=0.0, high=1.0,
              forward=False),
    )),
    np.unwrap: FunctionRule(_unwrap, _cases(_case(lambda a: np.unwrap(a * 3.0), (6,)))),
    # --- polynomials
    np.polyval: FunctionRule(_composite(_polyval), _cases(
        _case(lambda p, x: np.polyval(p, x), (4,), A, complex_ok=True))),
    np.polyadd: FunctionRule(_composite(_polyadd(1.0)), _cases(_case(lambda a, b: np.polyadd(a, b), (4,), (2,)))),
    np.polysub: FunctionRule(_composite(_polyadd(-1.0)), _cases(_case(lambda a, b: np.polysub(a, b), (2,), (3,)))),
    np.polymul: FunctionRule(_composite(lambda b: np.convolve(_strip_leading_zeros(b["a1"]),
                                                              _strip_leading_zeros(b["a2"]))),
                             _cases(_case(lambda a, b: np.polymul(a, b), (3,), (2,), complex_ok=True),
                                    _case(lambda b: np.polymul([0.0, 1.0, 2.0], b), (4,)))),
    np.polyder: FunctionRule(_composite(_polyder), _cases(_case(lambda p: np.polyder(p, 2), (5,)))),
    np.polyint: FunctionRule(_composite(_polyint), _cases(_case(lambda p: np.polyint(p), (3,)),
                                                          _case(lambda p, k: np.polyint(p, 2, k), (3,), (2,)),
                                                          _case(lambda p, k: np.polyint(p, 3, k), (2,), ()))),
    np.poly: FunctionRule(_composite(_poly), _cases(_case(lambda z: np.poly(z), (3,), complex_ok=True))),
    np.vander: FunctionRule(_composite(_vander), _cases(_case(lambda x: np.vander(x), (3,)),
                                                        _case(lambda x: np.vander(x, 0), (3,)),
                                                        _case(lambda x: np.vander(x, 4, increasing=True), (3,)))),
    np.polyfit: FunctionRule(_composite(_polyfit), _cases(
        _case(lambda y: np.polyfit(np.linspace(-1.0, 1.0, 7), y, 2), (7,), complex_ok=True),
        # complex x: the forward mode's rule differs there (see the report), so no dot-product test
        _case(lambda x, y: np.polyfit(x, y, 2), (7,), (7,), complex_ok=True, forward=False),
        _case(lambda x, y: np.polyfit(x, y, 3, w=np.linspace(0.5, 1.5, 7)), (7,), (7, 2)),
        _case(lambda y: np.polyfit(np.linspace(-1.0, 1.0, 7), y, 2, full=True)[:2], (7,), complex_ok=True),
        _case(lambda x, y: np.polyfit(x, y, 2, cov=True), (7,), (7,)),
        _case(lambda x, y: np.polyfit(x, y, 1, cov=True), (7,), (7, 2)),
        _case(lambda x: np.polyfit(x, np.arange(7.0) ** 0.5, 2, cov="unscaled"), (7,)))),
    np.roots: FunctionRule(_roots, _cases(
        _case(lambda p: np.roots(p), (4,), complex_ok=True),
        _case(lambda p: np.roots(np.poly([0.5, -1.2, 2.0]) + 0.1 * p), (4,)),
        _case(lambda p: np.roots(np.concatenate([p, np.zeros(1)])), (3,)))),
    np.polydiv: FunctionRule(_composite(_polydiv), _cases(
        _case(lambda u, v: np.polydiv(u, v), (4,), (2,), complex_ok=True),
        _case(lambda v: np.polydiv([1.5, -0.7, 0.3, 2.0], v), (3,), low=0.5),
        _case(lambda u, v: np.polydiv(u, v), (2,), (4,)))),
    # --- special functions
    np.sinc: FunctionRule(_sinc, _cases(_case(lambda a: np.sinc(a), A, complex_ok=True))),
    np.i0: FunctionRule(_i0, _cases(_case(lambda x: np.i0(x), (2, 3), low=-9.0, high=9.0),
                                    _case(lambda x: np.i0(x * 10.0), (4,), rtol=1e-5))),
}
