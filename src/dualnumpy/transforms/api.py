"""The functional front end: jvp, derivative, grad, value_and_grad, jacfwd, hessian.

Each call seeds Duals with a fresh tag (DESIGN.md section 4), runs the user's
function, and reads the tangents of that tag back out of its outputs. jacfwd, grad
and hessian seed basis directions in chunks whose default size comes from a memory
budget (DEFAULT_CHUNK_BUDGET, set_chunk_budget) and write each chunk's tangents into
the final arrays.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from dualnumpy.core.dual import Dual
from dualnumpy.core.scalar import MAX_DIRECTIONS, ScalarDual, is_fast_scalar, make_scalar
from dualnumpy.core.tags import new_tag
from dualnumpy.core.tangent import dtype_of as _dtype_of
from dualnumpy.core.tangent import shape_of, tangent_dtype
from dualnumpy.numpy_facts.trees import TreeDef, flatten, unflatten

Fun = Callable[..., Any]


# ---------------------------------------------------------------- seeding


def _as_primal(x: Any, where: str) -> Any:
    """An input as a differentiable value: integers become float64."""
    if isinstance(x, Dual):
        return x
    if isinstance(x, bool) or (isinstance(x, (np.ndarray, np.generic)) and x.dtype.kind == "b"):
        raise TypeError(f"{where} is boolean and has no derivative; pass it as a float, or close "
                        f"over it instead of differentiating with respect to it")
    if isinstance(x, int):
        return float(x)
    if isinstance(x, float | complex):
        return x
    if not isinstance(x, (np.ndarray, np.generic)):
        try:
            x = np.asarray(x)
        except (TypeError, ValueError):
            raise TypeError(f"{where} is a {type(x).__name__}, not an array or a number") from None
    kind = x.dtype.kind
    if kind in "iu":
        return x.astype(np.float64)
    if kind not in "fc":
        raise TypeError(f"{where} has dtype {x.dtype}; derivatives need float or complex inputs")
    return x


def _as_tangent(t: Any, primal: Any, where: str, batched: bool) -> Any:
    if isinstance(t, Dual):
        return t
    if not isinstance(t, (np.ndarray, np.generic)):
        try:
            t = np.asarray(t)
        except (TypeError, ValueError):
            raise TypeError(f"{where} is a {type(t).__name__}, not an array") from None
    kind = t.dtype.kind
    if kind not in "iufc":
        raise TypeError(f"{where} has dtype {t.dtype}; tangents must be float or complex "
                        f"(integers are promoted)")
    shape = shape_of(primal)
    expected = "(k, *" + str(shape) + ")" if batched else str(shape)
    if (shape_of(t)[1:] if batched else shape_of(t)) != shape or (batched and t.ndim != len(shape) + 1):
        raise ValueError(f"{where} has shape {shape_of(t)}, but its primal has shape {shape}: "
                         f"expected {expected}")
    if kind == "c" and _dtype_of(primal).kind != "c":
        raise TypeError(f"{where} is complex but its primal is real; make the primal complex")
    return t.astype(tangent_dtype(_dtype_of(primal)), copy=False)


def _read_out(leaf: Any, tag: int, lead: tuple[int, ...]) -> tuple[Any, Any]:
    """Primal and tangent of one output leaf for ``tag``; no dependence means zeros."""
    if isinstance(leaf, Dual):
        if leaf.tag == tag:
            return leaf.value, leaf.tangent
        if leaf.tag > tag:
            raise ValueError(
                f"the function returned a Dual of tag {leaf.tag}, newer than this "
                f"transform's tag {tag}: a perturbation escaped an inner transform (did an "
                f"inner function return a Dual it was given?)"
            )
    try:
        dtype = _dtype_of(leaf)
    except TypeError:  # a string, or another object NumPy has no dtype for
        dtype = np.dtype(object)
    if dtype.kind not in "biufc":
        raise TypeError(f"the function returned a {type(leaf).__name__} leaf of dtype {dtype}; "
                        f"outputs must be numbers or arrays (return extra data with has_aux=True)")
    return leaf, np.zeros(lead + shape_of(leaf), dtype=tangent_dtype(dtype))


def _split_aux(out: Any, has_aux: bool, name: str) -> tuple[Any, Any]:
    if not has_aux:
        return out, None
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise TypeError(f"{name}(has_aux=True) needs the function to return a pair "
                        f"(output, aux); got {type(out).__name__}")
    return out[0], out[1]


def _strip_tag(tree: Any, tag: int) -> Any:
    """Aux data goes back to the caller without this transform's perturbation."""
    leaves, treedef = flatten(tree)
    return unflatten(treedef, [x.value if isinstance(x, Dual) and x.tag == tag else x
                               for x in leaves])


