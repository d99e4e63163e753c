"""The calculus of np.linalg: one line per function (the kinds are in rules/kinds.py).

The closed forms are ``Custom`` rules: ``jvp(ans, primals, tangents, params)`` gets
NumPy's result ``ans``, the values and batched tangents ``(k, *shape)`` of the
differentiable arguments, and returns the tangent of ``ans`` (one per output, ``None``
for an output without a derivative: a rank, the sign of a real determinant). They
are written with NumPy calls on the values (so nested Duals differentiate them
again) and fold the k directions of a batched tangent into the columns of one
right-hand side wherever a solve is needed (one factorisation for all k):

- inv: dX = -X dA X;  solve: dx = A⁻¹(db - dA x);  det: d det = det · tr(A⁻¹ dA)
  (at an exactly singular matrix, tr(adj(A) dA) from an SVD: det is smooth there);
  slogdet: d logabsdet = Re tr(A⁻¹ dA); the sign of a real matrix is piecewise
  constant and comes back as a plain array (a complex sign moves: i·Im tr(A⁻¹ dA)).
- cholesky, eigh, eigvalsh and pinv(hermitian=True) read one triangle, as NumPy
  does: the tangent is that triangle's Hermitian matrix.
- eigh: dλ = Re diag(Vᴴ dH V), dV = V (F ∘ Vᴴ dH V) with F_ij = 1/(λ_j - λ_i).
- svd: the JAX formulas (reduced matrices); qr: the JAX formula, extended to wide
  matrices; eig: dλ = diag(V⁻¹ dA V) and dV in LAPACK's gauge (unit norm, largest
  component real); lstsq and pinv: the constant-rank derivative of the pseudo-inverse.
- The norms are a ``Switch`` on the kind of norm: the 2-norm and the p-norms in closed
  form, ord=0 (a count) piecewise constant, the piecewise-linear (1, inf) and spectral
  (2, -2, nuc) norms composed on the Duals; svd(hermitian=True) and cond are
  compositions too (``Composite``: NumPy's value, the composition's tangent).

Edges (tested in tests/test_linalg_edges.py):

- Repeated eigenvalues / singular values (closer than n·eps·max|λ|, the tolerance of
  matrix_rank): each value of a cluster gets the cluster's MEAN tangent. That is
  linear, does not depend on the arbitrary basis LAPACK picks inside the eigenspace,
  and is exact for every symmetric function of the eigenvalues (trace, logdet,
  sums of f(λ)) - the convention max/min use at ties. The eigenvectors (singular
  vectors) are not unique there and have no derivative: eigh, eig and svd with
  vectors raise a ValueError that names eigvalsh/eigvals/svdvals. Never a NaN.
- A zero singular value is a kink like |x| at 0: its tangent is 0 (the minimum-norm
  subgradient, as abs'(0) = 0); U and V are not differentiable there (ValueError).
- The 2-norm (and every p-norm) of a zero vector has the zero subgradient: tangent 0.
- eig/eigvals need a diagonalisable matrix: an eigenvector matrix with condition
  number above 1/sqrt(eps) is refused with a ValueError (a defective eigenvalue moves
  like a root of the perturbation, with no derivative).
- Singular matrices: inv and solve raise NumPy's own LinAlgError (from the value);
  slogdet (logabsdet = -inf) and cond (= inf) raise a LinAlgError that says the
  derivative does not exist.
- Complex Hermitian eigenvectors and complex singular vectors follow the standard
  gauge Im diag(Vᴴ dV) = 0 (JAX, PyTorch); LAPACK's own phase choice is not
  documented, so only phase-invariant quantities (V diag(λ) Vᴴ, |V|) are comparable
  with finite differences.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Any

import numpy as np

from dualnumpy.core.tangent import align, dtype_of, shape_of
from dualnumpy.numpy_facts.sampling import Sample, arr, sample
from dualnumpy.numpy_facts.signatures import Args, public_name
from dualnumpy.rules.kinds import (
    Composite,
    Custom,
    Linear,
    NonDiff,
    Params,
    PiecewiseConstant,
    Rule,
    Switch,
    as_array,
    primal,
)

LinAlgError = np.linalg.LinAlgError

# ---------------------------------------------------------------- shared helpers


def _is_complex(x: Any) -> bool:
    return dtype_of(x).kind == "c"


def _real(x: Any) -> Any:
    return np.real(x) if _is_complex(x) else x


def _mT(x: Any) -> Any:
    return np.swapaxes(x, -1, -2)


def _mH(x: Any) -> Any:
    return np.conjugate(np.swapaxes(x, -1, -2)) if _is_complex(x) else np.swapaxes(x, -1, -2)


def _diag(x: Any) -> Any:
    return np.diagonal(x, 0, -2, -1)


def _eps(x: Any) -> float:
    return float(np.finfo(dtype_of(x)).eps)


def _real_dtype(x: Any) -> Any:
    return np.finfo(dtype_of(x)).dtype


def _eye(n: int) -> np.ndarray[Any, Any]:
    return np.eye(n, dtype=bool)


# The names in the refusals' messages (a rule is not told which function it serves).
_SLOGDET, _QR, _EIGH = public_name(np.linalg.slogdet), public_name(np.linalg.qr), public_name(np.linalg.eigh)
_EIG, _EIGVALS = public_name(np.linalg.eig), public_name(np.linalg.eigvals)
_SVD, _COND = public_name(np.linalg.svd), public_name(np.linalg.cond)


def _solve_many(a: Any, r: Any) -> Any:
    """solve(a, r[i]) for every direction i of r (k, ..., n, m) with ONE factorisation:
    the directions become extra columns of the right-hand side."""
    k = shape_of(r)[0]
    if k == 1:
        return np.linalg.solve(a, r[0])[None]
    *stack, n, m = shape_of(r)[1:]
    columns = np.reshape(np.moveaxis(r, 0, -1), (*stack, n, m * k))
    x = np.linalg.solve(a, columns)
    return np.moveaxis(np.reshape(x, (*shape_of(x)[:-1], m, k)), -1, 0)


def _trace_solve(a: Any, t: Any) -> Any:
    """tr(A⁻¹ t_i) for every direction: solve for one direction (the same cost as inv);
    for k > 1 one inverse serves all k (O(n³ + k n²) instead of O(k n³))."""
    if shape_of(t)[0] == 1:
        return np.trace(np.linalg.solve(a, t[0]), 0, -2, -1)[None]
    return np.sum(_mT(np.linalg.inv(a)) * t, axis=(-2, -1))


def _hermitian_part(x: Any, lower: bool) -> Any:
    """The Hermitian matrix NumPy reads from one triangle (imaginary diagonal ignored)."""
    n = shape_of(x)[-1]
    strict = np.tri(n, k=-1, dtype=bool)
    strict = strict if lower else strict.T
    low = np.where(strict, x, 0.0)
    return low + _mH(low) + np.where(_eye(n), _real(x), 0.0)


def _sorted_ties(w: Any, tol: Any) -> Any:
    """Which entries of the sorted primal ``w`` (..., n) form clusters closer than ``tol``:
    an (..., n, n) bool matrix, or None when every value is simple."""
    gaps = np.abs(np.diff(w, axis=-1)) <= np.asarray(tol)[..., None]
    if not np.any(gaps):
        return None
    ids = np.concatenate([np.zeros((*gaps.shape[:-1], 1), int), np.cumsum(~gaps, axis=-1)], axis=-1)
    return ids[..., :, None] == ids[..., None, :]


def _average_ties(d: Any, same: Any) -> Any:
    """Each value of a cluster gets the cluster's mean tangent (d is (k, ..., n))."""
    mean = (same / np.sum(same, axis=-1, keepdims=True)).astype(_real_dtype(d))
    return np.matmul(mean, d[..., None])[..., 0]


