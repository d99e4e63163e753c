"""The functional front end of the reverse reference: vjp, grad, jacrev, covered."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..numpy_facts.trees import TreeDef, flatten, unflatten
from . import rules
from .node import Var, backward, inexact_dtype

Fun = Callable[..., Any]


def _as_primal(x: Any, where: str) -> np.ndarray[Any, Any]:
    """An input as a leaf value: integers become float64, bools are refused."""
    if isinstance(x, Var):
        raise TypeError(f"{where} is already a reverse Var; nesting is not supported by the reference")
    if isinstance(x, (bool, np.bool_)):
        raise TypeError(f"{where} is boolean and has no derivative")
    try:
        array = np.asarray(x)
    except (TypeError, ValueError):
        raise TypeError(f"{where} is a {type(x).__name__}, not an array or a number") from None
    kind = array.dtype.kind
    if kind in "iu":
        return array.astype(np.float64)
    if kind not in "fc":
        raise TypeError(f"{where} has dtype {array.dtype}; derivatives need float or complex inputs")
    return array


def _plain(x: Any) -> Any:
    """A Var's value as NumPy would return it (a NumPy scalar for 0-d)."""
    if isinstance(x, Var):
        return x.value[()] if x.value.ndim == 0 else x.value
    return x


def _is_node(tree: Any) -> bool:
    return isinstance(tree, (tuple, list, dict))


def _flatten(tree: Any) -> tuple[list[Any], Callable[[Sequence[Any]], Any]]:
    """The leaves of a pytree (numpy_facts.trees, as the forward mode reads one), and how to rebuild."""
    leaves, treedef = flatten(tree)
    return leaves, lambda new: unflatten(treedef, list(new))


def _flatten_like(template: Any, tree: Any, where: str) -> list[Any]:
    """The leaves of ``tree``, which has the structure of ``template``; a ``None`` anywhere in
    ``tree`` stands for zeros of that whole part, and a list may stand for a tuple."""
    return _leaves_like(flatten(template)[1], tree, where)


def _leaves_like(treedef: TreeDef, tree: Any, where: str) -> list[Any]:
    if treedef.kind == "leaf":
        return [tree]
    if treedef.kind == "none":
        return []
    if tree is None:
        return [None] * treedef.num_leaves
    if treedef.kind == "dict":
        keys = list(treedef.meta)
        if not isinstance(tree, dict) or set(tree) != set(keys):
            raise ValueError(f"{where}: the output is a dict with keys {keys}; pass a cotangent dict "
                             f"with the same keys")
        return [leaf for k, child in zip(keys, treedef.children, strict=True)
                for leaf in _leaves_like(child, tree[k], f"{where}[{k!r}]")]
    n = len(treedef.children)
    if not isinstance(tree, (tuple, list)) or len(tree) != n:
        kind = treedef.meta.__name__ if treedef.kind == "namedtuple" else treedef.kind
        raise ValueError(f"{where}: the output is a {kind} of {n} entries; pass a tuple of {n} cotangents")
    return [leaf for k, child in enumerate(treedef.children)
            for leaf in _leaves_like(child, tree[k], f"{where}[{k!r}]")]


