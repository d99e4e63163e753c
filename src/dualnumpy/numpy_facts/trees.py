"""Pytrees: tuples, lists, dicts and None of arrays, flattened to leaves and back."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TreeDef:
    """The structure of a pytree, without its leaves."""

    kind: str  # "leaf", "none", "tuple", "namedtuple", "list", "dict"
    children: tuple[TreeDef, ...] = ()
    meta: Any = None  # dict keys, or the namedtuple class

    @property
    def num_leaves(self) -> int:
        if self.kind == "leaf":
            return 1
        return sum(child.num_leaves for child in self.children)

    def __str__(self) -> str:
        if self.kind == "leaf":
            return "*"
        if self.kind == "none":
            return "None"
        inner = ", ".join(str(c) for c in self.children)
        if self.kind == "dict":
            inner = ", ".join(f"{k!r}: {c}" for k, c in zip(self.meta, self.children, strict=True))
            return "{" + inner + "}"
        if self.kind == "list":
            return "[" + inner + "]"
        return "(" + inner + ("," if len(self.children) == 1 else "") + ")"


LEAF = TreeDef("leaf")


def flatten(tree: Any) -> tuple[list[Any], TreeDef]:
    leaves: list[Any] = []
    return leaves, _flatten(tree, leaves)


def _flatten(tree: Any, leaves: list[Any]) -> TreeDef:
    if tree is None:
        return TreeDef("none")
    if isinstance(tree, tuple):
        children = tuple(_flatten(x, leaves) for x in tree)
        if hasattr(tree, "_fields"):
            return TreeDef("namedtuple", children, type(tree))
        return TreeDef("tuple", children)
    if isinstance(tree, list):
        return TreeDef("list", tuple(_flatten(x, leaves) for x in tree))
    if isinstance(tree, dict):
        keys = tuple(tree)
        return TreeDef("dict", tuple(_flatten(tree[k], leaves) for k in keys), keys)
    leaves.append(tree)
    return LEAF


def unflatten(treedef: TreeDef, leaves: list[Any]) -> Any:
    iterator = iter(leaves)
    tree = _unflatten(treedef, iterator)
    return tree


def _unflatten(treedef: TreeDef, leaves: Any) -> Any:
    if treedef.kind == "leaf":
        return next(leaves)
    if treedef.kind == "none":
        return None
    children = [_unflatten(c, leaves) for c in treedef.children]
    if treedef.kind == "tuple":
        return tuple(children)
    if treedef.kind == "namedtuple":
        return treedef.meta(*children)
    if treedef.kind == "list":
        return children
    return dict(zip(treedef.meta, children, strict=True))


def tree_map(fn: Callable[[Any], Any], tree: Any) -> Any:
    leaves, treedef = flatten(tree)
    return unflatten(treedef, [fn(x) for x in leaves])


def iter_leaves(x: Any) -> Iterator[Any]:
    """Every item inside nested lists, tuples and dicts (an argument as NumPy reads it)."""
    if isinstance(x, (list, tuple)):
        for item in x:
            yield from iter_leaves(item)
    elif isinstance(x, dict):
        for item in x.values():
            yield from iter_leaves(item)
    else:
        yield x
