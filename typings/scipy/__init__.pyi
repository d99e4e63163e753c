# Stubs for SciPy (https://scipy.org), which ships no types: only what dualnumpy.sparsity
# touches (scipy.sparse matrices and the C column grouping of scipy.optimize).
from typing import Any

def __getattr__(name: str) -> Any: ...
