"""``linearize``: the primal once, then the tangent map for as many directions as asked.

The function runs once on Duals whose tangents are recorded
(``transforms/recording.py``): the rules write down the tangent program, with
the primal-derived partials as constants, and ``f_jvp`` replays it on real
tangents without running the function again.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from dualnumpy.core.dual import Dual, make
from dualnumpy.core.tags import new_tag
from dualnumpy.core.tangent import dtype_of, shape_of, tangent_dtype
from dualnumpy.numpy_facts.trees import TreeDef, flatten, unflatten
from dualnumpy.rules.kinds import is_number
from dualnumpy.transforms import recording
from dualnumpy.transforms.api import jvp

Fun = Callable[..., Any]

#: Replays of the probe directions agree with the recording to this many units of
#: rounding of the dtype (the collapsed multipliers reorder the products).
_AGREEMENT_ULPS = 1 << 12


def _primal(x: Any, where: str) -> Any:
    """An input as a differentiable value, copied so that later changes to the caller's
    array cannot reach the recorded constants."""
    if is_number(x):
        return x
    if isinstance(x, bool) or (isinstance(x, (np.ndarray, np.generic)) and x.dtype.kind == "b"):
        raise TypeError(f"linearize: {where} is boolean and has no derivative; pass it as a "
                        f"float, or close over it instead of linearizing in it")
    if isinstance(x, int):
        return float(x)
    if isinstance(x, (float, complex)):
        return x
    if not isinstance(x, (np.ndarray, np.generic)):
        try:
            x = np.asarray(x)
        except (TypeError, ValueError):
            raise TypeError(f"linearize: {where} is a {type(x).__name__}, not an array or a "
                            f"number") from None
    if x.dtype.kind in "iu":
        return x.astype(np.float64)
    if x.dtype.kind not in "fc":
        raise TypeError(f"linearize: {where} has dtype {x.dtype}; derivatives need float or "
                        f"complex inputs")
    return x.copy() if isinstance(x, np.ndarray) else x


def _probe(shape: tuple[int, ...], dtype: np.dtype[Any], rng: np.random.Generator) -> Any:
    """A random direction, uniform in [-1, 1) (and so in the imaginary part when complex)."""
    t = rng.random(shape) * 2.0 - 1.0
    if dtype.kind == "c":
        t = t + 1j * (rng.random(shape) * 2.0 - 1.0)
    return t.astype(dtype, copy=False)


class Linearization:
    """The tangent map of ``f`` at one point: ``f_jvp(*tangents)``, returned by :func:`linearize`.

    Attributes
    ----------
    strategy : str
        ``"recorded"``: a replay of the recorded tangent program, the function is not run
        again. ``"jvp"``: the function could not be recorded (see ``reason``) and every
        call runs ``jvp`` at the stored point.
    reason : str or None
        Why the recording was not used.
    nbytes : int
        The bytes of the arrays this linearization keeps alive (the recorded partials and
        multipliers; for ``"jvp"``, the stored point).
    batchable : bool
        k directions replay in one pass (else one direction at a time; same numbers).
    """

    def __init__(self, primals: list[Any], treedef: TreeDef, out_def: TreeDef,
                 out_leaves: list[Any], program: recording.Program | None,
                 fun: Fun | None, reason: str | None) -> None:
        self._primals = primals
        self._treedef = treedef
        self._out_def = out_def
        self._out_shapes = [shape_of(o) for o in out_leaves]
        self._out_dtypes = [tangent_dtype(dtype_of(o)) for o in out_leaves]
        self._program = program
        self._fun = fun
        self.reason = reason
        self.strategy = "recorded" if program is not None else "jvp"

    # ------------------------------------------------------------ properties

    @property
    def batchable(self) -> bool:
        return self._program is not None and self._program.batchable

    @property
    def nbytes(self) -> int:
        if self._program is None:
            return recording.held_bytes(self._primals)
        return recording.held_bytes(self._program.constants())

    @property
    def operations(self) -> int | None:
        """The number of operations a call replays (None for the ``"jvp"`` strategy)."""
        return None if self._program is None else len(self._program.order)

    @property
    def in_shapes(self) -> list[tuple[int, ...]]:
        return [shape_of(p) for p in self._primals]

    @property
    def out_shapes(self) -> list[tuple[int, ...]]:
        return list(self._out_shapes)

    def __repr__(self) -> str:
        ops = "" if self._program is None else f", {len(self._program.order)} operations"
        return (f"<Linearization {self.strategy}{ops}, {self.nbytes} bytes; inputs "
                f"{self.in_shapes} -> outputs {self._out_shapes}>")

    # ------------------------------------------------------------ calling

    def _tangent_leaves(self, tangents: tuple[Any, ...], batched: bool | None) -> tuple[list[Any], int | None]:
        n = self._treedef.num_leaves
        if len(tangents) != len(self._treedef.children):
            raise TypeError(f"f_jvp takes {len(self._treedef.children)} tangent(s), one per "
                            f"primal given to linearize; got {len(tangents)}")
        leaves, t_def = flatten(tuple(tangents))
        if t_def != self._treedef:
            raise ValueError(f"the tangents' structure {t_def} differs from the primals' "
                             f"{self._treedef}")
        assert len(leaves) == n
        out: list[Any] = []
        ks: set[int | None] = set()
        for i, (t, p) in enumerate(zip(leaves, self._primals, strict=True)):
            if not isinstance(t, (np.ndarray, np.generic)) and not is_number(t):
                try:
                    t = np.asarray(t)
                except (TypeError, ValueError):
                    raise TypeError(f"tangent leaf {i} is a {type(t).__name__}, not an array") from None
            shape, want = shape_of(t), shape_of(p)
            if shape == want and batched is not True:
                ks.add(None)
            elif len(shape) == len(want) + 1 and shape[1:] == want and batched is not False:
                ks.add(shape[0])
            else:
                expected = {None: f"{want} or (k, *{want})", True: f"(k, *{want})",
                            False: f"{want}"}[batched]
                raise ValueError(f"tangent leaf {i} has shape {shape}, but the linearization "
                                 f"is at a primal of shape {want}: expected {expected}")
            if not is_number(t):
                kind = t.dtype.kind
                if kind not in "iufc":
                    raise TypeError(f"tangent leaf {i} has dtype {t.dtype}; tangents must be "
                                    f"float or complex")
                if kind == "c" and dtype_of(p).kind != "c":
                    raise TypeError(f"tangent leaf {i} is complex but its primal is real; "
                                    f"linearize at a complex point")
                t = t.astype(tangent_dtype(dtype_of(p)), copy=False)
            out.append(t)
        if len(ks) > 1:
            raise ValueError(f"the tangents mix single directions and batches, or batches of "
                             f"different sizes ({sorted(ks, key=str)}); give every leaf the "
                             f"same layout, and batched=True or False to say which")
        return out, ks.pop() if ks else None

    def __call__(self, *tangents: Any, batched: bool | None = None) -> Any:
        """The output tangents for ``tangents`` (one per primal, of the primals' structure).

        A leaf of the primal's shape is one direction; of shape ``(k, *shape)``, k
        directions, and every output tangent then gets the leading axis k (as
        ``jvp(..., batched=True)``). ``batched=True`` or ``False`` insists on one layout.
        """
        leaves, k = self._tangent_leaves(tangents, batched)
        if self._program is None:
            assert self._fun is not None
            primals = unflatten(self._treedef, self._primals)
            return jvp(self._fun, tuple(primals), tuple(unflatten(self._treedef, leaves)),
                       batched=k is not None)[1]
        lead = 1 if k is None else k
        seeds = [t[None] if k is None else t for t in leaves]
        if k is None or k == 1 or self._program.batchable:
            outs = self._program.replay(seeds)
        else:
            per = [self._program.replay([s[i:i + 1] for s in seeds]) for i in range(k)]
            outs = [None if rows[0] is None else _np_concatenate(rows)
                    for rows in zip(*per, strict=True)]
        result = []
        for t, shape, dtype in zip(outs, self._out_shapes, self._out_dtypes, strict=True):
            full = (lead, *shape)
            if t is None:
                t = np.zeros(full, dtype)
            else:
                if shape_of(t) != full:
                    t = np.broadcast_to(t, full)
                if isinstance(t, np.ndarray) and t.dtype != dtype:
                    t = t.astype(dtype)
            result.append(t[0] if k is None else t)
        return unflatten(self._out_def, result)

    # ------------------------------------------------------------ as a SciPy operator

    def as_linear_operator(self) -> Any:
        """The map as a ``scipy.sparse.linalg.LinearOperator`` of shape ``(out.size, x.size)``.

        For one array input and one array output; vectors are flattened in C order.
        ``matvec`` and ``matmat`` replay the map (``matmat`` in one pass when batchable);
        there is no ``rmatvec`` (forward mode gives J v, not J^T u).
        """
        try:
            LinearOperator = importlib.import_module("scipy.sparse.linalg").LinearOperator
        except ImportError:  # pragma: no cover - scipy is an optional extra
            raise ImportError("as_linear_operator needs SciPy: pip install 'dualnumpy[sparse]' "
                              "(or scipy)") from None
        if len(self._primals) != 1 or self._out_def.kind != "leaf" or self._treedef.children[0].kind != "leaf":
            raise TypeError("as_linear_operator needs one array input and one array output; "
                            f"this linearization maps {self._treedef} to {self._out_def}")
        in_shape, out_shape = shape_of(self._primals[0]), self._out_shapes[0]
        n, m = math.prod(in_shape), math.prod(out_shape)
        dtype = np.result_type(tangent_dtype(dtype_of(self._primals[0])), self._out_dtypes[0])

        def matvec(v: Any) -> Any:
            v = np.asarray(v).reshape(in_shape)
            return np.asarray(self(v)).reshape(m)

        def matmat(V: Any) -> Any:
            V = np.asarray(V)
            T = np.moveaxis(V, -1, 0).reshape((V.shape[-1], *in_shape))
            return np.asarray(self(T, batched=True)).reshape(V.shape[-1], m).T

        return LinearOperator((m, n), matvec=matvec, matmat=matmat, dtype=dtype)


def _np_concatenate(rows: Sequence[Any]) -> Any:
    return np.concatenate(list(rows), axis=0)


def linearize(fun: Fun, *primals: Any) -> tuple[Any, Linearization]:
    """Evaluate ``fun`` at ``primals`` once and return its output and its tangent map.

    ``f_jvp(*tangents)`` equals ``jvp(fun, primals, tangents)[1]`` (up to rounding), for
    one direction per leaf (the primal's shape) or k directions at once
    (``(k, *shape)``, for every leaf alike). The function is run once, on Duals whose
    tangents are recorded: each operation's rule writes down its tangent computation
    with the partial derivatives at this point as constants, runs of elementwise
    multiplications collapse into one multiplier, and ``f_jvp`` replays that program.

    A linearization is valid at its point only: ``f_jvp`` takes tangents, never a new
    point, and replays the partials of ``primals``. The inputs are copied and so are
    recorded partials that share memory with the returned outputs; arrays the function
    closes over may be kept by reference as constants of the program, so do not change
    them in place while ``f_jvp`` is in use.

    Where an operation cannot be recorded (tangent code that branches on the tangent's
    values or converts it to a plain array, as ``custom_jvp`` functions and
    ``np.piecewise`` do; Duals of an outer transform in the primals or among the
    constants), the linearization falls back to calling ``jvp`` at the stored point for
    every ``f_jvp`` call: the same numbers, at the cost of running the function each
    time (``f_jvp.strategy`` is then ``"jvp"`` and ``f_jvp.reason`` says why). Before it
    is used, a recording is replayed on its probe direction and must reproduce the
    tangents computed while recording; k directions replay in one pass only where that
    is checked to equal k single replays (``f_jvp.batchable``), else one at a time.

    Parameters
    ----------
    fun : callable
        A function of ``len(primals)`` arguments written with NumPy; each argument and
        its output may be pytrees (tuples, lists, dicts) of arrays and scalars.
    *primals
        The point.

    Returns
    -------
    (out, f_jvp)
        ``out`` is ``fun(*primals)``; ``f_jvp`` is a :class:`Linearization`, with
        ``nbytes`` (the bytes it holds) and ``as_linear_operator()`` (SciPy).

    Examples
    --------
    >>> import numpy as np
    >>> from dualnumpy.transforms.linearize import linearize  # also dualnumpy.linearize
    >>> y, f_jvp = linearize(lambda x: np.sin(x) * x, np.array([0.0, 1.0]))
    >>> f_jvp(np.array([1.0, 1.0]))  # sin(x) + x cos(x)
    array([0.        , 1.38177329])
    >>> f_jvp(np.eye(2))  # two directions at once: the Jacobian's columns as rows
    array([[0.        , 0.        ],
           [0.        , 1.38177329]])
    """
    if not primals:
        raise TypeError("linearize(f, *primals) needs at least one primal")
    p_leaves, p_def = flatten(tuple(primals))
    p_leaves = [_primal(p, f"primal leaf {i}") for i, p in enumerate(p_leaves)]
    if any(is_number(p) for p in p_leaves):
        return _fallback(fun, p_leaves, p_def, "a primal is a Dual of an outer transform "
                                               "(nesting): each call runs jvp")
    session = recording.Session()
    rng = np.random.default_rng(0)
    tag = new_tag()
    probes = [_probe((1, *shape_of(p)), tangent_dtype(dtype_of(p)), rng) for p in p_leaves]
    seeds = [recording.seed(session, i, u) for i, u in enumerate(probes)]
    duals = [make(p, s, tag) for p, s in zip(p_leaves, seeds, strict=True)]
    try:
        out = fun(*unflatten(p_def, duals))
    except Exception as error:
        return _fallback(fun, p_leaves, p_def, session.failure or f"{type(error).__name__}: {error}")
    if session.failure is not None:
        return _fallback(fun, p_leaves, p_def, session.failure)
    out_leaves, out_def = flatten(out)
    values: list[Any] = []
    nodes: list[recording.Node | None] = []
    shadows: list[Any] = []
    for leaf in out_leaves:
        if isinstance(leaf, Dual) and leaf.tag == tag:
            values.append(leaf.value)
            t = leaf.tangent
            if isinstance(t, recording.Recorded):
                nodes.append(t.node)
                shadows.append(t.shadow)
            elif is_number(t) or not isinstance(t, (np.ndarray, np.generic, float, int, complex)):
                return _fallback(fun, p_leaves, p_def, "an output tangent is not recorded")
            else:  # a constant tangent: it does not depend on the input's tangents
                if np.any(t != 0):
                    return _fallback(fun, p_leaves, p_def, "an output tangent is a nonzero constant")
                nodes.append(None)
                shadows.append(None)
        elif isinstance(leaf, Dual):
            if leaf.tag > tag:
                raise ValueError(f"the function returned a Dual of tag {leaf.tag}, newer than "
                                 f"linearize's: a perturbation escaped an inner transform")
            return _fallback(fun, p_leaves, p_def, "an output is a Dual of an outer transform")
        elif isinstance(leaf, recording.Recorded):
            return _fallback(fun, p_leaves, p_def, "an output is a bare tangent")
        else:
            values.append(leaf)
            nodes.append(None)
            shadows.append(None)
    for v in values:
        if dtype_of(v).kind not in "biufc":
            raise TypeError(f"linearize: the function returned a {type(v).__name__} leaf of dtype "
                            f"{dtype_of(v)}; outputs must be numbers or arrays")
    program = recording.Program([s.node for s in seeds if isinstance(s.node, recording.Seed)],
                                nodes, [shape_of(v) for v in values],
                                [tangent_dtype(dtype_of(v)) for v in values])
    _unalias(program, values)
    problem = _verify(program, probes, shadows, p_leaves, rng)
    if problem is not None:
        return _fallback(fun, p_leaves, p_def, problem)
    lin = Linearization(p_leaves, p_def, out_def, values, program, None, None)
    return unflatten(out_def, values), lin


def _unalias(program: recording.Program, outputs: list[Any]) -> None:
    """Copy recorded constants that share memory with the returned outputs: the caller
    may change those in place (``y *= 2``), and the program must not see it."""
    arrays = [o for o in outputs if isinstance(o, np.ndarray)]
    if not arrays:
        return

    def fix(c: Any) -> Any:
        if isinstance(c, np.ndarray) and any(np.may_share_memory(c, o) for o in arrays):
            return c.copy()
        return c

    program.replace_constants(fix)


def _close(got: Any, want: Any) -> bool:
    if got is None or want is None:
        return got is None and want is None
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape:
        return False
    eps = float(np.finfo(np.result_type(want.dtype, np.float32)).eps) * _AGREEMENT_ULPS
    size = np.abs(want)
    scale = float(np.max(size, initial=0.0))
    if not np.isfinite(scale):
        scale = float(np.max(size[np.isfinite(size)], initial=0.0))
    size += scale
    size *= eps
    ok = np.abs(got - want) <= size  # False wherever either side is not finite
    if ok.all():
        return True
    bad = ~ok  # there both must be the same infinity, or both NaN
    return bool(np.array_equal(got[bad], want[bad], equal_nan=True))


def _verify(program: recording.Program, probes: list[Any], shadows: list[Any],
            primals: list[Any], rng: np.random.Generator) -> str | None:
    """Replay the probe direction (it must give the recorded tangents), then check that
    two directions in one pass give what two single replays give (``batchable``)."""
    with np.errstate(all="ignore"):
        try:
            again = program.replay(probes)
        except Exception as error:
            return f"the recorded program does not replay ({type(error).__name__}: {error})"
        for got, want in zip(again, shadows, strict=True):
            if not _close(got, want):
                return "the recorded program does not reproduce the recorded tangents"
        others = [_probe(shape_of(u), np.result_type(u), rng) for u in probes]
        try:
            single = program.replay(others)
            both = program.replay([np.concatenate([u, w]) for u, w in zip(probes, others, strict=True)])
        except Exception:
            return None
        for b, first, second, shape in zip(both, again, single, program.shapes, strict=True):
            if b is None:
                continue
            b = np.broadcast_to(b, (2, *shape)) if shape_of(b)[1:] == shape else b
            if shape_of(b) != (2, *shape) or not _close(b[:1], np.broadcast_to(first, (1, *shape))) \
                    or not _close(b[1:], np.broadcast_to(second, (1, *shape))):
                return None
    program.batchable = True
    return None


def _fallback(fun: Fun, primals: list[Any], treedef: TreeDef, reason: str) -> tuple[Any, Linearization]:
    """A linearization that runs jvp at the stored point for each call."""
    zeros = [np.zeros(shape_of(p), tangent_dtype(dtype_of(p))) for p in primals]
    out, _ = jvp(fun, tuple(unflatten(treedef, primals)), tuple(unflatten(treedef, zeros)))
    out_leaves, out_def = flatten(out)
    lin = Linearization(primals, treedef, out_def, out_leaves, None, fun, reason)
    return out, lin
