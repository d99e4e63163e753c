"""The harness over the rule tables: one case per differentiable rule line and sample.

Ufunc rules are checked at points drawn (with a fixed seed) from the inner part of each
rule's ``domain``, on shapes that broadcast (``(2, 3)`` against ``(3,)``; generalised
ufuncs get their core dimensions from the signature plus a loop dimension); rules with
``complex_ok`` are checked at complex points too. Function rules are checked at their
``samples``. Rules without a derivative are checked to give plain NumPy results; refused
ones to raise a TypeError. ``python -m dualnumpy check`` prints the rows.
"""

from __future__ import annotations

import importlib
import math
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dualnumpy import rules, testing
from dualnumpy.core.dual import Dual
from dualnumpy.numpy_facts.sampling import Domain, Sample
from dualnumpy.numpy_facts.signatures import public_name
from dualnumpy.numpy_facts.trees import flatten
from dualnumpy.rules import kinds as _kinds

#: Imaginary parts of complex sample points stay in [-IMAG, IMAG] (clear of arctan's +-i).
IMAG = 0.5
SEED = 20240601


@dataclass
class Case:
    """One row: a rule at one point, with what to check there."""

    name: str
    kind: str
    check: str  # "derivative", "nondiff", "refused"
    f: Callable[..., Any] | None = None
    args: tuple[Any, ...] = ()
    rtol: float = 1e-6
    backend: Callable[[Any], Callable[..., Any]] | None = None  # backend numpy -> f under it
    note: str = ""


@dataclass
class Row:
    """A checked case: the cells of the printed table and the report behind them."""

    name: str
    kind: str
    rev: str
    fd: str
    verdict: str
    status: str  # "agree", "disagree", "error", "no derivative", "refused", "unchecked"
    seconds: float
    report: testing.Report | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def to_dict(self, with_values: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"rule": self.name, "kind": self.kind, "fwd_vs_rev": self.rev,
                               "fwd_vs_fd": self.fd, **{f"fwd_vs_{k}": v for k, v in self.extra.items()},
                               "verdict": self.verdict, "status": self.status,
                               "seconds": round(self.seconds, 6)}
        if self.report is not None:
            out["report"] = self.report.to_dict(with_values)
        return out


# ---------------------------------------------------------------- ufunc cases


def _core_shapes(signature: str) -> list[tuple[int, ...]]:
    """Input shapes for a gufunc signature: distinct sizes per letter, a loop axis of 2 first."""
    inputs = signature.split("->")[0]
    sizes: dict[str, int] = {}
    shapes = []
    for k, group in enumerate(re.findall(r"\(([^)]*)\)", inputs)):
        dims = [d.strip().rstrip("?") for d in group.split(",") if d.strip()]
        shape = tuple(sizes.setdefault(d, len(sizes) + 2) for d in dims)
        shapes.append(((2,) if k == 0 else ()) + shape)
    return shapes


def _draw(rng: np.random.Generator, interval: tuple[float, float], shape: tuple[int, ...],
          integer: bool) -> Any:
    lo, hi = interval
    if integer:
        return rng.integers(math.ceil(lo), math.floor(hi) + 1, size=shape)
    return lo + (hi - lo) * (0.1 + 0.8 * rng.uniform(size=shape))  # clear of the interval's ends


