"""The calculus as data: rule kinds, the tables, and ``register`` for library authors.

>>> import numpy as np
>>> from dualnumpy import rules
>>> type(rules.UFUNC_RULES[np.sin]).__name__
'Elementwise'
"""

from dualnumpy.numpy_facts.sampling import Domain, Sample, arr, domain, sample
from dualnumpy.rules.kinds import (
    MINUS_ONE,
    ONE,
    ZERO,
    Bilinear,
    Composite,
    Custom,
    Dependence,
    Elementwise,
    Linear,
    NonDiff,
    PiecewiseConstant,
    Rule,
    Switch,
    Unsupported,
)
from dualnumpy.rules.registry import FUNCTION_RULES, UFUNC_RULES, RuleError, register

__all__ = [
    "FUNCTION_RULES", "MINUS_ONE", "ONE", "UFUNC_RULES", "ZERO", "Bilinear", "Composite", "Custom",
    "Dependence", "Domain", "Elementwise", "Linear", "NonDiff", "PiecewiseConstant", "Rule", "RuleError",
    "Sample", "Switch", "Unsupported", "arr", "domain", "register", "sample",
]