def _first_tie(same: Any) -> tuple[int, ...]:
    pair = np.argwhere(same & ~_eye(same.shape[-1]))[0]
    return tuple(int(i) for i in pair)


def _refuse_vectors_at_ties(name: str, what: str, same: Any, fix: str) -> None:
    if same is not None:
        where = _first_tie(same)
        raise ValueError(
            f"{name}: {what} {where[-2]} and {where[-1]}"
            f"{' of matrix ' + str(where[:-2]) if len(where) > 2 else ''} are repeated (equal "
            f"within max(m, n)·eps·max|value|); the vectors are not unique there and have no "
            f"derivative. {fix}")


def _off_diagonal_inverse(d: Any) -> Any:
    """1/d off the diagonal, 0 on it (d is (..., n, n) of differences)."""
    eye = _eye(shape_of(d)[-1])
    return np.where(eye, 0.0, 1.0 / np.where(eye, 1.0, d))


# ---------------------------------------------------------------- inverse, solve, determinants


def _jvp_inv(ans: Any, primals: Args, tangents: Args, params: Params) -> Any:
    """X = A⁻¹: dX = -X dA X."""
    t = tangents["a"]
    return -(ans @ t @ ans)


def _jvp_solve(ans: Any, primals: Args, tangents: Args, params: Params) -> Any:
    """x = A⁻¹ b, dx = A⁻¹ (db - dA x); b is a vector only when 1-D (NumPy 2)."""
    a, b = as_array(primals["a"]), as_array(primals["b"])
    ta, tb = tangents["a"], tangents["b"]
    x = ans
    vector = len(shape_of(b)) == 1
    xc = x[..., None] if vector else x
    rhs: Any = 0.0
    if tb is not None:  # aligned: b may have fewer stack dimensions than x
        rhs = align(tb[..., None] if vector else tb, len(shape_of(xc)))
    if ta is not None:
        rhs = rhs - ta @ xc
    dx = _solve_many(a, rhs)
    return dx[..., 0] if vector else dx


def _adjugate(a: Any) -> Any:
    """adj(A) = det(U) det(Vh) V adj(S) Uᴴ: defined (and smooth) at singular matrices."""
    u, s, vh = np.linalg.svd(a)
    n = shape_of(s)[-1]
    others = np.prod(np.where(_eye(n), 1.0, s[..., None, :]), axis=-1)
    scale = np.linalg.det(u) * np.linalg.det(vh)
    return scale[..., None, None] * ((_mH(vh) * others[..., None, :]) @ _mH(u))


def _jvp_det(ans: Any, primals: Args, tangents: Args, params: Params) -> Any:
    """d det = det · tr(A⁻¹ dA), or tr(adj(A) dA) at an exactly singular matrix."""
    a, t = primals["a"], tangents["a"]
    try:
        return ans * _trace_solve(a, t)
    except LinAlgError:  # exactly singular: d det = tr(adj(A) dA) still exists
        return np.sum(_mT(_adjugate(a)) * t, axis=(-2, -1))


def _jvp_slogdet(ans: Any, primals: Args, tangents: Args, params: Params) -> Any:
    """d logabsdet = Re tr(A⁻¹ dA); a real sign is piecewise constant (None: plain)."""
    a, t = primals["a"], tangents["a"]
    sign, _ = ans
    if np.any(primal(sign) == 0):
        raise LinAlgError(
            f"{_SLOGDET}: the matrix is singular (logabsdet = -inf), so log|det| has no "
            f"derivative there; np.linalg.det is differentiable at singular matrices")
    tr = _trace_solve(a, t)
    if not _is_complex(sign):  # ±1: piecewise constant, a plain result
        return None, tr
    return sign * (1j * np.imag(tr)), np.real(tr)


# ---------------------------------------------------------------- Cholesky and QR


def _jvp_cholesky(ans: Any, primals: Args, tangents: Args, params: Params) -> Any:
    """dL = L Φ(L⁻¹ dH L⁻ᴴ), Φ = strictly lower part plus half the diagonal."""
    t = tangents["a"]
    upper = bool(params.get("upper", False))
    low = _mH(ans) if upper else ans
    d_h = _hermitian_part(t, lower=not upper)
    x = _mH(_solve_many(low, _mH(_solve_many(low, d_h))))
    n = shape_of(ans)[-1]
    phi = np.tri(n, k=-1) + 0.5 * np.eye(n)
    d_low = low @ (x * phi.astype(_real_dtype(ans)))
    return _mH(d_low) if upper else d_low


def _qr_tall(name: str, q: Any, r: Any, t: Any) -> tuple[Any, Any]:
    """JAX's QR rule (m ≥ n, reduced): j-towns.github.io/papers/qr-derivative.pdf."""
    pivots = np.abs(_diag(primal(r)))
    tol = max(shape_of(q)[-2:] + shape_of(r)[-1:]) * _eps(pivots) * np.max(pivots, axis=-1, initial=0.0)
    if np.any(pivots <= np.asarray(tol)[..., None]):
        raise LinAlgError(f"{name}: the matrix does not have full column rank (R has a zero on its "
                          f"diagonal, within max(m, n)·eps·max|R_ii|); Q and R have no derivative there")
    dx_rinv = _mH(_solve_many(_mH(r), _mH(t)))  # dA R⁻¹
    qt_dx_rinv = _mH(q) @ dx_rinv
    n = shape_of(r)[-1]
    lower = np.where(np.tri(n, k=-1, dtype=bool), qt_dx_rinv, 0.0)
    do = lower - _mH(lower)  # skew-Hermitian
    if _is_complex(qt_dx_rinv):
        do = do + np.where(_eye(n), 1j * np.imag(qt_dx_rinv), 0.0)
    return q @ (do - qt_dx_rinv) + dx_rinv, (qt_dx_rinv - do) @ r


