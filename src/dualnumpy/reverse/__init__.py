"""An independent reverse-mode reference for checking forward-mode derivatives.

A tape of :class:`Var` nodes with its own VJP rules (the ``rules`` package), written
from the math separately from the forward rule table, so that agreement
between the two modes checks the formulas, not only the plumbing.

Convention: ``vjp_fn`` is the adjoint of the JVP for the real inner product
``<u, v> = Re(sum(conj(u) * v))`` (for holomorphic functions, the conjugate
transpose of the complex Jacobian). An operation without a rule raises
:class:`NoReference`, naming it.
"""

from __future__ import annotations

from .api import covered, grad, jacrev, vjp
from .node import NoReference, Var

__all__ = ["NoReference", "Var", "covered", "grad", "jacrev", "vjp"]
