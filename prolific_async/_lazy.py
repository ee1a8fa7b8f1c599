"""Names a package resolves on first use (its module ``__getattr__``), then keeps."""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["resolve"]


def resolve(package: str, namespace: dict[str, Any], name: str) -> Any:
    """Import ``name`` from its submodule (the package's ``_LAZY``), keep it in ``namespace``."""
    module_name, attribute = namespace["_LAZY"][name]
    module = importlib.import_module(f".{module_name}", package)
    value = module if attribute is None else getattr(module, attribute)
    namespace[name] = value  # the next lookup finds it without __getattr__
    return value
