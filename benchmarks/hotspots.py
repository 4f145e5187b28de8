"""Where `$score`'s time goes: cProfile over the engine path, grouped by module and function."""

from __future__ import annotations

import cProfile
import pstats
from dataclasses import dataclass
from pathlib import Path

from service.fhir import jsonio
from service.questionnaire import compile_questionnaire
from service.response import score_response

from .engine import score_parameters
from .instruments import Instrument

__all__ = ["Hotspot", "Profile", "hotspots"]


@dataclass(frozen=True, slots=True)
class Hotspot:
    """One function: its share of the profiled time spent in it alone, and under it."""

    function: str
    calls_per_request: float
    own_share: float
    total_share: float


@dataclass(frozen=True, slots=True)
class Profile:
    """One instrument's profile: own time by module, and the top functions."""

    instrument: str
    modules: list[tuple[str, float]]
    functions: list[Hotspot]


def hotspots(instrument: Instrument, requests: int, top: int = 10) -> Profile:
    """Profile `requests` `$score` calls (parse, score, Parameters); where the own time goes."""
    compiled = compile_questionnaire(instrument.questionnaire)
    body = instrument.body
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(requests):
        score_parameters(score_response(compiled, jsonio.loads(body)))
    profile.disable()
    stats = pstats.Stats(profile)
    table = stats.stats  # type: ignore[attr-defined]
    total = sum(row[2] for row in table.values()) or 1.0
    modules: dict[str, float] = {}
    for key, row in table.items():
        module = _name(key).split(":")[0] if key[0] != "~" else "builtins"
        modules[module] = modules.get(module, 0.0) + row[2] / total
    rows = sorted(table.items(), key=lambda kv: kv[1][2], reverse=True)[:top]
    functions = [
        Hotspot(_name(key), row[1] / requests, row[2] / total, row[3] / total) for key, row in rows
    ]
    by_module = sorted(modules.items(), key=lambda kv: kv[1], reverse=True)
    return Profile(instrument.id, by_module, functions)


def _name(key: tuple[str, int, str]) -> str:
    filename, line, function = key
    if filename == "~":
        return function  # a builtin
    path = Path(filename)
    parts = path.with_suffix("").parts
    where = ".".join(parts[parts.index("service") :]) if "service" in parts else path.stem
    return f"{where}:{line} {function}"
