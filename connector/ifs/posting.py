"""Posting steps a tenant may replace, loaded from an import path.

Delivery, return receipt, purchase receipt and stock-level posting differ
between IFS releases and tenants: one bound action here, IFS's own shipment
process there. Each is a small protocol in its gateway module with a default
implementation; the mapping names the class as `module:Class`, and the class
is built with the IFS client and its section of the mapping's `ifs:` names.
"""

from __future__ import annotations

import importlib
from typing import Any

from connector.errors import ConfigError


def load_class(import_path: str, setting: str) -> type[Any]:
    """`package.module:ClassName` -> the class; a ConfigError naming the
    mapping key when it cannot be imported."""
    module_name, sep, attribute = import_path.partition(":")
    if not sep or not module_name or not attribute:
        raise ConfigError(f"mapping ifs.{setting}: {import_path!r} is not a 'package.module:ClassName' path")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"mapping ifs.{setting}: cannot import {module_name} ({exc})") from None
    found = getattr(module, attribute, None)
    if not isinstance(found, type):
        raise ConfigError(f"mapping ifs.{setting}: {module_name} has no class {attribute}")
    return found