# ---------------------------------------------------------------- jvp


def jvp(fun: Fun, primals: Sequence[Any], tangents: Sequence[Any], *, batched: bool = False,
        has_aux: bool = False) -> Any:
    """Jacobian-vector product of ``fun`` at ``primals`` along ``tangents``.

    Parameters
    ----------
    fun : callable
        A function of ``len(primals)`` arguments written with NumPy.
    primals, tangents : tuple
        The point and the direction, as tuples of pytrees (arrays, scalars,
        tuples, lists and dicts of them) of matching structure and shapes.
    batched : bool
        When True, every tangent leaf has a leading axis of k directions,
        ``(k, *primal.shape)``, and the output tangents get it too.
    has_aux : bool
        ``fun`` returns ``(output, aux)``; aux is returned without derivative.

    Returns
    -------
    (primal_out, tangent_out), or (primal_out, tangent_out, aux)

    Examples
    --------
    >>> import numpy as np
    >>> import dualnumpy as dn
    >>> dn.jvp(np.sin, (0.0,), (2.0,))
    (np.float64(0.0), np.float64(2.0))
    >>> y, T = dn.jvp(lambda x: x ** 2, (np.array([1.0, 2.0]),), (np.eye(2),), batched=True)
    >>> T
    array([[2., 0.],
           [0., 4.]])
    """
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError("jvp(f, primals, tangents) takes tuples of arguments, as jax.jvp does: "
                        "jvp(f, (x,), (t,))")
    p_leaves, p_def = flatten(tuple(primals))
    t_leaves, t_def = flatten(tuple(tangents))
    if p_def != t_def:
        raise ValueError(f"primals and tangents differ in structure: {p_def} against {t_def}")
    tag = new_tag()
    seeded: list[Dual] = []
    ks: set[int] = set()
    for i, (p, t) in enumerate(zip(p_leaves, t_leaves, strict=True)):
        p = _as_primal(p, f"primal leaf {i}")
        t = _as_tangent(t, p, f"tangent leaf {i}", batched)
        if batched:
            ks.add(shape_of(t)[0])
        if is_fast_scalar(p) and not isinstance(t, Dual) and t.dtype == np.float64 and t.size <= MAX_DIRECTIONS:
            seeded.append(make_scalar(np.float64(p), tuple(t.reshape(-1).tolist()), tag, batched))
        else:
            seeded.append(Dual(p, t, tag=tag))
    if len(ks) > 1:
        raise ValueError(f"batched tangents carry different numbers of directions {sorted(ks)}; "
                         f"every tangent leaf needs the same leading size k")
    out, aux = _split_aux(fun(*unflatten(p_def, seeded)), has_aux, "jvp")
    lead = (ks.pop() if ks else 0,) if batched else ()
    out_leaves, out_def = flatten(out)
    pairs = [_read_out(leaf, tag, lead) for leaf in out_leaves]
    primal_out = unflatten(out_def, [p for p, _ in pairs])
    tangent_out = unflatten(out_def, [t for _, t in pairs])
    if has_aux:
        return primal_out, tangent_out, _strip_tag(aux, tag)
    return primal_out, tangent_out


def derivative(fun: Fun, argnum: int = 0, *, has_aux: bool = False) -> Fun:
    """The derivative of ``fun`` with respect to one scalar argument.

    The output may be any pytree; each leaf's derivative has the leaf's shape.

    Examples
    --------
    >>> import numpy as np
    >>> import dualnumpy as dn
    >>> dn.derivative(lambda t: np.stack([np.cos(t), t ** 3]))(1.0)
    array([-0.84147098,  3.        ])
    >>> dn.derivative(dn.derivative(np.sin))(0.0)
    np.float64(-0.0)
    """

    @functools.wraps(fun)
    def derivative_fun(*args: Any, **kwargs: Any) -> Any:
        x = args[argnum]
        if shape_of(x) != ():
            raise TypeError(f"derivative needs a scalar argument {argnum}; got shape "
                            f"{shape_of(x)}: use jacfwd for array inputs")
        def partial_fun(x: Any) -> Any:
            return fun(*args[:argnum], x, *args[argnum + 1:], **kwargs)
        out = jvp(partial_fun, (x,), (1.0,), has_aux=has_aux)
        return (out[1], out[2]) if has_aux else out[1]

    return derivative_fun


