"""python -m dualnumpy check, end to end through a subprocess: the rule tables, a user's
function, and every kind of bad input (exit status 2, one clear line, no traceback)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from conftest import needs_autograd

ROOT = Path(__file__).resolve().parents[1]

USER_MODULE = '''
import numpy as np


def smooth(x, y=2.0):
    return np.sin(x) * np.exp(-x ** 2) * y


def pair(x, y):
    return {"p": x * y, "s": np.sum(np.tanh(x))}


def kinked(x):
    return np.maximum(x, 0.0) ** 2 + np.abs(x)


def text(x):
    return "not an array"


def nothing(x):
    return None


def nan_at_point(x):
    return np.log(x)


def raises(x):
    raise ZeroDivisionError("no luck")


CONSTANT = 3.0
'''


def run(*args: str, cwd: Path = ROOT, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, "-m", "dualnumpy", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env=env)


@pytest.fixture
def user_dir(tmp_path: Path) -> Path:
    (tmp_path / "usermod.py").write_text(USER_MODULE)
    return tmp_path


def usage_error(done: subprocess.CompletedProcess[str], *fragments: str) -> None:
    """Exit status 2, one line on stderr naming the problem, nothing on stdout, no traceback."""
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("python -m dualnumpy check: error: "), lines[0]
    assert "Traceback" not in done.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert done.stdout == ""


# ---------------------------------------------------------------- the rule tables


def test_check_every_rule_agrees(tmp_path: Path) -> None:
    """The one slow test: the whole harness over every registered rule."""
    report = tmp_path / "rules.json"
    done = run("check", "--json", str(report))
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    assert lines[0].split()[:4] == ["rule", "kind", "fwd", "vs"]
    assert lines[-1].startswith("OK: "), lines[-1]
    assert " 0 disagree, 0 errors" in lines[-1]
    names = {line.split()[0] for line in lines[1:-1]}
    assert {"np.sin", "np.matmul", "np.sum#0", "np.bitwise_and", "np.less"} <= names
    assert "checking" in done.stderr  # progress
    data = json.loads(report.read_text())
    assert data["ok"] is True and data["counts"]["disagree"] == 0
    by_rule = {row["rule"]: row for row in data["rows"]}
    sin = by_rule["np.sin"]
    assert sin["verdict"] == "agree" and sin["report"]["methods"]["rev"]["agrees"] is True
    assert by_rule["np.bitwise_and"]["status"] == "refused"


def test_help_is_complete() -> None:
    done = run("check", "--help")
    assert done.returncode == 0
    for option in ("--at", "--at-npy", "--only", "--against", "--rtol", "--atol", "--json", "--quiet",
                   "--failures-only", "MODULE:FUNCTION", "exit status"):
        assert option in done.stdout, option
    top = run("--help")
    assert top.returncode == 0 and "check" in top.stdout
    bare = run()
    assert bare.returncode == 2 and "usage:" in bare.stderr


def test_only_selects_rules_and_json_is_written(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    done = run("check", "--only", "np.exp", "--only", "np.sum#", "--json", str(out), "--quiet")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == ""
    rows = json.loads(out.read_text())["rows"]
    assert {r["rule"] for r in rows} >= {"np.exp", "np.exp (complex)", "np.expm1", "np.sum#0"}
    assert all("np.exp" in r["rule"] or "np.sum#" in r["rule"] for r in rows)


def test_a_wrong_rule_fails_the_check() -> None:
    code = textwrap.dedent("""
        import sys
        import numpy as np
        from dualnumpy.rules.ufuncs import UFUNC_RULES
        from dualnumpy.rules import Elementwise, domain
        UFUNC_RULES[np.sinh] = Elementwise((lambda ans, x: np.sinh(x),), domain((-3.0, 3.0)))
        from dualnumpy.__main__ import main
        sys.exit(main(["check", "--only", "np.sinh", "--quiet"]))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "DISAGREE" in done.stdout and "DIFF" in done.stdout
    assert "fwd and rev" in done.stdout or "rev against fwd" in done.stdout
    assert done.stdout.strip().splitlines()[-1].startswith("FAILED: ")


def test_only_without_a_match_is_a_usage_error() -> None:
    usage_error(run("check", "--only", "no-such-rule"), "no rule matches")


# ---------------------------------------------------------------- a user's function


