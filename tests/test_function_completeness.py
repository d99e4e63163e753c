"""Every NumPy function that __array_function__ can override is in a table.

NumPy's own list (numpy.testing.overrides) holds only the functions of modules
imported when it was built, so the public namespaces are walked as well.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# NumPy lists only the overridable functions of modules already imported; import every
# namespace that has some, so the result does not depend on which tests ran first.
import numpy.char
import numpy.lib.recfunctions
import numpy.polynomial.polynomial
import numpy.strings
from numpy.testing.overrides import allows_array_function_override, get_overridable_numpy_array_functions

from dualnumpy.numpy_facts.signatures import public_name
from dualnumpy.rules.functions import FUNCTION_RULES

NAMESPACES = (np, np.fft, np.linalg, np.lib.stride_tricks, np.lib.scimath)


def overridable_functions() -> set[Any]:
    functions = set(get_overridable_numpy_array_functions())
    for namespace in NAMESPACES:
        for name in dir(namespace):
            candidate = getattr(namespace, name)
            if (callable(candidate) and not isinstance(candidate, (type, np.ufunc))
                    and allows_array_function_override(candidate)):
                functions.add(candidate)
    # NumPy's like= helpers (numeric._full_with_like, ...) hand the public function (their
    # __wrapped__) to __array_function__, never themselves: the public one is what a table needs.
    return {_public_of_like_helper(f) for f in functions}


def _public_of_like_helper(func: Any) -> Any:
    wrapped = getattr(func, "__wrapped__", None)
    if wrapped is not None and wrapped is not func and allows_array_function_override(wrapped):
        return wrapped
    return func


def test_every_overridable_numpy_function_is_classified() -> None:
    missing = sorted({public_name(f) for f in overridable_functions() if f not in FUNCTION_RULES})
    assert not missing, (f"{len(missing)} NumPy functions are in no table (add each to a table: "
                         f"covered, NonDiffFn or UnsupportedFn): {missing}")


def test_tables_hold_only_overridable_functions() -> None:
    strays = sorted(public_name(f) for f in FUNCTION_RULES if not allows_array_function_override(f))
    assert not strays, f"not overridable by __array_function__, so never dispatched to us: {strays}"
