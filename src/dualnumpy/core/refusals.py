"""The refusals every protocol entry shares: a TypeError that names the operation and the fix."""

from __future__ import annotations

from typing import Any, NoReturn


def unsupported(name: str, fix: str) -> NoReturn:
    raise TypeError(f"{name} is not supported for Duals: {fix}")


def refuse_out(name: str, kwargs: dict[str, Any]) -> None:
    out = kwargs.pop("out", None)
    if out is None:
        return
    outs = out if isinstance(out, tuple) else (out,)
    if any(o is not None for o in outs):
        raise TypeError(
            f"{name}: out= is not supported with Duals: a Dual is immutable and a plain out "
            f"array cannot hold a tangent. Assign the result instead: y = {name}(...)"
        )


def refuse_where(name: str, kwargs: dict[str, Any]) -> None:
    where = kwargs.pop("where", True)
    if where is not True:
        raise TypeError(
            f"{name}: where= is not supported with Duals (it leaves masked entries "
            f"uninitialised); use np.where(mask, {name}(...), fallback) instead"
        )