def _ufunc_case(uf: np.ufunc, rule: Any, complex_: bool, rng: np.random.Generator) -> Case:
    dom: Domain = rule.domain
    nin = uf.nin
    shapes = _core_shapes(uf.signature) if uf.signature else [(2, 3)] + [(3,)] * (nin - 1)
    values = []
    for i in range(nin):
        x = _draw(rng, dom.intervals[i], shapes[i], i in dom.integer_args)
        if complex_ and i not in dom.integer_args:
            x = x + 1j * rng.uniform(-IMAG, IMAG, size=shapes[i])
        values.append(x)
    constant = set(dom.constant_args) | set(dom.integer_args)
    free = [i for i in range(nin) if i not in constant]

    def call(op: Callable[..., Any]) -> Callable[..., Any]:
        def f(*xs: Any) -> Any:
            full = list(values)
            for i, x in zip(free, xs, strict=True):
                full[i] = x
            return op(*full)

        return f

    def backend(module: Any) -> Callable[..., Any]:
        return call(testing._backend_attr(module, uf))

    suffix = " (complex)" if complex_ else ""
    return Case(f"np.{uf.__name__}{suffix}", type(rule).__name__, "derivative", call(uf),
                tuple(values[i] for i in free), dom.rtol, backend)


def _ufunc_cases(rng: np.random.Generator) -> Iterator[Case]:
    for uf, rule in sorted(rules.UFUNC_RULES.items(), key=lambda item: item[0].__name__):
        name = f"np.{uf.__name__}"
        kind = type(rule).__name__
        if isinstance(rule, _kinds.Unsupported):
            yield Case(name, kind, "refused", uf, tuple(rng.uniform(-3, 3, 3) for _ in range(uf.nin)))
        elif isinstance(rule, _kinds.NonDiff):
            yield Case(name, kind, "nondiff", uf, tuple(rng.uniform(-3, 3, 3) for _ in range(uf.nin)))
        elif isinstance(rule, _kinds.DIFFERENTIABLE_KINDS):
            if not isinstance(getattr(rule, "domain", None), Domain):
                yield Case(name, kind, "derivative", note="the rule has no domain to sample")
                continue
            yield _ufunc_case(uf, rule, False, rng)
            if rule.domain.complex_ok:  # type: ignore[union-attr]  # a Domain, checked above
                yield _ufunc_case(uf, rule, True, rng)
        else:
            yield Case(name, kind, "unchecked", note=f"unknown rule kind {kind}")


# ---------------------------------------------------------------- function cases


def _get(args: tuple[Any, ...], path: int | tuple[int, int]) -> Any:
    return args[path] if isinstance(path, int) else args[path[0]][path[1]]


def _with(args: tuple[Any, ...], paths: Sequence[int | tuple[int, int]], xs: Sequence[Any]) -> list[Any]:
    out = list(args)
    for path, x in zip(paths, xs, strict=True):
        if isinstance(path, int):
            out[path] = x
        else:
            seq = list(out[path[0]])
            seq[path[1]] = x
            out[path[0]] = type(args[path[0]])(seq)
    return out


def _function_case(func: Any, rule: Any, s: Sample, index: int, complex_: bool,
                   rng: np.random.Generator) -> Case:
    name = f"{public_name(func)}#{index}" + (" (complex)" if complex_ else "")
    paths = list(s.duals)
    points = []
    for path in paths:
        x = np.asarray(_get(s.args, path), dtype=np.float64)
        if complex_:
            x = x + 1j * rng.uniform(-IMAG, IMAG, size=x.shape)
        points.append(x if x.ndim else x[()])

    def call(op: Callable[..., Any]) -> Callable[..., Any]:
        def f(*xs: Any) -> Any:
            return op(*_with(s.args, paths, xs), **s.kwargs)

        return f

    def backend(module: Any) -> Callable[..., Any]:
        return call(testing._backend_attr(module, func))

    return Case(name, type(rule).__name__, "derivative", call(func), tuple(points), s.rtol, backend)


def _function_cases(rng: np.random.Generator) -> Iterator[Case]:
    ordered = sorted(rules.FUNCTION_RULES.items(), key=lambda item: public_name(item[0]))
    for func, rule in ordered:
        name = public_name(func)
        kind = type(rule).__name__
        samples: tuple[Sample, ...] = rule.samples
        if isinstance(rule, (_kinds.Unsupported, _kinds.NonDiff)):
            check = "refused" if isinstance(rule, _kinds.Unsupported) else "nondiff"
            if not samples:
                yield Case(name, kind, check, note="no samples")
            for i, s in enumerate(samples):
                yield Case(f"{name}#{i}", kind, check, func, (s,))
            continue
        if not samples:
            yield Case(name, kind, "derivative", note="the rule has no samples")
        for i, s in enumerate(samples):
            yield _function_case(func, rule, s, i, False, rng)
            if s.complex_ok:
                yield _function_case(func, rule, s, i, True, rng)


