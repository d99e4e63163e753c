"""``sparse_jacfwd`` and ``sparse_hessian``: compressed forward-mode Jacobians and Hessians.

The first call finds the pattern (by detection, unless one is given), colors its columns
and precomputes where each entry lies in the compressed result. Every call then costs one
batched JVP with one direction per color (for a Hessian: a batched JVP of the forward
gradient, forward over forward) and one gather into a prebuilt CSR structure. The pattern
and coloring belong to the input and output shapes of the first call: a call with other
shapes is refused, never silently re-detected (a Newton loop whose shapes drift has a bug).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from dualnumpy.core.dual import Dual
from dualnumpy.core.tangent import tangent_dtype
from dualnumpy.sparsity.coloring import (
    Coloring,
    Decompression,
    SparsityWarning,
    Structure,
    as_structure,
    color_columns,
    color_symmetric,
    dense_message,
    require_scipy,
    symmetrized,
)
from dualnumpy.sparsity.detect import hessian_pairs, trace
from dualnumpy.sparsity.patterns import Pattern
from dualnumpy.sparsity.separable import Separable, SeparableHessian, analyse, from_terms
from dualnumpy.transforms.api import grad, hessian, jacfwd, jvp

Fun = Callable[..., Any]

#: ``check=True`` compares with a dense Jacobian (or Hessian) at the point when detection
#: cannot run, or in addition to it, for inputs of at most this many entries.
CHECK_DENSE_LIMIT = 2000
#: The same for sparse_hessian, whose dense Hessian (forward over forward) costs x.size**2
#: directions.
CHECK_DENSE_HESSIAN_LIMIT = 200
_SHOW = 5  # missing entries named in a check's error
#: sparse_hessian's inner forward gradient takes its x.size basis directions in chunks of
#: at most this many entries a chunk (directions x colors x x.size): memory stays bounded
#: and the arrays stay in cache (n = 2000: 104 MB and 0.54 s a call unchunked, 21 MB and
#: 0.48 s in chunks of 100 directions)
HESSIAN_CHUNK_ELEMENTS = 1 << 21


def _as_input(x: Any, name: str) -> np.ndarray[Any, Any]:
    """The point as a float array: integers promoted (as jacfwd does), the rest refused."""
    if isinstance(x, Dual):
        raise TypeError(f"{name} of a Dual: compressed Jacobians do not nest in other "
                        f"transforms; use jacfwd inside jvp, grad or jacfwd")
    if isinstance(x, bool) or (isinstance(x, (np.ndarray, np.generic)) and x.dtype.kind == "b"):
        raise TypeError(f"{name}: x is boolean and has no derivative; pass it as a float array")
    try:
        array = np.asarray(x)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: x is a {type(x).__name__}, not an array") from None
    kind = array.dtype.kind
    if kind in "iu":
        return array.astype(np.float64)
    if kind == "c":
        raise TypeError(f"{name}: x is complex; like jacfwd, {name} seeds real directions only. "
                        f"Pass the real and imaginary parts as one real array (np.stack), or use "
                        f"jvp with complex tangents for a holomorphic function")
    if kind != "f":
        raise TypeError(f"{name}: x has dtype {array.dtype}; derivatives need a float array")
    return array


def _keys(s: Structure) -> np.ndarray[Any, Any]:
    return s.rows() * max(s.n, 1) + s.indices


def _missing(given: Structure, reference: Structure) -> np.ndarray[Any, Any]:
    """Packed keys of the entries of ``reference`` that ``given`` lacks."""
    return np.setdiff1d(_keys(reference), _keys(given), assume_unique=True)


def _dense_structure(matrix: Any) -> Structure:
    return as_structure(np.asarray(matrix) != 0)


class _Compressed:
    """What sparse_jacfwd and sparse_hessian share: the state fixed by the first call."""

    _name = "sparse_jacfwd"

    def __init__(self, fun: Fun, sparsity: Any = None, *, check: bool = False) -> None:
        require_scipy(self._name)
        if not callable(fun):
            raise TypeError(f"{self._name} needs a function; got a {type(fun).__name__}")
        self.fun = fun
        self.check = bool(check)
        self._given: Structure | None = None
        if sparsity is not None:
            if isinstance(sparsity, (str, bytes)) or callable(sparsity):
                raise TypeError(f"{self._name}: sparsity must be a scipy.sparse matrix or a "
                                f"boolean array; got a {type(sparsity).__name__}")
            self._given = as_structure(sparsity, self._name)
        self.sparsity: Any = None
        self.colors: np.ndarray[Any, Any] | None = None
        self.coloring: Coloring | None = None
        self._x_shape: tuple[int, ...] | None = None
        self._out_shape: tuple[int, ...] | None = None
        self._seeds: np.ndarray[Any, Any] | None = None
        self._decompression: Decompression | None = None
        #: what the first call's detection found of a sum of terms (``Trace.terms``), kept so
        #: that the separable analysis needs no second trace; ``_traced``: detection ran
        self._terms: Pattern | None = None
        self._traced = False

    def __repr__(self) -> str:
        name = getattr(self.fun, "__name__", type(self.fun).__name__)
        if self.coloring is None:
            return f"{self._name}({name}), not called yet"
        c = self.coloring
        return (f"{self._name}({name}): {self.sparsity.shape[0]} x {c.n}, {self.sparsity.nnz} "
                f"nonzeros, {c.count} colors (lower bound {c.lower_bound})")

    # ------------------------------------------------------------ the first call

    def _prepare(self, x: np.ndarray[Any, Any], fun: Fun) -> None:
        pattern, out_shape = self._pattern(x, fun)
        coloring = self._color(pattern)
        message = dense_message(coloring, int(np.argmax(np.diff(pattern.indptr))) if pattern.m else None)
        if message:
            warnings.warn(f"{self._name}: {message}", SparsityWarning, stacklevel=4)
        self._decompression = Decompression(pattern, coloring, directions_first=True,
                                            name=self._name, verified=True)
        seeds = coloring.seeds(tangent_dtype(x.dtype))
        self._seeds = seeds.reshape((coloring.count, *x.shape))
        self.sparsity = pattern.to_scipy()
        self.colors, self.coloring = coloring.colors, coloring
        self._x_shape, self._out_shape = x.shape, out_shape

    def _pattern(self, x: np.ndarray[Any, Any], fun: Fun) -> tuple[Structure, tuple[int, ...] | None]:
        raise NotImplementedError

    def _color(self, pattern: Structure) -> Coloring:
        raise NotImplementedError

    def _detect(self, x: np.ndarray[Any, Any], fun: Fun,
                second_order: bool) -> tuple[Structure, tuple[int, ...]]:
        try:
            deps, run, shape = trace(fun, x, second_order=second_order, name=self._name)
            self._terms, self._traced = run.terms, True
        except TypeError as error:
            error.add_note(f"{self._name} detects the sparsity pattern on its first call; for "
                           f"code that branches on values pass sparsity="
                           f"dn.{'hessian' if second_order else 'jacobian'}_sparsity(f, x, "
                           f"local=True) (valid near x only), or a pattern of your own")
            raise
        if second_order:
            if shape != ():
                raise TypeError(f"{self._name} needs a function with a scalar output; got shape "
                                f"{shape}. Use sparse_jacfwd for vector outputs")
            pairs = hessian_pairs(run)
            return Structure(pairs.m, pairs.n, pairs.indptr, pairs.indices), shape
        return Structure(deps.m, deps.n, deps.indptr, deps.indices), shape

    def _verify(self, x: np.ndarray[Any, Any], fun: Fun, given: Structure | None, second_order: bool,
                detected: Structure | None) -> None:
        """check=True: every entry that detection, or a dense evaluation at x (for at most
        CHECK_DENSE_LIMIT inputs), finds must be in the pattern used: the given one, or
        else the ``detected`` one (a check of detection itself)."""
        references: list[tuple[Structure, str]] = []
        limit = CHECK_DENSE_HESSIAN_LIMIT if second_order else CHECK_DENSE_LIMIT
        if given is not None:
            try:
                references.append((self._detect(x, fun, second_order)[0], "detection"))
            except TypeError:  # code that branches: a dense evaluation at x, if small enough
                if x.size > limit:
                    raise
        if x.size <= limit:
            dense = (hessian if second_order else jacfwd)(fun)(x)
            size = math.prod(np.shape(dense)) // max(x.size, 1)
            references.append((_dense_structure(np.reshape(dense, (size, x.size))),
                               "a dense evaluation at x"))
        used = given if given is not None else detected
        assert used is not None
        for reference, how in references:
            if (reference.m, reference.n) != (used.m, used.n):
                raise ValueError(f"{self._name}: the sparsity pattern has shape {(used.m, used.n)}, "
                                 f"but {how} gives {(reference.m, reference.n)}")
            missing = _missing(used, reference)
            if len(missing):
                n = max(used.n, 1)
                first = ", ".join(f"({k // n}, {k % n})" for k in missing[:_SHOW].tolist())
                whose = "the given sparsity pattern" if given is not None else "detection"
                raise ValueError(
                    f"{self._name}(check=True): {whose} misses {len(missing)} entr"
                    f"{'y' if len(missing) == 1 else 'ies'} that {how} finds (row, column): "
                    f"{first}{', ...' if len(missing) > _SHOW else ''}. "
                    + ("Add them to the pattern, or pass sparsity=None to detect it"
                       if given is not None else "This is a bug in detection; please report it"))

    def _bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Fun:
        """The function of x alone, the other arguments held constant (not differentiated)."""
        if not args and not kwargs:
            return self.fun
        fun = self.fun

        def of_x(x: Any) -> Any:
            return fun(x, *args, **kwargs)

        return of_x

    def _check_x(self, x: np.ndarray[Any, Any]) -> None:
        if x.shape != self._x_shape:
            raise ValueError(f"{self._name}: x has shape {x.shape}, but this object's pattern and "
                             f"coloring were made for shape {self._x_shape} on its first call; "
                             f"make a new {self._name} for the new shape")

    def _given_shape(self, given: Structure, m: int, n: int, what: str) -> None:
        if (given.m, given.n) != (m, n):
            raise ValueError(f"{self._name}: the sparsity pattern has shape ({given.m}, {given.n}), "
                             f"but {what} needs ({m}, {n})")

    def _out(self, out: Any, x: np.ndarray[Any, Any]) -> None:
        """Refuse an output shape other than the first call's, and outputs of several arrays."""
        if isinstance(out, (tuple, list, dict)):
            raise TypeError(f"{self._name} needs a function with one array output; got a "
                            f"{type(out).__name__}: np.concatenate the raveled outputs")
        shape = np.shape(out)
        if self._out_shape is None:  # a given pattern: its rows are checked against the output
            assert self._given is not None
            self._given_shape(self._given, math.prod(shape), x.size,
                              f"a function of output shape {shape} and input shape {x.shape}")
            self._out_shape = shape
        elif shape != self._out_shape:
            raise ValueError(f"{self._name}: the function's output shape changed from "
                             f"{self._out_shape} (the first call) to {shape}; a reused sparse "
                             f"Jacobian cannot hold it. Make a new {self._name}")


