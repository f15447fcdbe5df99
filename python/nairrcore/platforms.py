"""Platform profiles: scheduler, accelerator and price (with its source and
date), shipped as data in platforms.json. Users override or add profiles with
a JSON file of the same shape (``--platforms FILE`` or $NAIRRCORE_PLATFORMS);
prices are never constants in code. A profile may carry the grid's carbon
intensity (``carbon``: g CO2e per kWh, its source and date), from which
reports estimate a run's emissions."""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path

from nairrcore.errors import ConfigError

_DEFAULTS = Path(__file__).with_name("platforms.json")
PRICE_UNITS = ("node-hour", "gpu-hour")


def _merge(base: dict, override: dict) -> dict:
    out = dict(base)
    for key, value in override.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def load_platforms(override: str | os.PathLike | None = None) -> dict[str, dict]:
    """The shipped profiles, with ``override`` (or $NAIRRCORE_PLATFORMS) merged on top."""
    profiles = json.loads(_DEFAULTS.read_text())
    path = override or os.environ.get("NAIRRCORE_PLATFORMS")
    if path:
        try:
            extra = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read platform profiles ({exc})") from exc
        if not isinstance(extra, dict):
            raise ConfigError(f"{path}: expected an object of platform name -> profile")
        for name, profile in extra.items():
            profiles[name] = _merge(profiles.get(name, {}), profile)
    for name, profile in profiles.items():
        price = profile.get("price")
        if not isinstance(price, dict) or not isinstance(price.get("amount"), (int, float)) \
                or price.get("per") not in PRICE_UNITS or not price.get("currency"):
            raise ConfigError(f"platform {name!r}: price needs amount, per ({' or '.join(PRICE_UNITS)}) and currency")
        carbon = profile.get("carbon")
        if carbon is not None and not (isinstance(carbon, dict) and isinstance(carbon.get("g_co2e_per_kwh"), (int, float))
                                       and carbon["g_co2e_per_kwh"] > 0 and carbon.get("source") and carbon.get("as_of")):
            raise ConfigError(f"platform {name!r}: carbon needs g_co2e_per_kwh (> 0), source and as_of")
    return profiles


def platform_profile(name: str, override: str | os.PathLike | None = None) -> dict:
    """The profile of platform ``name``; ConfigError with the known names (and the close match)."""
    profiles = load_platforms(override)
    if name not in profiles:
        close = difflib.get_close_matches(name, list(profiles), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"platform: unknown platform {name!r}, expected one of {sorted(profiles)}{hint}")
    return profiles[name]


def check_platform(name: str, override: str | os.PathLike | None = None) -> str:
    platform_profile(name, override)
    return name


def run_cost(profile: dict, wall_sec: float, gpus: int | None = None) -> float:
    """Price x hours: per node-hour for the node, per gpu-hour for each GPU used."""
    price = profile["price"]
    hours = wall_sec / 3600.0
    if price["per"] == "gpu-hour":
        count = gpus if gpus is not None else profile.get("gpus", 1)
        return price["amount"] * hours * max(count, 1)
    return price["amount"] * hours


def co2e_kg(kwh: float | None, profile: dict) -> float | None:
    """An estimate of the emissions of ``kwh``: times the profile's grid intensity, where it has one."""
    intensity = (profile.get("carbon") or {}).get("g_co2e_per_kwh")
    return kwh * intensity / 1000.0 if kwh is not None and intensity else None
