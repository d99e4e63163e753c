"""dualnumpy: exact derivatives of ordinary NumPy code by forward-mode dual numbers."""

from __future__ import annotations

from dualnumpy import finite_diff, reverse, rules, testing
from dualnumpy._support import supported
from dualnumpy.core.dual import Dual
from dualnumpy.sparsity import SparsityWarning, sparse_hessian, sparse_jacfwd
from dualnumpy.sparsity.detect import hessian_sparsity, jacobian_sparsity
from dualnumpy.transforms.api import (
    chunk_budget,
    derivative,
    grad,
    hessian,
    jacfwd,
    jvp,
    set_chunk_budget,
    value_and_grad,
)
from dualnumpy.transforms.custom_jvp import custom_jvp
from dualnumpy.transforms.hvp import hvp
from dualnumpy.transforms.linearize import Linearization, linearize

__version__ = "0.1.0"

__all__ = [
    "Dual",
    "Linearization",
    "SparsityWarning",
    "chunk_budget",
    "custom_jvp",
    "derivative",
    "finite_diff",
    "grad",
    "hessian",
    "hessian_sparsity",
    "jacfwd",
    "jacobian_sparsity",
    "linearize",
    "hvp",
    "jvp",
    "reverse",
    "rules",
    "set_chunk_budget",
    "sparse_hessian",
    "sparse_jacfwd",
    "supported",
    "testing",
    "value_and_grad",
]
