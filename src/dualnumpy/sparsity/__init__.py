"""Sparse Jacobians and Hessians: detection by index sets, coloring, compressed evaluation."""

from __future__ import annotations

from dualnumpy.sparsity.coloring import (
    ORDERS,
    Coloring,
    SparsityWarning,
    color_columns,
    color_hessian,
    color_symmetric,
    decompress,
    decompress_hessian,
)
from dualnumpy.sparsity.compressed import SparseHessian, SparseJacobian, sparse_hessian, sparse_jacfwd
from dualnumpy.sparsity.detect import hessian_sparsity, jacobian_sparsity

__all__ = [
    "ORDERS",
    "Coloring",
    "SparseHessian",
    "SparseJacobian",
    "SparsityWarning",
    "color_columns",
    "color_hessian",
    "color_symmetric",
    "decompress",
    "decompress_hessian",
    "hessian_sparsity",
    "jacobian_sparsity",
    "sparse_hessian",
    "sparse_jacfwd",
]
