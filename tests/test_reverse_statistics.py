"""The reverse reference's statistics rules beyond the generated case tests in
tests/test_reverse.py: the conventions at ties, NaNs and first occurrences, every quantile
method, and the histogram edges' dependence on the data."""

from __future__ import annotations

import numpy as np
import pytest
from test_reverse import check_against_fd

from dualnumpy import reverse


@pytest.mark.parametrize("method", ["linear", "lower", "higher", "nearest", "midpoint", "hazen", "weibull",
                                    "inverted_cdf", "averaged_inverted_cdf", "closest_observation",
                                    "interpolated_inverted_cdf", "median_unbiased", "normal_unbiased"])
def test_every_method_at_many_levels(method: str) -> None:
    """The order statistics picked, and their weights, are NumPy's at levels on and off the
    data points (q = k / n and q = k / (n - 1) included)."""
    x = np.array([0.3, -1.2, 2.5, 0.9, -0.4, 1.7, 0.05])
    qs = np.unique(np.concatenate([np.arange(8) / 7.0, np.arange(7) / 6.0, [0.01, 0.33, 0.5, 0.77, 0.99]]))
    for q in qs:
        check_against_fd(lambda a, q=q: np.quantile(a, q, method=method), [x])


def test_tied_order_statistics_share_the_cotangent() -> None:
    x = np.array([1.0, 3.0, 1.0, np.nan])
    _, pull = reverse.vjp(lambda a: np.nanmedian(a), x)
    np.testing.assert_array_equal(pull(np.float64(1.0))[0], [0.5, 0.0, 0.5, 0.0])
    _, pull = reverse.vjp(lambda a: np.nanpercentile(a, 100.0), np.array([2.0, 2.0, np.nan, 2.0]))
    np.testing.assert_allclose(pull(np.float64(3.0))[0], [1.0, 1.0, 0.0, 1.0])


def test_an_all_nan_slice_has_a_nan_cotangent_unless_the_cotangent_is_zero() -> None:
    x = np.array([[np.nan, np.nan], [1.0, 2.0]])
    with pytest.warns(RuntimeWarning):
        _, pull = reverse.vjp(lambda a: np.nanquantile(a, 0.25, axis=1), x)
    got = pull(np.array([1.0, 1.0]))[0]
    assert np.all(np.isnan(got[0])) and np.array_equal(got[1], [0.75, 0.25])
    np.testing.assert_array_equal(pull(np.array([0.0, 1.0]))[0], [[0.0, 0.0], [0.75, 0.25]])


def test_unique_values_take_the_first_occurrence() -> None:
    x = np.array([2.0, 1.0, 2.0, 5.0, 1.0])
    (values, index, counts), pull = reverse.vjp(
        lambda a: np.unique(a, return_index=True, return_counts=True), x)
    np.testing.assert_array_equal(values, [1.0, 2.0, 5.0])
    np.testing.assert_array_equal(index, [1, 0, 3])
    np.testing.assert_array_equal(counts, [2, 2, 1])
    np.testing.assert_array_equal(pull((np.array([10.0, 20.0, 30.0]), None, None))[0], [20, 10, 0, 30, 0])
    _, pull = reverse.vjp(lambda a: np.unique_values(a), x)
    np.testing.assert_array_equal(pull(np.array([10.0, 20.0, 30.0]))[0], [20, 10, 0, 30, 0])


def test_set_operations_take_ar1_first_then_ar2() -> None:
    a, b = np.array([1.0, 2.0]), np.array([2.0, 3.0, 3.0])
    _, pull = reverse.vjp(lambda p, r: np.union1d(p, r), a, b)
    ga, gb = pull(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(ga, [1.0, 2.0])
    np.testing.assert_array_equal(gb, [0.0, 3.0, 0.0])
    _, pull = reverse.vjp(lambda p, r: np.intersect1d(p, r), a, b)
    ga, gb = pull(np.array([7.0]))
    np.testing.assert_array_equal(ga, [0.0, 7.0])
    np.testing.assert_array_equal(gb, [0.0, 0.0, 0.0])


def test_histogram_edges_from_the_data_follow_min_and_max() -> None:
    x = np.array([0.5, -1.0, 2.0, 0.1])
    _, pull = reverse.vjp(lambda a: np.histogram(a, 3)[1], x)
    # edges_k = min + k (max - min) / 3: d/dmin = 1 - k/3, d/dmax = k/3
    np.testing.assert_allclose(pull(np.array([1.0, 1.0, 1.0, 1.0]))[0], [0.0, 2.0, 2.0, 0.0])
    np.testing.assert_allclose(pull(np.array([0.0, 1.0, 0.0, 0.0]))[0], [0.0, 2 / 3, 1 / 3, 0.0])
