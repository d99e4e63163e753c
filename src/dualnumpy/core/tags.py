"""Tags that keep nested perturbations apart (DESIGN.md section 4).

Every ``jvp``-style call draws a fresh tag from one monotonic counter. When an
operation sees Duals of different tags, the highest tag is the outermost
perturbation; Duals of lower tags are constants for it and live inside its
value and tangent.
"""

from __future__ import annotations

import itertools

#: Tag of Duals built by hand without ``tag=``; every transform uses a larger one.
DEFAULT_TAG = 0

_counter = itertools.count(DEFAULT_TAG + 1)


def new_tag() -> int:
    """Return a tag larger than every tag handed out before."""
    return next(_counter)


#: Tags whose Duals carry k tangent directions through a ``custom_jvp`` rule written for one
#: (value zero, the directions as its tangent). Their values are not the tangent's, so a
#: comparison or a predicate of one is refused, and the rule is run once per direction.
carrier_tags: set[int] = set()