# ---------------------------------------------------------------- basis passes

#: Bytes that the batched tangents of one pass may take by default (one tangent array of the
#: seeded inputs: ``chunk * n * itemsize``). ``jacfwd``, ``grad`` and ``hessian`` without
#: ``chunk_size`` seed as many directions per pass as fit; the Jacobian itself is written
#: into its final array chunk by chunk, so peak memory is about the output plus a few times
#: this (about five for sin(x) * x: 1.17x its Jacobian at n = 2000, where 2 MiB gives 1.33x).
#: A pass's temporaries of 1 MiB also stay in cache; much smaller chunks pay more in Python
#: per pass than they save.
DEFAULT_CHUNK_BUDGET = 1 << 20

_chunk_budget = DEFAULT_CHUNK_BUDGET

#: Chunked passes allocate and free the same few tangent arrays over and over. glibc's malloc
#: serves a block above its mmap threshold (128 KiB at start-up) with fresh pages from the
#: kernel, page-faulting on every pass, until a larger block is freed, which raises the
#: threshold (to at most 32 MiB) and the heap's trim threshold (to twice that). A program
#: that never frees a large array (a Hessian has a small output) would pay the faults on
#: every pass: 8,800 per call and 3.5x the time for the Rosenbrock Hessian at n = 100 on
#: the machine of issue 10. So the import frees one untouched block of this size, as any
#: large NumPy temporary would; no page of it is ever mapped. Other allocators ignore it.
ALLOCATOR_PRIMER_BYTES = 16 << 20


def _prime_allocator(nbytes: int) -> None:
    np.empty(nbytes, dtype=np.uint8)  # freed at once, never touched


_prime_allocator(ALLOCATOR_PRIMER_BYTES)


def chunk_budget() -> int:
    """The bytes per pass that choose the default ``chunk_size`` (see :func:`set_chunk_budget`)."""
    return _chunk_budget


def set_chunk_budget(nbytes: int | None) -> int:
    """Set the bytes per pass that choose the default ``chunk_size``; returns the old budget.

    ``jacfwd``, ``grad`` and ``hessian`` called without ``chunk_size`` seed
    ``max(1, nbytes // (n * itemsize))`` basis directions per pass (n inputs; after the
    first pass the output's size counts too, when it is larger). ``None`` restores
    :data:`DEFAULT_CHUNK_BUDGET`. An explicit ``chunk_size`` always wins.

    Examples
    --------
    >>> import numpy as np
    >>> import dualnumpy as dn
    >>> old = dn.set_chunk_budget(64)  # 64 bytes: one float64 direction of 8 inputs per pass
    >>> dn.jacfwd(lambda x: x ** 2)(np.arange(8.0)).shape
    (8, 8)
    >>> _ = dn.set_chunk_budget(old)
    """
    global _chunk_budget
    if nbytes is None:
        nbytes = DEFAULT_CHUNK_BUDGET
    if isinstance(nbytes, bool) or not isinstance(nbytes, (int, np.integer)) or nbytes < 1:
        raise ValueError(f"the chunk budget must be a positive number of bytes or None; got {nbytes!r}")
    old, _chunk_budget = _chunk_budget, int(nbytes)
    return old


def _check_chunk_size(chunk_size: Any) -> int | None:
    if chunk_size is not None and (isinstance(chunk_size, bool)
                                   or not isinstance(chunk_size, (int, np.integer))
                                   or chunk_size < 1):
        raise ValueError(f"chunk_size must be a positive int or None; got {chunk_size!r}")
    return None if chunk_size is None else int(chunk_size)