def cases(only: Sequence[str] = ()) -> list[Case]:
    """Every case of the rule tables, in table order (ufuncs, then functions)."""
    rng = np.random.default_rng(SEED)
    everything = [*_ufunc_cases(rng), *_function_cases(rng)]
    if only:
        everything = [c for c in everything if any(o in c.name for o in only)]
    return everything


# ---------------------------------------------------------------- running a case


def _has_dual(tree: Any) -> bool:
    return any(isinstance(leaf, Dual) for leaf in flatten(tree)[0])


def _call_with_duals(case: Case) -> tuple[Any, Any]:
    """(plain result, result with Dual inputs) of a no-derivative or refused case."""
    func = case.f
    assert func is not None
    if case.args and isinstance(case.args[0], Sample):
        s = case.args[0]
        paths = list(s.duals)
        plain_args = list(s.args)
        duals = [Dual(np.asarray(_get(s.args, p), dtype=np.float64),
                      np.ones(np.shape(_get(s.args, p)))) for p in paths]
        plain = func(*plain_args, **s.kwargs) if case.check == "nondiff" else None
        return plain, func(*_with(s.args, paths, duals), **s.kwargs)
    plain = func(*case.args) if case.check == "nondiff" else None
    return plain, func(*[Dual(x, np.ones_like(x)) for x in case.args])


def _same(a: Any, b: Any) -> bool:
    la, lb = flatten(a)[0], flatten(b)[0]
    def equal(x: Any, y: Any) -> bool:
        x, y = np.asarray(x), np.asarray(y)
        inexact = x.dtype.kind in "fc" and y.dtype.kind in "fc"
        return bool(np.array_equal(x, y, equal_nan=inexact))

    return len(la) == len(lb) and all(equal(x, y) for x, y in zip(la, lb, strict=True))


def _cell(result: testing.MethodResult | None) -> str:
    if result is None:
        return "-"
    if result.status != "ok":
        return result.status
    if result.agrees is None:
        return "-"
    rel = "inf" if result.max_rel_diff is None or not math.isfinite(result.max_rel_diff) \
        else f"{result.max_rel_diff:.1e}"
    if result.agrees:
        return rel + (f", {result.inconclusive} inconclusive" if result.inconclusive else "")
    return f"DIFF {rel} ({result.disagreeing})"


