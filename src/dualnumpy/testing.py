"""The comparison harness as an API: three independent oracles (DESIGN.md section 8).

- ``"fwd"``: this package's forward mode (the subject under test);
- ``"rev"``: :mod:`dualnumpy.reverse`, a reverse-mode reference with its own VJP rules,
  written separately from the forward tables, so it checks the formulas and not only the
  plumbing;
- ``"fd"``: finite differences (:mod:`dualnumpy.finite_diff`, Richardson-extrapolated
  central differences with an error estimate).

Optional external references, used when installed: ``"jax"`` (``jax.jacrev``, ``jax.jvp``)
and ``"autograd"``; also ``"complex-step"`` (exact to rounding, for analytic functions).

:func:`check_jvp` and :func:`check_grads` raise an ``AssertionError`` whose message is a
table of the disagreeing entries; :func:`compare` returns a :class:`Report`.

Every method computes the same object: the Jacobian of ``f`` with respect to all of its
positional arguments, flattened to a 2-D matrix (rows: the output entries, every output
leaf raveled in order; columns: the input entries, and for a complex input entry its real
and its imaginary direction). Two methods agree on an entry when
``|a - b| <= atol + rtol * max(|a|, |b|) + 2 * error``, where ``error`` is the finite
difference's own error estimate (zero for the automatic-differentiation references).
"""

from __future__ import annotations

import contextlib
import importlib
import math
import time
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dualnumpy import finite_diff
from dualnumpy.numpy_facts.trees import flatten, unflatten
from dualnumpy.transforms import api as _api

__all__ = ["MethodResult", "Report", "check_grads", "check_jvp", "compare"]

Array = np.ndarray[Any, Any]

MODES = ("fwd", "rev", "fd")
EXTERNAL = ("jax", "autograd", "complex-step")
#: At most this many disagreeing entries are listed in a message.
MAX_ROWS = 10