def _jvp_qr(ans: Any, primals: Args, tangents: Args, params: Params) -> Any:
    """Q and R (or R alone): JAX's rule for a tall matrix; a wide one splits as [X | Y]."""
    name = _QR
    a, t = primals["a"], tangents["a"]
    mode = params.get("mode", "reduced")
    m, n = shape_of(a)[-2:]
    if mode == "raw":
        raise TypeError(f"{name}(mode='raw') is not supported for Duals: Householder reflectors "
                        f"have no tangent here; use mode='reduced' (or 'r')")
    if mode == "complete" and m > n:
        raise TypeError(f"{name}(mode='complete') of a tall matrix is not supported for Duals: "
                        f"the last m - n columns of Q are not unique, so they have no derivative; "
                        f"use mode='reduced'")
    q, r = np.linalg.qr(a) if mode == "r" else ans
    if m >= n:
        dq, dr = _qr_tall(name, q, r, t)
    else:  # A = [X | Y]: X = Q R_X is square, and R_Y = Qᴴ Y
        dq, dr_x = _qr_tall(name, q, r[..., :m], t[..., :m])
        dr = np.concatenate([dr_x, _mH(dq) @ a[..., m:] + _mH(q) @ t[..., m:]], axis=-1)
    if mode == "r":
        return dr
    return dq, dr


# ---------------------------------------------------------------- Hermitian eigenproblems


def _eigh_terms(w: Any, v: Any, t: Any, uplo: Any) -> tuple[Any, Any, Any]:
    """Vᴴ dH V, the tangent of the eigenvalues, and the tie clusters (or None)."""
    x = _mH(v) @ _hermitian_part(t, lower=str(uplo).upper() == "L") @ v
    wp = primal(w)
    tol = shape_of(wp)[-1] * _eps(wp) * np.max(np.abs(wp), axis=-1, initial=0.0)
    same = _sorted_ties(wp, tol)
    dw = _real(_diag(x))
    return x, (dw if same is None else _average_ties(dw, same)), same


def _jvp_eigh(ans: Any, primals: Args, tangents: Args, params: Params) -> Any:
    """dλ = Re diag(Vᴴ dH V), dV = V (F ∘ Vᴴ dH V); refused at repeated eigenvalues."""
    w, v = ans
    x, dw, same = _eigh_terms(w, v, tangents["a"], params.get("UPLO", "L"))
    _refuse_vectors_at_ties(_EIGH, "eigenvalues", same,
                            "Use np.linalg.eigvalsh for the eigenvalues alone (their tangent is "
                            "defined at ties), or a spectral function of them")
    f = _off_diagonal_inverse(w[..., None, :] - w[..., :, None])
    return dw, v @ (f * x)


def _jvp_eigvalsh(ans: Any, primals: Args, tangents: Args, params: Params) -> Any:
    """dλ = Re diag(Vᴴ dH V), each value of a cluster with the cluster's mean."""
    uplo = params.get("UPLO", "L")
    v = np.linalg.eigh(primals["a"], UPLO=uplo)[1]
    _, dw, _ = _eigh_terms(ans, v, tangents["a"], uplo)
    return dw


# ---------------------------------------------------------------- general eigenproblems


def _eig_tangents(name: str, w: Any, v: Any, t: Any, vectors: bool) -> tuple[Any, Any]:
    """dλ = diag(V⁻¹ dA V); dV = V (F ∘ V⁻¹ dA V), renormalised to LAPACK's gauge."""
    wp, vp = primal(w), primal(v)
    n = shape_of(wp)[-1]
    with np.errstate(all="ignore"):
        cond = np.linalg.cond(vp)
    limit = 1.0 / math.sqrt(_eps(vp))
    if not np.all(cond < limit):
        raise ValueError(
            f"{name}: the matrix is not diagonalisable (numerically: its eigenvector matrix has "
            f"condition number {float(np.max(cond)):.3g} >= 1/sqrt(eps)); a defective eigenvalue "
            f"moves like a root of the perturbation and has no derivative. For Hermitian "
            f"matrices use np.linalg.eigh/eigvalsh")
    tol = n * _eps(vp) * cond * np.max(np.abs(wp), axis=-1, initial=0.0)
    same = np.abs(wp[..., :, None] - wp[..., None, :]) <= np.asarray(tol)[..., None, None]
    ties = same if np.any(same & ~_eye(n)) else None
    x = _solve_many(v, t @ v)
    dw = _diag(x)
    if ties is not None:
        dw = _average_ties(dw, ties)
    if not _is_complex(w):
        dw = _real(dw)
    if not vectors:
        return dw, None
    _refuse_vectors_at_ties(name, "eigenvalues", ties,
                            "Use np.linalg.eigvals for the eigenvalues alone")
    dv = v @ (_off_diagonal_inverse(w[..., None, :] - w[..., :, None]) * x)
    # LAPACK's eigenvectors have unit 2-norm and their largest component real:
    # add V·c with c = -Re(vᴴ dv) - i Im(dv_p)/v_p, p the largest component.
    if _is_complex(v):
        c = -np.real(np.sum(np.conjugate(v) * dv, axis=-2))
        p = np.argmax(np.abs(vp), axis=-2)
        pick = (np.arange(n)[:, None] == p[..., None, :]).astype(_real_dtype(vp))
        c = c - 1j * np.imag(np.sum(dv * pick, axis=-2)) / np.real(np.sum(v * pick, axis=-2))
    else:
        c = -np.sum(v * dv, axis=-2)
    return dw, dv + v * c[..., None, :]


def _jvp_eig(ans: Any, primals: Args, tangents: Args, params: Params) -> Any:
    w, v = ans
    return _eig_tangents(_EIG, w, v, tangents["a"], vectors=True)


