"""The reverse reference's rules for eig/eigvals, polyfit, roots, gradient and i0 (reverse/rules/linalg.py
and products.py) beyond the generated tests of tests/test_reverse.py: the refusals where the math has no
derivative."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from dualnumpy import reverse

H = 1e-4


@pytest.mark.filterwarnings("ignore::numpy.exceptions.RankWarning")
@pytest.mark.parametrize(("f", "x", "error", "text"), [
    (lambda a: np.linalg.eig(a), np.eye(2), reverse.NoReference, "repeated eigenvalues"),
    (lambda a: np.linalg.eigvals(a), np.array([[1.0, 1.0], [0.0, 1.0]]), ValueError, "not diagonalisable"),
    (lambda p: np.roots(p), np.array([1.0, -2.0, 1.0]), reverse.NoReference, "multiple root"),
    (lambda y: np.polyfit(np.ones(4), y, 2), np.arange(4.0), reverse.NoReference, "rank-deficient"),
    (lambda f: np.gradient(np.asarray([1.0, 2.0]), f), np.array(0.5), reverse.NoReference, "spacing"),
])
def test_no_derivative_is_refused(f: Callable[..., Any], x: Any, error: type[BaseException], text: str) -> None:
    with pytest.raises(error, match=text):
        reverse.vjp(f, x)


def test_repeated_eigenvalues_share_the_cotangent() -> None:
    """eigvals of a diagonalisable matrix with a double eigenvalue: the cluster's mean moves
    like tr(dA restricted to it) / 2, so each gets half of the summed cotangent."""
    a = np.diag([2.0, 2.0, -1.0])
    _, vjp_fn = reverse.vjp(np.linalg.eigvals, a)
    (g,) = vjp_fn(np.array([1.0, 0.0, 0.0]))
    np.testing.assert_allclose(g, np.diag([0.5, 0.5, 0.0]), atol=1e-12)


def test_i0_slope_is_i1() -> None:
    x = np.array([-20.0, -3.0, 0.0, 0.5, 12.0])
    _, vjp_fn = reverse.vjp(np.i0, x)
    (g,) = vjp_fn(np.ones(5))
    want = (np.i0(x + 1e-6) - np.i0(x - 1e-6)) / 2e-6
    np.testing.assert_allclose(g, want, rtol=1e-7, atol=1e-9)