class _NoReference(Exception):
    """A method cannot produce this Jacobian (not installed, an operation it lacks, ...)."""

    def __init__(self, status: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    first = text[0] if text else ""
    first = first if len(first) <= 200 else first[:197] + "..."
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


# ---------------------------------------------------------------- paths and labels


def _paths(tree: Any, prefix: str) -> list[str]:
    """A readable name per leaf, in the order of ``_tree.flatten``."""
    if tree is None:
        return []
    if isinstance(tree, tuple) and hasattr(tree, "_fields"):
        return [p for name, x in zip(tree._fields, tree, strict=True) for p in _paths(x, f"{prefix}.{name}")]
    if isinstance(tree, (tuple, list)):
        return [p for i, x in enumerate(tree) for p in _paths(x, f"{prefix}[{i}]")]
    if isinstance(tree, dict):
        return [p for key, x in tree.items() for p in _paths(x, f"{prefix}[{key!r}]")]
    return [prefix]


def _entry_labels(path: str, shape: tuple[int, ...]) -> list[str]:
    if not shape:
        return [path]
    return [f"{path}[{', '.join(map(str, idx))}]" for idx in np.ndindex(*shape)]


def _numeric(leaf: Any, where: str) -> Array:
    if isinstance(leaf, (np.ndarray, np.generic, bool, int, float, complex)):
        a = np.asarray(leaf)
        if a.dtype.kind in "biufc":
            return a
    raise TypeError(f"{where} is a {type(leaf).__name__}, not a number or an array of numbers")


# ---------------------------------------------------------------- the problem


class _Problem:
    """``f`` at a point, its inputs and outputs flattened: what every method differentiates."""

    def __init__(self, f: Callable[..., Any], args: Sequence[Any]) -> None:
        if not callable(f):
            raise TypeError(f"f must be callable; got {type(f).__name__}")
        self.f = f
        self.args = tuple(args)
        leaves, self.p_def = flatten(self.args)
        self.leaves: list[Any] = []
        for i, leaf in enumerate(leaves):
            a = _numeric(leaf, f"input leaf {i}")
            if a.dtype.kind == "b":
                raise TypeError(f"input leaf {i} is boolean and has no derivative; close over it")
            self.leaves.append(a.astype(np.float64) if a.dtype.kind in "iu"
                               else leaf if isinstance(leaf, (float, complex, np.ndarray, np.generic)) else a)
        self.arrays = [np.asarray(x) for x in self.leaves]
        self.complex_in = any(a.dtype.kind == "c" for a in self.arrays)
        names = [f"arg{i}" for i in range(len(self.args))] if len(self.args) != 1 else ["x"]
        in_paths = [p for name, a in zip(names, self.args, strict=True) for p in _paths(a, name)]
        # columns: (leaf, flat index, unit direction)
        self.columns: list[tuple[int, int, complex]] = []
        self.in_labels: list[str] = []
        for i, (a, path) in enumerate(zip(self.arrays, in_paths, strict=True)):
            for j, label in enumerate(_entry_labels(path, a.shape)):
                self.columns.append((i, j, 1.0))
                self.in_labels.append(label)
                if a.dtype.kind == "c":
                    self.columns.append((i, j, 1j))
                    self.in_labels[-1] = "Re " + label
                    self.in_labels.append("Im " + label)
        out = f(*self.args)
        out_leaves, self.out_def = flatten(out)
        outs = [_numeric(leaf, f"output leaf {i} of f") for i, leaf in enumerate(out_leaves)]
        if not outs:
            raise TypeError("f returned no arrays or numbers")
        self.out_shapes = [a.shape for a in outs]
        self.out_sizes = [a.size for a in outs]
        self.out_offsets = np.cumsum([0, *self.out_sizes]).tolist()
        self.out_complex = [a.dtype.kind == "c" for a in outs]
        self.value = np.concatenate([a.astype(np.result_type(a.dtype, np.float64)).ravel() for a in outs])
        out_paths = _paths(out, "out") if self.out_def.kind != "leaf" else ["out"]
        self.out_labels = [label for path, shape in zip(out_paths, self.out_shapes, strict=True)
                           for label in _entry_labels(path, shape)]
        self.in_sizes = [a.size for a in self.arrays]
        self.in_offsets = np.cumsum([0, *self.in_sizes]).tolist()

    @property
    def n_out(self) -> int:
        return int(self.out_offsets[-1])

    @property
    def n_cols(self) -> int:
        return len(self.columns)

    def g(self, *leaves: Any) -> Any:
        return self.f(*unflatten(self.p_def, list(leaves)))

    def pick(self, fn: Callable[..., Any], i: int, part: Callable[[Any], Any] | None) -> Callable[..., Any]:
        """Output leaf ``i`` of ``fn`` (its real or imaginary part), as a function of the leaves."""

        def picked(*leaves: Any) -> Any:
            leaf = flatten(fn(*unflatten(self.p_def, list(leaves))))[0][i]
            return leaf if part is None else part(leaf)

        return picked

    def direction(self, column: int) -> list[Array]:
        leaf, index, unit = self.columns[column]
        out = []
        for i, a in enumerate(self.arrays):
            t = np.zeros(a.shape, dtype=np.complex128 if a.dtype.kind == "c" else np.float64)
            if i == leaf:
                t.reshape(-1)[index] = unit
            out.append(t)
        return out

    def batched_directions(self) -> list[Array]:
        k = self.n_cols
        out = [np.zeros((k, *a.shape), dtype=np.complex128 if a.dtype.kind == "c" else np.float64)
               for a in self.arrays]
        for c, (leaf, index, unit) in enumerate(self.columns):
            out[leaf].reshape(k, -1)[c, index] = unit
        return out

    def labels2(self) -> list[str]:
        """Row labels of a second-derivative matrix: (output entry, first input entry)."""
        return [f"{o} / {i}" for o in self.out_labels for i in self.in_labels]

    # ------------------------------------------------------------ first derivatives

    def fwd_at(self, leaves: Sequence[Any]) -> Any:
        """The forward-mode Jacobian at ``leaves``, (n_out, n_cols); Duals pass through."""
        k = self.n_cols
        if k == 0:
            return np.zeros((self.n_out, 0))
        _, t_out = _api.jvp(self.g, tuple(leaves), tuple(self.batched_directions()), batched=True)
        pieces = [np.reshape(t, (k, -1)) for t in flatten(t_out)[0]]
        stacked = pieces[0] if len(pieces) == 1 else np.concatenate(pieces, axis=1)
        return np.transpose(stacked)

    def fwd(self) -> Array:
        return np.asarray(self.fwd_at(self.leaves))

    def fd(self, method: finite_diff.Method = "richardson",
           fn: Callable[..., Any] | None = None) -> tuple[Array, Array]:
        """Finite-difference Jacobian of ``fn`` (default ``f``) and its error estimate."""
        fn = self.g if fn is None else fn
        values, errors = [], []
        for c in range(self.n_cols):
            est = finite_diff.jvp(fn, tuple(self.leaves), tuple(self.direction(c)), method=method)
            values.append(np.concatenate([np.ravel(v) for v in flatten(est.value)[0]]))
            errors.append(np.concatenate([np.ravel(e) for e in flatten(est.error)[0]]))
        if not values:
            return np.zeros((self.n_out, 0)), np.zeros((self.n_out, 0))
        return np.stack(values, axis=1), np.stack(errors, axis=1)

    def blocks(self, jacobian: Callable[[Callable[..., Any], int], Any], fn: Callable[..., Any],
               real_inputs_only: str) -> Array:
        """Assemble a reverse-style Jacobian from blocks ``jacobian(g_i, argnum=j)``.

        Only the most basic use of each reference: one array output leaf (a complex one
        split into its real and imaginary parts), one positional argument at a time.
        """
        if self.complex_in:
            raise _NoReference("no reference", real_inputs_only)
        dtype = np.complex128 if any(self.out_complex) else np.float64
        jac: Array = np.zeros((self.n_out, self.n_cols), dtype=dtype)
        for i, size in enumerate(self.out_sizes):
            parts: list[tuple[complex, Callable[[Any], Any] | None]] = [(1.0, None)]
            if self.out_complex[i]:
                parts = [(1.0, _real_part), (1j, _imag_part)]
            rows = slice(self.out_offsets[i], self.out_offsets[i + 1])
            for unit, part in parts:
                picked = self.pick(fn, i, part)
                for j, in_size in enumerate(self.in_sizes):
                    block = np.asarray(jacobian(picked, j), dtype=np.result_type(dtype))
                    expected = self.out_shapes[i] + self.arrays[j].shape
                    if block.shape != expected:
                        raise ValueError(f"a block of the Jacobian has shape {block.shape}, "
                                         f"expected {expected}")
                    jac[rows, self.in_offsets[j]:self.in_offsets[j + 1]] += unit * block.reshape(size, in_size)
        return jac

    # ------------------------------------------------------------ second derivatives

    def assemble2(self, blocks: list[Any]) -> Array:
        """Blocks (i, j, l) of shape out_i + in_j + in_l as a (n_out * n_in, n_in) matrix."""
        n_in = self.n_cols
        dtype = np.result_type(*[np.asarray(b).dtype for b in blocks], np.float64)
        full = np.zeros((self.n_out, n_in, n_in), dtype=dtype)
        it = iter(blocks)
        for i, size in enumerate(self.out_sizes):
            for j, size_j in enumerate(self.in_sizes):
                for m, size_m in enumerate(self.in_sizes):
                    block = np.asarray(next(it)).reshape(size, size_j, size_m)
                    full[self.out_offsets[i]:self.out_offsets[i + 1], self.in_offsets[j]:self.in_offsets[j + 1],
                         self.in_offsets[m]:self.in_offsets[m + 1]] = block
        return full.reshape(self.n_out * n_in, n_in)


def _real_part(x: Any) -> Any:
    return np.real(x)


def _imag_part(x: Any) -> Any:
    return np.imag(x)


# ---------------------------------------------------------------- the references


def _reverse_module() -> Any:
    try:
        return importlib.import_module("dualnumpy.reverse")
    except ImportError as error:
        raise _NoReference("no reference", f"dualnumpy.reverse is not available ({error})") from None


def _no_reference_type(reverse: Any) -> type[BaseException]:
    kind = getattr(reverse, "NoReference", None)
    return kind if isinstance(kind, type) and issubclass(kind, BaseException) else _NoReference


def _rev(problem: _Problem) -> Array:
    """The reverse-mode Jacobian, one VJP per output entry (and its imaginary unit).

    dualnumpy.reverse pulls cotangents back with the adjoint for the real inner product
    ``Re(sum(conj(u) v))``; so for a cotangent ``e_o`` (``i e_o``) the real part of the
    pulled-back entry ``w_j`` is the real (imaginary) part of the Jacobian entry along
    ``Re x_j``, and the imaginary part of ``w_j`` that along ``Im x_j``.
    """
    reverse = _reverse_module()
    missing = _no_reference_type(reverse)
    dtype = np.complex128 if any(problem.out_complex) else np.float64
    jac = np.zeros((problem.n_out, problem.n_cols), dtype=dtype)
    try:
        for i, shape in enumerate(problem.out_shapes):
            _, vjp_fn = reverse.vjp(problem.pick(problem.f, i, None), *problem.leaves)
            units: list[complex] = [1.0, 1j] if problem.out_complex[i] else [1.0]
            for e in range(problem.out_sizes[i]):
                row = problem.out_offsets[i] + e
                for unit in units:
                    cot = np.zeros(shape, dtype=np.complex128 if problem.out_complex[i] else np.float64)
                    cot.reshape(-1)[e] = unit
                    pulled = vjp_fn(cot)
                    if not isinstance(pulled, (tuple, list)):
                        pulled = (pulled,)
                    if len(pulled) != len(problem.leaves):
                        raise ValueError(f"vjp returned {len(pulled)} cotangents for "
                                         f"{len(problem.leaves)} inputs")
                    flat = [np.ravel(np.asarray(w)) for w in pulled]
                    for c, (leaf, index, direction) in enumerate(problem.columns):
                        w = complex(flat[leaf][index])
                        part = w.real if direction == 1.0 else w.imag
                        jac[row, c] += part if unit == 1.0 else 1j * part
    except missing as error:
        raise _NoReference("no reference", _one_line(error)) from None
    return jac


def _rev2(problem: _Problem) -> tuple[Array, Array]:
    """Second derivatives from the reverse reference, which does not nest: finite
    differences of its Jacobian (so they check forward-over-forward against the
    reference's own first-derivative formulas)."""

    def jacobian(*leaves: Any) -> Any:
        return _rev(_Problem(problem.f, unflatten(problem.p_def, list(leaves))))

    return problem.fd(fn=jacobian)


def _fwd2(problem: _Problem) -> Array:
    nums = tuple(range(len(problem.leaves)))
    hess = _api.jacfwd(_api.jacfwd(problem.g, argnums=nums), argnums=nums)(*problem.leaves)
    return problem.assemble2(flatten(hess)[0])


def _import_optional(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        raise _NoReference("skipped", f"{name} is not installed") from None


def _backend_attr(backend: Any, func: Any) -> Any:
    """The backend's function of the same public name as a NumPy ufunc or function."""
    from dualnumpy.numpy_facts.signatures import public_name

    name = func.__name__ if isinstance(func, np.ufunc) else public_name(func).removeprefix("np.")
    target = backend
    for part in name.split("."):
        target = getattr(target, part, None)
        if target is None:
            raise _NoReference("no reference", f"{getattr(backend, '__name__', backend)} has no {name}")
    return target


def _is_numpy_callable(value: Any) -> bool:
    return isinstance(value, np.ufunc) or (callable(value) and not isinstance(value, type)
                                           and str(getattr(value, "__module__", "") or "").startswith("numpy"))


def _rebind(f: Callable[..., Any], backend: Any) -> Callable[..., Any]:
    """``f`` with the NumPy it names at module level replaced by ``backend``.

    A NumPy ufunc or function maps to the backend's function of the same name. A Python
    function gets a copy of its globals in which ``numpy`` itself and NumPy functions
    imported by name are the backend's; helpers it calls and names it closes over are
    unchanged (pass an explicit reference for those).
    """
    if _is_numpy_callable(f):
        return _backend_attr(backend, f)  # type: ignore[no-any-return]
    if not isinstance(f, types.FunctionType):
        return f
    scope = dict(f.__globals__)
    for key, value in f.__globals__.items():
        if value is np:
            scope[key] = backend
        elif _is_numpy_callable(value):
            try:
                scope[key] = _backend_attr(backend, value)
            except _NoReference:
                pass
    rebound = types.FunctionType(f.__code__, scope, f.__name__, f.__defaults__, f.__closure__)
    rebound.__kwdefaults__ = f.__kwdefaults__
    return rebound


def _jax(problem: _Problem, reference: Callable[..., Any] | None) -> Array:
    # jax ships its own types but is not a test dependency: imported by name, so that
    # mypy --strict passes on machines without it
    jax = _import_optional("jax")
    jnp = importlib.import_module("jax.numpy")
    fn = reference if reference is not None else _rebind(problem.f, jnp)
    x64 = getattr(jax, "enable_x64", None)
    with x64(True) if x64 is not None else contextlib.nullcontext():
        if problem.complex_in:  # jax.jvp along each real and imaginary direction
            columns = []
            for c in range(problem.n_cols):
                _, t = jax.jvp(lambda *xs: fn(*unflatten(problem.p_def, list(xs))),
                               tuple(jnp.asarray(x) for x in problem.leaves),
                               tuple(jnp.asarray(d) for d in problem.direction(c)))
                columns.append(np.concatenate([np.ravel(np.asarray(v)) for v in flatten(t)[0]]))
            return np.stack(columns, axis=1)
        return problem.blocks(lambda g, j: jax.jacrev(g, argnums=j)(*problem.leaves), fn, "")


def _autograd(problem: _Problem, reference: Callable[..., Any] | None) -> Array:
    try:
        import autograd
        import autograd.numpy as anp
    except ImportError:
        raise _NoReference("skipped", "autograd is not installed") from None
    fn = reference if reference is not None else _rebind(problem.f, anp)
    return problem.blocks(lambda g, j: autograd.jacobian(g, argnum=j)(*problem.leaves), fn,
                          "complex inputs: autograd's complex convention differs; not compared")


def _complex_step(problem: _Problem) -> tuple[Array, Array]:
    if problem.complex_in:
        raise _NoReference("no reference", "complex inputs: the complex step needs real ones")
    try:
        return problem.fd("complex")
    except ValueError as error:
        raise _NoReference("no reference", _one_line(error)) from None


# ---------------------------------------------------------------- agreement


@dataclass(frozen=True)
class _Agreement:
    bad: Array
    allowed: Array
    max_abs: float
    max_rel: float
    inconclusive: int


def _agreement(ref: Array, other: Array, error: Array | None, rtol: float, atol: float) -> _Agreement:
    with np.errstate(all="ignore"):
        size = np.maximum(np.abs(ref), np.abs(other))
        diff = np.abs(ref - other)
        err = np.zeros(diff.shape) if error is None else np.asarray(error, dtype=np.float64)
        allowed = atol + rtol * size + 2.0 * err
        same = (ref == other) | (np.isnan(ref) & np.isnan(other))
        # an estimate without a finite error bound (a non-finite input, f undefined nearby)
        # can neither confirm nor refute: inconclusive, never a disagreement
        unknown = ~np.isfinite(err) & ~same
        bad = ~(same | unknown | (diff <= allowed))
        finite = np.isfinite(diff) & ~same & ~unknown
        max_abs = float(np.max(diff[finite], initial=0.0))
        rel = np.where(size > 0, diff / np.where(size > 0, size, 1.0), 0.0)
        max_rel = float(np.max(rel[finite], initial=0.0))
        inconclusive = int(np.sum(unknown | (~same & (err > atol + rtol * size))))
    if np.any(~np.isfinite(diff) & ~same & ~unknown):
        max_abs = max_rel = math.inf
    return _Agreement(bad, allowed, max_abs, max_rel, inconclusive)


def _fmt(x: Any) -> str:
    x = complex(x) if np.iscomplexobj(x) else float(x)
    if isinstance(x, complex):
        return f"{x.real:.8g}{x.imag:+.8g}j"
    return f"{x:.10g}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "  ") -> str:
    widths = [max(len(str(r[k])) for r in (header, *rows)) for k in range(len(header))]
    lines = [indent + "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
             for r in (header, *rows)]
    return "\n".join(lines)


def _disagreement_table(names: tuple[str, str], ref: Array, other: Array, agreement: _Agreement,
                        row_labels: Sequence[str], col_labels: Sequence[str] | None) -> str:
    where = np.argwhere(agreement.bad)
    rows = []
    for idx in where[:MAX_ROWS]:
        r = int(idx[0])
        cells = [row_labels[r]]
        if col_labels is not None:
            cells.append(col_labels[int(idx[1])])
        diff = abs(ref[tuple(idx)] - other[tuple(idx)])
        cells += [_fmt(ref[tuple(idx)]), _fmt(other[tuple(idx)]), f"{float(diff):.2e}",
                  f"{float(agreement.allowed[tuple(idx)]):.2e}"]
        rows.append(cells)
    header = ["output"] + (["input"] if col_labels is not None else []) + [names[0], names[1], "|diff|",
                                                                          "allowed"]
    text = _table(header, rows)
    if len(where) > MAX_ROWS:
        text += f"\n  ... and {len(where) - MAX_ROWS} more"
    return text


def _check_tolerances(rtol: float, atol: float) -> None:
    for name, value in (("rtol", rtol), ("atol", atol)):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not value >= 0:
            raise ValueError(f"{name} must be a non-negative number; got {value!r}")


# ---------------------------------------------------------------- check_jvp


def check_jvp(f: Callable[..., Any], args: Sequence[Any], tangents: Sequence[Any] | None = None, *,
              rtol: float = 1e-6, atol: float = 1e-8, method: finite_diff.Method = "richardson",
              seed: int = 0) -> None:
    """Check the forward-mode JVP of ``f`` against a finite-difference JVP.

    Parameters
    ----------
    f : callable
        A function written with NumPy.
    args : tuple
        The point: ``f(*args)``; each argument may be a pytree of arrays and numbers.
    tangents : tuple, optional
        The direction, structured like ``args``. By default a random normal direction
        (complex for complex arguments) drawn with ``seed``.
    rtol, atol : float
        An entry agrees when ``|fwd - fd| <= atol + rtol * max(|fwd|, |fd|) + 2 * error``,
        with ``error`` the finite difference's own error estimate.
    method : {"richardson", "central", "complex"}
        The finite-difference estimator (:func:`dualnumpy.finite_diff.jvp`).
    seed : int
        Seeds the default direction.

    Raises
    ------
    AssertionError
        With a table of the disagreeing output entries.

    Examples
    --------
    >>> import numpy as np
    >>> from dualnumpy.testing import check_jvp
    >>> check_jvp(lambda x: np.sin(x) * x, (np.array([0.5, 1.0]),))
    >>> check_jvp(lambda x, y: {"s": x * y}, (2.0, np.array([1.0, 3.0])), (1.0, np.ones(2)))
    """
    _check_tolerances(rtol, atol)
    if not isinstance(args, (tuple, list)):
        raise TypeError("check_jvp(f, args, ...) takes a tuple of arguments: check_jvp(f, (x,))")
    problem = _Problem(f, args)
    if tangents is None:
        rng = np.random.default_rng(seed)
        t_leaves = []
        for a in problem.arrays:
            t = rng.standard_normal(a.shape)
            if a.dtype.kind == "c":
                t = t + 1j * rng.standard_normal(a.shape)
            t_leaves.append(t if a.shape else t[()])
        tangents = tuple(unflatten(problem.p_def, t_leaves))
    if not isinstance(tangents, (tuple, list)):
        raise TypeError("tangents must be a tuple structured like args")
    _, t_out = _api.jvp(f, tuple(args), tuple(tangents))
    fwd = np.concatenate([np.ravel(np.asarray(t)) for t in flatten(t_out)[0]])
    est = finite_diff.jvp(f, tuple(args), tuple(tangents), method=method)
    fd = np.concatenate([np.ravel(np.asarray(v)) for v in flatten(est.value)[0]])
    err = np.concatenate([np.ravel(np.asarray(e)) for e in flatten(est.error)[0]])
    agreement = _agreement(fwd, fd, err, rtol, atol)
    if agreement.bad.any():
        n = int(agreement.bad.sum())
        raise AssertionError(
            f"check_jvp: the forward JVP and the finite difference ({method}) disagree on {n} of "
            f"{fwd.size} output entries (rtol={rtol:g}, atol={atol:g})\n"
            + _disagreement_table(("fwd", "fd"), fwd, fd, agreement, problem.out_labels, None))


# ---------------------------------------------------------------- check_grads


def _mode_jacobian(problem: _Problem, mode: str, order: int) -> tuple[Array, Array | None]:
    if order == 1:
        if mode == "fwd":
            return problem.fwd(), None
        if mode == "rev":
            return _rev(problem), None
        return problem.fd()
    if mode == "fwd":
        return _fwd2(problem), None
    if mode == "rev":
        return _rev2(problem)
    # finite differences of the forward first derivative, as jax's check_grads does
    return problem.fd(fn=lambda *leaves: problem.fwd_at(leaves))


def check_grads(f: Callable[..., Any], args: Sequence[Any], order: int = 1,
                modes: Sequence[str] = MODES, *, rtol: float = 1e-6, atol: float = 1e-8) -> None:
    """Check derivatives of ``f`` at ``args`` computed by several independent modes.

    Every mode computes the full Jacobian (``order=1``) or the Jacobian of the Jacobian
    (``order=2``) with respect to all positional arguments; the first automatic mode
    (``"fwd"`` when listed) is compared entry by entry with each of the others.

    Parameters
    ----------
    f : callable
        A function written with NumPy; it may return a pytree of arrays.
    args : tuple
        The point ``f(*args)``.
    order : {1, 2}
        1 checks first derivatives; 2 checks the first derivatives and then the second:
        ``"fwd"`` is forward over forward, ``"fd"`` finite differences of the forward
        first derivative (as :func:`jax.test_util.check_grads` does), and ``"rev"``, since
        the reverse reference does not nest, finite differences of its first derivative.
        Second derivatives need real inputs.
    modes : sequence of {"fwd", "rev", "fd"}
        At least two. ``"rev"`` is :mod:`dualnumpy.reverse`.
    rtol, atol : float
        As in :func:`check_jvp`.

    Raises
    ------
    AssertionError
        With a table of the disagreeing entries (output entry, input entry, both values,
        the difference and what was allowed).
    TypeError
        When a requested mode cannot compute the derivative (the reverse-mode reference
        lacks an operation, or an input is complex): drop the mode from ``modes``.

    Examples
    --------
    >>> import numpy as np
    >>> from dualnumpy.testing import check_grads
    >>> check_grads(lambda x, y: np.sin(x) * y, (np.array([0.5, 1.0]), 2.0), modes=("fwd", "fd"))
    >>> check_grads(lambda x: np.exp(x).sum(), (np.array([0.5, 1.0]),), order=2, modes=("fwd", "fd"))
    """
    _check_tolerances(rtol, atol)
    if order not in (1, 2) or isinstance(order, bool):
        raise ValueError(f"order must be 1 or 2; got {order!r}")
    modes = tuple(modes)
    unknown = [m for m in modes if m not in MODES]
    if unknown or len(set(modes)) < 2 or len(set(modes)) != len(modes):
        raise ValueError(f"modes must be at least two distinct names from {MODES}; got {modes!r}")
    if modes == ("fd", "fd") or all(m == "fd" for m in modes):
        raise ValueError("modes needs an automatic mode ('fwd' or 'rev') besides 'fd'")
    if not isinstance(args, (tuple, list)):
        raise TypeError("check_grads(f, args, ...) takes a tuple of arguments: check_grads(f, (x,))")
    problem = _Problem(f, args)
    if order == 2:
        if problem.complex_in:
            raise TypeError("check_grads(order=2) needs real inputs; check complex functions with "
                            "order=1 (real and imaginary directions) or check_jvp")
        check_grads(f, args, 1, modes, rtol=rtol, atol=atol)
    first = "fwd" if "fwd" in modes else next(m for m in modes if m != "fd")
    ordered = (first, *(m for m in modes if m != first))
    results: dict[str, tuple[Array, Array | None]] = {}
    for mode in ordered:
        try:
            results[mode] = _mode_jacobian(problem, mode, order)
        except _NoReference as missing:
            raise TypeError(f"check_grads: mode {mode!r} cannot compute this derivative: "
                            f"{missing.detail}; leave {mode!r} out of modes") from None
        except Exception as error:
            error.add_note(f"(raised by check_grads while computing mode {mode!r}, order {order})")
            raise
    ref, ref_err = results[first]
    rows = problem.out_labels if order == 1 else problem.labels2()
    messages = []
    for mode in ordered[1:]:
        other, err = results[mode]
        both = ref_err if err is None else err if ref_err is None else ref_err + err
        agreement = _agreement(ref, other, both, rtol, atol)
        if agreement.bad.any():
            n = int(agreement.bad.sum())
            messages.append(f"{first} and {mode} disagree on {n} of {ref.size} entries:\n"
                            + _disagreement_table((first, mode), ref, other, agreement, rows,
                                                  problem.in_labels))
    if messages:
        what = "first derivatives" if order == 1 else "second derivatives"
        raise AssertionError(f"check_grads: {what} disagree (rtol={rtol:g}, atol={atol:g})\n"
                             + "\n".join(messages))


# ---------------------------------------------------------------- compare and its report


@dataclass
class MethodResult:
    """One method's Jacobian in a :class:`Report`.

    ``status`` is ``"ok"`` (computed), ``"skipped"`` (not installed), ``"no reference"``
    (the method lacks an operation or does not apply) or ``"error"`` (it raised);
    ``detail`` says why. ``value`` is the Jacobian as a 2-D array (output entries by input
    directions), ``error`` the finite difference's error estimate. ``agrees`` is None for the
    reference method and for methods that produced nothing; ``disagreeing`` and
    ``inconclusive`` count entries.

    Examples
    --------
    >>> import numpy as np
    >>> from dualnumpy.testing import compare
    >>> fd = compare(np.exp, np.array([0.0, 1.0])).methods["fd"]
    >>> fd.status, fd.agrees, fd.value.shape
    ('ok', True, (2, 2))
    """

    name: str
    status: str
    detail: str = ""
    seconds: float | None = None
    value: Array | None = None
    error: Array | None = None
    max_abs_diff: float | None = None
    max_rel_diff: float | None = None
    disagreeing: int = 0
    inconclusive: int = 0
    agrees: bool | None = None
    table: str = ""

    def to_dict(self, with_values: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "status": self.status, "detail": self.detail, "seconds": self.seconds,
            "max_abs_diff": _json_float(self.max_abs_diff), "max_rel_diff": _json_float(self.max_rel_diff),
            "disagreeing": self.disagreeing, "inconclusive": self.inconclusive, "agrees": self.agrees,
        }
        if with_values:
            out["value"] = _json_array(self.value)
            out["error"] = _json_array(self.error)
        return out


def _json_float(x: float | None) -> float | str | None:
    if x is None or math.isfinite(x):
        return x
    return str(x)


def _json_array(a: Array | None) -> Any:
    if a is None:
        return None
    def clean(x: Array) -> Any:
        return [[_json_float(float(v)) for v in row] for row in x]
    if np.iscomplexobj(a):
        return {"real": clean(np.real(a)), "imag": clean(np.imag(a))}
    return clean(np.asarray(a, dtype=np.float64))


@dataclass
class Report:
    """What :func:`compare` found: every method's Jacobian and its distance to forward mode.

    ``str(report)`` is a text table; :meth:`to_dict` a JSON-ready dict. ``ok`` is True when
    forward mode ran and every method that produced a Jacobian agrees with it;
    ``disagreements`` names the methods that do not.

    Examples
    --------
    >>> import json
    >>> import numpy as np
    >>> from dualnumpy.testing import compare
    >>> report = compare(np.sin, np.array([0.5, 2.0]), against=("complex-step",), name="sin")
    >>> report.ok, report.disagreements, list(report.methods)
    (True, [], ['fwd', 'rev', 'fd', 'complex-step'])
    >>> print(str(report).splitlines()[-1])
    result: agree
    >>> json.loads(json.dumps(report.to_dict()))["methods"]["complex-step"]["agrees"]
    True
    """

    function: str
    reference: str
    rtol: float
    atol: float
    inputs: list[str]
    outputs: list[str]
    methods: dict[str, MethodResult] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        ref = self.methods.get(self.reference)
        return (ref is not None and ref.status == "ok"
                and all(m.agrees is not False for m in self.methods.values()))

    @property
    def disagreements(self) -> list[str]:
        return [name for name, m in self.methods.items() if m.agrees is False]

    def __str__(self) -> str:
        rows = []
        for name, m in self.methods.items():
            if name == self.reference:
                verdict = "reference" if m.status == "ok" else "nothing to compare against"
            elif m.agrees is None:
                verdict = m.detail
            else:
                verdict = ("agrees" if m.agrees else f"DISAGREES on {m.disagreeing} entries")
                if m.inconclusive:
                    verdict += f" ({m.inconclusive} entries inconclusive)"
            if name == self.reference and m.status != "ok":
                verdict = m.detail
            rows.append([name, m.status, "-" if m.seconds is None else f"{m.seconds * 1e3:.2f} ms",
                         _short(m.max_abs_diff), _short(m.max_rel_diff), verdict])
        head = (f"compare {self.function}: Jacobian of {len(self.outputs)} output entries by "
                f"{len(self.inputs)} input entries, against {self.reference} "
                f"(rtol={self.rtol:g}, atol={self.atol:g})")
        body = _table(["method", "status", "time", "max abs diff", "max rel diff", "verdict"], rows)
        tables = [f"{name} against {self.reference}:\n{m.table}" for name, m in self.methods.items() if m.table]
        result = "agree" if self.ok else "DISAGREE"
        return "\n".join([head, body, *tables, f"result: {result}"])

    def to_dict(self, with_values: bool = True) -> dict[str, Any]:
        """The report as plain data (lists, numbers, strings), ready for ``json.dump``.

        Non-finite numbers are written as the strings ``"inf"``, ``"-inf"``, ``"nan"``;
        complex Jacobians as ``{"real": ..., "imag": ...}``.
        """
        return {
            "function": self.function, "ok": self.ok, "reference": self.reference,
            "rtol": self.rtol, "atol": self.atol, "inputs": self.inputs, "outputs": self.outputs,
            "methods": {name: m.to_dict(with_values) for name, m in self.methods.items()},
        }


def _short(x: float | None) -> str:
    return "-" if x is None else f"{x:.1e}"


def _function_name(f: Any) -> str:
    module = getattr(f, "__module__", None)
    name = getattr(f, "__qualname__", None) or getattr(f, "__name__", None) or type(f).__name__
    return f"{module}:{name}" if module and module not in ("builtins",) else str(name)


def compare(f: Callable[..., Any], *args: Any, against: Sequence[str] = (), rtol: float = 1e-6,
            atol: float = 1e-8, references: Mapping[str, Callable[..., Any]] | None = None,
            name: str | None = None) -> Report:
    """Compute the Jacobian of ``f`` at ``args`` by every method and compare with forward mode.

    Always forward mode (the reference), the reverse-mode reference and finite differences;
    ``against`` adds optional ones. A method that is not installed is reported as
    ``"skipped"``, one that lacks an operation as ``"no reference"`` (for JAX and autograd,
    any exception they raise on ``f``); neither is an error. JAX and autograd have their own
    conventions in places (JAX: the derivative of complex ``sign`` is 0; autograd's ``prod``
    divides by the entries), which show up as disagreements.

    Parameters
    ----------
    f : callable
        A function written with NumPy; every positional argument is differentiated.
    *args
        The point (arrays, numbers, or pytrees of them).
    against : sequence of {"jax", "autograd", "complex-step"}
        ``"jax"`` uses ``jax.jacrev`` (``jax.jvp`` per direction for complex inputs), in
        64-bit mode; ``"autograd"`` uses ``autograd.jacobian``. Both run ``f`` with its
        module-level ``np`` (and NumPy functions imported by name) bound to their NumPy
        (see ``references``). ``"complex-step"`` applies to analytic ``f`` of real inputs.
    rtol, atol : float
        As in :func:`check_jvp`.
    references : mapping, optional
        Explicit versions of ``f`` per external method, e.g. ``{"jax": f_jnp}``.
    name : str, optional
        How the report names ``f``.

    Returns
    -------
    Report

    Examples
    --------
    >>> import numpy as np
    >>> from dualnumpy.testing import compare
    >>> report = compare(lambda x: np.sin(x) * x[0], np.array([0.5, 1.0]), name="f")
    >>> report.methods["fd"].agrees
    True
    >>> report.to_dict()["methods"]["fd"]["status"]
    'ok'
    """
    _check_tolerances(rtol, atol)
    against = (against,) if isinstance(against, str) else tuple(against)
    unknown = [a for a in against if a not in EXTERNAL]
    if unknown:
        raise ValueError(f"against takes names from {EXTERNAL}; got {unknown}")
    references = dict(references or {})
    problem = _Problem(f, args)
    report = Report(name or _function_name(f), "fwd", rtol, atol, problem.in_labels, problem.out_labels)
    computations: dict[str, Callable[[], Any]] = {
        "fwd": problem.fwd,
        "rev": lambda: _rev(problem),
        "fd": problem.fd,
        "jax": lambda: _jax(problem, references.get("jax")),
        "autograd": lambda: _autograd(problem, references.get("autograd")),
        "complex-step": lambda: _complex_step(problem),
    }
    for method in ("fwd", "rev", "fd", *against):
        start = time.perf_counter()
        try:
            out = computations[method]()
        except _NoReference as missing:
            report.methods[method] = MethodResult(method, missing.status, missing.detail)
            continue
        except Exception as error:
            # an optional library that cannot differentiate f (an operation it lacks, its own
            # limits) is no reference; the package's own methods failing is an error
            status = "no reference" if method in ("jax", "autograd") else "error"
            report.methods[method] = MethodResult(method, status, _one_line(error),
                                                  time.perf_counter() - start)
            continue
        seconds = time.perf_counter() - start
        value, error_estimate = out if isinstance(out, tuple) else (out, None)
        value = np.asarray(value)
        expected_shape = (problem.n_out, problem.n_cols)
        if value.shape != expected_shape:
            report.methods[method] = MethodResult(method, "error", f"a Jacobian of shape {value.shape}, "
                                                  f"expected {expected_shape}", seconds)
            continue
        report.methods[method] = MethodResult(method, "ok", "", seconds, value, error_estimate)
    ref = report.methods["fwd"]
    if ref.status == "ok" and ref.value is not None:
        for method, result in report.methods.items():
            if method == "fwd" or result.status != "ok" or result.value is None:
                continue
            agreement = _agreement(ref.value, result.value, result.error, rtol, atol)
            result.max_abs_diff, result.max_rel_diff = agreement.max_abs, agreement.max_rel
            result.disagreeing = int(agreement.bad.sum())
            result.inconclusive = agreement.inconclusive
            result.agrees = result.disagreeing == 0
            if not result.agrees:
                result.table = _disagreement_table(("fwd", method), ref.value, result.value, agreement,
                                                   problem.out_labels, problem.in_labels)
    return report
