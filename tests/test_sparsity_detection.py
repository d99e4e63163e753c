"""Sparsity detection (dualnumpy.jacobian_sparsity, hessian_sparsity), generated from the tables.

Every differentiable rule line is checked at its samples: the detected Jacobian pattern
contains every nonzero of the dense Jacobian (``jacfwd``) at the sample and at a second
point, so a rule whose structural fact is wrong fails here; for rules that only move
elements and for ufuncs (elementwise) the pattern is exact. The Hessian pattern contains
every nonzero of ``hessian`` of a weighted sum of the outputs.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

pytest.importorskip("scipy", reason="sparsity patterns are scipy.sparse matrices (dualnumpy[sparse])")

import dualnumpy as dn
from dualnumpy.numpy_facts.sampling import Sample
from dualnumpy.numpy_facts.signatures import public_name
from dualnumpy.numpy_facts.trees import flatten
from dualnumpy.rules import UFUNC_RULES, Domain, Linear
from dualnumpy.rules.functions import FUNCTION_RULES
from dualnumpy.rules.kinds import DIFFERENTIABLE_KINDS, Dependence
from dualnumpy.sparsity.tracing import PIECEWISE_LINEAR_FUNCTIONS, Dependent, Traced

RULES = sorted(FUNCTION_RULES.items(), key=lambda item: public_name(item[0]))
CASES = [pytest.param(f, s, id=f"{public_name(f)}-{i}") for f, r in RULES
         if isinstance(r, DIFFERENTIABLE_KINDS) for i, s in enumerate(r.samples)]
UFUNCS = sorted((uf for uf, r in UFUNC_RULES.items() if isinstance(r, DIFFERENTIABLE_KINDS)),
                key=lambda uf: uf.__name__)


def _get(args: tuple[Any, ...], path: Any) -> Any:
    return args[path] if isinstance(path, int) else args[path[0]][path[1]]


def _put(args: tuple[Any, ...], path: Any, value: Any) -> tuple[Any, ...]:
    out = list(args)
    if isinstance(path, int):
        out[path] = value
    else:
        seq = list(out[path[0]])
        seq[path[1]] = value
        out[path[0]] = type(args[path[0]])(seq)
    return tuple(out)


class Flattened:
    """A sample as a function of one vector: its dual arguments end to end, its inexact
    outputs raveled and concatenated."""

    def __init__(self, func: Any, s: Sample) -> None:
        self.func, self.s = func, s
        self.shapes = [np.shape(_get(s.args, p)) for p in s.duals]
        self.sizes = [int(np.prod(sh)) for sh in self.shapes]
        self.x = np.concatenate([np.ravel(np.asarray(_get(s.args, p), dtype=np.float64))
                                 for p in s.duals])

    def __call__(self, v: Any) -> Any:
        args, at = self.s.args, 0
        for path, shape, size in zip(self.s.duals, self.shapes, self.sizes, strict=True):
            args = _put(args, path, np.reshape(v[at:at + size], shape))
            at += size
        # like=LIKE stands for "the number under test": the traced array or the Dual
        kwargs = {key: v if key == "like" and isinstance(value, dn.Dual) else value
                  for key, value in self.s.kwargs.items()}
        leaves, _ = flatten(self.func(*args, **kwargs))
        inexact = [np.ravel(leaf) for leaf in leaves if _inexact(leaf)]
        if not inexact:
            pytest.skip("no output with a derivative")
        return np.concatenate([np.real(leaf) if _complex(leaf) else leaf for leaf in inexact]
                              ) if len(inexact) > 1 else (np.real(inexact[0]) if _complex(inexact[0]) else inexact[0])


def _plain(leaf: Any) -> Any:
    if isinstance(leaf, Traced):
        return leaf._value
    return leaf.value if isinstance(leaf, (Dependent, dn.Dual)) else leaf


def _inexact(leaf: Any) -> bool:
    value = _plain(leaf)
    try:
        return np.result_type(value).kind in "fc"
    except TypeError:
        return False


def _complex(leaf: Any) -> bool:
    return np.result_type(_plain(leaf)).kind == "c"


def _pattern(f: Any, x: Any, kind: str) -> tuple[Any, bool]:
    """The detected pattern, global where the function allows it, else local at x."""
    detect = dn.jacobian_sparsity if kind == "jacobian" else dn.hessian_sparsity
    try:
        return detect(f, x).toarray(), True
    except TypeError as e:
        assert "local=True" in str(e), f"a refusal must name the local mode: {e}"
        return detect(f, x, local=True).toarray(), False


def _nonzero(m: Any) -> Any:
    m = np.asarray(m)
    return np.abs(m) > 1e-12 * (1.0 + np.max(np.abs(m), initial=0.0))


@pytest.mark.parametrize(("func", "s"), CASES)
def test_jacobian_pattern_contains_every_dependency(func: Any, s: Sample) -> None:
    f = Flattened(func, s)
    pattern, is_global = _pattern(f, f.x, "jacobian")
    jac = np.atleast_2d(dn.jacfwd(f)(f.x)).reshape(pattern.shape)
    missing = _nonzero(jac) & ~pattern
    assert not missing.any(), f"missing dependencies at {np.argwhere(missing)[:5].tolist()}"
    if is_global:  # a global pattern holds at another point too
        other = f.x * 0.9 + 0.05
        jac2 = np.atleast_2d(dn.jacfwd(f)(other)).reshape(pattern.shape)
        assert not (_nonzero(jac2) & ~pattern).any()
    rule = FUNCTION_RULES[func]
    if isinstance(rule, Linear) and rule.dependence is Dependence.GATHER and is_global:
        np.testing.assert_array_equal(pattern, _nonzero(jac), err_msg="a gather's pattern is exact")


HESSIAN_CASES = [c for c in CASES if np.size(Flattened(*c.values).x) <= 24]


@pytest.mark.parametrize(("func", "s"), HESSIAN_CASES)
def test_hessian_pattern_contains_every_entry(func: Any, s: Sample) -> None:
    f = Flattened(func, s)
    weights = np.random.default_rng(3).uniform(0.5, 1.5, np.size(f(f.x)))

    def scalar(v: Any) -> Any:
        return np.sum(weights * np.ravel(f(v)))

    pattern, _ = _pattern(scalar, f.x, "hessian")
    np.testing.assert_array_equal(pattern, pattern.T)
    missing = _nonzero(dn.hessian(scalar)(f.x)) & ~pattern
    assert not missing.any(), f"missing Hessian entries at {np.argwhere(missing)[:5].tolist()}"


@pytest.mark.parametrize("func", sorted(PIECEWISE_LINEAR_FUNCTIONS, key=public_name), ids=public_name)
def test_piecewise_linear_functions_have_no_curvature(func: Any) -> None:
    """The second-order fact the Hessian pattern relies on (in the first argument, ``a``),
    checked at the rule's samples."""
    rule = FUNCTION_RULES[func]
    for s in rule.samples:
        in_a = tuple(p for p in s.duals if (p if isinstance(p, int) else p[0]) == 0)
        if not in_a:
            continue
        f = Flattened(func, dataclasses.replace(s, duals=in_a))
        scalar = lambda v: np.sum(np.ravel(f(v)) * np.arange(1.0, 1.0 + np.size(f(f.x))))
        np.testing.assert_allclose(dn.hessian(scalar)(f.x), 0.0, atol=1e-9)


