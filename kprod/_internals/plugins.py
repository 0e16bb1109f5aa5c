"""Settings that name a class ("package.module.Class"), as Java's class-typed settings
(partitioner.class, key.serializer, interceptor.classes, metric.reporters) do: the class
is imported and instantiated without arguments; then the plugin's lifecycle (Java's
Configurable and Closeable): ``configure(configs)`` once, ``close()`` once when the
producer closes."""
from __future__ import annotations

import importlib
import inspect
import logging
from typing import Any, Dict, List, Tuple

from kprod.errors import ConfigError
from kprod.partitioner import RoundRobinPartitioner

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


# -- lifecycle (Java's Configurable / Closeable) -------------------------------------------

def configure(obj: Any, configs: Dict[str, Any], setting: str, *extra: Any) -> None:
    """``obj.configure(configs, *extra)`` if it has one (Java ``Configurable``); Java calls
    it on the plugins it instantiates from a class or class name, not on instances the
    user passed in. ``extra`` (a serializer's ``is_key``) is passed only when the method
    takes it. A failure is a ConfigError naming the setting."""
    method = getattr(obj, "configure", None)
    if not callable(method):
        return
    args: Tuple[Any, ...] = (configs,)
    if extra and _takes(method, 1 + len(extra)):
        args += extra
    try:
        method(*args)
    except Exception as exc:
        raise ConfigError(f"Setting '{setting}': {type(obj).__qualname__}.configure() failed: "
                          f"{type(exc).__name__}: {exc}") from exc


def _takes(method: Any, count: int) -> bool:
    try:
        parameters = inspect.signature(method).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = [p for p in parameters
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= count or any(p.kind == p.VAR_POSITIONAL for p in parameters)


def close_all(objects: List[Any], log: logging.Logger) -> None:
    """``close()`` each object once (Java ``Utils.closeQuietly``): errors are logged."""
    seen = set()
    for obj in objects:
        if obj is None or id(obj) in seen:
            continue
        seen.add(id(obj))
        closer = getattr(obj, "close", None)
        if callable(closer):
            try:
                closer()
            except Exception:
                log.exception("close() of %r failed", obj)


def resolve_list(spec: Any, setting: str) -> List[Tuple[Any, bool]]:
    """A list setting of plugins (``interceptor.classes``, ``metric.reporters``): objects,
    classes or "package.module.Class" names, a list or one comma-separated string.
    Returns ``(instance, instantiated_here)`` pairs."""
    if not spec:
        return []
    if isinstance(spec, str):
        spec = [part for part in (piece.strip() for piece in spec.split(",")) if part]
    items = [spec] if not isinstance(spec, (list, tuple)) else list(spec)
    result = []
    for item in items:
        obj, made = item, False
        if isinstance(obj, str):
            obj = load_class(obj, setting)
        if isinstance(obj, type):
            obj, made = instantiate(obj, setting), True
        result.append((obj, made))
    return result


# Java's partitioner class names. DefaultPartitioner and UniformStickyPartitioner were
# removed in Kafka 4.0 (KIP-794); their meaning is a setting here, never a silent guess.
_JAVA_PARTITIONERS = {
    "org.apache.kafka.clients.producer.RoundRobinPartitioner": RoundRobinPartitioner,
}
_JAVA_REMOVED_PARTITIONERS = {
    "org.apache.kafka.clients.producer.internals.DefaultPartitioner":
        "leave partitioner.class unset: the built-in partitioner hashes keys the same way "
        "(murmur2) and spreads unkeyed records with uniform sticky partitioning (KIP-794)",
    "org.apache.kafka.clients.producer.UniformStickyPartitioner":
        "leave partitioner.class unset and set partitioner.ignore.keys=true",
}


def resolve_partitioner(spec: Any) -> Tuple[Any, bool]:
    """``partitioner.class``: None (built in), a Partitioner object or class, Java's
    RoundRobinPartitioner name, or a "package.module.Class" name to import; returns the
    partitioner and whether it was instantiated here."""
    if spec is None:
        return None, False
    made = False
    if isinstance(spec, str):
        name = spec.strip()
        if name in _JAVA_REMOVED_PARTITIONERS:
            raise ConfigError(f"Setting 'partitioner.class': {name} was removed in Kafka 4.0; "
                              f"{_JAVA_REMOVED_PARTITIONERS[name]}")
        if name in _JAVA_PARTITIONERS:
            spec = _JAVA_PARTITIONERS[name]
        elif "." not in name:
            from kprod import partitioner as builtin
            spec = getattr(builtin, name, None)
            if not isinstance(spec, type) or not hasattr(spec, "partition"):
                raise ConfigError(f"Setting 'partitioner.class': unknown partitioner {name!r} "
                                  "(built in: RoundRobinPartitioner; or a 'module.Class' name, "
                                  "a class or an object)")
        else:
            spec = load_class(name, "partitioner.class")
    if isinstance(spec, type):
        if not callable(getattr(spec, "partition", None)):
            raise ConfigError(f"Setting 'partitioner.class': {spec.__qualname__} has no "
                              "partition(topic, key, key_bytes, value, value_bytes, cluster) "
                              "method")
        spec, made = instantiate(spec, "partitioner.class"), True
    if not callable(getattr(spec, "partition", None)):
        raise ConfigError("Setting 'partitioner.class' needs an object with a "
                          "partition(topic, key, key_bytes, value, value_bytes, cluster) method")
    return spec, made
