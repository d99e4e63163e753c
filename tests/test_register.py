"""dualnumpy.rules.register: a library author's rule takes effect, and a bad one is refused
with a RuleError that names the function and the fix."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import dualnumpy as dn
from dualnumpy import Dual, rules
from dualnumpy.rules import (
    Custom,
    Dependence,
    Elementwise,
    Linear,
    NonDiff,
    RuleError,
    arr,
    domain,
    register,
    sample,
)
from dualnumpy.rules import functions as function_table
from dualnumpy.rules import ufuncs as ufunc_table


@pytest.fixture
def restore_tables() -> Iterator[None]:
    """Registrations made by a test are undone after it (the tables' dicts are the registry)."""
    ufuncs, functions = dict(ufunc_table.UFUNC_RULES), dict(function_table.FUNCTION_RULES)
    yield
    ufunc_table.UFUNC_RULES.clear()
    ufunc_table.UFUNC_RULES.update(ufuncs)
    function_table.FUNCTION_RULES.clear()
    function_table.FUNCTION_RULES.update(functions)


def _sinc_jvp(ans: Any, primals: Any, tangents: Any, params: Any) -> Any:
    x = primals["x"]
    return tangents["x"] * (np.cos(np.pi * x) - ans) / x


@pytest.mark.usefixtures("restore_tables")
def test_a_registered_function_rule_takes_effect() -> None:
    with pytest.raises(RuleError, match="already has a rule"):
        register(np.sinc, Custom(_sinc_jvp, (sample(arr(4, low=0.2, high=3.0)),), args=("x",)))
    register(np.sinc, Custom(_sinc_jvp, (sample(arr(4, low=0.2, high=3.0)),), args=("x",)), replace=True)
    assert isinstance(rules.FUNCTION_RULES[np.sinc], Custom)
    x = np.array([0.4, 1.3])
    y, t = dn.jvp(np.sinc, (x,), (np.ones(2),))
    np.testing.assert_array_equal(y, np.sinc(x))
    np.testing.assert_allclose(t, (np.cos(np.pi * x) - np.sinc(x)) / x, rtol=1e-14)
    assert dn.supported()["functions"]["np.sinc"] == "Custom"


@pytest.mark.usefixtures("restore_tables")
def test_a_registered_ufunc_rule_from_another_library_takes_effect() -> None:
    special = pytest.importorskip("scipy.special", reason="scipy.special provides ufuncs outside NumPy")
    with pytest.raises(TypeError, match=r"scipy\.special\.gammaln is not supported.*dualnumpy\.rules\.register"):
        special.gammaln(Dual(np.array([1.5]), np.ones(1)))
    register(special.gammaln, Elementwise((lambda ans, x: special.digamma(x),), domain((0.5, 5.0))))
    x = np.array([0.7, 2.5, 4.0])
    np.testing.assert_allclose(dn.jacfwd(special.gammaln)(x), np.diag(special.digamma(x)), rtol=1e-14)
    dn.testing.check_grads(special.gammaln, (x,), order=1, modes=("fwd", "fd"))
    with pytest.raises(TypeError, match=r"scipy\.special\.psi is not supported"):  # its partial: digamma
        dn.hessian(lambda v: np.sum(special.gammaln(v)))(x)
    assert dn.supported()["ufuncs"]["gammaln"] == "Elementwise"


def _identity(ans: Any, primals: Any, tangents: Any, params: Any) -> Any:
    return tangents["a"]


@pytest.mark.parametrize("func,rule,message", [
    (np.sin, "not a rule", "a rule must be one of"),
    (np.sin, Elementwise((lambda ans, x: np.cos(x),), domain((-1.0, 1.0))), "already has a rule"),
    (np.hypot, Elementwise((lambda ans, x, y: x / ans,), domain((-1.0, 1.0), (-1.0, 1.0))),
     "takes 2 input.*rule has 1 partials"),
    (np.hypot, Elementwise((lambda a, x, y: x / a, lambda a, x, y: y / a), domain((-1.0, 1.0))),
     "domain has 1 interval"),
    (np.hypot, Custom(_identity, (sample(arr(3)),), nin=2), "needs a Domain"),
    (np.roll, Linear(()), "needs sample calls"),
    (np.roll, Custom(_identity, (sample(arr(3), 1),), args=("a", "nope")), "argument.*'nope'"),
    (np.roll, Custom(_identity, (sample(arr(3), 1, 2, 3, 4, 5),), args=("a",)), "does not fit its signature"),
    (np.roll, Custom(_identity, (sample(arr(3), 1, duals=(4,)),), args=("a",)), "duals= names argument 4"),
])
@pytest.mark.usefixtures("restore_tables")
def test_a_bad_rule_is_refused_naming_the_fix(func: Any, rule: Any, message: str) -> None:
    replace = message != "already has a rule"
    with pytest.raises(RuleError, match=message) as info:
        register(func, rule, replace=replace)
    name = "np." + func.__name__
    assert name in str(info.value) or message == "a rule must be one of"


def test_registries_are_read_only_views() -> None:
    with pytest.raises(TypeError):
        rules.UFUNC_RULES[np.sin] = NonDiff("no")  # type: ignore[index]
    with pytest.raises(TypeError):
        rules.FUNCTION_RULES[np.sum] = NonDiff("no")  # type: ignore[index]


def test_kinds_state_their_structure() -> None:
    assert rules.UFUNC_RULES[np.sin].dependence is Dependence.ELEMENTWISE
    assert rules.FUNCTION_RULES[np.reshape].dependence is Dependence.GATHER
    assert rules.FUNCTION_RULES[np.transpose].dependence is Dependence.GATHER
    assert rules.UFUNC_RULES[np.matmul].dependence is Dependence.DENSE
    assert rules.UFUNC_RULES[np.floor].dependence is Dependence.NONE
    assert rules.FUNCTION_RULES[np.mean].dependence is Dependence.COMPOSED
    assert rules.FUNCTION_RULES[np.sum].dependence is Dependence.REDUCTION
    assert rules.FUNCTION_RULES[np.linalg.solve].dependence is Dependence.DENSE
