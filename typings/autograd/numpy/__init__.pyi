# autograd.numpy mirrors numpy's namespace with traceable wrappers; every name is Any here.
from typing import Any

def __getattr__(name: str) -> Any: ...