def _matching(target: Any, source: Any) -> Any:
    """A permutation taking ``source`` to the nearest of ``target``, one matrix at a time
    (greedy, most certain first: repeated values still get distinct columns)."""
    n = target.shape[-1]
    flat_t, flat_s = target.reshape(-1, n), source.reshape(-1, n)
    out = np.empty(flat_t.shape, dtype=np.intp)
    for b in range(flat_t.shape[0]):
        dist = np.abs(flat_t[b][:, None] - flat_s[b][None, :])
        free = np.ones(n, dtype=bool)
        for i in np.argsort(dist.min(axis=1)):
            j = int(np.argmin(np.where(free, dist[i], np.inf)))
            out[b, i], free[j] = j, False
    return out.reshape(target.shape)


def _jvp_eigvals(ans: Any, primals: Args, tangents: Args, params: Params) -> Any:
    """eig's eigenvalue tangent, with eig's eigenvectors matched to eigvals' order."""
    w2, v = np.linalg.eig(primals["a"])
    wp, w2p = primal(ans), primal(w2)
    order = np.argmin(np.abs(wp[..., :, None] - w2p[..., None, :]), axis=-1)
    if np.any(order != np.arange(shape_of(wp)[-1])):  # match eig's order to eigvals'
        order = _matching(wp, w2p)
        v = np.take_along_axis(v, np.broadcast_to(order[..., None, :], shape_of(v)), axis=-1)
    dw, _ = _eig_tangents(_EIGVALS, ans, v, tangents["a"], vectors=False)
    return dw


# ---------------------------------------------------------------- singular values


def _svd_ties(s: Any, shape: tuple[int, ...]) -> tuple[Any, Any]:
    """Tie clusters and zero singular values, at matrix_rank's tolerance max(m, n)·eps·s_max."""
    sp = primal(s)
    tol = max(shape[-2:]) * _eps(sp) * np.max(sp, axis=-1, initial=0.0)
    return _sorted_ties(sp, tol), sp <= np.asarray(tol)[..., None]


def _singular_value_tangent(u: Any, s: Any, vh: Any, t: Any, shape: tuple[int, ...]) -> tuple[Any, Any]:
    """ds = Re diag(Uᴴ dA V), averaged over ties, 0 at zero singular values; and Uᴴ dA V."""
    d_s = _mH(u) @ t @ _mH(vh)
    ds = _real(_diag(d_s))
    same, zero = _svd_ties(s, shape)
    if same is not None:
        ds = _average_ties(ds, same)
    if np.any(zero):
        ds = np.where(zero, 0.0, ds)
    return ds, d_s


def _jvp_svd(ans: Any, primals: Args, tangents: Args, params: Params) -> Any:
    """The singular values as svdvals; U and Vh by JAX's rule (reduced matrices)."""
    name = _SVD
    a, t = primals["a"], tangents["a"]
    shape = shape_of(a)
    m, n = shape[-2:]
    full, compute_uv = params.get("full_matrices", True), params.get("compute_uv", True)
    if compute_uv and full and m != n:
        raise TypeError(f"{name}(full_matrices=True) of a {m}x{n} matrix is not supported for Duals: "
                        f"the extra {'columns of U' if m > n else 'rows of Vh'} are not unique, so "
                        f"they have no derivative; pass full_matrices=False (or use "
                        f"np.linalg.svdvals for the singular values alone)")
    if not compute_uv:
        u, _, vh = np.linalg.svd(a, full_matrices=False)
        return _singular_value_tangent(u, ans, vh, t, shape)[0]
    u, s, vh = ans
    ds, d_s = _singular_value_tangent(u, s, vh, t, shape)
    same, zero = _svd_ties(s, shape)
    if np.any(zero):
        raise ValueError(f"{name}: a singular value is zero (below max(m, n)·eps·s_max); U and Vh "
                         f"have no derivative there (the pair of singular vectors flips with the "
                         f"sign of the perturbation). Use np.linalg.svdvals for the singular values")
    _refuse_vectors_at_ties(name, "singular values", same,
                            "Use np.linalg.svdvals (or compute_uv=False) for the singular values alone")
    du, dv = _svd_vector_tangents(u, s, vh, t, d_s)
    return du, ds, _mH(dv)


def _svd_vector_tangents(u: Any, s: Any, vh: Any, t: Any, d_s: Any) -> tuple[Any, Any]:
    """JAX's svd_jvp_rule for U and V (reduced), with d_s = Uᴴ dA V."""
    v = _mH(vh)
    s_row, s_col = s[..., None, :], s[..., :, None]
    f = _off_diagonal_inverse((s_row + s_col) * (s_row - s_col))
    dss, sds = d_s * s_row, s_col * d_s
    du_inner = f * (dss + _mH(dss))
    if _is_complex(d_s):  # the phase of each pair u_i, v_i: put it in U
        r = shape_of(s)[-1]
        du_inner = du_inner + np.where(_eye(r), 0.5 * (d_s - _mH(d_s)), 0.0) / s_row
    du = u @ du_inner
    dv = v @ (f * (sds + _mH(sds)))
    m, n = shape_of(u)[-2], shape_of(v)[-2]
    if m > n:
        dav = t @ v
        du = du + (dav - u @ (_mH(u) @ dav)) / s_row
    if n > m:
        dahu = _mH(t) @ u
        dv = dv + (dahu - v @ (vh @ dahu)) / s_row
    return du, dv


def _svd_hermitian(a: Any, full_matrices: bool = True, compute_uv: bool = True,
                   hermitian: bool = False) -> Any:
    """NumPy's svd(hermitian=True), composed on Duals: singular values are |eigenvalues|."""
    if not compute_uv:
        s = np.abs(np.linalg.eigvalsh(a))
        order = np.argsort(primal(s), axis=-1)[..., ::-1]
        return np.take_along_axis(s, order, axis=-1)
    w, u = np.linalg.eigh(a)
    sgn = np.sign(primal(w))
    s = np.abs(w)
    order = np.argsort(primal(s), axis=-1)[..., ::-1]
    sgn = np.take_along_axis(sgn, order, axis=-1)
    s = np.take_along_axis(s, order, axis=-1)
    u = np.take_along_axis(u, np.broadcast_to(order[..., None, :], shape_of(u)), axis=-1)
    return u, s, _mH(u * sgn[..., None, :])


def _jvp_svdvals(ans: Any, primals: Args, tangents: Args, params: Params) -> Any:
    """ds = Re diag(Uᴴ dA V), averaged over ties, 0 at zero singular values."""
    x = primals["x"]
    u, _, vh = np.linalg.svd(x, full_matrices=False)
    return _singular_value_tangent(u, ans, vh, tangents["x"], shape_of(x))[0]


