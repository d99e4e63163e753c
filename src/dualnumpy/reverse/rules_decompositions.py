"""Reverse-mode rules for eig/eigvals, the svd and qr modes with vectors, polynomials (polyfit, roots,
polydiv, poly), and constructors and special functions (geomspace, arange, full, gradient, i0, ...).

Written from the mathematics, like rules.py, and never from the forward tables; the entries
join ``rules.FUNCTION_VJPS`` at the end of rules.py.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._node import VJP, NoReference, Var, value_of
from .rules import (
    FunctionRule,
    _as_var_or_array,
    _bind,
    _call_values,
    _case,
    _cases,
    _composite,
    _has_var,
    _mH,
    _missing,
    _qr,
    _svdvals_node,
    getitem,
    node,
    times,
    with_value,
)

_np: Any = np

# ---------------------------------------------------------------- general eigenproblems


def _eig_checked(name: str, a: Any) -> tuple[Any, Any, Any]:
    """NumPy's eig of ``a`` and the inverse of its eigenvector matrix; a matrix that is not
    (numerically) diagonalisable has no derivative: ValueError."""
    w, v = np.linalg.eig(a)
    eps = np.finfo(np.result_type(v, float)).eps
    with np.errstate(all="ignore"):
        cond = np.linalg.cond(v)
    if not np.all(cond < 1.0 / math.sqrt(eps)):
        raise ValueError(f"{name}: the matrix is not diagonalisable (eigenvector condition number "
                         f"{float(np.max(cond)):.3g}); a defective eigenvalue has no derivative")
    return w, v, np.linalg.inv(v)


def _eig_ties(w: Any, v: Any) -> Any:
    """Which eigenvalues coincide (within n eps cond(V) max|w|), as a boolean (..., n, n)."""
    n = np.shape(w)[-1]
    eps = np.finfo(np.result_type(v, float)).eps
    with np.errstate(all="ignore"):
        cond = np.linalg.cond(v)
    tol = n * eps * cond * np.max(np.abs(w), axis=-1, initial=0.0)
    return np.abs(w[..., :, None] - w[..., None, :]) <= np.asarray(tol)[..., None, None]


def _eig_pullback(name: str, w: Any, v: Any, v_inv: Any, vectors: bool) -> tuple[VJP, VJP | None]:
    """Pullbacks of the eigenvalues and of LAPACK's eigenvectors of a diagonalisable A.

    With A V = V diag(w) and X = V^-1 dA V (Giles 2008, "Extended collection of matrix
    derivative results", sec. 3.1): dw = diag(X) and, before normalisation,
    dV0 = V (F o X) with F_ij = 1 / (w_j - w_i), F_ii = 0. LAPACK returns unit columns
    whose largest-modulus entry p is real, so dV = dV0 + V diag(c) with
    c = -Re(v^H dv0) - i Im(dv0_p) / v_p (the i-part only for complex vectors).

    Adjoint, column by column with s = v^H gv: gdv0 = gv - Re(s) v - i Im(s) / v_p e_p;
    gX = conj(F) o (V^H gdV0) + diag(gw); gA = V^-H gX V^H. Equal eigenvalues share their
    cotangent evenly (the adjoint of giving a cluster its mean tangent); their vectors have
    no derivative (NoReference, the harness's "no reference").
    """
    n = np.shape(w)[-1]
    ties = _eig_ties(w, v)
    clustered = bool(np.any(ties & ~np.eye(n, dtype=bool)))
    v_inv_h = _mH(v_inv)
    vh = _mH(v)

    def back(gx: Any) -> Any:
        return v_inv_h @ gx @ vh

    def vjp_values(g: Any) -> Any:
        g = np.asarray(g)
        if clustered:
            g = np.sum(ties * g[..., None, :], axis=-1) / np.sum(ties, axis=-1)
        return back(g[..., :, None] * np.eye(n))

    if not vectors:
        return vjp_values, None
    if clustered:
        raise NoReference(f"{name}: repeated eigenvalues, whose eigenvectors are not unique and have no "
                          f"derivative (np.linalg.eigvals has one for the eigenvalues alone)")
    gap = w[..., None, :] - w[..., :, None]
    f = np.where(np.eye(n, dtype=bool), 0.0, 1.0 / np.where(np.eye(n, dtype=bool), 1.0, gap))
    p = np.argmax(np.abs(v), axis=-2)  # (..., n): the entry LAPACK makes real
    pick = np.arange(n)[:, None] == p[..., None, :]  # (..., n, n) one-hot columns
    v_p = np.real(np.sum(np.where(pick, v, 0), axis=-2))

    def vjp_vectors(g: Any) -> Any:
        g = np.asarray(g)
        s = np.sum(np.conjugate(v) * g, axis=-2)
        g0 = g - np.real(s)[..., None, :] * v
        if np.iscomplexobj(v):
            g0 = g0 - pick * (1j * np.imag(s) / v_p)[..., None, :]
        return back(np.conjugate(f) * (vh @ g0))

    return vjp_values, vjp_vectors


def _eig_input(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Var:
    a = _bind(func, name, args, kwargs)["a"]
    if not isinstance(a, Var):
        raise _missing(f"{name} with a Var outside a")
    return a


def _eig(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    a = _eig_input(func, name, args, kwargs)
    value = _call_values(func, args, kwargs)
    w, v, v_inv = _eig_checked(name, a.value)
    if not (np.array_equal(w, value[0], equal_nan=True) and np.array_equal(v, value[1], equal_nan=True)):
        raise _missing(name, " (LAPACK gave different eigenpairs on a second call)")
    vjp_w, vjp_v = _eig_pullback(name, w, v, v_inv, vectors=True)
    assert vjp_v is not None
    return type(value)(node(value[0], [(a, vjp_w)]), node(value[1], [(a, vjp_v)]))


def _matched(target: Any, source: Any) -> Any:
    """For each entry of ``target`` the index of a distinct nearest entry of ``source``
    (greedy, most certain first), matrix by matrix."""
    n = np.shape(target)[-1]
    flat_t, flat_s = np.reshape(target, (-1, n)), np.reshape(source, (-1, n))
    out = np.empty(flat_t.shape, dtype=np.intp)
    for b in range(flat_t.shape[0]):
        dist = np.abs(flat_t[b][:, None] - flat_s[b][None, :])
        free = np.ones(n, dtype=bool)
        for i in np.argsort(dist.min(axis=1)):
            j = int(np.argmin(np.where(free, dist[i], np.inf)))
            out[b, i], free[j] = j, False
    return np.reshape(out, np.shape(target))


def _eigvals(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """eigvals: the eigenvalue pullback of eig, with eig's columns put in eigvals' order."""
    a = _eig_input(func, name, args, kwargs)
    value = _call_values(func, args, kwargs)
    w, v, v_inv = _eig_checked(name, a.value)
    order = _matched(value, w)
    if np.any(order != np.arange(np.shape(w)[-1])):
        v = np.take_along_axis(v, np.broadcast_to(order[..., None, :], np.shape(v)), axis=-1)
        v_inv = np.take_along_axis(v_inv, np.broadcast_to(order[..., :, None], np.shape(v_inv)), axis=-2)
    vjp_w, _ = _eig_pullback(name, np.asarray(value), v, v_inv, vectors=False)
    return node(value, [(a, vjp_w)])


def _eig_shifted(a: Any) -> Any:
    """A well-separated spectrum with a complex pair: a rotation block, a real eigenvalue."""
    return np.array([[1.0, -2.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, -2.5]]) + 0.4 * a


def _eig_real(a: Any) -> Any:
    """Three well-separated real eigenvalues."""
    return np.diag([2.5, -0.5, -3.0]) + 0.4 * a


# ---------------------------------------------------------------- polynomials


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


# ---------------------------------------------------------------- special functions, constructors


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


def _geomspace(b: dict[str, Any]) -> Any:
    """s * exp(log(a/s) + t (log(b/s) - log(a/s))), s = sign(start), t = i / div, with the
    end points equal to start and stop (as NumPy sets them)."""
    start, stop, num = _as_var_or_array(b["start"]), _as_var_or_array(b["stop"]), int(b["num"])
    endpoint, axis = bool(b["endpoint"]), int(b["axis"])
    dt = np.result_type(value_of(start), value_of(stop), float(num),
                        np.zeros((), b["dtype"]) if b["dtype"] is not None else 0.0)

    def lifted(v: Any) -> Any:
        if np.iscomplexobj(np.zeros((), dt)) and not np.iscomplexobj(value_of(v)):
            return _np.astype(v, np.complex128) if isinstance(v, Var) else np.asarray(v, np.complex128)
        return v * 1.0

    start, stop = lifted(start), lifted(stop)
    shape = np.broadcast_shapes(np.shape(value_of(start)), np.shape(value_of(stop)))
    start, stop = np.broadcast_to(start, shape), np.broadcast_to(stop, shape)
    sign = np.sign(start)
    lo, hi = np.log(start / sign), np.log(stop / sign)
    div = (num - 1) if endpoint else num
    t = np.reshape(np.arange(num) / max(div, 1), (-1,) + (1,) * len(shape))
    inner = np.exp(lo + t * (hi - lo))
    if num > 0:
        inner = np.concatenate([np.expand_dims(start / sign, 0), inner[1:]])
    if num > 1 and endpoint:
        inner = np.concatenate([inner[:-1], np.expand_dims(stop / sign, 0)])
    out = inner * sign
    if b["dtype"] is not None:
        out = _np.astype(out, b["dtype"]) if isinstance(out, Var) else np.asarray(out, b["dtype"])
    return np.moveaxis(out, 0, axis) if axis != 0 else out


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


def _trim_zeros(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """A slice of the input, chosen by its values (piecewise constant): the getitem of it."""
    b = _bind(func, name, args, kwargs)
    filt, trim, axis = b["filt"], str(b["trim"]).lower(), b.get("axis")
    if not isinstance(filt, Var):
        raise _missing(f"{name} with a Var outside filt")
    value = _call_values(func, args, kwargs)
    nd = filt.ndim
    axes = range(nd) if axis is None else [int(a) % nd for a in np.atleast_1d(axis)]
    nonzero = np.argwhere(filt.value)
    if nonzero.size == 0:
        return Var(value)
    start, stop = nonzero.min(axis=0), nonzero.max(axis=0) + 1
    index = tuple(slice(start[i] if "f" in trim else None, stop[i] if "b" in trim else None)
                  if i in axes else slice(None) for i in range(nd))
    return with_value(value, getitem(filt, index))


def _arange(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """arange(start, stop, step)[i] = start + i step: d/dstart = 1, d/dstep = i; the length
    depends on stop piecewise-constantly, so stop gets no cotangent. Reached through like=."""
    kw = dict(kwargs)
    given = list(args) + [kw.pop(k) for k in ("start", "stop", "step") if k in kw]
    if kw.get("dtype") is not None:
        raise _missing(f"{name}(dtype=...)")
    start, stop, step = (0.0, given[0], 1.0) if len(given) == 1 else (
        (given[0], given[1], 1.0) if len(given) == 2 else tuple(given[:3]))
    value = _np.arange(*[np.asarray(value_of(v))[()] for v in (start, stop, step)])
    if value.dtype.kind in "biu":
        return Var(value)
    ramp = np.arange(value.shape[0], dtype=np.float64)
    edges: list[tuple[Var, VJP]] = []
    if isinstance(start, Var):
        edges.append((start, lambda g: np.sum(g)))
    if isinstance(step, Var):
        edges.append((step, lambda g: np.sum(g * ramp)))
    return node(value, edges)


def _full(b: dict[str, Any]) -> Any:
    """full(shape, fill) broadcasts fill (reached through like=)."""
    fill, dtype = _as_var_or_array(b["fill_value"]), b["dtype"]
    shape = (b["shape"],) if isinstance(b["shape"], (int, np.integer)) else tuple(b["shape"])
    if dtype is not None:
        fill = _np.astype(fill, dtype) if isinstance(fill, Var) else np.asarray(fill, dtype)
    return np.broadcast_to(fill, shape)


# ---------------------------------------------------------------- svd and qr with vectors


def _svd_vectors(name: str, a: Var, value: Any, full_matrices: bool) -> Any:
    """The real SVD A = U S V^T with its vectors (Townsend 2016, "Differentiating the singular
    value decomposition"), F_ij = 1 / (s_j^2 - s_i^2), F_ii = 0, gV = gVh^T:
    gA = U [(F o (U^T gU - gU^T U)) S + diag(gS) + S (F o (V^T gV - gV^T V))] V^T
         + (I - U U^T) gU S^-1 V^T + U S^-1 gV^T (I - V V^T)."""
    u, s, vh = value
    m, n = a.shape[-2:]
    k = min(m, n)
    if np.iscomplexobj(a.value):
        raise _missing(f"{name} of a complex matrix with singular vectors", " (their phases follow LAPACK)")
    if full_matrices and m != n:
        raise _missing(f"{name}(full_matrices=True) of a non-square matrix",
                       " (the completing columns are not unique; use full_matrices=False)")
    scale = np.max(s, axis=-1, keepdims=True, initial=0.0)
    tol = max(m, n) * np.finfo(np.float64).eps * scale
    gap = s[..., None, :] ** 2 - s[..., :, None] ** 2
    eye = np.eye(k, dtype=bool)
    if np.any(np.where(eye, False, np.abs(s[..., None, :] - s[..., :, None]) <= tol[..., None])) \
            or (m != n and np.any(s <= tol)):
        raise NoReference(f"{name}: repeated or zero singular values, whose vectors are not unique "
                          f"and have no derivative (np.linalg.svdvals has one for the values alone)")
    f = np.where(eye, 0.0, 1.0 / np.where(eye, 1.0, gap))
    v, ut = np.swapaxes(vh, -1, -2), np.swapaxes(u, -1, -2)

    def pull(gu: Any, gs: Any, gvh: Any) -> Any:
        inner = np.zeros((*np.shape(s), k))
        out = np.zeros(a.shape)
        if gu is not None:
            inner = inner + (f * (ut @ gu - np.swapaxes(gu, -1, -2) @ u)) * s[..., None, :]
            if m > k:
                out = out + (gu - u @ (ut @ gu)) / s[..., None, :] @ vh
        if gs is not None:
            inner = inner + np.asarray(gs)[..., :, None] * eye
        if gvh is not None:
            gv = np.swapaxes(gvh, -1, -2)
            inner = inner + s[..., :, None] * (f * (vh @ gv - gvh @ v))
            if n > k:
                out = out + (u / s[..., None, :]) @ (gvh - (gvh @ v) @ vh)
        return out + u @ inner @ vh

    return type(value)(node(u, [(a, lambda g: pull(g, None, None))]),
                       node(s, [(a, lambda g: pull(None, g, None))]),
                       node(vh, [(a, lambda g: pull(None, None, g))]))


def _svd_hermitian(a: Any, value: Any, compute_uv: bool) -> Any:
    """NumPy's svd(hermitian=True), composed: s = |eigenvalues| in decreasing order, U the
    eigenvectors in that order, Vh = (U sign(w))^H."""
    if not compute_uv:
        return with_value(value, np.sort(np.abs(np.linalg.eigvalsh(a)), axis=-1)[..., ::-1])
    w, u = np.linalg.eigh(a)
    sign = np.sign(value_of(w))
    order = np.argsort(np.abs(value_of(w)), axis=-1)[..., ::-1]
    s = np.take_along_axis(np.abs(w), order, axis=-1)
    sign = np.take_along_axis(sign, order, axis=-1)
    u = np.take_along_axis(u, np.broadcast_to(order[..., None, :], np.shape(value_of(u))), axis=-1)
    vh = np.conjugate(np.swapaxes(u * sign[..., None, :], -1, -2))
    return type(value)(with_value(value[0], u), with_value(value[1], s), with_value(value[2], vh))


def svd_apply(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """np.linalg.svd: the values (svdvals' rule), the real vectors (reduced, or square), and
    hermitian=True as a composition on eigh/eigvalsh."""
    b = _bind(func, name, args, kwargs)
    a = b["a"]
    if not isinstance(a, Var):
        raise _missing(f"{name} with a Var outside a")
    value = _call_values(func, args, kwargs)
    if b["hermitian"]:
        return _svd_hermitian(a, value, bool(b["compute_uv"]))
    if not b["compute_uv"]:
        return _svdvals_node(a, value)
    return _svd_vectors(name, a, value, bool(b["full_matrices"]))


def qr_apply(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """np.linalg.qr; a wide A = [X | Y] (m < n) as LAPACK factors it: Q, R_X = qr(X) and
    R = [R_X | Q^H Y] (the reflectors come from the first m columns only); the rest is
    rules._qr (tall or square)."""
    b = _bind(func, name, args, kwargs)
    a, mode = b["a"], b["mode"]
    if isinstance(a, Var) and mode in ("reduced", "complete", "r") and a.shape[-2] < a.shape[-1]:
        m = a.shape[-2]
        value = _call_values(func, args, kwargs)
        q, r_x = np.linalg.qr(a[..., :m])
        r = np.concatenate([r_x, _mH(q) @ a[..., m:]], axis=-1)
        if mode == "r":
            return with_value(value, r)
        return type(value)(with_value(value[0], q), with_value(value[1], r))
    return _qr(func, name, args, kwargs)


# ---------------------------------------------------------------- table

FUNCTION_VJPS: dict[Any, FunctionRule] = {
    np.linalg.eig: FunctionRule(_eig, _cases(
        _case(lambda a: np.linalg.eig(_eig_shifted(a)), (3, 3), complex_ok=True),
        _case(lambda a: np.linalg.eig(_eig_real(a)), (3, 3)),
        _case(lambda a: np.linalg.eig(_eig_shifted(a)), (2, 3, 3)))),
    np.linalg.eigvals: FunctionRule(_eigvals, _cases(
        _case(lambda a: np.linalg.eigvals(_eig_shifted(a)), (3, 3), complex_ok=True),
        _case(lambda a: np.linalg.eigvals(_eig_real(a)), (2, 3, 3)))),
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
    np.i0: FunctionRule(_i0, _cases(_case(lambda x: np.i0(x), (2, 3), low=-9.0, high=9.0),
                                    _case(lambda x: np.i0(x * 10.0), (4,), rtol=1e-5))),
    np.geomspace: FunctionRule(_composite(_geomspace), _cases(
        _case(lambda a, b: np.geomspace(a, b, 5), (), (), low=0.5, high=3.0, complex_ok=True),
        _case(lambda a, b: np.geomspace(-a, -b, 4, endpoint=False), (), (), low=0.5, high=3.0),
        _case(lambda a: np.geomspace(a, 5.0, 4, axis=1), (3,), low=0.5, high=2.0),
        _case(lambda a, b: np.geomspace(a, b, 3, dtype=np.complex128), (), (), low=0.5, high=3.0))),
    np.gradient: FunctionRule(_gradient, _cases(
        _case(lambda f: np.gradient(f), (5,), complex_ok=True),
        _case(lambda f: np.gradient(f, 0.5, 2.0), (3, 4)),
        _case(lambda f: np.gradient(f, axis=1, edge_order=2), (2, 3, 4)),
        _case(lambda f: np.gradient(f, np.array([-1.5, -0.4, 0.3, 1.1, 2.0]), edge_order=2), (5,)),
        _case(lambda f: np.gradient(f, 2.0, 1.5, axis=(0, 2)), (2, 3, 4)))),
    np.trim_zeros: FunctionRule(_trim_zeros, _cases(
        _case(lambda a: np.trim_zeros(a * np.array([0.0, 1.0, 1.0, 0.0, 1.0, 0.0])), (6,)),
        _case(lambda a: np.trim_zeros(a * np.array([0.0, 1.0, 1.0, 0.0]), "f", axis=1), (3, 4)))),
    np.arange: FunctionRule(_arange, _cases(
        _case(lambda a, s: np.arange(a, 4.0, s, like=a), (), (), low=0.5, high=0.9),
        _case(lambda a, b: np.arange(a + 1.0, b + 3.0, like=a), (), (), low=0.1, high=0.4),
        _case(lambda b: np.arange(b + 3.0, like=b), (), low=0.1, high=0.4))),
    np.full: FunctionRule(_composite(_full), _cases(
        _case(lambda a: np.full((3, 4), a, like=a), ()),
        _case(lambda a: np.full((2, 5), a, like=a), (5,)),
        _case(lambda a: np.full(4, a, np.complex128, like=a), ()))),
}

#: Rules for functions that rules.py covers in part (svd: the values only; qr: tall or square).
#: They join the table only once the entry in rules.py is removed (a function has one rule).
_WITH_VECTORS: dict[Any, FunctionRule] = {
    np.linalg.svd: FunctionRule(svd_apply, _cases(
        _case(lambda a: np.linalg.svd(a, compute_uv=False), (3, 2)),
        _case(lambda a: np.linalg.svd(a), (3, 3)),
        _case(lambda a: np.linalg.svd(a, full_matrices=False), (4, 3)),
        _case(lambda a: np.linalg.svd(a, full_matrices=False), (2, 3, 4)),
        _case(lambda a: np.linalg.svd(a, compute_uv=False), (2, 3, 3), complex_ok=True),
        _case(lambda a: np.linalg.svd(a, hermitian=True), (3, 3)),
        _case(lambda a: np.linalg.svd(a, hermitian=True, compute_uv=False), (3, 3)))),
    np.linalg.qr: FunctionRule(qr_apply, _cases(
        _case(lambda a: np.linalg.qr(a), (4, 3), complex_ok=True),
        _case(lambda a: np.linalg.qr(a, mode="r"), (2, 3, 3)),
        _case(lambda a: np.linalg.qr(a, mode="complete"), (3, 3)),
        _case(lambda a: np.linalg.qr(a), (3, 4), complex_ok=True),
        _case(lambda a: np.linalg.qr(a, mode="complete"), (3, 4)),
        _case(lambda a: np.linalg.qr(a, mode="r"), (2, 2, 4)))),
}
FUNCTION_VJPS.update(_WITH_VECTORS)
