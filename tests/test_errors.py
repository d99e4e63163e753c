"""Every refusal is a TypeError or ValueError whose message names the problem and the fix
(DESIGN.md section 7)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import dualnumpy as dn
from dualnumpy import Dual
from dualnumpy.rules.functions import FUNCTION_RULES

D = Dual(np.array([1.0, 2.0]), np.array([1.0, 0.0]))
S = Dual(1.5, 1.0)


def raises(exc: type[Exception], fn: Any, *fragments: str) -> str:
    """Call ``fn``; it must raise ``exc`` whose message holds every fragment."""
    with pytest.raises(exc) as info:
        fn()
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


# ---------------------------------------------------------------- construction


@pytest.mark.parametrize(
    ("value", "tangent"),
    [(np.ones(3), np.ones(4)), (np.ones(3), np.ones((2, 2, 3))), (np.ones((2, 3)), np.ones((3, 2))),
     (1.0, np.ones((2, 2))), (np.ones(3), 1.0)],
)
def test_mismatched_value_and_tangent_shapes(value: Any, tangent: Any) -> None:
    raises(ValueError, lambda: Dual(value, tangent), "tangent shape", str(np.shape(tangent)),
           str(np.shape(value)), "(k, *")


@pytest.mark.parametrize(
    ("tangent", "kind"),
    [(np.array([1, "a"], dtype=object), "object"), (np.array(["a", "b"]), "string"),
     (np.array([True, False]), "bool"), (np.array([b"a", b"b"]), "bytes")],
)
def test_tangent_of_non_numeric_dtype(tangent: Any, kind: str) -> None:
    raises(TypeError, lambda: Dual(np.ones(2), tangent), "tangent", kind, "float or complex")


def test_value_of_bool_dtype() -> None:
    raises(TypeError, lambda: Dual(np.array([True, False]), np.ones(2)), "value", "bool", "float")


def test_complex_tangent_for_real_value() -> None:
    raises(TypeError, lambda: Dual(np.ones(2), np.ones(2) * 1j), "complex tangent", "real value",
           "astype(complex)")


def test_bad_tag() -> None:
    raises(TypeError, lambda: Dual(1.0, 1.0, tag=True), "tag must be an int")
    raises(TypeError, lambda: Dual(1.0, 1.0, tag="a"), "tag must be an int")  # type: ignore[arg-type]


def test_nested_dual_of_higher_tag_inside() -> None:
    raises(ValueError, lambda: Dual(Dual(1.0, 1.0, tag=2), 1.0, tag=1), "lower tag", "outermost",
           "jvp")


def test_value_not_array_like() -> None:
    raises(TypeError, lambda: Dual(object(), 1.0), "value")


# ---------------------------------------------------------------- ufuncs and functions


@pytest.mark.parametrize(
    "call",
    [lambda: np.sin(D, out=np.empty(2)), lambda: np.add(D, 1.0, out=np.empty(2)),
     lambda: np.add(1.0, D, out=(np.empty(2),)), lambda: np.sum(D, out=np.empty(())),
     lambda: np.divmod(D, 2.0, out=(np.empty(2), np.empty(2)))],
)
def test_out_argument_is_refused(call: Any) -> None:
    raises(TypeError, call, "out=", "immutable", "Assign the result")


def test_out_none_is_allowed() -> None:
    out = np.sin(D, out=None)
    assert isinstance(out, Dual)


@pytest.mark.parametrize(
    ("call", "name"),
    [(lambda: np.bitwise_and(D, 1), "bitwise_and"), (lambda: D & 1, "bitwise_and"),
     (lambda: D | 1, "bitwise_or"), (lambda: D ^ 1, "bitwise_xor"), (lambda: ~D, "invert"),
     (lambda: D << 1, "left_shift"), (lambda: D >> 1, "right_shift"), (lambda: np.gcd(D, 2), "gcd"),
     (lambda: np.lcm(D, 2), "lcm"), (lambda: np.bitwise_or.reduce(D), "bitwise_or")],
)
def test_unsupported_ufuncs(call: Any, name: str) -> None:
    raises(TypeError, call, f"np.{name}", "not supported", "d.value")


def test_ufunc_in_place_methods_point_to_at() -> None:
    raises(TypeError, lambda: np.add.at(D, 0, 1.0), "np.add.at", ".at[index].add")


def test_ufunc_where_argument_is_refused() -> None:
    raises(TypeError, lambda: np.sin(D, where=np.array([True, False])), "where=", "np.where")


def test_function_missing_from_every_table_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every overridable NumPy function is classified (test_function_completeness), so a
    # missing one is what a new NumPy release brings: simulate it by removing a rule.
    monkeypatch.delitem(FUNCTION_RULES, np.roll)
    raises(TypeError, lambda: np.roll(D, 1), "np.roll", "not supported", "d.value")


def test_unsupported_function_is_named_with_its_module(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(FUNCTION_RULES, np.fft.fft)
    raises(TypeError, lambda: np.fft.fft(D), "np.fft.fft")


def test_refused_function_names_its_alternative() -> None:
    raises(TypeError, lambda: np.put(D, [0], [1.0]), "np.put", "not supported", ".at[")
    raises(TypeError, lambda: np.savetxt("/dev/null", D), "np.savetxt", "not supported")


def test_astype_to_integer() -> None:
    raises(TypeError, lambda: D.astype(np.int64), "int64", "no derivative", "d.value")


def test_non_differentiable_argument_given_as_dual() -> None:
    raises(TypeError, lambda: np.repeat(D, Dual(2.0, 1.0)), "np.repeat", "'repeats'", "d.value")
    raises(TypeError, lambda: np.take(D, Dual(np.array([0.0]), np.ones(1))), "'indices'", "d.value")


def test_different_directions_in_one_operation() -> None:
    a = Dual(np.ones(2), np.ones((2, 2)))
    b = Dual(np.ones(2), np.ones((3, 2)))
    raises(ValueError, lambda: a + b, "different numbers of directions", "[2, 3]", "same leading size k")
    raises(ValueError, lambda: a * Dual(np.ones(2), np.ones(2)), "a single direction",
           "same leading size k")
    raises(ValueError, lambda: a.at[0].set(Dual(1.0, np.ones(3))), "direction", "same number")


# ---------------------------------------------------------------- conversions


def test_np_asarray_of_dual() -> None:
    raises(TypeError, lambda: np.asarray(D), "drop its tangent", "d.value")
    raises(TypeError, lambda: np.array(D), "drop its tangent", "d.value")


def test_np_array_of_list_of_duals_names_stack() -> None:
    d0, d1 = Dual(1.0, 1.0), Dual(2.0, 0.0)
    raises(TypeError, lambda: np.array([d0, d1]), "np.stack")
    raises(TypeError, lambda: np.asarray([D, D]), "np.stack")
    stacked = np.stack([d0, d1])  # the fix works
    np.testing.assert_array_equal(stacked.tangent, [1.0, 0.0])


@pytest.mark.parametrize(("conv", "name"), [(float, "float"), (int, "int"), (complex, "complex")])
def test_scalar_conversions(conv: Any, name: str) -> None:
    raises(TypeError, lambda: conv(S), f"{name}()", "drop its tangent", "d.value")
    raises(TypeError, lambda: conv(Dual(np.array(1.0), np.array(1.0))), f"{name}()", "d.value")


def test_item_and_tolist() -> None:
    raises(TypeError, lambda: S.item(), "item()", "d.value")
    raises(TypeError, lambda: D.tolist(), "tolist()", "d.value")


@pytest.mark.parametrize("fn", [math.sin, math.exp, math.sqrt, math.log])
def test_math_module_functions_name_numpy(fn: Any) -> None:
    raises(TypeError, lambda: fn(S), "np.sin", "not math.sin")


def test_setitem_names_at() -> None:
    def assign() -> None:
        D[0] = 3.0

    raises(TypeError, assign, "immutable", ".at[index].set", ".add", ".multiply")


def test_in_place_operator_on_array_with_dual() -> None:
    def iadd() -> None:
        x = np.zeros(2)
        x += D

    raises(TypeError, iadd, "out=")


def test_in_place_methods() -> None:
    raises(TypeError, lambda: D.sort(), "immutable", "np.sort(d)")
    raises(TypeError, lambda: D.fill(0.0), "immutable", "np.full_like")


def test_pow_with_modulus() -> None:
    raises(TypeError, lambda: pow(S, 2, 3), "modulus")


def test_len_of_scalar_dual() -> None:
    raises(TypeError, lambda: len(S), "len()", "0-d")


# ---------------------------------------------------------------- indexing


@pytest.mark.parametrize(
    "index",
    [S, (0, S), (slice(None), S), [S]],
    ids=["dual", "tuple", "slice+dual", "list"],
)
def test_dual_used_as_index(index: Any) -> None:
    m = Dual(np.ones((2, 2)), np.ones((2, 2)))
    message = raises(TypeError, lambda: m[index], "index")
    if not isinstance(index, list):
        assert "cannot be a Dual" in message and "d.value" in message


def test_dual_used_as_index_in_at_update() -> None:
    raises(TypeError, lambda: D.at[S].set(1.0), "cannot be a Dual", "d.value")
    raises(TypeError, lambda: D.at[S].add(1.0), "cannot be a Dual")
    raises(TypeError, lambda: D.at[S].multiply(1.0), "cannot be a Dual")


def test_dual_used_to_index_an_array() -> None:
    # NumPy converts the index with __array__, which refuses and names d.value
    raises(TypeError, lambda: np.arange(3.0)[Dual(1.0, 1.0)], "d.value")


# ---------------------------------------------------------------- transforms


def test_grad_of_non_scalar_function_names_jacfwd() -> None:
    raises(TypeError, lambda: dn.grad(lambda x: x**2)(np.ones(2)), "scalar output", "(2,)", "jacfwd")
    raises(TypeError, lambda: dn.grad(lambda x: (x, x))(1.0), "scalar output", "jacfwd")
    raises(TypeError, lambda: dn.value_and_grad(lambda x: x * np.ones(3))(1.0), "jacfwd")
    raises(TypeError, lambda: dn.grad(lambda x: np.ones(1) * x)(1.0), "jacfwd")


def test_grad_of_complex_output() -> None:
    raises(TypeError, lambda: dn.grad(lambda x: x * 1j)(1.0), "complex", "jacfwd")


def test_grad_of_complex_input() -> None:
    raises(TypeError, lambda: dn.grad(lambda x: np.abs(x))(1j), "complex", "jvp")


def test_grad_of_bool_or_string_input() -> None:
    raises(TypeError, lambda: dn.grad(lambda x: 1.0)(True), "boolean", "float")
    raises(TypeError, lambda: dn.grad(lambda x: 1.0)("a"), "dtype", "float")


def test_has_aux_without_a_pair() -> None:
    raises(TypeError, lambda: dn.grad(lambda x: x, has_aux=True)(1.0), "has_aux=True", "(output, aux)")
    raises(TypeError, lambda: dn.jvp(lambda x: x, (1.0,), (1.0,), has_aux=True), "has_aux=True")
    raises(TypeError, lambda: dn.jacfwd(lambda x: (x, x, x), has_aux=True)(1.0), "has_aux=True")


def test_function_returning_a_non_numeric_leaf() -> None:
    raises(TypeError, lambda: dn.jvp(lambda x: "text", (1.0,), (1.0,)), "has_aux=True")


def test_derivative_needs_a_scalar() -> None:
    raises(TypeError, lambda: dn.derivative(np.sin)(np.ones(2)), "scalar", "(2,)", "jacfwd")


def test_jvp_batched_tangents_of_different_k() -> None:
    raises(ValueError,
           lambda: dn.jvp(lambda a, b: a * b, (np.ones(2), np.ones(2)), (np.ones((2, 2)), np.ones((3, 2))),
                          batched=True),
           "different numbers of directions", "[2, 3]", "same leading size k")


def test_jvp_primals_and_tangents_of_different_structure() -> None:
    raises(ValueError,
           lambda: dn.jvp(lambda a, b: a * b, (np.ones(2), np.ones(2)), (np.ones(2),)),
           "differ in structure")
    raises(ValueError, lambda: dn.jvp(lambda a: a["x"], ({"x": 1.0},), ({"y": 1.0},)),
           "differ in structure", "'x'", "'y'")
    raises(ValueError, lambda: dn.jvp(lambda a: a[0], ((1.0, 2.0),), ([1.0, 2.0],)),
           "differ in structure")


def test_jvp_tangent_shape_mismatch() -> None:
    raises(ValueError, lambda: dn.jvp(np.sin, (np.ones(2),), (np.ones(3),)),
           "tangent leaf 0", "(3,)", "(2,)")
    raises(ValueError, lambda: dn.jvp(np.sin, (np.ones(2),), (np.ones(2),), batched=True),
           "tangent leaf 0", "(k, *(2,))")


def test_jvp_tangent_dtypes() -> None:
    raises(TypeError, lambda: dn.jvp(np.sin, (1.0,), ("a",)), "tangent leaf 0", "float or complex")
    raises(TypeError, lambda: dn.jvp(np.sin, (np.ones(2),), (np.array([True, False]),)),
           "tangent leaf 0", "bool", "float or complex")
    raises(TypeError, lambda: dn.jvp(np.sin, (np.ones(2),), (np.ones(2) * 1j,)),
           "complex", "make the primal complex")
    raises(TypeError, lambda: dn.jvp(np.sin, (np.ones(2),), (np.array([object(), object()]),)),
           "tangent leaf 0", "float or complex")


def test_jvp_needs_tuples() -> None:
    raises(TypeError, lambda: dn.jvp(np.sin, 1.0, 1.0), "tuples", "jvp(f, (x,), (t,))")


@pytest.mark.parametrize("transform", [dn.grad, dn.value_and_grad, dn.jacfwd, dn.hessian])
def test_argnums_out_of_range(transform: Any) -> None:
    raises(ValueError, lambda: transform(lambda x: x, argnums=1)(1.0), "argnums", "out of range")
    raises(ValueError, lambda: transform(lambda x: x, argnums=-2)(1.0), "argnums", "out of range")
    raises(ValueError, lambda: transform(lambda x, y: x, argnums=(0, 5))(1.0, 2.0), "argnums",
           "(0, 5)", "out of range")


@pytest.mark.parametrize("argnums", [0.5, "a", None, (0, 1.0), True])
def test_argnums_of_wrong_type(argnums: Any) -> None:
    raises(TypeError, lambda: dn.grad(lambda x, y: x * y, argnums=argnums)(1.0, 2.0), "argnums",
           "int or a tuple of ints")


@pytest.mark.parametrize("chunk_size", [0, -1, 1.5, "2", True])
@pytest.mark.parametrize("transform", [dn.grad, dn.value_and_grad, dn.jacfwd, dn.hessian])
def test_bad_chunk_size(transform: Any, chunk_size: Any) -> None:
    raises(ValueError, lambda: transform(lambda x: np.sum(x**3), chunk_size=chunk_size)(np.ones(3)),
           "chunk_size", "positive int", repr(chunk_size))
    # scalar arguments too (they may take a faster path)
    raises(ValueError, lambda: transform(lambda x, y: x * y, argnums=(0, 1), chunk_size=chunk_size)(1.0, 2.0),
           "chunk_size", "positive int", repr(chunk_size))


def test_numpy_integer_chunk_size_is_accepted() -> None:
    g = dn.grad(lambda x: np.sum(x**2), chunk_size=np.int64(2))(np.arange(5.0))
    np.testing.assert_array_equal(g, 2 * np.arange(5.0))


def test_escaped_perturbation() -> None:
    leaked: list[Any] = []

    def outer(x: Any) -> Any:
        dn.derivative(lambda y: leaked.append(y) or y)(x)
        return x * leaked[-1]

    raises(ValueError, lambda: dn.derivative(outer)(1.0), "escaped", "inner")
