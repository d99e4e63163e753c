"""Edge cases of the statistics table (rules/statistics.py), checked explicitly.

The generated tests (test_function_rules.py) sample every rule away from kinks;
here are the kinks and the conventions chosen at them: order statistics at
ties, percentiles at exact data points, NaN handling, unique with duplicates,
set operations, histograms, and the logsumexp idiom with a max shift.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import dualnumpy as dn
from dualnumpy import Dual


def tangent(f: Any, x: Any, t: Any, batched: bool = False) -> Any:
    return dn.jvp(f, (x,), (t,), batched=batched)[1]


def jac(f: Any, x: Any) -> Any:
    return np.asarray(dn.jacfwd(f)(np.asarray(x, dtype=float)))


def fd(f: Any, x: Any, t: Any, h: float = 1e-6) -> Any:
    return (np.asarray(f(x + h * t)) - np.asarray(f(x - h * t))) / (2 * h)


E = np.eye


# ---------------------------------------------------------------- median


def test_median_of_even_length_averages_the_two_middle_tangents() -> None:
    x = np.array([4.0, 1.0, 3.0, 2.0])
    # the middle order statistics are 2.0 (index 3) and 3.0 (index 2)
    np.testing.assert_array_equal(jac(np.median, x), [0.0, 0.0, 0.5, 0.5])


def test_median_of_odd_length_follows_the_middle_entry() -> None:
    x = np.array([5.0, -1.0, 2.0, 7.0, 0.5])
    np.testing.assert_array_equal(jac(np.median, x), [0.0, 0.0, 1.0, 0.0, 0.0])


def test_median_along_an_axis_with_keepdims_and_batched_tangents() -> None:
    x = np.arange(12.0).reshape(3, 4) ** 1.5
    t = np.random.default_rng(0).standard_normal((3, 3, 4))
    out = tangent(lambda v: np.median(v, axis=1, keepdims=True), x, t, batched=True)
    assert out.shape == (3, 3, 1)
    np.testing.assert_allclose(out, (t[:, :, 1:2] + t[:, :, 2:3]) / 2)


def test_median_at_ties_splits_the_tangent_evenly_among_tied_entries() -> None:
    # odd length, the middle value 2 is shared by entries 0 and 2
    np.testing.assert_array_equal(jac(np.median, [2.0, 1.0, 2.0]), [0.5, 0.0, 0.5])
    # even length, both middle order statistics are the tied value
    np.testing.assert_array_equal(jac(np.median, [1.0, 2.0, 2.0, 3.0]), [0.0, 0.5, 0.5, 0.0])
    # three-way tie around an even middle: each tied entry gets a third
    np.testing.assert_allclose(jac(np.median, [2.0, 0.0, 2.0, 2.0]), [1 / 3, 0.0, 1 / 3, 1 / 3])


def test_order_statistics_do_not_depend_on_the_input_order() -> None:
    x = np.array([3.0, 1.0, 3.0, 2.0, 3.0, 0.0])
    perm = np.array([4, 0, 5, 2, 1, 3])
    for f in (np.median, lambda v: np.percentile(v, 70.0), lambda v: np.quantile(v, [0.2, 0.9])):
        np.testing.assert_allclose(jac(f, x)[..., perm], jac(f, x[perm]))


# ---------------------------------------------------------------- percentile / quantile


def test_percentile_at_an_exact_data_point_follows_that_entry() -> None:
    x = np.array([0.3, -1.0, 2.5, 1.1, 0.9])  # n = 5: 25 % is exactly the second smallest
    np.testing.assert_array_equal(jac(lambda v: np.percentile(v, 25.0), x), [1.0, 0, 0, 0, 0])
    np.testing.assert_array_equal(jac(lambda v: np.quantile(v, 0.75), x), [0, 0, 0, 1.0, 0])


def test_percentile_linear_interpolation_between_order_statistics() -> None:
    x = np.array([0.3, -1.0, 2.5, 1.1, 0.9])
    # virtual index 4 * 0.3 = 1.2: 0.8 of the 2nd smallest (0.3) + 0.2 of the 3rd (0.9)
    np.testing.assert_allclose(jac(lambda v: np.percentile(v, 30.0), x), [0.8, 0, 0, 0, 0.2])


def test_derivative_in_q_is_the_slope_of_the_interpolation() -> None:
    x = np.array([0.3, -1.0, 2.5, 1.1, 0.9])
    s = np.sort(x)
    # inside a segment: (s[j+1] - s[j]) * (n - 1) per unit of q (divided by 100 for percentile)
    d = dn.derivative(lambda q: np.quantile(x, q))(0.3)
    np.testing.assert_allclose(d, (s[2] - s[1]) * 4)
    d = dn.derivative(lambda q: np.percentile(x, q))(30.0)
    np.testing.assert_allclose(d, (s[2] - s[1]) * 4 / 100)
    # at an exact data point: the right derivative (the segment that starts there)
    d = dn.derivative(lambda q: np.quantile(x, q))(0.25)
    np.testing.assert_allclose(d, (s[2] - s[1]) * 4)
    # at q = 1 the last order statistic is returned: nothing to the right
    assert dn.derivative(lambda q: np.quantile(x, q))(1.0) == 0.0
    # discrete methods are piecewise constant in q
    assert dn.derivative(lambda q: np.quantile(x, q, method="nearest"))(0.3) == 0.0


def test_continuous_methods_match_finite_differences_in_q_and_data() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal(9)
    for method in ("linear", "hazen", "weibull", "median_unbiased", "normal_unbiased",
                   "interpolated_inverted_cdf"):
        for q in (0.07, 0.33, 0.58, 0.93):
            f = lambda qq, m=method: np.quantile(x, qq, method=m)
            np.testing.assert_allclose(dn.derivative(f)(q), fd(f, q, 1.0), rtol=1e-6, err_msg=method)
            g = lambda v, m=method, qq=q: np.quantile(v, qq, method=m)
            t = rng.standard_normal(9)
            np.testing.assert_allclose(tangent(g, x, t), fd(g, x, t), rtol=1e-6, atol=1e-9, err_msg=method)


@pytest.mark.parametrize("method", ["inverted_cdf", "averaged_inverted_cdf", "closest_observation",
                                   "lower", "higher", "midpoint", "nearest"])
def test_discrete_methods_select_order_statistics(method: str) -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 8))
    q = np.array([0.1, 0.45, 0.8])
    f = lambda v: np.quantile(v, q, axis=1, method=method)
    y, t = dn.jvp(f, (x,), (np.ones_like(x),))
    np.testing.assert_array_equal(y, f(x))
    np.testing.assert_allclose(t, np.ones_like(y))  # every output is a (mix of) entries, weights sum to 1
    d = rng.standard_normal(x.shape)
    np.testing.assert_allclose(tangent(f, x, d), fd(f, x, d), atol=1e-8)


def test_weighted_inverted_cdf_follows_the_selected_entry_and_ties() -> None:
    x = np.array([0.5, 2.0, -1.0, 2.0, 3.0])
    w = np.array([1.0, 1.0, 1.0, 2.0, 1.0])
    f = lambda v: np.quantile(v, 0.6, method="inverted_cdf", weights=w)
    assert f(x) == 2.0
    np.testing.assert_array_equal(jac(f, x), [0.0, 0.5, 0.0, 0.5, 0.0])
    # Dual weights: the result is piecewise constant in them (zero tangent)
    out = np.quantile(x, 0.6, method="inverted_cdf", weights=Dual(w, np.ones(5)))
    assert not isinstance(out, Dual) and out == 2.0


def test_few_and_many_order_statistics_give_the_same_tie_averaged_tangents(monkeypatch: Any) -> None:
    """Up to a few order statistics come from np.partition and comparisons, more from one sort."""
    from dualnumpy.rules import statistics

    rng = np.random.default_rng(7)
    x = np.round(rng.standard_normal((4, 30)), 1)  # many ties
    x[1, 3] = np.nan
    T = rng.standard_normal((3, 4, 30))
    q = np.array([0.1, 0.5, 0.77])
    calls = [lambda v: np.quantile(v, q, axis=1), lambda v: np.nanpercentile(v, 100 * q, axis=1),
             lambda v: np.median(v, axis=0), lambda v: np.nanquantile(v, 0.3, axis=1, method="hazen")]
    few = [tangent(f, x, T, batched=True) for f in calls]
    monkeypatch.setattr(statistics, "_FEW_ORDER_STATISTICS", 0)
    many = [tangent(f, x, T, batched=True) for f in calls]
    for a, b in zip(few, many, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-14)


def test_percentile_0_and_100_agree_with_min_and_max_at_ties() -> None:
    x = np.array([3.0, 1.0, 3.0, 1.0, 2.0])
    np.testing.assert_array_equal(jac(lambda v: np.percentile(v, 100.0), x), jac(np.max, x))
    np.testing.assert_array_equal(jac(lambda v: np.percentile(v, 0.0), x), jac(np.min, x))


def test_second_derivatives_of_quantile() -> None:
    x = np.array([0.3, -1.0, 2.5, 1.1, 0.9])
    s = np.sort(x)
    # piecewise linear in q: zero curvature; mixed partial d/dx_i d/dq is the slope weight
    assert dn.derivative(dn.derivative(lambda q: np.quantile(x, q)))(0.3) == 0.0
    mixed = dn.jacfwd(lambda v: dn.derivative(lambda q: np.quantile(v, q))(0.3))(x)
    expected = np.zeros(5)
    expected[np.argsort(x)[[1, 2]]] = [-4.0, 4.0]
    np.testing.assert_allclose(mixed, expected)
    del s


# ---------------------------------------------------------------- NaN


def test_median_and_quantile_of_data_with_nan_are_nan_with_nan_tangents() -> None:
    x = np.array([1.0, np.nan, 3.0])
    for f in (np.median, lambda v: np.quantile(v, 0.3)):
        y, t = dn.jvp(f, (x,), (np.ones(3),))
        assert np.isnan(y) and np.isnan(t)


def test_nan_versions_ignore_nan_entries() -> None:
    x = np.array([4.0, np.nan, 1.0, 3.0, np.nan, 2.0])
    clean = np.array([4.0, 1.0, 3.0, 2.0])
    keep = ~np.isnan(x)
    for nanf, f in ((np.nanmedian, np.median), (lambda v: np.nanpercentile(v, 30.0), lambda v: np.percentile(v, 30.0)),
                    (lambda v: np.nanquantile(v, [0.2, 0.7]), lambda v: np.quantile(v, [0.2, 0.7])),
                    (np.nansum, np.sum), (np.nanmean, np.mean), (np.nanvar, np.var), (np.nanstd, np.std),
                    (np.nanmax, np.max), (np.nanmin, np.min), (np.nanprod, np.prod)):
        j = jac(nanf, x)
        np.testing.assert_allclose(j[..., keep], jac(f, clean), atol=1e-15)
        np.testing.assert_array_equal(j[..., ~keep], 0.0)
    j = jac(np.nancumsum, x)
    np.testing.assert_array_equal(j[:, ~keep], 0.0)
    np.testing.assert_array_equal(j[:, keep][keep], jac(np.cumsum, clean))


def test_nan_tangents_are_ignored_even_if_nonzero() -> None:
    x = Dual(np.array([1.0, np.nan, 2.0]), np.array([1.0, 100.0, 3.0]))
    clean = Dual(np.array([1.0, 2.0]), np.array([1.0, 3.0]))
    for nanf, f in ((np.nansum, np.sum), (np.nanmean, np.mean), (np.nanmedian, np.median), (np.nanmax, np.max),
                    (np.nanvar, np.var), (np.nanprod, np.prod)):
        assert nanf(x).tangent == f(clean).tangent


def test_all_nan_slices_give_nan_values_and_nan_tangents() -> None:
    x = np.array([[np.nan, np.nan], [1.0, 2.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for f in (np.nanmedian, lambda v, axis: np.nanquantile(v, 0.4, axis=axis), np.nanmax, np.nanmin,
                  np.nanmean, np.nanvar):
            y, t = dn.jvp(lambda v: f(v, axis=1), (x,), (np.ones_like(x),))
            assert np.isnan(y[0]) and np.isnan(t[0])
            assert np.isfinite(t[1])
        # nansum of an all-NaN slice is 0 with a zero tangent
        y, t = dn.jvp(lambda v: np.nansum(v, axis=1), (x,), (np.ones_like(x),))
        np.testing.assert_array_equal(y, [0.0, 3.0])
        np.testing.assert_array_equal(t, [0.0, 2.0])


def test_nanargmax_and_nanargmin_are_plain() -> None:
    x = Dual(np.array([1.0, np.nan, 3.0]), np.ones(3))
    assert np.nanargmax(x) == 2 and not isinstance(np.nanargmax(x), Dual)
    assert np.nanargmin(x) == 0


def test_in_place_options_never_touch_the_duals_value() -> None:
    x = np.array([3.0, 1.0, np.nan, 2.0, 5.0])
    keep = x.copy()
    d = Dual(x, np.arange(5.0))
    out = np.nan_to_num(d, copy=False)
    np.testing.assert_array_equal(x, keep)
    np.testing.assert_array_equal(out.tangent, [0.0, 1.0, 0.0, 3.0, 4.0])
    out = np.nanmedian(d, overwrite_input=True)
    np.testing.assert_array_equal(x, keep)
    assert out.value == 2.5 and out.tangent == 1.5
    y = np.array([4.0, 1.0, 3.0, 2.0])
    out = np.median(Dual(y, np.arange(4.0)), overwrite_input=True)
    np.testing.assert_array_equal(y, [4.0, 1.0, 3.0, 2.0])
    assert out.tangent == 2.5


def test_nanvar_with_mean_is_refused() -> None:
    x = Dual(np.array([1.0, 2.0]), np.ones(2))
    with pytest.raises(TypeError, match="mean="):
        np.nanvar(x, mean=np.array(1.5))


def test_nan_to_num_has_zero_tangent_where_the_value_was_replaced() -> None:
    x = np.array([1.0, np.nan, np.inf, -np.inf, -2.0])
    y, t = dn.jvp(np.nan_to_num, (x,), (np.arange(1.0, 6.0),))
    np.testing.assert_array_equal(y, np.nan_to_num(x))
    np.testing.assert_array_equal(t, [1.0, 0.0, 0.0, 0.0, 5.0])
    # Dual replacement values pass their tangents on
    # (x must be a Dual for NumPy to hand the call over: pass a zero tangent)
    out = np.nan_to_num(Dual(x, np.zeros(5)), nan=Dual(7.0, 1.0), posinf=Dual(9.0, 2.0))
    np.testing.assert_array_equal(out.value, np.nan_to_num(x, nan=7.0, posinf=9.0))
    np.testing.assert_array_equal(out.tangent, [0.0, 1.0, 2.0, 0.0, 0.0])
    # complex: real and imaginary parts separately
    z = np.array([complex(1.0, np.nan), complex(np.inf, 2.0)])
    out = np.nan_to_num(Dual(z, np.array([1 + 1j, 1 + 1j])))
    np.testing.assert_array_equal(out.value, np.nan_to_num(z))
    np.testing.assert_array_equal(out.tangent, [1 + 0j, 1j])


# ---------------------------------------------------------------- ties elsewhere


def test_ptp_splits_the_tangent_at_ties() -> None:
    x = np.array([3.0, 1.0, 3.0, 1.0, 2.0])
    np.testing.assert_array_equal(jac(np.ptp, x), [0.5, -0.5, 0.5, -0.5, 0.0])


def test_partition_gives_each_entry_its_order_statistics_tangent() -> None:
    x = np.array([5.0, 1.0, 4.0, 2.0, 3.0])
    y, t = dn.jvp(lambda v: np.partition(v, 2), (x,), (np.arange(5.0),))
    np.testing.assert_array_equal(y, np.partition(x, 2))
    order = {v: i for i, v in enumerate(x)}
    np.testing.assert_array_equal(t, [float(order[v]) for v in y])
    # ties share the tangent; the sum of tangents is kept
    x = np.array([2.0, 1.0, 2.0, 0.0])
    y, t = dn.jvp(lambda v: np.partition(v, 1), (x,), (np.array([1.0, 0.0, 3.0, 0.0]),))
    np.testing.assert_array_equal(t[y == 2.0], [2.0, 2.0])
    assert t.sum() == 4.0


def test_sort_complex_follows_the_entries_and_splits_ties() -> None:
    z = np.array([2 + 1j, 1 - 1j, 1 + 2j])
    y, t = dn.jvp(np.sort_complex, (z,), (np.array([1.0, 2.0, 3.0]) + 0j,))
    np.testing.assert_array_equal(y, np.sort_complex(z))
    np.testing.assert_array_equal(t, [2.0, 3.0, 1.0])
    y, t = dn.jvp(np.sort_complex, (np.array([1.0, 0.0, 1.0]),), (np.array([1.0, 5.0, 3.0]),))
    assert y.dtype == np.complex128 and t.dtype == np.complex128
    np.testing.assert_array_equal(t, [5.0, 2.0, 2.0])


# ---------------------------------------------------------------- unique and set operations


def test_unique_with_duplicates_takes_the_tangent_of_the_first_occurrence() -> None:
    x = np.array([3.0, 1.0, 3.0, 2.0, 1.0])
    t = np.array([10.0, 20.0, 30.0, 40.0, 50.0])
    y, ty = dn.jvp(np.unique, (x,), (t,))
    np.testing.assert_array_equal(y, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(ty, [20.0, 40.0, 10.0])
    # the other outputs are plain NumPy arrays
    out = np.unique(Dual(x, t), return_index=True, return_inverse=True, return_counts=True)
    np.testing.assert_array_equal(out[0].tangent, [20.0, 40.0, 10.0])
    for got, want in zip(out[1:], np.unique(x, True, True, True)[1:], strict=True):
        assert not isinstance(got, Dual)
        np.testing.assert_array_equal(got, want)
    # batched directions
    T = np.stack([t, 2 * t])
    np.testing.assert_array_equal(tangent(np.unique, x, T, batched=True), [[20.0, 40.0, 10.0], [40.0, 80.0, 20.0]])


def test_unique_family_first_occurrence_and_plain_counts() -> None:
    x = np.array([3.0, 1.0, 3.0, 2.0, 1.0])
    d = Dual(x, np.array([10.0, 20.0, 30.0, 40.0, 50.0]))
    for f in (np.unique_all, np.unique_counts, np.unique_inverse):
        out = f(d)
        want = f(x)
        assert type(out) is type(want)
        np.testing.assert_array_equal(out.values.value, want.values)
        np.testing.assert_array_equal(out.values.tangent, [20.0, 40.0, 10.0])
        for got, ref in zip(out[1:], want[1:], strict=True):
            assert not isinstance(got, Dual)
            np.testing.assert_array_equal(got, ref)
    out = np.unique_values(d)
    np.testing.assert_array_equal(out.value, np.unique_values(x))
    first = {v: d.tangent[list(x).index(v)] for v in x}
    np.testing.assert_array_equal(out.tangent, [first[v] for v in out.value])


def test_unique_rows_and_nans() -> None:
    rows = np.array([[1.0, 2.0], [0.0, 5.0], [1.0, 2.0]])
    t = np.arange(6.0).reshape(3, 2)
    y, ty = dn.jvp(lambda v: np.unique(v, axis=0), (rows,), (t,))
    np.testing.assert_array_equal(y, [[0.0, 5.0], [1.0, 2.0]])
    np.testing.assert_array_equal(ty, [t[1], t[0]])
    x = np.array([np.nan, 1.0, np.nan])
    tt = np.array([1.0, 2.0, 3.0])
    # equal_nan=True (default): one NaN, the first one's tangent
    np.testing.assert_array_equal(tangent(np.unique, x, tt), [2.0, 1.0])
    # equal_nan=False: every NaN is its own value
    np.testing.assert_array_equal(tangent(lambda v: np.unique(v, equal_nan=False), x, tt), [2.0, 1.0, 3.0])


def test_set_operations_follow_the_first_occurrence() -> None:
    a = np.array([3.0, 1.0, 2.0, 1.0])
    b = np.array([2.0, 5.0, 3.0])
    ta, tb = np.array([1.0, 2.0, 3.0, 4.0]), np.array([10.0, 20.0, 30.0])
    # union: values present in ar1 take ar1's first occurrence, the rest ar2's
    y, t = dn.jvp(np.union1d, (a, b), (ta, tb))
    np.testing.assert_array_equal(y, [1.0, 2.0, 3.0, 5.0])
    np.testing.assert_array_equal(t, [2.0, 3.0, 1.0, 20.0])
    # setxor: each kept value lies in one input only
    y, t = dn.jvp(np.setxor1d, (a, b), (ta, tb))
    np.testing.assert_array_equal(y, [1.0, 5.0])
    np.testing.assert_array_equal(t, [2.0, 20.0])
    # setdiff: values of ar1; ar2 only decides membership
    y, t = dn.jvp(np.setdiff1d, (a, b), (ta, tb))
    np.testing.assert_array_equal(y, [1.0])
    np.testing.assert_array_equal(t, [2.0])
    # intersect: values of ar1
    y, t = dn.jvp(lambda u: np.intersect1d(u, b), (a,), (ta,))
    np.testing.assert_array_equal(y, [2.0, 3.0])
    np.testing.assert_array_equal(t, [3.0, 1.0])
    out = np.intersect1d(Dual(a, ta), b, return_indices=True)
    np.testing.assert_array_equal(out[0].tangent, [3.0, 1.0])
    np.testing.assert_array_equal(out[1], [2, 0])
    np.testing.assert_array_equal(out[2], [0, 2])


def test_intersect1d_refuses_a_dual_second_argument() -> None:
    with pytest.raises(TypeError, match="swap the arguments"):
        np.intersect1d(np.array([1.0, 2.0]), Dual(np.array([2.0]), np.ones(1)))


def test_isin_is_plain() -> None:
    out = np.isin(Dual(np.array([1.0, 2.0]), np.ones(2)), np.array([2.0]))
    assert not isinstance(out, Dual)
    np.testing.assert_array_equal(out, [False, True])


# ---------------------------------------------------------------- logsumexp with a max shift


def _logsumexp(x: Any, axis: Any = None) -> Any:
    m = np.max(x, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return np.squeeze(out, axis=axis) if axis is not None else np.reshape(out, ())


def _softmax(x: Any, axis: int = -1) -> Any:
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


@pytest.mark.parametrize("x", [np.array([0.3, -1.2, 2.0, 0.7]),
                               np.array([2.0, -1.0, 2.0, 0.5]),          # a tie in the max
                               np.array([5.0, 5.0, 5.0]),                # all tied
                               np.array([1000.0, 999.0, 1000.0])])       # large: the shift matters
def test_logsumexp_with_a_max_shift_has_the_softmax_gradient(x: Any) -> None:
    np.testing.assert_allclose(dn.grad(_logsumexp)(x), _softmax(x), rtol=1e-14, atol=1e-15)


def test_logsumexp_along_an_axis_with_ties_and_batched_directions() -> None:
    x = np.array([[1.0, 3.0, 3.0], [0.5, -2.0, 0.1]])
    t = np.random.default_rng(3).standard_normal((4, 2, 3))
    out = tangent(lambda v: _logsumexp(v, axis=1), x, t, batched=True)
    np.testing.assert_allclose(out, np.sum(_softmax(x)[None] * t, axis=-1), rtol=1e-14)
    # second derivative: the Hessian of logsumexp is diag(p) - p p^T
    p = _softmax(x[0])
    np.testing.assert_allclose(dn.hessian(_logsumexp)(x[0]), np.diag(p) - np.outer(p, p), atol=1e-14)


# ---------------------------------------------------------------- histograms and bincount


def test_bincount_is_linear_in_the_weights() -> None:
    x = np.array([0, 2, 2, 1, 2])
    w = np.array([0.5, 1.0, 2.0, 3.0, 4.0])
    J = jac(lambda v: np.bincount(x, weights=v, minlength=4), w)
    np.testing.assert_array_equal(J, np.eye(4)[x].T)
    with pytest.raises(TypeError, match="'x' takes no derivative"):
        np.bincount(Dual(x.astype(float), np.ones(5)), weights=w)


def test_histogram_counts_are_plain_and_weighted_counts_are_linear() -> None:
    a = np.array([0.1, 0.5, 0.55, 0.9, 0.2])
    d = Dual(a, np.ones(5))
    hist, edges = np.histogram(d, bins=3)
    assert not isinstance(hist, Dual) and not isinstance(edges, Dual)  # edges from Dual data: on values
    np.testing.assert_array_equal(edges, np.histogram(a, bins=3)[1])
    w = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    J = jac(lambda v: np.histogram(a, bins=3, weights=v)[0], w)
    bins = np.digitize(a, np.histogram(a, bins=3)[1][1:-1])
    np.testing.assert_array_equal(J, np.eye(3)[bins].T)
    # density normalises: the tangent of h / sum(h) / width
    f = lambda v: np.histogram(a, bins=3, weights=v, density=True)[0]
    dw = np.array([0.3, -1.0, 0.2, 0.5, 1.0])
    np.testing.assert_allclose(tangent(f, w, dw), fd(f, w, dw), rtol=1e-8)


def test_histogram_refuses_dual_bins() -> None:
    with pytest.raises(TypeError, match="bins cannot be a Dual"):
        np.histogram(np.array([0.1, 0.5]), bins=Dual(np.array([0.0, 0.5, 1.0]), np.ones(3)))


def test_histogram2d_and_dd_weighted() -> None:
    rng = np.random.default_rng(4)
    xy = rng.uniform(-1, 1, (20, 2))
    w = rng.uniform(0.5, 1.5, 20)
    for f in (lambda v: np.histogram2d(xy[:, 0], xy[:, 1], bins=3, weights=v, density=True)[0],
              lambda v: np.histogramdd(xy, bins=(2, 3), weights=v)[0]):
        dw = rng.standard_normal(20)
        np.testing.assert_allclose(tangent(f, w, dw), fd(f, w, dw), rtol=1e-8, atol=1e-12)


# ---------------------------------------------------------------- average, cumulative


def test_average_weights_are_differentiable_and_returned_scale() -> None:
    a = np.array([1.0, 2.0, 4.0])
    w = np.array([1.0, 1.0, 2.0])
    (avg, scl), (t_avg, t_scl) = dn.jvp(lambda x, v: np.average(x, weights=v, returned=True),
                                        (a, w), (np.zeros(3), np.array([1.0, 0.0, 0.0])))
    assert avg == np.average(a, weights=w) and scl == 4.0
    # d/dw0 of sum(a w)/sum(w) = (a0 - avg) / sum(w)
    np.testing.assert_allclose(t_avg, (a[0] - avg) / 4.0)
    assert t_scl == 1.0
    # weights along an axis
    A = np.arange(6.0).reshape(2, 3)
    f = lambda v: np.average(A, axis=1, weights=v)
    np.testing.assert_allclose(tangent(f, w, np.ones(3)), fd(f, w, np.ones(3)), rtol=1e-8)


def test_cumulative_sum_and_prod_include_initial() -> None:
    x = np.array([1.0, 2.0, 3.0])
    y, t = dn.jvp(lambda v: np.cumulative_sum(v, include_initial=True), (x,), (np.ones(3),))
    np.testing.assert_array_equal(y, [0.0, 1.0, 3.0, 6.0])
    np.testing.assert_array_equal(t, [0.0, 1.0, 2.0, 3.0])
    y, t = dn.jvp(lambda v: np.cumulative_prod(v, include_initial=True), (x,), (np.array([1.0, 0.0, 0.0]),))
    np.testing.assert_array_equal(y, [1.0, 1.0, 2.0, 6.0])
    np.testing.assert_array_equal(t, [0.0, 1.0, 2.0, 6.0])


# ---------------------------------------------------------------- selection


def test_choose_selects_by_the_value_of_the_index_array() -> None:
    idx = np.array([1, 0, 1])
    c0, c1 = np.array([1.0, 2.0, 3.0]), np.array([10.0, 20.0, 30.0])
    y, t = dn.jvp(lambda u, v: np.choose(idx, [u, v]), (c0, c1), (np.ones(3), 2 * np.ones(3)))
    np.testing.assert_array_equal(y, [10.0, 2.0, 30.0])
    np.testing.assert_array_equal(t, [2.0, 1.0, 2.0])
    # a Dual index is used by its value
    out = np.choose(Dual(idx, np.ones(3)), [c0, Dual(c1, np.ones(3))])
    np.testing.assert_array_equal(out.value, [10.0, 2.0, 30.0])
    np.testing.assert_array_equal(out.tangent, [1.0, 0.0, 1.0])


def test_select_takes_the_first_true_condition() -> None:
    x = np.array([-2.0, 0.5, 3.0])
    f = lambda v: np.select([v < 0, v < 1], [v ** 2, 3 * v], default=np.sin(v))
    np.testing.assert_allclose(jac(f, x), np.diag([-4.0, 3.0, np.cos(3.0)]))


def test_piecewise_preserves_tangents_and_batches() -> None:
    x = np.array([-1.5, -0.2, 0.4, 2.0])
    f = lambda v: np.piecewise(v, [v < 0, v > 1], [lambda u: u ** 3, lambda u: np.exp(u), 0.5])
    np.testing.assert_allclose(jac(f, x), np.diag([3 * 1.5 ** 2, 3 * 0.2 ** 2, 0.0, np.exp(2.0)]))
    T = np.random.default_rng(5).standard_normal((3, 4))
    np.testing.assert_allclose(tangent(f, x, T, batched=True), T @ jac(f, x).T)
    # float32 stays float32 (pieces are cast into x's dtype as NumPy does)
    y = f(Dual(x.astype(np.float32), np.ones(4, np.float32)))
    assert y.dtype == np.float32 and y.tangent.dtype == np.float32
    # a piece closing over an outer Dual: nesting works
    d = dn.derivative(lambda c: dn.derivative(
        lambda v: np.piecewise(v, [v < 0], [lambda u: c * u ** 2, lambda u: c * u]))(-1.0))(2.0)
    assert d == -2.0


def test_piecewise_scalar_input() -> None:
    y, t = dn.jvp(lambda v: np.piecewise(v, [v < 0, v >= 0], [lambda u: -u, lambda u: u ** 2]), (3.0,), (1.0,))
    assert y == 9.0 and t == 6.0


def test_compress_extract_trim_zeros() -> None:
    x = np.array([0.0, 0.0, 1.5, 0.0, -2.0, 0.0])
    t = np.arange(6.0)
    y, ty = dn.jvp(np.trim_zeros, (x,), (t,))
    np.testing.assert_array_equal(y, [1.5, 0.0, -2.0])
    np.testing.assert_array_equal(ty, [2.0, 3.0, 4.0])
    np.testing.assert_array_equal(tangent(lambda v: np.trim_zeros(v, "b"), x, t), [0.0, 1.0, 2.0, 3.0, 4.0])
    m = np.array([[0.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 1.0, 3.0]])
    y, ty = dn.jvp(np.trim_zeros, (m,), (np.arange(9.0).reshape(3, 3),))
    np.testing.assert_array_equal(y, [[2.0, 0.0], [1.0, 3.0]])
    np.testing.assert_array_equal(ty, [[4.0, 5.0], [7.0, 8.0]])
    np.testing.assert_array_equal(tangent(lambda v: np.extract(v > 0, v), x, t), [2.0])
    np.testing.assert_array_equal(tangent(lambda v: np.compress([0, 0, 1, 0, 1], v), x, t), [2.0, 4.0])


def test_fix_and_real_if_close() -> None:
    y, t = dn.jvp(np.fix, (np.array([-2.5, 1.7]),), (np.ones(2),))
    np.testing.assert_array_equal(y, [-2.0, 1.0])
    np.testing.assert_array_equal(t, [0.0, 0.0])
    z = np.array([1.0 + 1e-20j, 2.0 - 1e-20j])
    y, t = dn.jvp(np.real_if_close, (z,), (np.array([1 + 2j, 3 + 4j]),))
    assert y.dtype == np.float64 and t.dtype == np.float64
    np.testing.assert_array_equal(t, [1.0, 3.0])
    y, t = dn.jvp(np.real_if_close, (z + 1j,), (np.array([1 + 2j, 3 + 4j]),))
    np.testing.assert_array_equal(t, [1 + 2j, 3 + 4j])


def test_predicates_and_indices_are_plain() -> None:
    d = Dual(np.array([1.0, -np.inf, 0.0, np.inf]), np.ones(4))
    for f, want in ((np.isneginf, [False, True, False, False]), (np.isposinf, [False, False, False, True]),
                    (np.isreal, [True] * 4), (np.iscomplex, [False] * 4), (np.count_nonzero, 3),
                    (np.flatnonzero, [0, 1, 3])):
        out = f(d)
        assert not isinstance(out, Dual)
        np.testing.assert_array_equal(out, want)
    assert np.searchsorted(Dual(np.array([0.0, 1.0, 2.0]), np.ones(3)), 1.5) == 2
    np.testing.assert_array_equal(np.digitize(d, [0.5]), np.digitize(d.value, [0.5]))


# ---------------------------------------------------------------- apply_along_axis / apply_over_axes


def test_apply_along_axis_passes_dual_slices_and_batches() -> None:
    x = np.random.default_rng(6).standard_normal((3, 4))
    f = lambda v: np.apply_along_axis(lambda r: np.stack([np.sum(r ** 2), np.prod(r)]), 1, v)
    y = f(x)
    J = jac(f, x)
    assert J.shape == (*y.shape, *x.shape)
    for i in range(3):
        np.testing.assert_allclose(J[i, 0, i], 2 * x[i])
        np.testing.assert_allclose(J[i, 1, i], [np.prod(np.delete(x[i], j)) for j in range(4)])
    # scalar results along axis 0, float32 kept
    x32 = x.astype(np.float32)
    out = np.apply_along_axis(np.max, 0, Dual(x32, np.ones((2, 3, 4), np.float32)))
    assert out.value.dtype == np.float32 and out.tangent.shape == (2, 4)
    with pytest.raises(ValueError, match="iteration dimensions are 0"):
        np.apply_along_axis(np.sum, 0, Dual(np.zeros((3, 0)), np.zeros((3, 0))))


def test_apply_over_axes() -> None:
    x = np.arange(24.0).reshape(2, 3, 4) / 10
    y, t = dn.jvp(lambda v: np.apply_over_axes(np.sum, v, [0, 2]), (x,), (np.ones_like(x),))
    np.testing.assert_array_equal(y, np.apply_over_axes(np.sum, x, [0, 2]))
    np.testing.assert_array_equal(t, np.full((1, 3, 1), 8.0))


def test_histogram_density_of_dual_data_needs_a_range() -> None:
    """Without range= the bin widths follow the data's min and max; the rule takes no derivative
    through them, so it refuses rather than give a density with a silently zero derivative."""
    x = np.array([0.5, -1.0, 2.0, 0.1])
    with pytest.raises(TypeError, match="range="):
        dn.jacfwd(lambda a: np.histogram(a, 3, density=True)[0])(x)
    with pytest.raises(TypeError, match="range="):
        dn.jacfwd(lambda a: np.histogram2d(a, a[::-1], [2, np.array([-1.0, 0.0, 2.0])], density=True)[0])(x)
    # with the edges fixed, the density is piecewise constant in the data: a zero derivative
    np.testing.assert_array_equal(dn.jacfwd(lambda a: np.histogram(a, 3, range=(-2, 2), density=True)[0])(x),
                                  np.zeros((3, 4)))
    np.testing.assert_array_equal(
        dn.jacfwd(lambda a: np.histogram(a, [-2.0, 0.0, 1.0, 3.0], density=True)[0])(x), np.zeros((3, 4)))
