"""What the tables cover, for users and for the README's generated table."""

from __future__ import annotations

from typing import Any

from dualnumpy import rules
from dualnumpy.numpy_facts.signatures import public_name


def _kind(rule: Any) -> str:
    return type(rule).__name__.removesuffix("Fn")


def supported() -> dict[str, dict[str, str]]:
    """Every NumPy ufunc and function dualnumpy knows, with the kind of its rule.

    Kinds (``dualnumpy.rules``): ``Elementwise``, ``Linear``, ``Bilinear``, ``Custom``,
    ``Composite``, ``Switch`` and ``PiecewiseConstant`` carry derivatives; ``NonDiff``
    returns plain NumPy results; ``Unsupported`` raises a TypeError that says what to do
    instead. Rules registered with ``dualnumpy.rules.register`` are listed too.

    Examples
    --------
    >>> import dualnumpy as dn
    >>> dn.supported()["ufuncs"]["sin"]
    'Elementwise'
    """
    ufuncs = {u.__name__: _kind(r) for u, r in rules.UFUNC_RULES.items()}
    functions = {public_name(f): _kind(r)
                 for f, r in rules.FUNCTION_RULES.items()}
    return {"ufuncs": dict(sorted(ufuncs.items())), "functions": dict(sorted(functions.items()))}


def supported_markdown() -> str:
    """The README's table of covered operations, generated from the rule tables."""
    tables = supported()
    lines = []
    for title, key in (("ufuncs (`np.<name>`, also through operators)", "ufuncs"),
                       ("NumPy functions (`__array_function__`)", "functions")):
        by_kind: dict[str, list[str]] = {}
        for name, kind in tables[key].items():
            if name.startswith("_") or (kind == "Unsupported" and key == "ufuncs" and name not in _SHOWN_UNSUPPORTED):
                continue
            by_kind.setdefault(kind, []).append(f"`{name}`")
        lines.append(f"**{title}**\n")
        lines.append("| kind | operations |")
        lines.append("|---|---|")
        for kind in sorted(by_kind):
            lines.append(f"| {kind} | {', '.join(by_kind[kind])} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


# The string ufuncs are refused too, but listing forty of them would bury the table.
_SHOWN_UNSUPPORTED = {"bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_count", "invert",
                      "left_shift", "right_shift", "gcd", "lcm"}


def update_readme(path: str) -> None:
    """Rewrite the generated table between the README's markers."""
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    begin, end = "<!-- supported:begin -->\n", "<!-- supported:end -->"
    head, _, rest = text.partition(begin)
    _, _, tail = rest.partition(end)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(head + begin + supported_markdown() + end + tail)


if __name__ == "__main__":  # python -m dualnumpy._support README.md
    import sys

    update_readme(sys.argv[1])
