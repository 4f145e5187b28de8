"""load_catalog: read the folders, check every file and the files together, build the Catalog."""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from service import rules
from service.fhir.jsonio import loads
from service.questionnaire import CompiledQuestionnaire
from service.questionnaire.checks import CATALOGUE_TYPES, Compiler, check_resource
from service.questionnaire.checks.codes import check_codings, code_index
from service.questionnaire.problems import CatalogError, Problem

from ._catalog import Catalog
from ._entry import build_entry

__all__ = ["load_catalog", "resource_files"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Loaded:
    source: Path
    resource: dict[str, Any]
    modified: datetime
    compiled: CompiledQuestionnaire | None


def resource_files(paths: Sequence[Path]) -> tuple[list[Path], list[Problem]]:
    """The files to load: each folder's `*.json` but `*.vectors.json`, by name; files as given."""
    files: list[Path] = []
    problems: list[Problem] = []
    for path in paths:
        if path.is_dir():
            files.extend(
                p for p in sorted(path.glob("*.json")) if not p.name.endswith(".vectors.json")
            )
        elif path.is_file():
            files.append(path)
        else:
            problems.append(Problem(str(path), rules.PATH, "no such file or folder"))
    return files, problems


def load_catalog(
    dirs: Sequence[Path],
    *,
    disabled: Collection[str] = (),
    compiler: Compiler | None = None,
) -> Catalog:
    """Load and check every resource in `dirs` (shipped folder first); raise CatalogError.

    `disabled` Questionnaire ids are checked but neither served nor resolvable;
    `compiler` runs on each Questionnaire and its result is kept as `Entry.compiled`.
    """
    files, problems = resource_files(dirs)
    loaded: list[_Loaded] = []
    for path in files:
        item, found = _load_file(path, compiler)
        problems.extend(found)
        if item is not None:
            loaded.append(item)
    problems.extend(_check_together(loaded))
    if problems:
        raise CatalogError(_by_file(problems))
    _warn_unknown(disabled, loaded)
    entries = [
        build_entry(item.resource, item.source, item.modified, item.compiled)
        for item in loaded
        if not (
            item.resource["resourceType"] == "Questionnaire" and item.resource["id"] in disabled
        )
    ]
    return Catalog(entries, disabled=disabled)


def _load_file(path: Path, compiler: Compiler | None) -> tuple[_Loaded | None, list[Problem]]:
    source = str(path)
    try:
        data = path.read_bytes()
        modified = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    except OSError as exc:
        return None, [Problem(source, rules.PATH, f"cannot read: {exc.strerror}")]
    try:
        resource = loads(data)
    except ValueError as exc:  # jsonio's InvalidRequest / PayloadTooDeep
        return None, [Problem(source, rules.JSON, str(exc))]
    problems, compiled = check_resource(resource, source, compiler)
    if not isinstance(resource, dict) or resource.get("resourceType") not in CATALOGUE_TYPES:
        return None, problems
    if not isinstance(resource.get("id"), str):
        return None, problems
    # Kept even with problems: the cross-file checks (ids, canonicals, codes) still apply.
    return _Loaded(path, resource, modified, compiled), problems


def _by_file(problems: list[Problem]) -> list[Problem]:
    """Each file's problems together, files in the order they were read."""
    grouped: dict[str, list[Problem]] = {}
    for problem in problems:
        grouped.setdefault(problem.source, []).append(problem)
    return [problem for found in grouped.values() for problem in found]


def _check_together(loaded: list[_Loaded]) -> Iterator[Problem]:
    """Rules across files: unique id per type, unique url|version, codes that exist."""
    ids: dict[tuple[str, str], Path] = {}
    canonicals: dict[tuple[str, str | None], Path] = {}
    for item in loaded:
        root, rid = item.resource["resourceType"], item.resource["id"]
        if (root, rid) in ids:
            text = f"{root} id {rid!r} is also defined in {ids[root, rid]}"
            yield Problem(str(item.source), rules.DUPLICATE_ID, text, f"{root}.id")
        ids.setdefault((root, rid), item.source)
        url, version = item.resource.get("url"), item.resource.get("version")
        if isinstance(url, str) and (version is None or isinstance(version, str)):
            if (url, version) in canonicals:
                text = f"{url}|{version} is also defined in {canonicals[url, version]}"
                yield Problem(str(item.source), rules.DUPLICATE_CANONICAL, text, f"{root}.url")
            canonicals.setdefault((url, version), item.source)
    index = code_index([i.resource for i in loaded if i.resource["resourceType"] == "CodeSystem"])
    for item in loaded:
        yield from check_codings(item.resource, index, str(item.source))


def _warn_unknown(disabled: Collection[str], loaded: list[_Loaded]) -> None:
    known = {i.resource["id"] for i in loaded if i.resource["resourceType"] == "Questionnaire"}
    for rid in sorted(set(disabled) - known):
        log.warning("disabled Questionnaire %r is not in the catalogue", rid)