_SVD_VALUES_AND_VECTORS = Custom(_jvp_svd, (), args=("a",))
_SVD_HERMITIAN = Composite(_svd_hermitian, (), args=("a",))


def _choose_svd(values: Args) -> Rule:
    """svd(hermitian=True) is NumPy's eigh-based factorisation: composed on the Duals."""
    return _SVD_HERMITIAN if values.get("hermitian", False) else _SVD_VALUES_AND_VECTORS


# ---------------------------------------------------------------- pseudo-inverse, least squares


def _pinv_tangent(a: Any, p: Any, t: Any) -> Any:
    """dA⁺ = -A⁺ dA A⁺ + A⁺A⁺ᴴ dAᴴ (I - A A⁺) + (I - A⁺A) dAᴴ A⁺ᴴ A⁺ (constant rank)."""
    dah = _mH(t)
    n = shape_of(p)[-2]
    out = -(p @ t @ p) + (p @ _mH(p)) @ (dah - dah @ (a @ p))
    return out + (np.eye(n, dtype=dtype_of(p)) - p @ a) @ dah @ (_mH(p) @ p)


def _jvp_pinv(ans: Any, primals: Args, tangents: Args, params: Params) -> Any:
    a, t = primals["a"], tangents["a"]
    if params.get("hermitian", False):  # NumPy reads the lower triangle (eigh)
        a, t = _hermitian_part(a, lower=True), _hermitian_part(t, lower=True)
    return _pinv_tangent(a, ans, t)


def _jvp_lstsq(ans: Any, primals: Args, tangents: Args, params: Params) -> Any:
    """x = A⁺ b: dx = A⁺(db - dA x) + A⁺A⁺ᴴ dAᴴ r + (I - A⁺A) dAᴴ A⁺ᴴ x with r = b - A x;
    residuals |r|²: 2 Re rᴴ(db - dA x); rank is plain; s as svdvals."""
    a, b = as_array(primals["a"]), as_array(primals["b"])
    ta, tb = tangents["a"], tangents["b"]
    x, residuals, rank, s = ans
    m, n = shape_of(a)
    rcond = params.get("rcond")  # LAPACK's gelsd: None is eps·max(m, n), a negative one eps
    rcond = _eps(a) * max(m, n) if rcond is None else (_eps(a) if rcond < 0 else rcond)
    p = np.linalg.pinv(a, rcond=rcond)
    vector = len(shape_of(b)) == 1
    xc, bc = (x[:, None], b[:, None]) if vector else (x, b)
    r = bc - a @ xc
    rhs: Any = 0.0
    if tb is not None:
        rhs = tb[..., None] if vector else tb
    if ta is not None:
        rhs = rhs - ta @ xc
    dx = p @ rhs
    if ta is not None:
        tah = _mH(ta)
        dx = dx + p @ (_mH(p) @ (tah @ r))
        if int(primal(rank)) < n:
            dx = dx + (np.eye(n, dtype=dtype_of(p)) - p @ a) @ (tah @ (_mH(p) @ xc))
    d_res = 2.0 * np.real(np.sum(np.conjugate(r) * rhs, axis=-2)) if _is_complex(r) else (
        2.0 * np.sum(r * rhs, axis=-2))
    if shape_of(residuals)[0] == 0:
        d_res = d_res[..., :0]
    dx = dx[..., 0] if vector else dx
    if ta is None:  # the singular values are A's alone
        return dx, d_res, None, None
    u, _, vh = np.linalg.svd(a, full_matrices=False)
    return dx, d_res, None, _singular_value_tangent(u, s, vh, ta, (m, n))[0]


# ---------------------------------------------------------------- norms


def _norm_kind(ord: Any, axis: Any, ndim: int) -> tuple[str, tuple[int, ...], Any]:
    """np.linalg.norm's dispatch: ("two", axes, _), ("vector", axes, ord) or ("matrix", axes, ord)."""
    if axis is None:
        if ord is None or (ord in ("f", "fro") and ndim == 2) or (ord == 2 and ndim == 1):
            return "two", tuple(range(ndim)), 2
        axis = tuple(range(ndim))
    axes = tuple(operator.index(i) % ndim for i in (axis if isinstance(axis, tuple) else (axis,)))
    if len(axes) == 1:
        return ("two" if ord in (None, 2) else "vector"), axes, ord
    return ("two" if ord in (None, "f", "fro") else "matrix"), axes, ord


