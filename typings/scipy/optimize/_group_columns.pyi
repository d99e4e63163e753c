# SciPy's private C (Pythran) greedy column grouping behind approx_derivative(sparsity=):
# columns in the given order of a CSC pattern, one group (color) at a time.
from typing import Any

import numpy as np

def group_sparse(m: int, n: int, indices: np.ndarray[Any, Any],
                 indptr: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]: ...
def group_dense(m: int, n: int, A: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]: ...
