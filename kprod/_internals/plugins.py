"""Settings that name a class ("package.module.Class"), as Java's class-typed settings
(partitioner.class, key.serializer, interceptor.classes) do: the class is imported and
instantiated without arguments."""
from __future__ import annotations

import importlib
from typing import Any

from kprod.errors import ConfigError

JAVA_PACKAGE = "org.apache.kafka."


def load_class(name: str, setting: str) -> type:
    """Import ``package.module.Class``; a ConfigError naming ``setting`` if that fails."""
    module_name, _, attribute = name.strip().rpartition(".")
    if not module_name or not attribute:
        raise ConfigError(f"Setting '{setting}': {name!r} is not a 'package.module.Class' name")
    if name.startswith(JAVA_PACKAGE):
        raise ConfigError(f"Setting '{setting}': the Java class {name!r} has no kprod "
                          f"equivalent; give a Python class or object instead")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise ConfigError(f"Setting '{setting}': cannot import module {module_name!r} "
                          f"for {name!r}: {type(exc).__name__}: {exc}") from exc
    try:
        found = getattr(module, attribute)
    except AttributeError:
        raise ConfigError(f"Setting '{setting}': module {module_name!r} has no "
                          f"{attribute!r}") from None
    if not isinstance(found, type):
        raise ConfigError(f"Setting '{setting}': {name!r} is a {type(found).__name__}, "
                          f"not a class")
    return found


def instantiate(cls: type, setting: str) -> Any:
    """``cls()``; a ConfigError naming ``setting`` if the constructor fails."""
    try:
        return cls()
    except Exception as exc:
        raise ConfigError(f"Setting '{setting}': could not instantiate "
                          f"{cls.__module__}.{cls.__qualname__}() without arguments: "
                          f"{type(exc).__name__}: {exc}") from exc


def new_instance(name: str, setting: str) -> Any:
    """Import and instantiate ``package.module.Class``."""
    return instantiate(load_class(name, setting), setting)