def _kept(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(1 if i in axes else d for i, d in enumerate(shape))


def _two_norm_tangent(x: Any, t: Any, axes: tuple[int, ...], ans: Any) -> Any:
    """Re(x̄·dx)/‖x‖; 0 for a zero vector (the minimum-norm subgradient, not NaN)."""
    if len(axes) == len(shape_of(x)):  # the whole array: one dot product per direction
        flat = np.reshape(x, (-1,))
        dots = np.reshape(t, (shape_of(t)[0], -1)) @ (np.conjugate(flat) if _is_complex(x) else flat)
        s = _real(dots)
        norm = ans
    else:
        g = np.real(np.conjugate(x) * t) if _is_complex(x) else x * t
        s = np.sum(g, axis=tuple(i + 1 for i in axes), keepdims=True)
        norm = np.reshape(ans, _kept(shape_of(x), axes))
    return s / np.where(norm > 0, norm, 1.0)


def _p_norm_tangent(x: Any, t: Any, axes: tuple[int, ...], ans: Any, p: float) -> Any:
    """‖x‖^(1-p) Σ |x_i|^(p-2) Re(x̄_i dx_i); zero components and zero norms contribute 0."""
    shifted = tuple(i + 1 for i in axes)
    a = np.abs(x)
    nonzero = primal(a) > 0
    weight = np.where(nonzero, np.where(nonzero, a, 1.0) ** (p - 2.0), 0.0)
    g = np.real(np.conjugate(x) * t) if _is_complex(x) else x * t
    s = np.sum(weight * g, axis=shifted, keepdims=True)
    norm = np.reshape(ans, _kept(shape_of(x), axes))
    positive = primal(norm) > 0
    return np.where(positive, np.where(positive, norm, 1.0) ** (1.0 - p), 0.0) * s


def _norm_compose(x: Any, kind: str, axes: tuple[int, ...], ord: Any) -> Any:
    """The piecewise-linear and spectral norms on Duals (keepdims=True): the max/min tie
    convention, abs'(0) = 0, and svdvals' conventions apply."""
    a = np.abs(x)
    if kind == "vector":
        reduce: Any = {math.inf: np.max, -math.inf: np.min, 1: np.sum}[ord]
        return reduce(a, axis=axes, keepdims=True)
    row, col = axes
    if ord in (1, -1):
        extreme = np.max if ord == 1 else np.min
        return extreme(np.sum(a, axis=row, keepdims=True), axis=col, keepdims=True)
    if ord in (math.inf, -math.inf):
        extreme = np.max if ord == math.inf else np.min
        return extreme(np.sum(a, axis=col, keepdims=True), axis=row, keepdims=True)
    s = np.linalg.svdvals(np.moveaxis(x, axes, (-2, -1)))
    spectral: Any = {2: np.max, -2: np.min, "nuc": np.sum}[ord]
    return np.reshape(spectral(s, axis=-1), _kept(shape_of(x), axes))


NormSpec = Callable[[Params, int], tuple[str, tuple[int, ...], Any]]


def _norm_spec(args: Params, ndim: int) -> tuple[str, tuple[int, ...], Any]:
    """np.linalg.norm: the kind of norm, its axes and its order."""
    return _norm_kind(args.get("ord"), args.get("axis"), ndim)


def _vector_norm_spec(args: Params, ndim: int) -> tuple[str, tuple[int, ...], Any]:
    axis = args.get("axis")
    axes = tuple(range(ndim)) if axis is None else tuple(
        operator.index(i) % ndim for i in (axis if isinstance(axis, tuple) else (axis,)))
    ord = args.get("ord", 2)
    return ("two" if ord in (None, 2) else "vector"), axes, ord


def _matrix_norm_spec(args: Params, ndim: int) -> tuple[str, tuple[int, ...], Any]:
    ord = args.get("ord", "fro")
    return ("two" if ord in (None, "fro", "f") else "matrix"), (ndim - 2, ndim - 1), ord


def _norm_choice(spec: NormSpec) -> Callable[[Args], Rule]:
    """The rules of one norm function (built once) and the choice among them per call, by
    the kind of norm ``spec`` reads: the 2-norm and the p-norms in closed form, ord=0 (a
    count of nonzeros) piecewise constant, the others composed on the Duals."""

    def two(ans: Any, primals: Args, tangents: Args, params: Params) -> Any:
        x, t = primals["x"], tangents["x"]
        _, axes, _ = spec(params, len(shape_of(x)))
        return np.reshape(_two_norm_tangent(x, t, axes, ans), (shape_of(t)[0], *shape_of(ans)))

    def p_norm(ans: Any, primals: Args, tangents: Args, params: Params) -> Any:
        x, t = primals["x"], tangents["x"]
        _, axes, ord = spec(params, len(shape_of(x)))
        return np.reshape(_p_norm_tangent(x, t, axes, ans, float(ord)), (shape_of(t)[0], *shape_of(ans)))

    def compose(x: Any, **args: Any) -> Any:
        kind, axes, ord = spec(args, len(shape_of(x)))
        shape = _kept(shape_of(x), axes) if args.get("keepdims", False) else tuple(
            d for i, d in enumerate(shape_of(x)) if i not in axes)
        return np.reshape(_norm_compose(x, kind, axes, ord), shape)

    two_norm, p_norms = Custom(two, (), args=("x",)), Custom(p_norm, (), args=("x",))
    count, composed = PiecewiseConstant((), args=("x",)), Composite(compose, (), args=("x",))

    def choose(values: Args) -> Rule:
        try:
            kind, _, ord = spec(values, len(shape_of(values["x"])))
        except (TypeError, ValueError, ZeroDivisionError):
            return two_norm  # a call NumPy refuses (a bad axis): its own error comes first
        if kind == "two":
            return two_norm
        if kind == "vector" and ord == 0:
            return count
        if kind == "vector" and ord not in (math.inf, -math.inf, 1):
            return p_norms
        return composed

    return choose


def _cond(x: Any, p: Any = None) -> Any:
    """cond composed on the Duals; refused where it is (numerically) infinite."""
    value = np.linalg.cond(primal(x), p)  # NumPy's value on the plain numbers, to refuse first
    limit = 1.0 / (max(shape_of(x)[-2:]) * _eps(x))
    if not np.all(np.abs(value) < limit):
        raise LinAlgError(f"{_COND}: the matrix is (numerically) singular (cond = "
                          f"{float(np.max(np.abs(value))):.3g}); the condition number has no "
                          f"derivative there")
    if p in (None, 2, -2):
        s = np.linalg.svdvals(x)
        return s[..., 0] / s[..., -1] if p != -2 else s[..., -1] / s[..., 0]
    return np.linalg.norm(x, p, axis=(-2, -1)) * np.linalg.norm(np.linalg.inv(x), p, axis=(-2, -1))


# ---------------------------------------------------------------- compositions on Duals


def _matrix_power(a: Any, n: Any) -> Any:
    n = operator.index(n)
    if n == 0:
        return a * 0.0 + np.eye(shape_of(a)[-1], dtype=dtype_of(a))
    if n < 0:
        a, n = np.linalg.inv(a), -n
    result, square = None, a
    while n:
        if n & 1:
            result = square if result is None else result @ square
        n >>= 1
        if n:
            square = square @ square
    return result


def _chain_order(dims: list[int]) -> list[list[int]]:
    """The cheapest parenthesisation of a matrix chain (factor i is dims[i] x dims[i+1])."""
    count = len(dims) - 1
    cost = [[0.0] * count for _ in range(count)]
    split = [[0] * count for _ in range(count)]
    for length in range(1, count):
        for i in range(count - length):
            j = i + length
            cost[i][j] = math.inf
            for s in range(i, j):
                c = cost[i][s] + cost[s + 1][j] + dims[i] * dims[s + 1] * dims[j + 1]
                if c < cost[i][j]:
                    cost[i][j], split[i][j] = c, s
    return split


def _multi_dot(arrays: Any, *, out: Any = None) -> Any:
    """A chain of matmuls on Duals in the cheapest order (1-D ends are a row and a column)."""
    arrays = list(arrays)
    first, last = shape_of(arrays[0]), shape_of(arrays[-1])
    dims = [1 if len(first) == 1 else first[0]]
    dims += [shape_of(m)[-1] for m in arrays[:-1]] + [1 if len(last) == 1 else last[-1]]
    split = _chain_order(dims)

    def product(i: int, j: int) -> Any:
        if i == j:
            return arrays[i]
        return product(i, split[i][j]) @ product(split[i][j] + 1, j)

    return product(0, len(arrays) - 1)


def _tensorinv(a: Any, ind: int = 2) -> Any:
    shape = shape_of(a)
    size = math.prod(shape[ind:])
    return np.reshape(np.linalg.inv(np.reshape(a, (size, -1))), shape[ind:] + shape[:ind])


def _tensorsolve(a: Any, b: Any, axes: Any = None) -> Any:
    an = len(shape_of(a))
    if axes is not None:
        order = list(range(an))
        for k in axes:
            order.remove(k)
            order.insert(an, k)
        a = np.transpose(a, order)
    shape = shape_of(a)[-(an - len(shape_of(b))):]
    size = math.prod(shape)
    return np.reshape(np.linalg.solve(np.reshape(a, (size, size)), np.ravel(b)), shape)


def _tensordot(x1: Any, x2: Any, /, *, axes: Any = 2) -> Any:
    """NumPy's tensordot, on Duals: transpose, reshape, one matmul."""
    try:
        iter(axes)
    except TypeError:
        axes_a, axes_b = list(range(-axes, 0)), list(range(axes))
    else:
        axes_a, axes_b = axes
        axes_a = list(axes_a) if isinstance(axes_a, (list, tuple)) else [axes_a]
        axes_b = list(axes_b) if isinstance(axes_b, (list, tuple)) else [axes_b]
    sa, sb = shape_of(x1), shape_of(x2)
    axes_a = [int(i) % len(sa) for i in axes_a]
    axes_b = [int(i) % len(sb) for i in axes_b]
    keep_a = [i for i in range(len(sa)) if i not in axes_a]
    keep_b = [i for i in range(len(sb)) if i not in axes_b]
    inner = math.prod(sa[i] for i in axes_a)
    at = np.reshape(np.transpose(x1, keep_a + axes_a), (math.prod(sa[i] for i in keep_a), inner))
    bt = np.reshape(np.transpose(x2, axes_b + keep_b), (inner, math.prod(sb[i] for i in keep_b)))
    return np.reshape(at @ bt, tuple(sa[i] for i in keep_a) + tuple(sb[i] for i in keep_b))


def _cross(x1: Any, x2: Any, /, *, axis: int = -1) -> Any:
    a, b = np.moveaxis(x1, axis, -1), np.moveaxis(x2, axis, -1)
    parts = [a[..., 1] * b[..., 2] - a[..., 2] * b[..., 1],
             a[..., 2] * b[..., 0] - a[..., 0] * b[..., 2],
             a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]]
    return np.moveaxis(np.stack(parts, axis=-1), -1, axis)