def _direction_bytes(x: Any) -> int:
    """Bytes one seeded direction costs per element of ``x``: its tangent's itemsize, times
    the directions of the Duals it carries (nesting: an inner tangent holds the outer ones)."""
    if isinstance(x, Dual):
        t = x.tangent
        k = shape_of(t)[0] if len(shape_of(t)) != len(shape_of(x.value)) else 1
        return _direction_bytes(x.value) * (1 + k)
    return int(tangent_dtype(_dtype_of(x)).itemsize)


def _argnums(argnums: int | Sequence[int], nargs: int, name: str) -> tuple[int, ...]:
    if isinstance(argnums, int) and not isinstance(argnums, bool):
        nums: tuple[Any, ...] = (argnums,)
    elif isinstance(argnums, (tuple, list)):
        nums = tuple(argnums)
    else:
        nums = (None,)
    for n in nums:
        if not isinstance(n, int) or isinstance(n, bool):
            raise TypeError(f"{name}: argnums must be an int or a tuple of ints; got "
                            f"{argnums!r}")
        if not -nargs <= n < nargs:
            raise ValueError(f"{name}: argnums {argnums!r} is out of range for {nargs} "
                             f"positional arguments; pick positions from {-nargs} to "
                             f"{nargs - 1} (keyword arguments are not differentiated)")
    return tuple(n % nargs for n in nums)


