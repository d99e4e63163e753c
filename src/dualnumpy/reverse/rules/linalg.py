"""The VJP rules of np.linalg: inv, solve, det, slogdet, the norms, matrix_power and the
other compositions, the singular values, the Hermitian eigenproblems and Cholesky
(read from one triangle, as NumPy does), pinv, lstsq, cond, the general eigenproblem
(eig, eigvals), and svd and qr with their vectors.

The forward counterpart is ``dualnumpy.rules.linalg``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..node import VJP, NoReference, Var, value_of
from .common import (
    A3,
    SQ,
    A,
    Case,
    FunctionRule,
    V,
    _axes,
    _bind,
    _call_values,
    _case,
    _cases,
    _composite,
    _exclusive_prod,
    _expand,
    _gather,
    _mH,
    _missing,
    node,
    with_value,
)

_np: Any = np


_SLOGDET_RESULT: Any = type(np.linalg.slogdet(np.eye(1)))


# ---------------------------------------------------------------- linear algebra


def _inv(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Y = A^-1: dY = -Y dA Y, adjoint G -> -Y^H G Y^H."""
    (a,) = args
    y = np.linalg.inv(a.value)
    yh = _mH(y)
    return node(y, [(a, lambda g: -(yh @ g @ yh))])


def _solve(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """x = A^-1 b: dx = A^-1 (db - dA x); adjoint: gb = A^-H g, gA = -gb x^H.

    As in NumPy 2, b is a vector only when it is 1-D.
    """
    b_ = _bind(func, name, args, kwargs)
    a, b = b_["a"], b_["b"]
    av, bv = value_of(a), value_of(b)
    x = np.linalg.solve(av, bv)
    vector = np.ndim(bv) == 1
    x2 = x[..., None] if vector else x

    def grad_b(g: Any) -> Any:
        g2 = np.asarray(g)[..., None] if vector else g
        gb = np.linalg.solve(_mH(av), g2)
        return gb[..., 0] if vector else gb

    def grad_a(g: Any) -> Any:
        gb = grad_b(g)
        gb2 = gb[..., None] if vector else gb
        return -(gb2 @ _mH(x2))

    edges: list[tuple[Var, VJP]] = []
    if isinstance(a, Var):
        edges.append((a, grad_a))
    if isinstance(b, Var):
        edges.append((b, grad_b))
    return node(x, edges)


def adjugate(a: Any) -> Any:
    """adj(A) (with A adj(A) = det(A) I) from the SVD, valid for singular A too.

    A = U S V^H gives adj(A) = adj(V^H) adj(S) adj(U) = det(U) det(V^H) V adj(S) U^H,
    where adj(S) is diagonal with the products of the other singular values.
    """
    u, s, vh = np.linalg.svd(a)
    phase = np.linalg.det(u) * np.linalg.det(vh)
    v = _mH(vh)
    return phase[..., None, None] * ((v * _exclusive_prod(s)[..., None, :]) @ _mH(u))


def _det(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """d det = tr(adj(A) dA), so d det / dA_ij = adj(A)_ji; adjoint g -> g adj(A)^H."""
    (a,) = args
    ans = np.linalg.det(a.value)

    def vjp(g: Any) -> Any:
        return np.asarray(g)[..., None, None] * _mH(adjugate(a.value))

    return node(ans, [(a, vjp)])


def _slogdet(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """With tau = tr(A^-1 dA): d logabsdet = Re tau, d sign = i sign Im tau.

    Adjoints: logabsdet g -> g A^-H; sign w -> i c A^-H with c = -Im(conj(w) sign)
    (a real sign is piecewise constant).
    """
    (a,) = args
    sign, logabs = np.linalg.slogdet(a.value)

    def inv_h() -> Any:
        return _mH(np.linalg.inv(a.value))

    def vjp_logabs(g: Any) -> Any:
        return np.asarray(g)[..., None, None] * inv_h()

    def vjp_sign(w: Any) -> Any:
        c = -np.imag(np.conjugate(w) * sign)
        return np.asarray(1j * c)[..., None, None] * inv_h()

    sign_node = node(sign, [(a, vjp_sign)] if np.iscomplexobj(a.value) else [])
    return _SLOGDET_RESULT(sign_node, node(logabs, [(a, vjp_logabs)]))


def _two_norm(x: Var, ans: Any, axes: tuple[int, ...], keepdims: bool) -> Var:
    """||x||_2 = sqrt(sum |x|**2): d = Re(sum conj(x) dx) / ||x||, adjoint g x / ||x||; 0 at x = 0."""
    n = _expand(ans, axes, keepdims)

    def vjp(g: Any) -> Any:
        with np.errstate(all="ignore"):
            return np.where(n == 0, 0, _expand(g, axes, keepdims) * (x.value / n))

    return node(ans, [(x, vjp)])


def _norm(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    b = _bind(func, name, args, kwargs)
    x, ord_, axis, keepdims = b["x"], b["ord"], b["axis"], bool(b["keepdims"])
    if not isinstance(x, Var):
        raise _missing(f"{name} with a Var outside x")
    ans = _call_values(func, args, kwargs)
    if axis is None:
        axes = tuple(range(x.ndim))
        if ord_ is not None and x.ndim not in (1, 2):
            raise _missing(f"{name}(ord={ord_!r}) of a {x.ndim}-d array")
    else:
        axes = _axes(axis, x.ndim)
    vector = len(axes) == 1 or (axis is None and ord_ is None)
    if vector:
        if ord_ is None or ord_ == 2:
            return _two_norm(x, ans, axes, keepdims)
        if ord_ == 0:
            return Var(ans)
        ax = axes if axis is not None else None
        absx = np.abs(x)
        if ord_ == np.inf:
            return np.max(absx, axis=ax, keepdims=keepdims)
        if ord_ == -np.inf:
            return np.min(absx, axis=ax, keepdims=keepdims)
        if ord_ == 1:
            return _np.add.reduce(absx, axis=ax, keepdims=keepdims)
        return _np.add.reduce(absx ** ord_, axis=ax, keepdims=keepdims) ** (1.0 / ord_)
    if ord_ in (None, "fro"):
        return _two_norm(x, ans, axes, keepdims)
    if ord_ == "nuc":
        return _nuclear_norm(x, ans, axes, keepdims)
    if ord_ in (2, -2):
        return with_value(ans, _spectral_norm(x, axes, keepdims, ord_ == 2))
    if ord_ in (1, -1, np.inf, -np.inf):
        # NumPy's order: ord +-1 sums over axis[0] (rows) and picks among axis[1]; +-inf the reverse
        row, col = (int(a) % x.ndim for a in axis) if axis is not None else (0, 1)
        summed, picked = (row, col) if ord_ in (1, -1) else (col, row)
        sums = np.sum(np.abs(x), axis=summed, keepdims=True)
        out = np.max(sums, axis=picked, keepdims=True) if ord_ in (1, np.inf) else (
            np.min(sums, axis=picked, keepdims=True))
        return with_value(ans, out if keepdims else np.squeeze(out, axis=axes))
    raise _missing(f"{name}(ord={ord_!r}) of a matrix")


def _nuclear_norm(x: Var, ans: Any, axes: tuple[int, ...], keepdims: bool) -> Var:
    """||A||_* = sum of singular values: d = Re tr(U^H dA V), adjoint g U V^H (full rank)."""
    moved = np.moveaxis(x.value, axes, (-2, -1))
    u, _, vh = np.linalg.svd(moved, full_matrices=False)
    uvh = np.moveaxis(u @ vh, (-2, -1), axes)

    def vjp(g: Any) -> Any:
        return _expand(g, axes, keepdims) * uvh

    return node(ans, [(x, vjp)])


# ---------------------------------------------------------------- compositions and extras


def _vector_norm(b: dict[str, Any]) -> Any:
    x, axis, keepdims, ord_ = b["x"], b["axis"], b["keepdims"], b["ord"]
    ndim = np.ndim(value_of(x))
    axes = _axes(axis, ndim)
    kept = [i for i in range(ndim) if i not in axes]
    shape = np.shape(value_of(x))
    moved = np.reshape(np.transpose(x, kept + list(axes)), [shape[i] for i in kept] + [-1])
    out = np.linalg.norm(moved, ord=ord_, axis=-1)
    if keepdims:
        out = np.reshape(out, [1 if i in axes else shape[i] for i in range(ndim)])
    return out


def _matrix_power(b: dict[str, Any]) -> Any:
    a, n = b["a"], int(b["n"])
    if n < 0:
        return np.linalg.matrix_power(np.linalg.inv(a), -n)
    value = np.linalg.matrix_power(value_of(a), n)
    if n == 0:
        return Var(value)
    powers = [np.broadcast_to(np.eye(a.shape[-1]), a.shape)]
    for _ in range(n - 1):
        powers.append(powers[-1] @ a.value)

    def vjp(g: Any) -> Any:
        """d(A^n) = sum_k A^k dA A^(n-1-k): adjoint sum_k (A^k)^H G (A^(n-1-k))^H."""
        return sum(_mH(powers[k]) @ g @ _mH(powers[n - 1 - k]) for k in range(n))

    return node(value, [(a, vjp)])


def _multi_dot(b: dict[str, Any]) -> Any:
    arrays = list(b["arrays"])
    first_vector, last_vector = np.ndim(value_of(arrays[0])) == 1, np.ndim(value_of(arrays[-1])) == 1
    if first_vector:
        arrays[0] = np.reshape(arrays[0], (1, -1))
    if last_vector:
        arrays[-1] = np.reshape(arrays[-1], (-1, 1))
    out = arrays[0]
    for m in arrays[1:]:
        out = np.matmul(out, m)
    if first_vector:
        out = out[0]
    if last_vector:
        out = out[..., 0]
    return out


def _tensorinv(b: dict[str, Any]) -> Any:
    a, ind = b["a"], int(b["ind"])
    shape = np.shape(value_of(a))
    rows = math.prod(shape[:ind])
    return np.reshape(np.linalg.inv(np.reshape(a, (rows, -1))), shape[ind:] + shape[:ind])


def _tensorsolve(b: dict[str, Any]) -> Any:
    a, rhs, axes = b["a"], b["b"], b["axes"]
    an = np.ndim(value_of(a))
    if axes is not None:
        order = [i for i in range(an) if i not in [int(k) % an for k in axes]]
        order += [int(k) % an for k in axes]
        a = np.transpose(a, order)
    old = np.shape(value_of(a))[-(an - np.ndim(value_of(rhs))):]
    n = math.prod(old)
    return np.reshape(np.linalg.solve(np.reshape(a, (n, n)), np.ravel(rhs)), old)


def _svdvals_node(x: Var, value: Any) -> Var:
    """d sigma_i = Re(u_i^H dA v_i) (distinct singular values): adjoint sum_i g_i u_i v_i^H."""
    u, _, vh = np.linalg.svd(x.value, full_matrices=False)

    def vjp(g: Any) -> Any:
        return (u * np.asarray(g)[..., None, :]) @ vh

    return node(value, [(x, vjp)])


def _svdvals(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    (x,) = args
    return _svdvals_node(x, _call_values(func, args, kwargs))


def _svd(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    b = _bind(func, name, args, kwargs)
    if b["compute_uv"] or b["hermitian"]:
        raise _missing(f"{name} with singular vectors", " (only compute_uv=False, the singular values)")
    return _svdvals_node(b["a"], _call_values(func, args, kwargs))


def _spectral_norm(x: Var, axes: tuple[int, ...], keepdims: bool, largest: bool) -> Any:
    moved = _np.moveaxis(x, axes, (-2, -1))
    s = _svdvals_node(moved, np.linalg.svd(moved.value, compute_uv=False))
    out = np.max(s, axis=-1) if largest else np.min(s, axis=-1)
    if keepdims:
        out = np.expand_dims(out, axes)
    return out


# ---------------------------------------------------------------- Hermitian eigenproblems, Cholesky


def hermitian_part(a: Any, lower: bool) -> Any:
    """The Hermitian matrix NumPy reads from one triangle of ``a`` (the diagonal's
    imaginary part ignored), as a composition of covered operations."""
    n = np.shape(value_of(a))[-1]
    strict = np.tri(n, k=-1, dtype=bool)
    if not lower:
        strict = strict.T
    low = np.where(strict, a, 0.0)
    return low + np.conjugate(np.swapaxes(low, -1, -2)) + np.where(np.eye(n, dtype=bool), np.real(a), 0.0)


def _cluster_mean(g: Any, w: Any) -> Any:
    """Each eigenvalue's cotangent replaced by the mean over its cluster (values closer
    than n eps max|w|): the adjoint of giving a cluster its mean tangent."""
    n = np.shape(w)[-1]
    tol = n * np.finfo(np.result_type(w, float)).eps * np.max(np.abs(w), axis=-1, keepdims=True)
    near = np.abs(w[..., :, None] - w[..., None, :]) <= tol[..., None]
    return np.sum(near * np.asarray(g)[..., None, :], axis=-1) / np.sum(near, axis=-1)


def _eigen_common(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
                  ) -> tuple[Any, Any, Any]:
    b = _bind(func, name, args, kwargs)
    a = b["a"]
    if not isinstance(a, Var):
        raise _missing(f"{name} with a Var outside a")
    h = hermitian_part(a, str(b["UPLO"]).upper() == "L")
    w, v = np.linalg.eigh(a.value, UPLO=b["UPLO"])
    return h, w, v


def _eigvalsh(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """d lambda_i = Re(v_i^H dH v_i): adjoint H = V diag(g) V^H."""
    h, w, v = _eigen_common(func, name, args, kwargs)
    value = _call_values(func, args, kwargs)
    return node(value, [(h, lambda g: (v * _cluster_mean(g, w)[..., None, :]) @ _mH(v))])


_EIGH_RESULT: Any = type(np.linalg.eigh(np.eye(1)))


def _eigh(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """dV = V (F o V^H dH V) with F_ij = 1 / (w_j - w_i), F_ii = 0 (gauge Im diag(V^H dV) = 0):
    adjoint of the vectors V (F o V^H gV) V^H; of the values V diag(g) V^H."""
    h, w, v = _eigen_common(func, name, args, kwargs)
    value = _call_values(func, args, kwargs)
    with np.errstate(divide="ignore"):
        gap = w[..., None, :] - w[..., :, None]
        f = np.where(np.eye(np.shape(w)[-1], dtype=bool), 0.0, 1.0 / np.where(gap == 0, 0.0, gap))

    def vjp_vectors(g: Any) -> Any:
        return v @ (f * (_mH(v) @ g)) @ _mH(v)

    values_node = node(value[0], [(h, lambda g: (v * _cluster_mean(g, w)[..., None, :]) @ _mH(v))])
    return _EIGH_RESULT(values_node, node(value[1], [(h, vjp_vectors)]))


def _cholesky(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """dL = L Phi(L^-1 dH L^-H), Phi = lower triangle with the diagonal halved:
    adjoint H = L^-H Phi(L^H gL) L^-1 (gL = gU^H for the upper factor U = L^H)."""
    b = _bind(func, name, args, kwargs)
    a, upper = b["a"], bool(b.get("upper", False))
    if not isinstance(a, Var):
        raise _missing(f"{name} with a Var outside a")
    h = hermitian_part(a, not upper)
    value = _call_values(func, args, kwargs)
    low = _mH(value) if upper else value
    inv_low = np.linalg.inv(low)
    n = np.shape(low)[-1]

    def vjp(g: Any) -> Any:
        g_low = _mH(g) if upper else g
        x = _mH(low) @ g_low
        phi = np.tril(x, -1) + 0.5 * (x * np.eye(n))
        return _mH(inv_low) @ phi @ inv_low

    return node(value, [(h, vjp)])


# ---------------------------------------------------------------- pinv, lstsq, cond, qr


def _pinv_node(value: Any, a: Var) -> Var:
    """The constant-rank derivative of P = A+:
    dP = -P dA P + P P^H dA^H (I - A P) + (I - P A) dA^H P^H P, whose adjoint is
    -P^H G P^H + (I - A P) G^H P P^H + P^H P G^H (I - P A)."""
    av, pv = a.value, value
    m, n = np.shape(av)[-2:]
    left = np.eye(m) - av @ pv
    right = np.eye(n) - pv @ av

    def vjp(g: Any) -> Any:
        gh = _mH(g)
        return -(_mH(pv) @ g @ _mH(pv)) + left @ gh @ pv @ _mH(pv) + _mH(pv) @ pv @ gh @ right

    return node(value, [(a, vjp)])


def _pinv(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    b = _bind(func, name, args, kwargs)
    a = b["a"]
    if not isinstance(a, Var):
        raise _missing(f"{name} with a Var outside a")
    value = _call_values(func, args, kwargs)
    h = hermitian_part(a, True) if b["hermitian"] else a
    return with_value(value, _pinv_node(np.linalg.pinv(h.value), h)) if b["hermitian"] else _pinv_node(value, a)


def _lstsq(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """x = A+ b (constant rank); residuals |b - A x|^2 when NumPy reports them; s = svdvals(A)."""
    b_ = _bind(func, name, args, kwargs)
    a, rhs = b_["a"], b_["b"]
    x, res, rank, sv = _call_values(func, args, kwargs)
    av = np.asarray(value_of(a))
    pinv_value = np.linalg.pinv(av, rcond=np.finfo(float).eps * max(av.shape) if b_["rcond"] is None
                                else b_["rcond"])
    p = _pinv_node(pinv_value, a) if isinstance(a, Var) else pinv_value
    x_c = with_value(x, np.matmul(p, rhs))
    if np.size(res):
        r = rhs - np.matmul(a, x_c)
        res_c = with_value(res, np.reshape(np.sum(np.real(r * np.conjugate(r)), axis=0), np.shape(res)))
    else:
        res_c = Var(res)
    s_c = _svdvals_node(a, sv) if isinstance(a, Var) else Var(sv)
    return (x_c, res_c, rank, s_c)


def _cond(b: dict[str, Any]) -> Any:
    x, p = b["x"], b["p"]
    if p is None or p in (2, -2):
        s = np.linalg.svdvals(x)
        big, small = np.max(s, axis=-1), np.min(s, axis=-1)
        return big / small if p != -2 else small / big
    return np.linalg.norm(x, p, axis=(-2, -1)) * np.linalg.norm(np.linalg.inv(x), p, axis=(-2, -1))


_QR_RESULT: Any = type(np.linalg.qr(np.eye(1)))


def _qr(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Reduced QR of a tall matrix, in LAPACK's gauge (real diagonal of R).

    With Z = dA R^-1, C = Q^H Z, O = tril(C, -1) - tril(C, -1)^H + i Im diag(C):
    dQ = Q (O - C) + Z, dR = (C - O) R. The adjoint, with D = Q^H gQ - gR R^H:
    gA = (gQ + Q Cbar) R^-H, Cbar = -D + tril(D, -1) - tril(D^H, -1) + i Im diag(D).
    """
    b = _bind(func, name, args, kwargs)
    a, mode = b["a"], b["mode"]
    if not isinstance(a, Var) or mode not in ("reduced", "r", "complete"):
        raise _missing(f"{name}(mode={mode!r})")
    m, n = a.shape[-2:]
    if m < n or (mode == "complete" and m != n):
        raise _missing(f"{name} of a wide matrix or mode='complete'", " (only tall or square, reduced)")
    q, r = np.linalg.qr(a.value)
    value = _call_values(func, args, kwargs)
    r_inv_h = _mH(np.linalg.inv(r))
    eye = np.eye(n, dtype=bool)

    def pull(gq: Any, gr: Any) -> Any:
        d = _mH(q) @ gq - gr @ _mH(r)
        c_bar = -d + np.tril(d, -1) - np.tril(_mH(d), -1) + np.where(eye, 1j * np.imag(d), 0)
        return (gq + q @ c_bar) @ r_inv_h

    zero_q, zero_r = np.zeros_like(q), np.zeros_like(r)
    if mode == "r":
        return node(value, [(a, lambda g: pull(zero_q, g))])
    return _QR_RESULT(node(value[0], [(a, lambda g: pull(g, zero_r))]),
                      node(value[1], [(a, lambda g: pull(zero_q, g))]))


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
    ``_qr`` (tall or square)."""
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


# ---------------------------------------------------------------- the table


SQS = (2, 3, 3)


def _eig_reconstruct(w: Any, v: Any) -> Any:
    """V diag(w) V^H: independent of the eigenvectors' phases."""
    return (v * w[..., None, :]) @ np.conjugate(np.swapaxes(v, -1, -2))


_GATHER_FUNCTIONS: dict[Any, tuple[Case, ...]] = {
    np.linalg.matrix_transpose: _cases(_case(lambda a: np.linalg.matrix_transpose(a), A3)),
    np.linalg.diagonal: _cases(_case(lambda a: np.linalg.diagonal(a, offset=1), A3)),
}


#: np.linalg (the forward table: rules/linalg.py).
LINALG_VJPS: dict[Any, FunctionRule] = {
    **{f: FunctionRule(_gather, cases) for f, cases in _GATHER_FUNCTIONS.items()},
    # --- linear algebra
    np.linalg.inv: FunctionRule(_inv, _cases(_case(lambda a: np.linalg.inv(a), SQ, shift=3.0, complex_ok=True),
                                             _case(lambda a: np.linalg.inv(a), SQS, shift=3.0))),
    np.linalg.solve: FunctionRule(_solve, _cases(
        _case(lambda a, b: np.linalg.solve(a, b), SQ, (3,), shift=3.0, complex_ok=True),
        _case(lambda a, b: np.linalg.solve(a, b), SQS, (3, 2), shift=3.0),
        _case(lambda a, b: np.linalg.solve(a, b), SQS, (3,), shift=3.0))),
    np.linalg.det: FunctionRule(_det, _cases(_case(lambda a: np.linalg.det(a), SQ, complex_ok=True),
                                             _case(lambda a: np.linalg.det(a), SQS),
                                             _case(lambda a: np.linalg.det(a), (1, 1)))),
    np.linalg.slogdet: FunctionRule(_slogdet, _cases(
        _case(lambda a: np.linalg.slogdet(a), SQ, shift=3.0, complex_ok=True),
        _case(lambda a: np.linalg.slogdet(a)[1], SQS, shift=3.0))),
    np.linalg.norm: FunctionRule(_norm, _cases(
        _case(lambda a: np.linalg.norm(a), V, complex_ok=True),
        _case(lambda a: np.linalg.norm(a), A3),
        _case(lambda a: np.linalg.norm(a, axis=1, keepdims=True), A3, complex_ok=True),
        _case(lambda a: np.linalg.norm(a, ord=1), V),
        _case(lambda a: np.linalg.norm(a, ord=np.inf, axis=0), A),
        _case(lambda a: np.linalg.norm(a, ord=-np.inf), V),
        _case(lambda a: np.linalg.norm(a, ord=3), V, low=0.2),
        _case(lambda a: np.linalg.norm(a, ord="fro"), A),
        _case(lambda a: np.linalg.norm(a, ord="nuc"), A),
        _case(lambda a: np.linalg.norm(a, ord=2), A, complex_ok=True),
        _case(lambda a: np.linalg.norm(a, ord=-2, axis=(2, 0), keepdims=True), A3),
        _case(lambda a: np.linalg.norm(a, ord=1), A),
        _case(lambda a: np.linalg.norm(a, ord=-np.inf, axis=(0, 1)), A3),
        _case(lambda a: np.linalg.norm(a, ord=1, axis=(-1, 1)), A3),
        _case(lambda a: np.linalg.norm(a, ord=np.inf, axis=(2, 0), keepdims=True), A3),
        _case(lambda a: np.linalg.norm(a, axis=(0, 2)), A3))),
    # --- compositions of covered operations (the value is NumPy's own)
    np.linalg.matmul: FunctionRule(_composite(lambda b: np.matmul(b["x1"], b["x2"])),
                                   _cases(_case(lambda a, b: np.linalg.matmul(a, b), A3, (4, 2)))),
    np.linalg.outer: FunctionRule(_composite(lambda b: np.outer(b["x1"], b["x2"])),
                                  _cases(_case(lambda a, b: np.linalg.outer(a, b), (3,), (2,)))),
    np.linalg.tensordot: FunctionRule(_composite(lambda b: np.tensordot(b["x1"], b["x2"], axes=b["axes"])),
                                      _cases(_case(lambda a, b: np.linalg.tensordot(a, b, axes=1), A, (3, 2)))),
    np.linalg.vecdot: FunctionRule(_composite(lambda b: _np.vecdot(np.moveaxis(b["x1"], b["axis"], -1),
                                                                  np.moveaxis(b["x2"], b["axis"], -1))),
                                   _cases(_case(lambda a, b: _np.linalg.vecdot(a, b, axis=0), A, A,
                                                complex_ok=True))),
    np.linalg.trace: FunctionRule(_composite(lambda b: np.trace(b["x"], b["offset"], -2, -1)),
                                  _cases(_case(lambda a: np.linalg.trace(a, offset=1), A3))),
    np.linalg.cross: FunctionRule(_composite(lambda b: np.cross(b["x1"], b["x2"], axis=b["axis"])),
                                  _cases(_case(lambda a, b: np.linalg.cross(a, b), (3,), (3,)))),
    np.linalg.vector_norm: FunctionRule(_composite(_vector_norm), _cases(
        _case(lambda a: np.linalg.vector_norm(a), A3, complex_ok=True),
        _case(lambda a: np.linalg.vector_norm(a, axis=(0, 2), keepdims=True, ord=3), A3, low=0.2),
        _case(lambda a: np.linalg.vector_norm(a, axis=1, ord=np.inf), A3))),
    np.linalg.matrix_norm: FunctionRule(_composite(lambda b: _np.linalg.norm(b["x"], b["ord"], (-2, -1),
                                                                            b["keepdims"])), _cases(
        _case(lambda a: np.linalg.matrix_norm(a), A3, complex_ok=True),
        _case(lambda a: np.linalg.matrix_norm(a, ord=2, keepdims=True), A3))),
    np.linalg.matrix_power: FunctionRule(_composite(_matrix_power), _cases(
        _case(lambda a: np.linalg.matrix_power(a, 3), SQ, low=-1.0, high=1.0, complex_ok=True),
        _case(lambda a: np.linalg.matrix_power(a, -2), SQS, shift=3.0),
        _case(lambda a: np.linalg.matrix_power(a, 0), SQ),
        _case(lambda a: np.linalg.matrix_power(a, 1), SQ))),
    np.linalg.multi_dot: FunctionRule(_composite(_multi_dot), _cases(
        _case(lambda a, b, c: np.linalg.multi_dot([a, b, c]), (3,), (3, 4), (4,)),
        _case(lambda a, b, c: np.linalg.multi_dot([a, b, c]), A, (3, 4), (4, 2), complex_ok=True))),
    np.linalg.tensorinv: FunctionRule(_composite(_tensorinv), _cases(
        _case(lambda a: np.linalg.tensorinv(np.reshape(a, (2, 2, 4)), ind=2), (4, 4), shift=3.0))),
    np.linalg.tensorsolve: FunctionRule(_composite(_tensorsolve), _cases(
        _case(lambda a, b: np.linalg.tensorsolve(np.reshape(a, (4, 2, 2)), b), (4, 4), (4,), shift=3.0),
        _case(lambda a, b: np.linalg.tensorsolve(np.reshape(np.transpose(a), (2, 2, 4)), b, axes=(2,)),
              (4, 4), (2, 2), shift=3.0))),
    np.linalg.cond: FunctionRule(_composite(_cond), _cases(
        _case(lambda a: np.linalg.cond(a), SQ, complex_ok=True), _case(lambda a: np.linalg.cond(a, -2), (2, 3, 2)),
        _case(lambda a: np.linalg.cond(a, "fro"), SQ, shift=3.0), _case(lambda a: np.linalg.cond(a, 1), SQ, shift=3.0))),
    # --- singular values, and svd with its vectors
    np.linalg.svdvals: FunctionRule(_svdvals, _cases(_case(lambda a: np.linalg.svdvals(a), A3, complex_ok=True))),
    np.linalg.svd: FunctionRule(svd_apply, _cases(
        _case(lambda a: np.linalg.svd(a, compute_uv=False), (3, 2)),
        _case(lambda a: np.linalg.svd(a), (3, 3)),
        _case(lambda a: np.linalg.svd(a, full_matrices=False), (4, 3)),
        _case(lambda a: np.linalg.svd(a, full_matrices=False), (2, 3, 4)),
        _case(lambda a: np.linalg.svd(a, compute_uv=False), (2, 3, 3), complex_ok=True),
        _case(lambda a: np.linalg.svd(a, hermitian=True), (3, 3)),
        _case(lambda a: np.linalg.svd(a, hermitian=True, compute_uv=False), (3, 3)))),
    # --- Hermitian eigenproblems and Cholesky (NumPy reads one triangle)
    np.linalg.eigvalsh: FunctionRule(_eigvalsh, _cases(
        _case(lambda a: np.linalg.eigvalsh(a), SQ, complex_ok=True),
        _case(lambda a: np.linalg.eigvalsh(a, UPLO="U"), SQS))),
    np.linalg.eigh: FunctionRule(_eigh, _cases(
        _case(lambda a: np.linalg.eigh(a)[0], SQ, complex_ok=True),
        _case(lambda a: np.abs(np.linalg.eigh(a, UPLO="U")[1]), SQS),
        _case(lambda a: _eig_reconstruct(*np.linalg.eigh(a)), SQ, complex_ok=True))),
    np.linalg.cholesky: FunctionRule(_cholesky, _cases(
        _case(lambda a: np.linalg.cholesky(a @ np.swapaxes(np.conjugate(a), -1, -2)), SQ, shift=3.0,
              complex_ok=True),
        _case(lambda a: np.linalg.cholesky(a + 4.0 * np.eye(3), upper=True), SQS, low=-0.5, high=0.5))),
    # --- general eigenproblems
    np.linalg.eig: FunctionRule(_eig, _cases(
        _case(lambda a: np.linalg.eig(_eig_shifted(a)), (3, 3), complex_ok=True),
        _case(lambda a: np.linalg.eig(_eig_real(a)), (3, 3)),
        _case(lambda a: np.linalg.eig(_eig_shifted(a)), (2, 3, 3)))),
    np.linalg.eigvals: FunctionRule(_eigvals, _cases(
        _case(lambda a: np.linalg.eigvals(_eig_shifted(a)), (3, 3), complex_ok=True),
        _case(lambda a: np.linalg.eigvals(_eig_real(a)), (2, 3, 3)))),
    # --- pseudo-inverse, least squares, qr
    np.linalg.pinv: FunctionRule(_pinv, _cases(
        _case(lambda a: np.linalg.pinv(a), (4, 3), complex_ok=True),
        _case(lambda a: np.linalg.pinv(a), (2, 3, 5)),
        _case(lambda a: np.linalg.pinv(a @ np.swapaxes(a, -1, -2)), (3, 2)),
        _case(lambda a: np.linalg.pinv(a, hermitian=True), SQ, shift=3.0))),
    np.linalg.lstsq: FunctionRule(_lstsq, _cases(
        _case(lambda a, b: np.linalg.lstsq(a, b)[0], (4, 3), (4,), complex_ok=True),
        _case(lambda a, b: np.linalg.lstsq(a, b)[:2], (5, 2), (5, 3)),
        _case(lambda a, b: np.linalg.lstsq(a, b)[3], (3, 4), (3,)))),
    np.linalg.qr: FunctionRule(qr_apply, _cases(
        _case(lambda a: np.linalg.qr(a), (4, 3), complex_ok=True),
        _case(lambda a: np.linalg.qr(a, mode="r"), (2, 3, 3)),
        _case(lambda a: np.linalg.qr(a, mode="complete"), (3, 3)),
        _case(lambda a: np.linalg.qr(a), (3, 4), complex_ok=True),
        _case(lambda a: np.linalg.qr(a, mode="complete"), (3, 4)),
        _case(lambda a: np.linalg.qr(a, mode="r"), (2, 2, 4)))),
}