def _vecdot(x1: Any, x2: Any, /, *, axis: int = -1) -> Any:
    return np.vecdot(np.moveaxis(x1, axis, -1), np.moveaxis(x2, axis, -1))


# ---------------------------------------------------------------- sample points


def _spd(n: int, seed: int, stack: tuple[int, ...] = ()) -> np.ndarray[Any, Any]:
    """Symmetric positive definite, distinct eigenvalues, safe for complex noise of 0.5."""
    b = arr(*stack, n, n, seed=seed)
    return b @ np.swapaxes(b, -1, -2) + 2.0 * n * np.eye(n)


SQ = arr(3, 3, seed=11) + 3.0 * np.eye(3)           # well conditioned
STACK = arr(2, 3, 3, seed=12) + 3.0 * np.eye(3)
SPD, SPD_STACK = _spd(3, 13), _spd(3, 14, (2,))
TALL, WIDE = arr(4, 3, seed=15), arr(3, 4, seed=16)
NONSYM = arr(3, 3, seed=17)                        # a complex pair and a real eigenvalue
REALEIG = np.array([[2.0, 0.3, -0.4], [0.1, -1.0, 0.5], [0.2, 0.6, 0.5]])
VEC, VEC2 = arr(4, seed=18), arr(4, seed=19)
V3, W3 = arr(2, 3, seed=20), arr(3, seed=21)
T4 = arr(2, 3, 4, seed=22)
SYM = SPD - 8.0 * np.eye(3)                        # symmetric, indefinite


def _sq(*extra: Any, **kwargs: Any) -> Sample:
    return sample(SQ, *extra, complex_ok=True, **kwargs)


# ---------------------------------------------------------------- the table

