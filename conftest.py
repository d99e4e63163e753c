"""Doctests of the modules whose examples return scipy.sparse matrices are collected only
where SciPy (the `sparse` extra) is installed; their tests in tests/ skip on their own."""

from __future__ import annotations

import importlib.util

collect_ignore: list[str] = []
if importlib.util.find_spec("scipy") is None:
    collect_ignore += [f"src/dualnumpy/sparsity/{name}.py" for name in ("coloring", "compressed", "detect")]
