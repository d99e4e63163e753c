"""The command line: ``python -m dualnumpy check [MODULE:FUNCTION --at VALUE ...]``.

Exit status: 0 when everything agrees, 1 when a derivative disagrees or a check errs,
2 for a usage error (a bad argument, a function that cannot be imported or evaluated).
"""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

import numpy as np

PROG = "python -m dualnumpy"

DESCRIPTION = """\
Check dualnumpy's derivatives against independent references: the reverse-mode
reference (dualnumpy.reverse, its own VJP rules) and finite differences
(Richardson-extrapolated central differences with an error estimate); optionally
JAX and autograd when installed."""

CHECK_EPILOG = """\
without a target, every registered rule is checked: ufuncs at points drawn from
each rule's domain (and complex points where the rule is holomorphic), NumPy
functions at their samples; rules without a derivative must give plain NumPy
results, refused ones must raise a TypeError. The table has one row per case:
the largest relative difference of forward mode against each reference, or
"no reference" where the reverse-mode reference lacks the operation.

with a target MODULE:FUNCTION (or path/to/file.py:FUNCTION) and its point, the
Jacobian of that function with respect to every argument is compared the same way.

exit status: 0 all agree; 1 a derivative disagrees or a check errs; 2 usage error.

examples:
  python -m dualnumpy check
  python -m dualnumpy check --only sin --only np.sum
  python -m dualnumpy check mypkg.model:loss --at '[1.0, 2.0]' --at 0.5
  python -m dualnumpy check mypkg.model:loss --at-npy x.npy --json report.json"""


class UsageError(Exception):
    """A one-line usage error: printed on stderr, exit status 2."""


def _fail(message: str) -> NoReturn:
    raise UsageError(message)


# ---------------------------------------------------------------- arguments


