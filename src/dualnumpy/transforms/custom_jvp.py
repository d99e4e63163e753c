"""``custom_jvp``: a user's own derivative rule for a Python function, in JAX's shape.

The function runs as written when no Dual reaches it. When one does, its rule
runs instead: on the values of the outermost perturbation (``primals``) and
their tangents, one direction at a time as the user wrote it. k directions at
once (``jacfwd``, ``grad``, ``hessian``) are served by one call of the same
rule, whose tangents are then Duals of a fresh inner tag carrying the k
directions: a rule is linear in its tangents, so it maps all k at once. Nested
differentiation needs nothing more: the primals a rule sees may be Duals of a
lower tag, and the NumPy calls it makes on them carry those derivatives.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from dualnumpy.core.dual import Dual
from dualnumpy.core.tags import carrier_tags, new_tag
from dualnumpy.core.tangent import dtype_of, shape_of, tangent_dtype
from dualnumpy.numpy_facts.trees import TreeDef, flatten, unflatten
from dualnumpy.rules.kinds import primal

Rule = Callable[..., Any]


class custom_jvp:
    """A function with a derivative rule of its own.

    Use it for code that NumPy's protocols cannot see (a compiled extension,
    ``scipy.special``, ``scipy.integrate.quad``, an external solver) and to
    replace a numerically poor derivative. The rule, registered with
    :meth:`defjvp`, takes ``(primals, tangents)`` (the differentiable arguments'
    values and one tangent each, both tuples) and returns ``(primal_out,
    tangent_out)`` of the same structure as the function's output (a pytree).
    Arguments in ``nondiff_argnums`` are passed to the rule first, as they are,
    and may not carry a tangent.

    Examples
    --------
    A softplus whose derivative stays finite for large inputs:

    >>> import numpy as np
    >>> import dualnumpy as dn
    >>> @dn.custom_jvp
    ... def softplus(x):
    ...     return np.logaddexp(0.0, x)
    >>> @softplus.defjvp
    ... def softplus_jvp(primals, tangents):
    ...     (x,), (x_dot,) = primals, tangents
    ...     return softplus(x), x_dot * (0.5 * (1.0 + np.tanh(0.5 * x)))
    >>> float(dn.grad(softplus)(1000.0))
    1.0
    >>> dn.jacfwd(softplus)(np.array([0.0, 2.0])).round(6)
    array([[0.5     , 0.      ],
           [0.      , 0.880797]])
    """

    def __init__(self, fun: Callable[..., Any], nondiff_argnums: Sequence[int] = ()) -> None:
        if not callable(fun):
            raise TypeError(f"custom_jvp wraps a function; got {type(fun).__name__}")
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = tuple(sorted({int(i) for i in nondiff_argnums}))
        self.jvp: Rule | None = None
        self._per_argument: tuple[Rule | None, ...] | None = None
        self._name = getattr(fun, "__qualname__", getattr(fun, "__name__", repr(fun)))
        try:
            self._signature: inspect.Signature | None = inspect.signature(fun)
        except (TypeError, ValueError):
            self._signature = None

    # ------------------------------------------------------------ defining the rule

    def defjvp(self, jvp: Rule) -> Rule:
        """Register ``jvp(*nondiff_args, primals, tangents) -> (primal_out, tangent_out)``."""
        if not callable(jvp):
            raise TypeError(f"{self._name}.defjvp takes a function; got {type(jvp).__name__}")
        self.jvp, self._per_argument = jvp, None
        return jvp

    def defjvps(self, *jvps: Rule | None) -> None:
        """One rule per differentiable argument: ``jvp_i(t_i, primal_out, *primals)`` gives that
        argument's contribution to the output tangent; the contributions are summed. ``None``
        says the argument has no derivative: a tangent reaching it is an error."""
        for j in jvps:
            if j is not None and not callable(j):
                raise TypeError(f"{self._name}.defjvps takes functions or None; got {type(j).__name__}")
        self.jvp, self._per_argument = None, tuple(jvps)

    # ------------------------------------------------------------ calling

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        args, kwargs = self._positional(args, kwargs)
        for key, value in kwargs.items():
            if _has_dual(value):
                raise TypeError(
                    f"{self._name}: keyword-only argument {key!r} carries a tangent, but custom_jvp "
                    f"differentiates positional arguments; make {key!r} positional, or pass its "
                    f"value (d.value) if it takes no derivative")
        for i in self.nondiff_argnums:
            if i < len(args) and _has_dual(args[i]):
                raise TypeError(
                    f"{self._name}: argument {i} is in nondiff_argnums, so it cannot carry a tangent; "
                    f"pass its value, or remove {i} from nondiff_argnums and give it a derivative")
        diff_positions = [i for i in range(len(args)) if i not in self.nondiff_argnums]
        tags = [leaf.tag for i in diff_positions for leaf in flatten(args[i])[0] if isinstance(leaf, Dual)]
        if not tags:
            return self.fun(*args, **kwargs)
        if self.jvp is None and self._per_argument is None:
            raise TypeError(f"{self._name} is a custom_jvp function without a rule; define one with "
                            f"@{self._name}.defjvp (or {self._name}.defjvps(...))")
        if kwargs:
            raise TypeError(f"{self._name}: with a tangent, keyword-only arguments are not passed "
                            f"to the rule; give them by position or close over them")
        return self._differentiate(args, diff_positions, max(tags))

    def _positional(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Keywords that could have been positions become positions, so a Dual passed by
        keyword reaches the rule like one passed by position."""
        if not kwargs or self._signature is None:
            return args, kwargs
        try:
            bound = self._signature.bind(*args, **kwargs)
        except TypeError as error:
            raise TypeError(f"{self._name}: {error}") from None
        bound.apply_defaults()
        return tuple(bound.args), dict(bound.kwargs)

    def _differentiate(self, args: tuple[Any, ...], diff_positions: list[int], tag: int) -> Any:
        primals: list[Any] = []
        tangents: list[tuple[TreeDef, list[Dual | None], list[Any]]] = []
        constant: list[bool] = []
        directions: set[int | None] = set()
        for i in diff_positions:
            leaves, treedef = flatten(args[i])
            values: list[Any] = []
            seeds: list[Dual | None] = []
            for leaf in leaves:
                if isinstance(leaf, Dual) and leaf.tag == tag:
                    values.append(leaf.value)
                    seeds.append(leaf)
                    directions.add(shape_of(leaf.tangent)[0] if leaf.batched else None)
                else:
                    values.append(leaf)
                    seeds.append(None)
            primals.append(unflatten(treedef, values))
            tangents.append((treedef, seeds, values))
            constant.append(all(s is None for s in seeds))
        if len(directions) > 1:
            raise ValueError(f"{self._name}: its Dual arguments carry different numbers of directions "
                             f"({sorted(str(d or 1) for d in directions)}); seed them alike")
        k = directions.pop()
        nondiff = [args[i] for i in self.nondiff_argnums if i < len(args)]
        full_args = list(args)
        for i, p in zip(diff_positions, primals, strict=True):
            full_args[i] = p
        if k is None:
            ts = [self._single_tangents(*entry) for entry in tangents]
            out, t_out = self._run(nondiff, primals, ts, constant, full_args)
            return self._wrap(out, t_out, tag, None)
        carrier_tag = new_tag()
        ts = [self._carried_tangents(treedef, seeds, values, carrier_tag) for treedef, seeds, values in tangents]
        carrier_tags.add(carrier_tag)
        try:
            out, t_out = self._run(nondiff, primals, ts, constant, full_args)
        except TypeError:  # tangent code NumPy's protocols cannot see, or that compares the
            # tangent's values: once per direction (a real error recurs there)
            return self._per_direction(nondiff, primals, tangents, constant, full_args, tag, k)
        finally:
            carrier_tags.discard(carrier_tag)
        return self._wrap(out, t_out, tag, k, carrier_tag)

    def _run(self, nondiff: list[Any], primals: list[Any], tangents: list[Any], constant: list[bool],
             full_args: list[Any]) -> tuple[Any, Any]:
        if self._per_argument is not None:
            return self._sum_per_argument(primals, tangents, constant, full_args)
        assert self.jvp is not None
        result = self.jvp(*nondiff, tuple(primals), tuple(tangents))
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            got = f"a {type(result).__name__}" + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else "")
            raise TypeError(f"{self._name}: its JVP rule must return a pair (primal_out, tangent_out); "
                            f"it returned {got}")
        return result[0], result[1]

    def _sum_per_argument(self, primals: list[Any], tangents: list[Any], constant: list[bool],
                          full_args: list[Any]) -> tuple[Any, Any]:
        rules = self._per_argument or ()
        if len(rules) != len(primals):
            raise TypeError(f"{self._name}.defjvps was given {len(rules)} rule(s) for "
                            f"{len(primals)} differentiable argument(s); give one per argument (None "
                            f"for an argument without a derivative)")
        out = self.fun(*full_args)
        total: Any = None
        for i, (rule, t, const) in enumerate(zip(rules, tangents, constant, strict=True)):
            if const:
                continue
            if rule is None:
                raise TypeError(f"{self._name}: differentiable argument {i} carries a tangent but its "
                                f"defjvps entry is None; give it a rule, or pass its value")
            term = rule(t, out, *primals)
            total = term if total is None else _tree_add(total, term, self._name)
        return out, total

    # ------------------------------------------------------------ tangents in

    @staticmethod
    def _single_tangents(treedef: TreeDef, seeds: list[Dual | None], values: list[Any]) -> Any:
        """The tangents as given; a constant's is zeros of its shape (it does not move)."""
        return unflatten(treedef, [s.tangent if isinstance(s, Dual) else _zeros_for(v)
                                   for s, v in zip(seeds, values, strict=True)])

    @staticmethod
    def _carried_tangents(treedef: TreeDef, seeds: list[Dual | None], values: list[Any], carrier_tag: int) -> Any:
        """Each tangent as a Dual of ``carrier_tag`` with value 0 whose k directions are the tangents."""
        leaves = []
        for s, v in zip(seeds, values, strict=True):
            if isinstance(s, Dual):
                zero = np.zeros(shape_of(s.value), dtype=tangent_dtype(dtype_of(s.value)))
                leaves.append(Dual(zero, s.tangent, tag=carrier_tag))
            else:
                leaves.append(_zeros_for(v))
        return unflatten(treedef, leaves)

    def _per_direction(self, nondiff: list[Any], primals: list[Any], tangents: list[Any],
                       constant: list[bool], full_args: list[Any], tag: int, k: int) -> Any:
        """The rule once per direction, for rules whose tangent code NumPy's protocols cannot see."""
        outs, t_outs = [], []
        for d in range(k):
            ts = [unflatten(treedef, [s.tangent[d] if isinstance(s, Dual) else _zeros_for(v)
                                      for s, v in zip(seeds, values, strict=True)])
                  for treedef, seeds, values in tangents]
            out, t_out = self._run(nondiff, primals, ts, constant, full_args)
            outs.append(out)
            t_outs.append(t_out)
        out_leaves, out_def = flatten(outs[0])
        per_direction = [self._check_tangents(out_leaves, out_def, t) for t in t_outs]
        stacked = [None if per_direction[0][j] is None else np.stack([p[j] for p in per_direction])
                   for j in range(len(out_leaves))]
        return unflatten(out_def, [self._leaf(o, t, tag, True) for o, t in zip(out_leaves, stacked, strict=True)])

    # ------------------------------------------------------------ results out

    def _wrap(self, out: Any, t_out: Any, tag: int, k: int | None, carrier_tag: int | None = None) -> Any:
        out_leaves, out_def = flatten(out)
        t_leaves = self._check_tangents(out_leaves, out_def, t_out, carrier_tag, k)
        return unflatten(out_def, [self._leaf(o, t, tag, k is not None)
                                   for o, t in zip(out_leaves, t_leaves, strict=True)])

    def _check_tangents(self, out_leaves: list[Any], out_def: TreeDef, t_out: Any,
                        carrier_tag: int | None = None, k: int | None = None) -> list[Any]:
        t_leaves, t_def = flatten(t_out)
        if t_def != out_def:
            raise TypeError(f"{self._name}: its JVP rule returned a tangent of structure {t_def} for a "
                            f"primal output of structure {out_def}; return one tangent per output")
        checked = []
        for j, (o, t) in enumerate(zip(out_leaves, t_leaves, strict=True)):
            where = f"{self._name}: output {j}" if len(out_leaves) > 1 else f"{self._name}:"
            if isinstance(o, Dual) and carrier_tag is not None and o.tag == carrier_tag:
                raise TypeError(f"{where} its primal output depends on the tangents; compute "
                                f"primal_out from the primals only")
            if carrier_tag is not None:
                t = self._uncarry(t, o, k or 0, carrier_tag, where)
            checked.append(self._check_leaf(o, t, where, carrier_tag is not None))
        return checked

    @staticmethod
    def _uncarry(t: Any, o: Any, k: int, carrier_tag: int, where: str) -> Any:
        if isinstance(t, Dual) and t.tag == carrier_tag:
            if np.any(primal(t.value) != 0):
                raise TypeError(f"{where} the tangent the JVP rule returned is not linear in the input "
                                f"tangents (it is nonzero for a zero tangent); add terms proportional "
                                f"to the tangents only")
            return t.tangent if t.batched else np.broadcast_to(t.tangent, (k, *shape_of(t.tangent)))
        if t is None:
            return None
        if np.any(primal(t) != 0):
            raise TypeError(f"{where} the JVP rule returned a tangent that does not depend on the input "
                            f"tangents and is not zero; it must be linear in them")
        return np.zeros((k, *shape_of(o)), dtype=tangent_dtype(dtype_of(o)))

    def _check_leaf(self, o: Any, t: Any, where: str, batched: bool) -> Any:
        if t is None:
            return None
        o_dtype, t_dtype = dtype_of(o), dtype_of(t)
        if t_dtype.kind not in "fc":
            raise TypeError(f"{where} the JVP rule returned a tangent of dtype {t_dtype}; tangents are "
                            f"float or complex (return e.g. x_dot * 1.0)")
        if o_dtype.kind not in "fc":
            if np.any(primal(t) != 0):
                raise TypeError(f"{where} an output of dtype {o_dtype} has no derivative, but the JVP "
                                f"rule returned a nonzero tangent for it")
            return None
        expected = tangent_dtype(o_dtype)
        if t_dtype != expected and not (expected.kind == "c" and t_dtype.kind == "f"):
            raise TypeError(f"{where} the JVP rule returned a tangent of dtype {t_dtype} for an output "
                            f"of dtype {o_dtype}; compute it in {expected} (for example "
                            f"tangent.astype(np.{expected.name}))")
        o_shape, t_shape = shape_of(o), shape_of(t)
        if (t_shape[1:] if batched else t_shape) != o_shape or (batched and len(t_shape) != len(o_shape) + 1):
            want = f"(k, *{o_shape})" if batched else str(o_shape)
            got = t_shape[1:] if batched else t_shape
            raise ValueError(f"{where} the JVP rule returned a tangent of shape {got} for an output of "
                             f"shape {o_shape}; the tangent must have the output's shape"
                             + (f" (here {want} with the k directions)" if batched else ""))
        if t_dtype != expected:
            t = t.astype(expected) if hasattr(t, "astype") else expected.type(t)
        return t

    @staticmethod
    def _leaf(o: Any, t: Any, tag: int, batched: bool) -> Any:
        if t is None:
            return o
        if not batched and shape_of(o) == () and isinstance(t, np.ndarray):
            t = t[()]
        return Dual(o, t, tag=tag)


# ---------------------------------------------------------------- helpers


def _has_dual(tree: Any) -> bool:
    return any(isinstance(leaf, Dual) for leaf in flatten(tree)[0])


def _zeros_for(x: Any) -> Any:
    """The tangent of a constant: zeros of its shape, in its tangent dtype."""
    if x is None:
        return None
    dtype = tangent_dtype(dtype_of(primal(x)))
    shape = shape_of(x)
    return np.zeros(shape, dtype) if shape else dtype.type(0)


def _tree_add(a: Any, b: Any, name: str) -> Any:
    a_leaves, a_def = flatten(a)
    b_leaves, b_def = flatten(b)
    if a_def != b_def:
        raise TypeError(f"{name}: the defjvps rules return tangents of different structures "
                        f"({a_def} and {b_def}); each must match the output")
    return unflatten(a_def, [x + y for x, y in zip(a_leaves, b_leaves, strict=True)])