def vjp(f: Fun, *primals: Any) -> tuple[Any, Callable[[Any], tuple[Any, ...]]]:
    """Value of ``f`` at ``primals`` and its vector-Jacobian product, by reverse mode.

    Parameters
    ----------
    f : callable
        A function of ``len(primals)`` arrays written with NumPy. It returns an
        array, or tuples, lists or dicts of arrays (nested freely).
    *primals : array_like or pytree
        The point: arrays and numbers, or tuples, lists and dicts of them (nested
        freely). Integers are promoted to float64; float32 and complex stay.

    Returns
    -------
    out : ndarray or tuple or list or dict
        ``f(*primals)``, computed by NumPy (Vars replaced by their values).
    vjp_fn : callable
        ``vjp_fn(cotangent)`` returns a tuple with one cotangent per primal, of
        the primal's shape and dtype (the primal's structure, for a pytree). ``cotangent`` matches ``out``: an array of
        its shape, or the same nesting of tuples, lists and dicts (``None`` for
        an output to ignore; outputs without derivative, such as integers, are
        ignored). A real output needs a real cotangent.

    Notes
    -----
    ``vjp_fn`` is the adjoint of the JVP for the real inner product
    ``<u, v> = Re(sum(conj(u) * v))``: ``<w, J v> = <vjp_fn(w), v>``. For a
    holomorphic ``f`` with complex Jacobian ``J`` it returns ``conj(J).T @ w``;
    for real ``f`` the gradient of ``Re(vdot(w, f(x)))``; for a real function
    of a complex ``z = x + iy`` it returns ``df/dx + i df/dy``.

    Examples
    --------
    >>> import numpy as np
    >>> from dualnumpy import reverse
    >>> out, vjp_fn = reverse.vjp(lambda x, y: np.sin(x) * y, np.array([0.0, 1.0]), 2.0)
    >>> vjp_fn(np.array([1.0, 1.0]))
    (array([2.        , 1.08060461]), np.float64(0.8414709848078965))
    """
    leaves: list[Var] = []
    rebuilds = []
    trees = []
    for i, primal in enumerate(primals):
        plain, rebuild_primal = _flatten(primal)
        start = len(leaves)
        leaves.extend(Var(_as_primal(p, f"primal {i}" + (f" leaf {j}" if len(plain) > 1 or _is_node(primal)
                                                              else "")))
                      for j, p in enumerate(plain))
        rebuilds.append((start, len(leaves), rebuild_primal))
        trees.append(rebuild_primal(leaves[start:]))
    result = f(*trees)
    outs, rebuild = _flatten(result)
    out = rebuild([_plain(o) for o in outs])

    def vjp_fn(cotangent: Any) -> tuple[Any, ...]:
        cots = _flatten_like(result, cotangent, "vjp_fn: cotangent")
        roots = []
        for i, (o, c) in enumerate(zip(outs, cots, strict=True)):
            if not isinstance(o, Var) or c is None:
                continue
            c = np.asarray(c)
            if c.shape != o.shape:
                raise ValueError(f"vjp_fn: cotangent leaf {i} has shape {c.shape}, but output leaf {i} "
                                 f"has shape {o.shape}")
            if c.dtype.kind == "c" and o.dtype.kind != "c":
                raise TypeError(f"vjp_fn: cotangent leaf {i} is complex but output leaf {i} is real; "
                                f"pass a real cotangent")
            if c.dtype.kind not in "iufc":
                raise TypeError(f"vjp_fn: cotangent leaf {i} has dtype {c.dtype}; pass numbers")
            roots.append((o, c.astype(inexact_dtype(o.dtype), copy=False)))
        grads = backward(roots, leaves) if roots else [None] * len(leaves)
        finished = []
        for leaf, g in zip(leaves, grads, strict=True):
            array = np.zeros(leaf.shape, inexact_dtype(leaf.dtype)) if g is None else np.array(g)
            finished.append(array[()] if array.ndim == 0 else array)
        return tuple(rebuild_primal(finished[start:stop]) for start, stop, rebuild_primal in rebuilds)

    return out, vjp_fn


def _argnums(argnums: int | Sequence[int], nargs: int, name: str) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for n in nums:
        if not isinstance(n, int) or not -nargs <= n < nargs:
            raise ValueError(f"{name}: argnums {argnums!r} is out of range for {nargs} arguments")
    return tuple(n % nargs for n in nums)


def _partial_vjp(f: Fun, args: tuple[Any, ...], kwargs: dict[str, Any], nums: tuple[int, ...]
                 ) -> tuple[Any, Callable[[Any], tuple[Any, ...]]]:
    """vjp with respect to the arguments ``nums`` only; the others are constants."""

    def restricted(*diff: Any) -> Any:
        full = list(args)
        for n, d in zip(nums, diff, strict=True):
            full[n] = d
        return f(*full, **kwargs)

    return vjp(restricted, *(args[n] for n in nums))


def grad(f: Fun, argnums: int | Sequence[int] = 0) -> Fun:
    """The gradient of a real scalar function, by one reverse pass.

    Parameters
    ----------
    f : callable
        Returns a real scalar.
    argnums : int or tuple of int
        Which positional arguments to differentiate; a tuple gives a tuple of
        gradients.

    Examples
    --------
    >>> import numpy as np
    >>> from dualnumpy import reverse
    >>> reverse.grad(lambda x: np.sum(x ** 2))(np.array([1.0, 2.0]))
    array([2., 4.])
    >>> reverse.grad(lambda a, b: a * b, argnums=(0, 1))(3, 4)
    (np.float64(4.0), np.float64(3.0))
    """

    @functools.wraps(f)
    def grad_f(*args: Any, **kwargs: Any) -> Any:
        nums = _argnums(argnums, len(args), "grad")
        out, vjp_fn = _partial_vjp(f, args, kwargs, nums)
        if _is_node(out):
            raise TypeError(f"grad needs a function with a scalar output; got a {type(out).__name__}. "
                            f"Use vjp or jacrev")
        value = np.asarray(out)
        if value.shape != ():
            raise TypeError(f"grad needs a function with a scalar output; got shape {value.shape}. "
                            f"Use jacrev for arrays")
        if value.dtype.kind not in "iuf":
            raise TypeError(f"grad needs a real output; got dtype {value.dtype}")
        grads = vjp_fn(np.ones((), dtype=inexact_dtype(value.dtype)))
        return grads[0] if isinstance(argnums, int) else grads

    return grad_f