def run_case(case: Case, against: Sequence[str] = (), rtol: float | None = None,
             atol: float = 1e-8) -> Row:
    """Check one case; never raises for a finding (errors become rows)."""
    start = time.perf_counter()

    def row(rev: str, fd: str, verdict: str, status: str, report: testing.Report | None = None) -> Row:
        return Row(case.name, case.kind, rev, fd, verdict, status, time.perf_counter() - start, report)

    if case.f is None:
        return row("-", "-", f"ERROR: {case.note}" if case.check == "derivative" else case.note,
                   "error" if case.check == "derivative" else "unchecked")
    if case.check == "refused":
        try:
            _call_with_duals(case)
        except TypeError:
            return row("-", "-", "refused (TypeError, as registered)", "refused")
        except Exception as error:  # the refusal must be a TypeError
            return row("-", "-", f"ERROR: refused with {testing._one_line(error)}", "error")
        return row("-", "-", "ERROR: registered as unsupported but accepted a Dual", "error")
    if case.check == "nondiff":
        try:
            plain, got = _call_with_duals(case)
        except Exception as error:
            if case.args and not isinstance(case.args[0], Sample):
                return row("-", "-", "no derivative (NumPy takes no float input)", "no derivative")
            return row("-", "-", f"ERROR: {testing._one_line(error)}", "error")
        if _has_dual(got) or not _same(plain, got):
            return row("-", "-", "ERROR: a no-derivative rule changed the result or kept a Dual", "error")
        return row("-", "-", "no derivative (plain NumPy result)", "no derivative")
    if case.check != "derivative":
        return row("-", "-", case.note or case.check, "unchecked")
    references: dict[str, Callable[..., Any]] = {}
    for name, module in (("jax", "jax.numpy"), ("autograd", "autograd.numpy")):
        if name in against and case.backend is not None:
            try:
                backend = importlib.import_module(module)
            except ImportError:
                continue  # compare reports it as skipped
            try:
                references[name] = case.backend(backend)
            except testing._NoReference as missing:
                references[name] = _raiser(missing)
    try:
        report = testing.compare(case.f, *case.args, against=against,
                                 rtol=case.rtol if rtol is None else rtol, atol=atol,
                                 references=references, name=case.name)
    except Exception as error:
        return row("-", "-", f"ERROR: {testing._one_line(error)}", "error")
    methods = report.methods
    rev, fd = _cell(methods.get("rev")), _cell(methods.get("fd"))
    extra = {name: _cell(methods.get(name)) for name in against}
    fwd = methods["fwd"]
    if fwd.status != "ok":
        result = row(rev, fd, f"ERROR: forward mode: {fwd.detail}", "error", report)
    elif report.disagreements:
        result = row(rev, fd, "DISAGREE: " + ", ".join(report.disagreements), "disagree", report)
    else:
        errors = [f"{n} raised {m.detail}" for n, m in methods.items() if m.status == "error"]
        if errors:  # a reference that lacks an operation must say so (NoReference), not crash
            result = row(rev, fd, "ERROR: " + "; ".join(errors), "error", report)
        else:
            result = row(rev, fd, "agree", "agree", report)
    result.extra = extra
    return result


def _raiser(missing: Exception) -> Callable[..., Any]:
    def raise_it(*args: Any) -> Any:
        raise missing

    return raise_it


@dataclass
class Summary:
    rows: list[Row]
    seconds: float

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.rows)

    @property
    def ok(self) -> bool:
        return self.count("disagree") == 0 and self.count("error") == 0

    def no_reverse(self) -> int:
        return sum(r.rev == "no reference" for r in self.rows)

    def line(self) -> str:
        compared = sum(r.report is not None for r in self.rows)
        return (f"{'OK' if self.ok else 'FAILED'}: {len(self.rows)} cases in {self.seconds:.1f} s: "
                f"{self.count('agree')} agree, {self.count('disagree')} disagree, "
                f"{self.count('error')} errors; {compared} derivatives compared, reverse reference "
                f"missing for {self.no_reverse()}; {self.count('no derivative')} without derivative, "
                f"{self.count('refused')} refused as registered"
                + (f", {self.count('unchecked')} unchecked" if self.count("unchecked") else ""))

    def to_dict(self, with_values: bool = False) -> dict[str, Any]:
        return {"ok": self.ok, "seconds": round(self.seconds, 3), "summary": self.line(),
                "counts": {s: self.count(s) for s in ("agree", "disagree", "error", "no derivative",
                                                       "refused", "unchecked")},
                "rows": [r.to_dict(with_values) for r in self.rows]}


def table(rows: Sequence[Row], against: Sequence[str] = ()) -> str:
    header = ["rule", "kind", "fwd vs rev", "fwd vs fd", *[f"fwd vs {a}" for a in against], "verdict"]
    body = [[r.name, r.kind, r.rev, r.fd, *[r.extra.get(a, "-") for a in against], r.verdict] for r in rows]
    return testing._table(header, body, indent="")