class _Point(argparse.Action):
    """--at and --at-npy append to one list, keeping their order on the command line."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        points = list(getattr(namespace, "points", None) or [])
        points.append((option_string or "--at", values))
        namespace.points = points


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    check = commands.add_parser(
        "check", help="compare forward-mode derivatives with the references",
        description=DESCRIPTION, epilog=CHECK_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    check.add_argument("target", nargs="?", metavar="MODULE:FUNCTION",
                       help="a function to check instead of the rule tables; MODULE may also be a "
                            "path to a .py file")
    check.add_argument("--at", action=_Point, dest="points", metavar="VALUE",
                       help="an argument of the function, as a Python literal: a number or a nested "
                            "list of numbers, e.g. '[1.0, 2.0]' or '(1+2j)'; repeat for more arguments")
    check.add_argument("--at-npy", action=_Point, dest="points", metavar="FILE",
                       help="an argument of the function, loaded with numpy.load from a .npy file; "
                            "mixes with --at in command-line order")
    check.add_argument("--only", action="append", default=[], metavar="TEXT",
                       help="check only the rules whose name contains TEXT (repeatable)")
    check.add_argument("--against", action="append", default=[], metavar="NAME",
                       choices=("jax", "autograd", "complex-step"),
                       help="an extra reference: jax, autograd (skipped when not installed) or "
                            "complex-step (repeatable)")
    check.add_argument("--rtol", type=float, default=None,
                       help="relative tolerance (default: each rule's own, 1e-6 for a function)")
    check.add_argument("--atol", type=float, default=1e-8, help="absolute tolerance (default: 1e-8)")
    check.add_argument("--json", metavar="PATH", help="also write the report as JSON to PATH")
    check.add_argument("--failures-only", action="store_true",
                       help="print only the rows that disagree or err (the summary line always)")
    check.add_argument("--quiet", action="store_true", help="no progress on stderr")
    return parser


# ---------------------------------------------------------------- user functions


def _load_function(target: str) -> Callable[..., Any]:
    module_name, sep, attr = target.rpartition(":")
    if not sep or not module_name or not attr:
        _fail(f"expected MODULE:FUNCTION (for example mypkg.model:loss), got {target!r}")
    try:
        if module_name.endswith(".py"):
            path = Path(module_name)
            if not path.is_file():
                _fail(f"cannot import {module_name!r}: no such file")
            spec = importlib.util.spec_from_file_location(path.stem, path)
            if spec is None or spec.loader is None:
                _fail(f"cannot import {module_name!r}: not a Python file")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        else:
            if os.getcwd() not in sys.path and "" not in sys.path:
                sys.path.insert(0, os.getcwd())
            module = importlib.import_module(module_name)
    except UsageError:
        raise
    except ImportError as error:
        _fail(f"cannot import module {module_name!r}: {error}")
    except Exception as error:
        _fail(f"importing {module_name!r} raised {type(error).__name__}: {_first_line(error)}")
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            _fail(f"module {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        _fail(f"{target} is a {type(obj).__name__}, not a function")
    return obj  # type: ignore[no-any-return]


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else ""


def _parse_at(text: str) -> Any:
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        _fail(f"--at {text!r} does not parse: give a number or a nested list of numbers, "
              f"such as '[1.0, 2.0]'")
    try:
        array = np.asarray(value)
    except (ValueError, TypeError):
        _fail(f"--at {text!r} is ragged: every inner list needs the same length")
    if array.dtype.kind == "b" or array.dtype.kind not in "iufc":
        _fail(f"--at {text!r} is not a number or a nested list of numbers")
    if array.dtype.kind in "iu":
        array = array.astype(np.float64)
    return array[()] if array.ndim == 0 else array


def _load_npy(path: str) -> Any:
    try:
        array = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        _fail(f"--at-npy {path!r}: no such file")
    except (OSError, ValueError) as error:
        _fail(f"--at-npy {path!r} is not a .npy array file: {_first_line(error)}")
    if not isinstance(array, np.ndarray):
        _fail(f"--at-npy {path!r} holds several arrays (.npz); save one array per .npy file")
    if array.dtype.kind not in "iufc":
        _fail(f"--at-npy {path!r} has dtype {array.dtype}; it needs numbers")
    if array.dtype.kind in "iu":
        array = array.astype(np.float64)
    return array[()] if array.ndim == 0 else array


def _points(points: Sequence[tuple[str, str]]) -> list[Any]:
    args = []
    for k, (option, text) in enumerate(points, start=1):
        value = _load_npy(text) if option == "--at-npy" else _parse_at(text)
        if not np.all(np.isfinite(value)):
            bad = "NaN" if np.any(np.isnan(value)) else "an infinity"
            _fail(f"argument {k} ({option} {text!r}) contains {bad}: give a point where the "
                  f"function is defined")
        args.append(value)
    return args


def _evaluate(f: Callable[..., Any], target: str, args: list[Any]) -> None:
    """Refuse, with one line, a function that fails, returns non-arrays, or NaN at the point."""
    from dualnumpy.numpy_facts.trees import flatten

    try:
        out = f(*args)
    except Exception as error:
        _fail(f"{target} raised {type(error).__name__} at the point: {_first_line(error)}")
    leaves, _ = flatten(out)
    if not leaves:
        _fail(f"{target} returned {type(out).__name__}, not an array or a number")
    for leaf in leaves:
        ok = isinstance(leaf, (np.ndarray, np.generic, int, float, complex)) and not isinstance(leaf, bool)
        if not ok or np.asarray(leaf).dtype.kind not in "iufc":
            _fail(f"{target} returned a {type(leaf).__name__}, not an array or a number (or a "
                  f"tuple, list or dict of them)")
        if not np.all(np.isfinite(leaf)):
            what = "NaN" if np.any(np.isnan(leaf)) else "an infinity"
            _fail(f"{target} returns {what} at the point: pick a point inside its domain")


# ---------------------------------------------------------------- progress


class _Progress:
    """A counter on stderr: rewritten in place on a terminal, every 10% otherwise."""

    def __init__(self, total: int, stream: TextIO, enabled: bool) -> None:
        self.total, self.stream, self.enabled = total, stream, enabled and total > 0
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.next_report = 0.1
        self.start = time.perf_counter()

    def update(self, done: int, name: str) -> None:
        if not self.enabled:
            return
        elapsed = time.perf_counter() - self.start
        if self.tty:
            self.stream.write(f"\r\x1b[Kchecking {done}/{self.total} ({elapsed:.0f} s) {name}")
            self.stream.flush()
        elif done / self.total >= self.next_report or done == self.total:
            self.stream.write(f"checking {done}/{self.total} ({elapsed:.1f} s)\n")
            self.stream.flush()
            while self.next_report <= done / self.total:
                self.next_report += 0.1

    def close(self) -> None:
        if self.enabled and self.tty:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


# ---------------------------------------------------------------- commands


def _write_json(path: str, data: dict[str, Any]) -> None:
    try:
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1, allow_nan=False)
            handle.write("\n")
    except OSError as error:
        _fail(f"cannot write --json {path!r}: {error.strerror or error}")


def _check_rules(ns: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from dualnumpy import _check

    start = time.perf_counter()
    cases = _check.cases(ns.only)
    if not cases:
        _fail(f"no rule matches --only {' '.join(ns.only)}")
    progress = _Progress(len(cases), err, not ns.quiet)
    rows = []
    for i, case in enumerate(cases, start=1):
        progress.update(i, case.name)
        rows.append(_check.run_case(case, ns.against, ns.rtol, ns.atol))
    progress.close()
    summary = _check.Summary(rows, time.perf_counter() - start)
    shown = [r for r in rows if r.status in ("disagree", "error")] if ns.failures_only else rows
    if shown:
        out.write(_check.table(shown, ns.against) + "\n")
    for r in rows:
        if r.status == "disagree" and r.report is not None:
            out.write("\n" + str(r.report) + "\n")
    out.write(summary.line() + "\n")
    if ns.json:
        _write_json(ns.json, summary.to_dict())
    return 0 if summary.ok else 1


def _check_function(ns: argparse.Namespace, out: TextIO) -> int:
    from dualnumpy import _check, testing

    if ns.only:
        _fail("--only selects rules; it does not apply to a MODULE:FUNCTION target")
    if not ns.points:
        _fail(f"give the point at which to check {ns.target} with --at VALUE (or --at-npy FILE), "
              f"once per argument")
    args = _points(ns.points)
    f = _load_function(ns.target)
    _evaluate(f, ns.target, args)
    start = time.perf_counter()
    report = testing.compare(f, *args, against=tuple(ns.against), rtol=1e-6 if ns.rtol is None else ns.rtol,
                             atol=ns.atol, name=ns.target)
    methods = report.methods
    fwd = methods["fwd"]
    if fwd.status != "ok":
        verdict, status = f"ERROR: forward mode: {fwd.detail}", "error"
    elif report.disagreements:
        verdict, status = "DISAGREE: " + ", ".join(report.disagreements), "disagree"
    else:
        verdict, status = "agree", "agree"
    row = _check.Row(ns.target, "function", _check._cell(methods.get("rev")), _check._cell(methods.get("fd")),
                     verdict, status, time.perf_counter() - start, report,
                     {a: _check._cell(methods.get(a)) for a in ns.against})
    out.write(str(report) + "\n\n")
    out.write(_check.table([row], ns.against) + "\n")
    if ns.json:
        _write_json(ns.json, {"ok": status == "agree", "rows": [row.to_dict(with_values=True)]})
    return 0 if status == "agree" else 1


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the command line; returns the exit status.

    Examples
    --------
    >>> import io
    >>> from dualnumpy.__main__ import main
    >>> buffer = io.StringIO()
    >>> main(["check", "--only", "np.sinh", "--quiet"], out=buffer)
    0
    >>> print(buffer.getvalue().splitlines()[-1].split(":")[0])
    OK
    """
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    parser = _parser()
    ns = parser.parse_args(argv)
    if ns.command is None:
        parser.print_help(err)
        return 2
    ns.against = list(dict.fromkeys(ns.against))
    for name, value in (("--rtol", ns.rtol), ("--atol", ns.atol)):
        if value is not None and not (math.isfinite(value) and value >= 0):
            err.write(f"{PROG} check: error: {name} must be a non-negative number\n")
            return 2
    try:
        if ns.json:  # refuse an unwritable report path before the work, not after it
            folder = os.path.dirname(os.path.abspath(ns.json))
            if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
                _fail(f"cannot write --json {ns.json!r}: no writable folder {folder!r}")
        if ns.target is None:
            if ns.points:
                _fail("--at and --at-npy give the point of a MODULE:FUNCTION target; name the function")
            return _check_rules(ns, out, err)
        return _check_function(ns, out)
    except UsageError as error:
        err.write(f"{PROG} check: error: {error}\n")
        return 2


if __name__ == "__main__":
    sys.exit(main())