def jacrev(f: Fun, argnums: int | Sequence[int] = 0) -> Fun:
    """The Jacobian by reverse mode: one backward pass per output element.

    Each Jacobian has the shape ``out.shape + in.shape``. With a tuple
    ``argnums`` each output's Jacobian is a tuple over the arguments; several
    outputs (tuples, lists, dicts) give the same structure of Jacobians, and an argument that
    is a pytree gets a Jacobian per leaf in its structure. Inputs must be real; a complex
    output gets a complex Jacobian (two passes per element, for the real and
    imaginary parts).

    Examples
    --------
    >>> import numpy as np
    >>> from dualnumpy import reverse
    >>> reverse.jacrev(lambda x: x[::-1] * 2)(np.array([1.0, 2.0]))
    array([[0., 2.],
           [2., 0.]])
    """

    @functools.wraps(f)
    def jacobian_f(*args: Any, **kwargs: Any) -> Any:
        nums = _argnums(argnums, len(args), "jacrev")
        out, vjp_fn = _partial_vjp(f, args, kwargs, nums)
        input_trees = [_flatten(args[n]) for n in nums]
        inputs = [_as_primal(leaf, f"argument {n}") for n, (leaves_n, _) in zip(nums, input_trees, strict=True)
                  for leaf in leaves_n]
        owner = [j for j, (leaves_n, _) in enumerate(input_trees) for _ in leaves_n]
        for j, x in zip(owner, inputs, strict=True):
            if x.dtype.kind == "c":
                raise TypeError(f"jacrev: argument {nums[j]} is complex; jacrev differentiates real inputs. "
                                f"Use vjp (the adjoint of the JVP) for complex inputs")

        def flat_pull(cotangent: Any) -> list[Any]:
            return [leaf for tree, (_, _) in zip(vjp_fn(cotangent), input_trees, strict=True)
                    for leaf in _flatten(tree)[0]]

        leaves, rebuild = _flatten(out)
        outs = [np.asarray(o) for o in leaves]
        jacobians = []
        for k, o in enumerate(outs):
            rows: list[list[Any]] = [[] for _ in inputs]
            differentiable = o.dtype.kind in "fc"
            parts = [1.0, 1j] if o.dtype.kind == "c" else [1.0]
            for idx in np.ndindex(*o.shape) if differentiable else ():
                pulled = []
                for unit in parts:
                    seed = np.zeros(o.shape, dtype=o.dtype)
                    seed[idx] = unit
                    pulled.append(flat_pull(rebuild([seed if j == k else None for j in range(len(outs))])))
                for j in range(len(inputs)):
                    row = np.asarray(pulled[0][j])
                    if len(pulled) == 2:
                        row = row + 1j * np.asarray(pulled[1][j])
                    rows[j].append(row)
            per_input = []
            for j, x in enumerate(inputs):
                dtype = np.result_type(o.dtype if differentiable else np.float64, x.dtype)
                block = (np.stack(rows[j]).astype(dtype) if rows[j]
                         else np.zeros((o.size, *x.shape), dtype=dtype))
                jac = np.reshape(block, o.shape + x.shape)
                per_input.append(jac[()] if jac.ndim == 0 else jac)
            per_argument, start = [], 0
            for leaves_n, rebuild_n in input_trees:
                per_argument.append(rebuild_n(per_input[start:start + len(leaves_n)]))
                start += len(leaves_n)
            jacobians.append(per_argument[0] if isinstance(argnums, int) else tuple(per_argument))
        return rebuild(jacobians)

    return jacobian_f


def covered() -> dict[str, list[str]]:
    """What the reference has VJP rules for.

    Returns
    -------
    dict
        ``"ufuncs"`` (ufunc names as NumPy spells them, ``"sin"``),
        ``"ufunc.reduce"`` and ``"ufunc.accumulate"`` (the ufuncs whose methods
        are covered), ``"functions"`` (NumPy functions by their path under
        ``numpy``: ``"sum"``, ``"linalg.inv"``) and ``"methods"`` (Var indexing
        and functional updates). Anything else raises :class:`NoReference`.

    Examples
    --------
    >>> from dualnumpy import reverse
    >>> "sin" in reverse.covered()["ufuncs"], "linalg.det" in reverse.covered()["functions"]
    (True, True)
    """
    return rules.covered()