LINALG_RULES: dict[Any, Rule] = {
    # --- linear in one argument
    np.linalg.matrix_transpose: Linear((sample(T4, complex_ok=True),), arg="x", tangent=lambda t, n, a: np.swapaxes(t, -1, -2)),
    np.linalg.diagonal: Linear((sample(SQ, complex_ok=True), sample(T4, offset=1), sample(T4, offset=-1)), arg="x", tangent=lambda t, n, a: np.diagonal(t, a.get("offset", 0), -2, -1)),
    np.linalg.trace:    Linear((sample(SQ, complex_ok=True), sample(T4, offset=1)), arg="x", tangent=lambda t, n, a: np.trace(t, a.get("offset", 0), -2, -1, a.get("dtype"))),
    # --- compositions of supported operations (products)
    np.linalg.matmul:   Composite(lambda x1, x2: np.matmul(x1, x2), (sample(STACK, TALL[:3], duals=(0, 1), complex_ok=True), sample(VEC, arr(4, 2), duals=(0,))), args=("x1", "x2")),
    np.linalg.outer:    Composite(lambda x1, x2: np.multiply(np.reshape(x1, (-1, 1)), x2), (sample(VEC, W3, duals=(0, 1), complex_ok=True), sample(VEC, W3, duals=(1,))), args=("x1", "x2")),
    np.linalg.vecdot:   Composite(_vecdot, (sample(V3, arr(2, 3, seed=23), duals=(0, 1), complex_ok=True),
                                            sample(arr(3, 2, seed=24), W3[:, None], duals=(0, 1), axis=0)), args=("x1", "x2")),
    np.linalg.cross:    Composite(_cross, (sample(V3, W3, duals=(0, 1), complex_ok=True),
                                           sample(arr(3, 2, seed=25), arr(3, 1, seed=26), duals=(0, 1), axis=0)), args=("x1", "x2")),
    np.linalg.tensordot: Composite(_tensordot, (sample(T4, arr(3, 4, 2, seed=27), duals=(0, 1), complex_ok=True),
                                                sample(T4, arr(4, 2, seed=28), duals=(0, 1), axes=1),
                                                sample(T4, arr(3, 2, seed=29), duals=(1,), axes=([1], [0]))), args=("x1", "x2")),
    np.linalg.multi_dot: Composite(_multi_dot, (sample([TALL, WIDE, arr(4, 2, seed=30)], duals=((0, 0), (0, 2)), complex_ok=True),
                                                sample([VEC, arr(4, 3, seed=31), W3], duals=((0, 0), (0, 1), (0, 2)))), args=("arrays",)),
    np.linalg.matrix_power: Composite(_matrix_power, (_sq(3), _sq(-2), sample(STACK, 0), sample(STACK, 1), sample(SQ, 6))),
    np.linalg.tensorinv: Composite(_tensorinv, (sample(np.reshape(arr(6, 6, seed=32) + 4 * np.eye(6), (2, 3, 6)), 2, complex_ok=True),
                                                sample(np.reshape(arr(4, 4, seed=33) + 3 * np.eye(4), (4, 2, 2)), 1))),
    np.linalg.tensorsolve: Composite(_tensorsolve, (sample(np.reshape(arr(6, 6, seed=34) + 4 * np.eye(6), (2, 3, 6)), arr(2, 3, seed=35),
                                                           duals=(0, 1), complex_ok=True),
                                                    sample(np.reshape(arr(6, 6, seed=36) + 4 * np.eye(6), (6, 2, 3)), arr(2, 3, seed=37),
                                                           duals=(0, 1), axes=(0,))), args=("a", "b")),
    # --- closed forms (svd and the norms choose theirs per call; cond is composed)
    np.linalg.inv:      Custom(_jvp_inv, (_sq(), sample(STACK, complex_ok=True)), args=("a",)),
    np.linalg.solve:    Custom(_jvp_solve, (sample(SQ, W3, duals=(0, 1), complex_ok=True),
                                            sample(STACK, arr(2, 3, 2, seed=40), duals=(0, 1), complex_ok=True),
                                            sample(STACK, W3, duals=(0, 1)), sample(SQ, arr(3, 2, seed=41), duals=(1,)),
                                            sample(STACK, arr(3, 1, seed=42), duals=(0,))), args=("a", "b")),
    np.linalg.det:      Custom(_jvp_det, (_sq(), sample(STACK, complex_ok=True)), args=("a",)),
    np.linalg.slogdet:  Custom(_jvp_slogdet, (_sq(), sample(STACK, complex_ok=True), sample(-SQ)), args=("a",)),
    np.linalg.cholesky: Custom(_jvp_cholesky, (sample(SPD, complex_ok=True), sample(SPD_STACK, upper=True, complex_ok=True)), args=("a",)),
    np.linalg.qr:       Custom(_jvp_qr, (sample(TALL, complex_ok=True), sample(WIDE, complex_ok=True),
                                         sample(SQ, mode="complete"), sample(WIDE, mode="complete"),
                                         sample(arr(2, 4, 3, seed=43), mode="r")), args=("a",)),
    np.linalg.eigh:     Custom(_jvp_eigh, (sample(SPD), sample(SPD_STACK, UPLO="U")), args=("a",)),
    np.linalg.eigvalsh: Custom(_jvp_eigvalsh, (sample(SPD, complex_ok=True), sample(SPD_STACK, UPLO="U", complex_ok=True)), args=("a",)),
    np.linalg.eig:      Custom(_jvp_eig, (sample(NONSYM, complex_ok=True), sample(REALEIG)), args=("a",)),
    np.linalg.eigvals:  Custom(_jvp_eigvals, (sample(NONSYM, complex_ok=True), sample(np.stack([REALEIG, NONSYM]))), args=("a",)),
    np.linalg.svd:      Switch(_choose_svd, (sample(SQ), sample(TALL, full_matrices=False), sample(WIDE, full_matrices=False),
                                             sample(STACK, compute_uv=False, complex_ok=True),
                                             sample(SYM, hermitian=True), sample(SYM, hermitian=True, compute_uv=False))),
    np.linalg.svdvals:  Custom(_jvp_svdvals, (sample(TALL, complex_ok=True), sample(arr(2, 3, 4, seed=44), complex_ok=True)), args=("x",)),
    np.linalg.pinv:     Custom(_jvp_pinv, (sample(TALL, complex_ok=True), sample(WIDE, complex_ok=True), sample(STACK),
                                           sample(SYM, hermitian=True)), args=("a",)),
    np.linalg.lstsq:    Custom(_jvp_lstsq, (sample(TALL, VEC, duals=(0, 1), complex_ok=True),
                                            sample(TALL, arr(4, 2, seed=45), duals=(0, 1), complex_ok=True),
                                            sample(WIDE, W3, duals=(0, 1), complex_ok=True),
                                            sample(TALL, VEC, duals=(1,))), args=("a", "b")),
    np.linalg.norm:     Switch(_norm_choice(_norm_spec), (
        sample(T4, complex_ok=True), sample(VEC, complex_ok=True), sample(VEC, 2), sample(VEC, 1), sample(VEC, np.inf),
        sample(VEC, -np.inf), sample(VEC, 0), sample(VEC, 3, complex_ok=True), sample(VEC, 0.5), sample(VEC, -1.5),
        sample(T4, axis=1, keepdims=True), sample(T4, 3, axis=(2,), complex_ok=True),
        sample(SQ, "fro", complex_ok=True), sample(SQ, "nuc", complex_ok=True), sample(SQ, 1), sample(SQ, -1),
        sample(SQ, np.inf), sample(SQ, -np.inf), sample(SQ, 2, complex_ok=True), sample(SQ, -2),
        sample(T4, "nuc", axis=(2, 0), keepdims=True), sample(T4, 1, axis=(-1, 1)))),
    np.linalg.vector_norm: Switch(_norm_choice(_vector_norm_spec), (
        sample(T4, complex_ok=True), sample(T4, axis=(0, 2), keepdims=True), sample(T4, axis=1, ord=np.inf),
        sample(T4, ord=1), sample(VEC, ord=-np.inf), sample(VEC, ord=0), sample(T4, axis=(1, 2), ord=3.5, complex_ok=True))),
    np.linalg.matrix_norm: Switch(_norm_choice(_matrix_norm_spec), (
        sample(T4, complex_ok=True), sample(T4, keepdims=True, ord="nuc"), sample(STACK, ord=2), sample(STACK, ord=-np.inf),
        sample(SQ, ord=-2, complex_ok=True))),
    np.linalg.cond:     Composite(_cond, (_sq(), sample(STACK, -2), sample(SQ, "fro", complex_ok=True), sample(SQ, np.inf),
                                          sample(SQ, "nuc")), args=("x",)),
    # --- results without a derivative
    np.linalg.matrix_rank: NonDiff("an integer rank", (sample(SQ), sample(STACK, hermitian=True))),
}
