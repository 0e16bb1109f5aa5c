"""Pick the request version to use with a broker from its ApiVersions answer (KIP-35, KIP-511)."""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Tuple, Union

from kprod.errors import UnsupportedVersionError

from .messages import BY_KEY, BY_NAME, SUPPORTED_VERSIONS


def resolve_key(api: Union[int, str]) -> int:
    if isinstance(api, str):
        try:
            return BY_NAME[api].key
        except KeyError:
            raise ValueError(f"unknown API {api!r}") from None
    return int(api)


def api_name(key: int) -> str:
    api = BY_KEY.get(key)
    return api.name if api else f"api_key {key}"


def broker_versions(api_versions_response: Any) -> Dict[int, Tuple[int, int]]:
    """``{api_key: (min, max)}`` from a decoded ApiVersionsResponse."""
    return {k.api_key: (k.min_version, k.max_version)
            for k in api_versions_response.api_keys}


def pick_version(api: Union[int, str], broker: Mapping[int, Tuple[int, int]],
                 supported: Optional[Tuple[int, int]] = None) -> int:
    """Highest version in both kprod's range and the broker's.

    ``broker`` maps api_key -> (min, max) as advertised; ``supported`` defaults
    to kprod's range for the API. Raises UnsupportedVersionError naming the API
    and both ranges when they do not overlap (or the broker lacks the API).
    """
    key = resolve_key(api)
    ours = supported if supported is not None else SUPPORTED_VERSIONS.get(key)
    if ours is None:
        raise ValueError(f"kprod does not implement {api_name(key)}")
    theirs = broker.get(key)
    if theirs is None:
        raise UnsupportedVersionError(
            f"broker does not support {api_name(key)} (key {key}); kprod supports "
            f"versions {ours[0]}-{ours[1]}")
    hi = min(ours[1], theirs[1])
    if hi < max(ours[0], theirs[0]):
        raise UnsupportedVersionError(
            f"no common version for {api_name(key)} (key {key}): kprod supports "
            f"{ours[0]}-{ours[1]}, broker supports {theirs[0]}-{theirs[1]}")
    return hi
