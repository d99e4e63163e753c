"""Sparse Jacobians and Hessians: detection by index sets, coloring, compressed evaluation."""

from __future__ import annotations

from dualnumpy.sparsity.detect import hessian_sparsity, jacobian_sparsity

__all__ = ["hessian_sparsity", "jacobian_sparsity"]