class SparseJacobian(_Compressed):
    """``sparse_jacfwd(f, sparsity)``: call it on ``x`` for the CSR Jacobian of ``f`` at x."""

    _name = "sparse_jacfwd"

    def _pattern(self, x: np.ndarray[Any, Any], fun: Fun) -> tuple[Structure, tuple[int, ...] | None]:
        if self._given is None:
            detected, shape = self._detect(x, fun, second_order=False)
            if self.check:
                self._verify(x, fun, None, False, detected)
            return detected, shape
        # a given pattern: its rows are checked against the output after the pass
        self._given_shape(self._given, self._given.m, x.size, f"an input of shape {x.shape}")
        if self.check:
            self._verify(x, fun, self._given, False, None)
        return self._given, None

    def _color(self, pattern: Structure) -> Coloring:
        return color_columns(pattern, warn=False)

    def value_and_jacobian(self, x: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
        """``(f(x, *args, **kwargs), J)``: the value comes with the batched JVP at no extra
        cost."""
        x = _as_input(x, self._name)
        fun = self._bind(args, kwargs)
        if self.coloring is None:
            self._prepare(x, fun)
        else:
            self._check_x(x)
        assert self._seeds is not None and self._decompression is not None
        out, tangent = jvp(fun, (x,), (self._seeds,), batched=True)
        self._out(out, x)
        m = self._decompression.shape[0]
        jacobian = self._decompression(np.reshape(tangent, (self._seeds.shape[0], m)), self._name)
        return out, jacobian

    def __call__(self, x: Any, *args: Any, **kwargs: Any) -> Any:
        return self.value_and_jacobian(x, *args, **kwargs)[1]


class SparseHessian(_Compressed):
    """``sparse_hessian(f, sparsity)``: call it on ``x`` for the CSR Hessian of ``f`` at x."""

    _name = "sparse_hessian"

    def __init__(self, fun: Fun, sparsity: Any = None, *, check: bool = False) -> None:
        super().__init__(fun, sparsity, check=check)
        self._gradient: Fun | None = None
        #: the terms of a separable ``f = np.sum(F(x))`` (``sparsity/separable.py``), found on
        #: the first call; None when f is not of that form (then forward over forward)
        self.separable: Separable | None = None
        self._by_terms: SeparableHessian | None = None

    def _pattern(self, x: np.ndarray[Any, Any], fun: Fun) -> tuple[Structure, tuple[int, ...] | None]:
        if self._given is None:
            detected = self._detect(x, fun, second_order=True)[0]
            if self.check:
                self._verify(x, fun, None, True, detected)
            return detected, ()
        self._given_shape(self._given, x.size, x.size, f"an input of shape {x.shape}")
        self._given = symmetrized(self._given, self._name)
        if self.check:
            self._verify(x, fun, self._given, True, None)
        return self._given, ()

    def _color(self, pattern: Structure) -> Coloring:
        return color_symmetric(pattern, warn=False)

    def gradient_and_hessian(self, x: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
        """``(grad f(x, *args, **kwargs), H)``: the gradient comes with the compressed
        Hessian."""
        x = _as_input(x, self._name)
        fun = self._bind(args, kwargs)
        if self.coloring is None:
            self._prepare(x, fun)
            analysis = from_terms(self._terms, x.shape) if self._traced else analyse(fun, x)
            if analysis is not None:
                self.separable = analysis
                self._by_terms = SeparableHessian(analysis, self.sparsity)
        else:
            self._check_x(x)
        assert self._seeds is not None and self._decompression is not None
        if self._by_terms is not None:
            try:
                gradient, data = self._by_terms.data(fun, x)
            except ValueError:  # f's terms changed with the point: the general method from now on
                self._by_terms = None
            else:
                sparse = require_scipy(self._name)
                pattern = self.sparsity
                return gradient, sparse.csr_matrix((data, pattern.indices, pattern.indptr), shape=pattern.shape)
        per_direction = self._seeds.shape[0] * max(x.size, 1)
        chunk = None if per_direction * x.size <= HESSIAN_CHUNK_ELEMENTS else \
            max(1, HESSIAN_CHUNK_ELEMENTS // per_direction)
        if fun is not self.fun:  # other constants each call: a gradient of them
            gradient_fun = grad(fun, chunk_size=chunk)
        else:
            if self._gradient is None:
                self._gradient = grad(fun, chunk_size=chunk)
            gradient_fun = self._gradient
        gradient, tangent = jvp(gradient_fun, (x,), (self._seeds,), batched=True)
        hess = self._decompression(np.reshape(tangent, (self._seeds.shape[0], x.size)), self._name)
        return gradient, hess

    def __call__(self, x: Any, *args: Any, **kwargs: Any) -> Any:
        return self.gradient_and_hessian(x, *args, **kwargs)[1]


def sparse_jacfwd(fun: Fun, sparsity: Any = None, *, check: bool = False) -> SparseJacobian:
    """The sparse Jacobian of ``fun`` by coloring and compressed forward mode.

    Returns a callable ``J(x) -> scipy.sparse.csr_matrix`` of shape ``(out.size, x.size)``,
    equal to ``jacfwd(fun)(x).reshape(out.size, x.size)``. The first call detects the
    pattern (``jacobian_sparsity``) unless one is given, colors its columns
    (``color_columns``) and precomputes the decompression; every call costs one batched JVP
    with one direction per color and a gather. Later calls, at other points of the same
    shapes (Newton iterations), reuse pattern and coloring.

    Parameters
    ----------
    fun : callable
        ``fun(x)`` of one array argument, returning one array, written with NumPy.
    sparsity : scipy.sparse matrix or array of bool, shape ``(out.size, x.size)``, optional
        The pattern to use instead of detection (stored zeros are not entries). It must
        hold every structural nonzero: a missing one cannot be seen in the compressed
        result and is lost, so check it once with ``check=True``.
    check : bool
        On the first call, verify the pattern used against detection, and against a dense
        Jacobian at x when ``x.size <= 2000`` (``CHECK_DENSE_LIMIT``), raising a ValueError
        that names the missing (row, column) entries. For code that detection refuses (it
        branches on values) the dense Jacobian is the only reference. Without a given
        pattern it checks detection itself.

    Returns
    -------
    SparseJacobian
        Callable as ``J(x)``, or ``J(x, *args, **kwargs)`` with further arguments passed to
        ``fun`` as constants (SciPy calls ``jac(x, *args)``); the pattern found with the
        first call's arguments is assumed for the later ones. After its first call ``.sparsity`` (the scipy CSR pattern), ``.colors``
        (the color of each column) and ``.coloring`` (a ``Coloring``, with the number of
        colors and its lower bound) are set (None before). ``.value_and_jacobian(x)``
        returns ``(f(x), J)`` from the same pass.

    Raises
    ------
    ValueError
        A pattern of the wrong shape; an input or output shape other than the first call's.
    ImportError
        Without SciPy (``pip install dualnumpy[sparse]``).

    Warns
    -----
    SparsityWarning
        When a dense row makes compression useless (an arrowhead Jacobian).

    Examples
    --------
    >>> import numpy as np
    >>> from dualnumpy.sparsity import sparse_jacfwd
    >>> def residual(x):  # the 1-D Bratu problem
    ...     xp = np.pad(x, 1)
    ...     return xp[:-2] - 2 * x + xp[2:] + 0.01 * np.exp(x)
    >>> J = sparse_jacfwd(residual)
    >>> J(np.zeros(5)).toarray()
    array([[-1.99,  1.  ,  0.  ,  0.  ,  0.  ],
           [ 1.  , -1.99,  1.  ,  0.  ,  0.  ],
           [ 0.  ,  1.  , -1.99,  1.  ,  0.  ],
           [ 0.  ,  0.  ,  1.  , -1.99,  1.  ],
           [ 0.  ,  0.  ,  0.  ,  1.  , -1.99]])
    >>> J.coloring.count, J.colors
    (3, array([0, 1, 2, 0, 1]))
    """
    return SparseJacobian(fun, sparsity, check=check)


def sparse_hessian(fun: Fun, sparsity: Any = None, *, check: bool = False) -> SparseHessian:
    """The sparse Hessian of a scalar ``fun`` by star coloring and forward over forward.

    Returns a callable ``H(x) -> scipy.sparse.csr_matrix`` of shape ``(x.size, x.size)``,
    equal to ``hessian(fun)(x).reshape(x.size, x.size)``. The first call detects the
    pattern (``hessian_sparsity``) unless one is given (a triangle is enough: it is
    symmetrized), colors it for direct symmetric recovery (``color_symmetric``: star or
    distance-2 coloring) and precomputes the decompression; every call is one batched JVP
    of the forward gradient ``grad(fun)`` along one direction per color. The gradient is
    itself forward mode over ``x.size`` directions, so a call costs about ``count`` times a
    gradient (the dense Hessian costs ``x.size`` times one), quadratic in ``x.size``: a
    Hessian-vector product needs reverse mode to be cheaper. The gradient's directions are
    taken in chunks (``HESSIAN_CHUNK_ELEMENTS``) so that memory stays bounded.

    Parameters, attributes and errors are those of :func:`sparse_jacfwd` (``check=True``
    compares with a dense Hessian for ``x.size <= 200``, ``CHECK_DENSE_HESSIAN_LIMIT``);
    ``.gradient_and_hessian(x)`` returns the gradient from the same pass.

    Examples
    --------
    >>> import numpy as np
    >>> from dualnumpy.sparsity import sparse_hessian
    >>> rosenbrock = lambda x: np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)
    >>> H = sparse_hessian(rosenbrock)
    >>> H(np.zeros(4)).toarray()
    array([[   2.,    0.,    0.,    0.],
           [   0.,  202.,    0.,    0.],
           [   0.,    0.,  202.,    0.],
           [   0.,    0.,    0.,  200.]])
    >>> H.coloring.count, H.sparsity.nnz
    (3, 10)
    """
    return SparseHessian(fun, sparsity, check=check)
