"""What the portal says about each Questionnaire: its metadata and the scores it yields.

Everything comes from the catalogue the API serves: the Questionnaire's own JSON, its
compiled score items (codes and bands), and the catalogue's CodeSystems (a score code's
definition, which states its range).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service.catalog import CatalogReader, Entry
from service.config import SHIPPED
from service.questionnaire import CompiledQuestionnaire

__all__ = ["BandView", "Instrument", "ScoreView", "instrument", "instruments"]


@dataclass(frozen=True, slots=True)
class BandView:
    """A published band: its bounds as written, and its label."""

    low: str
    high: str
    code: str
    label: str


@dataclass(frozen=True, slots=True)
class ScoreView:
    """A score item: linkId, text, code, its CodeSystem definition, type, bands."""

    link_id: str
    text: str
    system: str
    code: str
    display: str
    definition: str
    type: str
    bands: tuple[BandView, ...]


@dataclass(frozen=True, slots=True)
class Instrument:
    """One Questionnaire of the catalogue, as the portal lists it."""

    id: str
    title: str
    version: str
    status: str
    url: str
    origin: str  # "shipped" (questionnaires/) or "site" (added by this site)
    purpose: str
    description: str
    copyright: str
    compiled: CompiledQuestionnaire
    scores: tuple[ScoreView, ...]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _number(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else str(value)


def _definitions(catalog: CatalogReader) -> dict[tuple[str, str], tuple[str, str]]:
    """(system, code) → (display, definition), from every CodeSystem in the catalogue."""
    found: dict[tuple[str, str], tuple[str, str]] = {}
    for entry in catalog.code_systems():
        system = _text(entry.resource.get("url"))
        for concept in entry.resource.get("concept") or ():
            if isinstance(concept, dict) and isinstance(concept.get("code"), str):
                pair = (_text(concept.get("display")), _text(concept.get("definition")))
                found[(system, concept["code"])] = pair
    return found


def _origin(source: Path) -> str:
    try:
        source.resolve().relative_to(SHIPPED.resolve())
    except (OSError, ValueError):
        return "site"
    return "shipped"


def _scores(
    compiled: CompiledQuestionnaire, definitions: dict[tuple[str, str], tuple[str, str]]
) -> tuple[ScoreView, ...]:
    views = []
    for score in compiled.scores:
        code = score.code or {}
        system, value = _text(code.get("system")), _text(code.get("code"))
        display, definition = definitions.get((system, value), ("", ""))
        bands = tuple(
            BandView(
                _number(band.low),
                _number(band.high),
                _text(band.interpretation.get("code")),
                _text(band.interpretation.get("display")),
            )
            for band in score.bands
        )
        views.append(
            ScoreView(
                score.link_id,
                score.text or "",
                system,
                value,
                _text(code.get("display")) or display,
                definition,
                score.type,
                bands,
            )
        )
    return tuple(views)


def instrument(
    catalog: CatalogReader,
    entry: Entry,
    definitions: dict[tuple[str, str], tuple[str, str]] | None = None,
) -> Instrument | None:
    """The portal's view of one catalogue entry; None unless it is a compiled Questionnaire."""
    compiled = entry.compiled
    if entry.resource_type != "Questionnaire" or not isinstance(compiled, CompiledQuestionnaire):
        return None
    resource = entry.resource
    return Instrument(
        id=entry.id,
        title=_text(resource.get("title")) or _text(resource.get("name")) or entry.id,
        version=_text(resource.get("version")),
        status=_text(resource.get("status")),
        url=_text(resource.get("url")),
        origin=_origin(entry.source),
        purpose=_text(resource.get("purpose")),
        description=_text(resource.get("description")),
        copyright=_text(resource.get("copyright")),
        compiled=compiled,
        scores=_scores(compiled, _definitions(catalog) if definitions is None else definitions),
    )


def instruments(catalog: CatalogReader) -> list[Instrument]:
    """Every Questionnaire the catalogue serves, by title."""
    definitions = _definitions(catalog)
    found = (instrument(catalog, entry, definitions) for entry in catalog.questionnaires())
    return sorted((i for i in found if i is not None), key=lambda i: (i.title.lower(), i.id))