def _ufunc_inputs(uf: np.ufunc, seed: int) -> tuple[list[Any], list[int]]:
    dom = UFUNC_RULES[uf].domain
    assert isinstance(dom, Domain)
    rng = np.random.default_rng(seed)
    shape = (2, 3) if uf.signature is None else (3, 3)
    args, traced = [], []
    for i, (lo, hi) in enumerate(dom.intervals):
        if i in dom.integer_args:
            args.append(rng.integers(int(lo), int(hi) + 1, shape))
            continue
        args.append(rng.uniform(lo, hi, shape))
        if i not in dom.constant_args:
            traced.append(i)
    return args, traced


#: Ufuncs with a partial that is zero on an open set (the integer part of modf, the
#: quotient of divmod, heaviside's x, real sign): structurally the output depends on the
#: input, so the pattern keeps the entry, but no point shows a nonzero there.
VANISHING_PARTIALS = {np.divmod, np.fmod, np.heaviside, np.modf, np.remainder, np.sign}


@pytest.mark.parametrize("uf", UFUNCS, ids=lambda uf: uf.__name__)
def test_ufunc_patterns_are_exact(uf: np.ufunc) -> None:
    """Superset at every point; exact once the points cover every branch (maximum picks
    either input, clip the bound or x)."""
    seen = None
    for seed in range(16):
        args, traced = _ufunc_inputs(uf, seed)
        sizes = [args[i].size for i in traced]

        def f(v: Any, args: list[Any] = args, traced: list[int] = traced, sizes: list[int] = sizes) -> Any:
            call, at = list(args), 0
            for i, size in zip(traced, sizes, strict=True):
                call[i] = np.reshape(v[at:at + size], np.shape(args[i]))
                at += size
            out = uf(*call)
            outs = out if isinstance(out, tuple) else (out,)
            kept = [np.ravel(o) for o in outs if _inexact(o)]
            return np.concatenate(kept) if len(kept) > 1 else kept[0]

        x = np.concatenate([np.ravel(args[i]) for i in traced])
        pattern = dn.jacobian_sparsity(f, x).toarray()
        jac = _nonzero(dn.jacfwd(f)(x).reshape(pattern.shape))
        assert not (jac & ~pattern).any(), f"seed {seed}: missing dependencies"
        seen = jac if seen is None else seen | jac
    if uf.signature is None and uf not in VANISHING_PARTIALS:
        np.testing.assert_array_equal(pattern, seen, err_msg="an elementwise pattern is exact")
    if uf in VANISHING_PARTIALS:
        assert not np.array_equal(pattern, seen), "exact now: take it out of VANISHING_PARTIALS"