class _Seeding:
    """The differentiated inputs flattened, and one pass per chunk of basis directions."""

    def __init__(self, fun: Fun, args: tuple[Any, ...], kwargs: dict[str, Any],
                 nums: tuple[int, ...], name: str) -> None:
        self.fun, self.args, self.kwargs, self.nums = fun, list(args), kwargs, nums
        self.leaves, self.treedef = flatten(tuple(args[n] for n in nums))
        self.leaves = [_as_primal(x, f"{name}: input leaf {i}") for i, x in enumerate(self.leaves)]
        for i, leaf in enumerate(self.leaves):
            if _dtype_of(leaf).kind == "c":
                raise TypeError(f"{name}: input leaf {i} is complex; {name} seeds real directions "
                                f"only. Use jvp with complex tangents (holomorphic functions) or "
                                f"pass real and imaginary parts as separate inputs")
        self.sizes = [math.prod(shape_of(x)) for x in self.leaves]
        self.offsets = [0, *itertools.accumulate(self.sizes)]
        self.n = int(self.offsets[-1])
        self.fast = all(is_fast_scalar(x) for x in self.leaves)
        self.element_bytes = max((_direction_bytes(x) for x in self.leaves), default=8)

    def default_chunk(self, out_size: int) -> int:
        """Directions per pass within the budget, for outputs of ``out_size`` elements."""
        per_direction = max(self.n, out_size, 1) * self.element_bytes
        return max(1, min(self.n, _chunk_budget // per_direction))

    def run(self, lo: int, hi: int) -> tuple[Any, int]:
        """Call the function with basis directions lo..hi-1 seeded; return output and tag."""
        tag = new_tag()
        m = hi - lo
        seeded = []
        for leaf, offset, size in zip(self.leaves, self.offsets, self.sizes, strict=False):
            start, stop = max(lo, offset), min(hi, offset + size)
            if start >= stop:
                seeded.append(leaf)
                continue
            if self.fast and m <= MAX_DIRECTIONS:
                seeded.append(make_scalar(leaf, tuple([1.0 if i == offset - lo else 0.0
                                                       for i in range(m)]), tag, True))
                continue
            # this chunk's slice of the identity, never the whole n x n one
            t = np.zeros((m, size), dtype=tangent_dtype(_dtype_of(leaf)))
            rows = np.arange(start - lo, stop - lo)
            t[rows, np.arange(start - offset, stop - offset)] = 1
            seeded.append(Dual(leaf, t.reshape((m, *shape_of(leaf))), tag=tag))
        tree = unflatten(self.treedef, seeded)
        args = list(self.args)
        for n, sub in zip(self.nums, tree, strict=True):
            args[n] = sub
        return self.fun(*args, **self.kwargs), tag

    def per_input(self, stacked: Any, out_shape: tuple[int, ...], single: bool) -> Any:
        """Split ``(n, *out_shape)`` into the inputs' structure, each ``out_shape + in_shape``."""
        pieces = []
        for leaf, offset, size in zip(self.leaves, self.offsets, self.sizes, strict=False):
            block = stacked[offset:offset + size]
            block = np.moveaxis(block, 0, -1) if out_shape else block
            shape = out_shape + shape_of(leaf)
            pieces.append(np.reshape(block, shape) if shape else block[0])
        tree = unflatten(self.treedef, pieces)
        return tree[0] if single else tree


class _Block:
    """The Jacobian of one output leaf, filled chunk by chunk.

    Plain tangents are copied straight into the final arrays, one per input leaf, stored
    ``(in.size, out.size)`` so that each chunk's ``(k, *out_shape)`` tangent lands in
    contiguous rows; the result is that array viewed as ``out_shape + in_shape`` (for a
    vector function, the Fortran-ordered Jacobian). No pass's tangents outlive it.
    Tangents that are Duals of an outer transform (nesting) cannot live in an ndarray:
    they are kept per chunk and joined through NumPy's functions, which dispatch on them.
    """

    def __init__(self, seeding: _Seeding, value: Any) -> None:
        self.seeding = seeding
        self.out_shape = shape_of(value)
        self.size = math.prod(self.out_shape)
        self.arrays: list[np.ndarray[Any, Any]] | None = None
        self.chunks: list[Any] | None = None

    def _allocate(self, dtype: Any) -> None:
        self.arrays = [np.empty((size, self.size), dtype=dtype) for size in self.seeding.sizes]

    def _pieces(self, lo: int, hi: int) -> list[tuple[np.ndarray[Any, Any], int, int, int]]:
        """(array, first row, last row, first chunk row) of every input leaf in lo..hi-1."""
        assert self.arrays is not None
        s = self.seeding
        found = []
        for a, offset, size in zip(self.arrays, s.offsets[:-1], s.sizes, strict=True):
            start, stop = max(lo, offset), min(hi, offset + size)
            if start < stop:
                found.append((a, start - offset, stop - offset, start - lo))
        return found

    def write(self, lo: int, hi: int, t: Any) -> None:
        if self.chunks is None and type(t) is not np.ndarray:  # a Dual: join per chunk from here
            if lo and self.arrays is not None:
                done = [a[first:last] for a, first, last, _ in self._pieces(0, lo)]
                self.chunks = [np.concatenate(done).reshape((lo, *self.out_shape))]
            else:
                self.chunks = []
            self.arrays = None
        if self.chunks is not None:
            self.chunks.append(t)
            return
        if self.arrays is None:
            self._allocate(t.dtype)
        elif t.dtype != self.arrays[0].dtype:  # a later chunk of a wider dtype (complex)
            dtype = np.result_type(self.arrays[0].dtype, t.dtype)
            self.arrays = [a.astype(dtype) for a in self.arrays]
        rows = np.reshape(t, (hi - lo, self.size))
        for a, first, last, at in self._pieces(lo, hi):
            a[first:last] = rows[at:at + last - first]

    def result(self, single: bool) -> Any:
        s = self.seeding
        if self.chunks is not None:
            stacked = np.concatenate(self.chunks, axis=0) if len(self.chunks) > 1 else self.chunks[0]
            return s.per_input(stacked, self.out_shape, single)
        if self.arrays is None:  # no pass wrote (no inputs)
            self._allocate(np.float64)
        assert self.arrays is not None
        out_ndim = len(self.out_shape)
        pieces = []
        for a, leaf in zip(self.arrays, s.leaves, strict=True):
            in_shape = shape_of(leaf)
            block = a.reshape(in_shape + self.out_shape)
            if out_ndim:
                block = block.transpose((*range(len(in_shape), len(in_shape) + out_ndim),
                                         *range(len(in_shape))))
            pieces.append(block if in_shape or out_ndim else block[()])
        tree = unflatten(s.treedef, pieces)
        return tree[0] if single else tree


def _forward_jacobian(fun: Fun, argnums: int | Sequence[int], has_aux: bool,
                      chunk_size: int | None, name: str, args: tuple[Any, ...],
                      kwargs: dict[str, Any]) -> tuple[Any, TreeDef, list[_Block], Any]:
    """One pass per chunk of basis directions; the chunk from the budget unless given."""
    nums = _argnums(argnums, len(args), name)
    seeding = _Seeding(fun, args, kwargs, nums, name)
    explicit = _check_chunk_size(chunk_size)
    step = explicit if explicit is not None else seeding.default_chunk(0)
    out_def: TreeDef | None = None
    values: list[Any] = []
    blocks: list[_Block] = []
    aux = None
    lo = 0
    while True:
        hi = min(lo + step, seeding.n)
        out, tag = seeding.run(lo, hi)
        out, chunk_aux = _split_aux(out, has_aux, name)
        leaves, treedef = flatten(out)
        pairs = [_read_out(leaf, tag, (hi - lo,)) for leaf in leaves]
        if out_def is None:
            out_def, values = treedef, [p for p, _ in pairs]
            blocks = [_Block(seeding, v) for v in values]
            aux = _strip_tag(chunk_aux, tag) if has_aux else None
            if explicit is None and hi < seeding.n:  # a larger output counts against the budget
                step = seeding.default_chunk(sum(b.size for b in blocks))
        elif treedef != out_def or any(shape_of(p) != b.out_shape
                                       for (p, _), b in zip(pairs, blocks, strict=True)):
            raise ValueError(f"{name}: the function's output changed structure or shape between "
                             f"passes over chunks of directions ({out_def} against {treedef}); "
                             f"it must not depend on the seeding")
        for block, (_, t) in zip(blocks, pairs, strict=True):
            block.write(lo, hi, t)
        lo = hi
        if lo >= seeding.n:
            break
    assert out_def is not None
    return values, out_def, blocks, aux


# ---------------------------------------------------------------- grad and friends


_SCALAR_INPUTS = (float, int, np.float64)


@functools.cache
def _basis(k: int) -> tuple[tuple[float, ...], ...]:
    return tuple(tuple(1.0 if i == j else 0.0 for i in range(k)) for j in range(k))


def _check_scalar_output(value: Any, out_def: TreeDef) -> None:
    if out_def.kind != "leaf" or shape_of(value) != ():
        shape = shape_of(value) if out_def.kind == "leaf" else str(out_def)
        raise TypeError(f"grad needs a function with a scalar output; got {shape}. Use "
                        f"jacfwd for vector outputs, or reduce the output (np.sum) first")
    if _dtype_of(value).kind == "c":
        raise TypeError("grad needs a real scalar output; got a complex one. Use jacfwd, "
                        "or differentiate np.real(f) and np.imag(f) separately")


def _scalar_value_and_grad(fun: Fun, args: tuple[Any, ...], kwargs: dict[str, Any],
                           nums: tuple[int, ...], has_aux: bool, single: bool) -> Any:
    """grad when every differentiated argument is a real scalar: one pass of ScalarDuals."""
    tag = new_tag()
    call_args = list(args)
    for seed, n in zip(_basis(len(nums)), nums, strict=True):
        call_args[n] = make_scalar(np.float64(args[n]), seed, tag, True)
    out, aux = _split_aux(fun(*call_args, **kwargs), has_aux, "grad")
    if type(out) is ScalarDual and out.tag == tag:
        value, gradient = out.value, tuple([np.float64(g) for g in out._t])
    else:
        leaves, out_def = flatten(out)
        value, t = _read_out(leaves[0], tag, (len(nums),)) if len(leaves) == 1 else (out, None)
        _check_scalar_output(value, out_def)
        assert t is not None  # _check_scalar_output refused anything but one scalar leaf
        # t may be a Dual of an outer transform (nesting): index it, never np.asarray it
        gradient = tuple(t[i] for i in range(len(nums)))
    if has_aux:
        value = (value, _strip_tag(aux, tag))
    return value, (gradient[0] if single else gradient)


def value_and_grad(fun: Fun, argnums: int | Sequence[int] = 0, has_aux: bool = False,
                   chunk_size: int | None = None) -> Fun:
    """Like :func:`grad`, returning ``(value, gradient)`` (``((value, aux), gradient)``).

    Examples
    --------
    >>> import numpy as np
    >>> import dualnumpy as dn
    >>> dn.value_and_grad(lambda x: np.sum(x ** 2))(np.array([1.0, 2.0]))
    (np.float64(5.0), array([2., 4.]))
    """
    chunk_size = _check_chunk_size(chunk_size)

    @functools.wraps(fun)
    def value_and_grad_fun(*args: Any, **kwargs: Any) -> Any:
        nums = _argnums(argnums, len(args), "grad")
        if (len(nums) <= MAX_DIRECTIONS and (chunk_size is None or chunk_size >= len(nums))
                and all(type(args[n]) in _SCALAR_INPUTS for n in nums)):
            return _scalar_value_and_grad(fun, args, kwargs, nums, has_aux, isinstance(argnums, int))
        values, out_def, blocks, aux = _forward_jacobian(
            fun, argnums, has_aux, chunk_size, "grad", args, kwargs)
        _check_scalar_output(values[0], out_def)
        gradient = blocks[0].result(isinstance(argnums, int))
        value = values[0]
        return ((value, aux) if has_aux else value), gradient

    return value_and_grad_fun


def grad(fun: Fun, argnums: int | Sequence[int] = 0, has_aux: bool = False,
         chunk_size: int | None = None) -> Fun:
    """The gradient of a scalar function, by forward mode over basis directions.

    Parameters
    ----------
    fun : callable
        Returns a real scalar.
    argnums : int or tuple of int
        Which positional arguments to differentiate; each may be a pytree.
    has_aux : bool
        ``fun`` returns ``(value, aux)``; the gradient function then returns
        ``(gradient, aux)``.
    chunk_size : int, optional
        At most this many directions per pass (bounds memory; the same result for
        every chunk size). By default as many as the budget allows
        (:func:`set_chunk_budget`, 1 MiB of tangents per pass).

    Examples
    --------
    >>> import numpy as np
    >>> import dualnumpy as dn
    >>> dn.grad(lambda x: np.sum(np.sin(x)))(np.array([0.0, np.pi]))
    array([ 1., -1.])
    >>> dn.grad(lambda a, b: a * b, argnums=(0, 1))(3, 4)
    (np.float64(4.0), np.float64(3.0))
    """
    value_and_grad_fun = value_and_grad(fun, argnums, has_aux, chunk_size)

    @functools.wraps(fun)
    def grad_fun(*args: Any, **kwargs: Any) -> Any:
        value, gradient = value_and_grad_fun(*args, **kwargs)
        return (gradient, value[1]) if has_aux else gradient

    return grad_fun


def jacfwd(fun: Fun, argnums: int | Sequence[int] = 0, has_aux: bool = False,
           chunk_size: int | None = None) -> Fun:
    """The Jacobian by forward mode: one batched pass per chunk of basis directions.

    Each output leaf gets the shape ``out.shape + in.shape``; with several
    inputs (a tuple ``argnums`` or a pytree argument) each output leaf holds
    the inputs' structure. Without ``chunk_size`` the chunk is chosen from the
    memory budget (:func:`set_chunk_budget`): about ``budget // (n * 8)``
    directions of n float64 inputs per pass, fewer when the output is larger than
    the input. Each chunk is written into the result as it is computed, so the
    peak memory is close to the size of the Jacobian itself.

    Examples
    --------
    >>> import numpy as np
    >>> import dualnumpy as dn
    >>> dn.jacfwd(lambda x: x[::-1] * 2)(np.array([1.0, 2.0]))
    array([[0., 2.],
           [2., 0.]])
    """
    chunk_size = _check_chunk_size(chunk_size)

    @functools.wraps(fun)
    def jacobian_fun(*args: Any, **kwargs: Any) -> Any:
        _, out_def, blocks, aux = _forward_jacobian(
            fun, argnums, has_aux, chunk_size, "jacfwd", args, kwargs)
        single = isinstance(argnums, int)
        jac = unflatten(out_def, [b.result(single) for b in blocks])
        return (jac, aux) if has_aux else jac

    return jacobian_fun


def hessian(fun: Fun, argnums: int | Sequence[int] = 0, has_aux: bool = False,
            chunk_size: int | None = None) -> Fun:
    """The Hessian, forward over forward: shape ``x.shape + x.shape`` for one array input.

    ``chunk_size`` applies to both levels. By default each level takes what the
    memory budget allows; the inner level counts the outer directions its
    tangents carry (k outer directions make each inner direction k + 1 times
    as large).

    Examples
    --------
    >>> import numpy as np
    >>> import dualnumpy as dn
    >>> dn.hessian(lambda x: x[0] ** 2 * x[1])(np.array([1.0, 2.0]))
    array([[4., 2.],
           [2., 0.]])
    """
    inner = jacfwd(fun, argnums, has_aux, chunk_size)
    return jacfwd(inner, argnums, has_aux, chunk_size)