def test_user_function(user_dir: Path) -> None:
    done = run("check", "usermod:smooth", "--at", "[0.5, 1.0, -2.0]", cwd=user_dir)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "result: agree" in done.stdout
    assert "usermod:smooth" in done.stdout.splitlines()[-1]
    assert done.stdout.strip().splitlines()[-1].split()[-1] == "agree"


@needs_autograd
def test_user_function_several_arguments_npy_and_json(user_dir: Path) -> None:
    np.save(user_dir / "x.npy", np.array([[0.1, -0.4], [1.2, 0.3]]))
    out = user_dir / "report.json"
    done = run("check", "usermod:pair", "--at-npy", "x.npy", "--at", "1.5", "--json", str(out),
               "--against", "autograd", "--against", "complex-step", cwd=user_dir)
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads(out.read_text())
    assert data["ok"] is True
    methods = data["rows"][0]["report"]["methods"]
    assert methods["rev"]["agrees"] and methods["fd"]["agrees"] and methods["autograd"]["agrees"]
    assert methods["complex-step"]["agrees"]  # x * y and sum(tanh(x)) are analytic
    assert len(methods["fwd"]["value"]) == 5 and len(methods["fwd"]["value"][0]) == 5


def test_user_function_from_a_file_path_with_a_kink_away_from_the_point(user_dir: Path) -> None:
    done = run("check", f"{user_dir / 'usermod.py'}:kinked", "--at", "[-1.5, 0.25, 2.0]")
    assert done.returncode == 0, done.stdout + done.stderr


# ---------------------------------------------------------------- bad input: exit 2, one line


@pytest.mark.parametrize("args,fragments", [
    (("check", "nosuchmodule_xyz:f", "--at", "1.0"), ("cannot import module 'nosuchmodule_xyz'",)),
    (("check", "usermod:missing", "--at", "1.0"), ("has no attribute 'missing'",)),
    (("check", "usermod:CONSTANT", "--at", "1.0"), ("is a float, not a function",)),
    (("check", "usermod", "--at", "1.0"), ("expected MODULE:FUNCTION",)),
    (("check", "missing_file.py:f", "--at", "1.0"), ("no such file",)),
    (("check", "usermod:smooth", "--at", "[1.0, 2."), ("does not parse",)),
    (("check", "usermod:smooth", "--at", "[[1.0, 2.0], [3.0]]"), ("ragged",)),
    (("check", "usermod:smooth", "--at", "'abc'"), ("not a number",)),
    (("check", "usermod:smooth", "--at", "[True, False]"), ("not a number",)),
    (("check", "usermod:smooth"), ("--at",)),
    (("check", "usermod:smooth", "--at-npy", "missing.npy"), ("no such file",)),
    (("check", "usermod:smooth", "--at-npy", "usermod.py"), ("not a .npy array file",)),
    (("check", "usermod:smooth", "--at-npy", "nan.npy"), ("contains NaN",)),
    (("check", "usermod:text", "--at", "1.0"), ("returned a str, not an array",)),
    (("check", "usermod:nothing", "--at", "1.0"), ("returned NoneType, not an array",)),
    (("check", "usermod:nan_at_point", "--at", "[-1.0, 2.0]"), ("returns NaN at the point",)),
    (("check", "usermod:raises", "--at", "1.0"), ("raised ZeroDivisionError at the point: no luck",)),
    (("check", "usermod:smooth", "--at", "1.0", "--only", "sin"), ("--only",)),
    (("check", "--at", "1.0"), ("name the function",)),
    (("check", "usermod:smooth", "--at", "1.0", "--json", "no/such/dir/r.json"), ("cannot write --json",)),
    (("check", "--rtol", "-1"), ("--rtol",)),
])
def test_bad_input(user_dir: Path, args: tuple[str, ...], fragments: tuple[str, ...]) -> None:
    np.save(user_dir / "nan.npy", np.array([1.0, np.nan]))
    usage_error(run(*args, cwd=user_dir), *fragments)


def test_a_module_that_fails_to_import(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("import numpy as np\nraise RuntimeError('bad config')\n")
    usage_error(run("check", "broken:f", "--at", "1.0", cwd=tmp_path),
                "importing 'broken' raised RuntimeError: bad config")


def test_argparse_errors_exit_2() -> None:
    done = run("check", "--against", "torch")
    assert done.returncode == 2 and "invalid choice" in done.stderr and "Traceback" not in done.stderr
