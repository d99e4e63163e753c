from typing import Any

import numpy as np

class spmatrix:
    shape: tuple[int, int]
    nnz: int
    dtype: np.dtype[Any]
    def __init__(self, *args: Any, **kwargs: Any) -> None: ...
    def tocsr(self, copy: bool = ...) -> csr_matrix: ...
    def tocsc(self, copy: bool = ...) -> csc_matrix: ...
    def toarray(self) -> np.ndarray[Any, Any]: ...
    def __getattr__(self, name: str) -> Any: ...

class csr_matrix(spmatrix):
    data: np.ndarray[Any, Any]
    indices: np.ndarray[Any, Any]
    indptr: np.ndarray[Any, Any]
    has_canonical_format: bool

class csc_matrix(spmatrix):
    data: np.ndarray[Any, Any]
    indices: np.ndarray[Any, Any]
    indptr: np.ndarray[Any, Any]

def issparse(x: object) -> bool: ...
def __getattr__(name: str) -> Any: ...
