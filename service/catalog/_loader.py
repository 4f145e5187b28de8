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
from service.fhir.outcome import Issue
from service.questionnaire import CompiledQuestionnaire
from service.questionnaire.checks import CATALOGUE_TYPES, Compiler, check_resource
from service.questionnaire.checks.codes import check_codings, code_index
from service.questionnaire.issues import CatalogError, content_error

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


def resource_files(paths: Sequence[Path]) -> tuple[list[Path], dict[str, list[Issue]]]:
    """The files to load: each folder's `*.json` but `*.vectors.json`, by name; files as given;
    and the issue of each path that is neither."""
    files: list[Path] = []
    missing: dict[str, list[Issue]] = {}
    for path in paths:
        if path.is_dir():
            files.extend(
                p for p in sorted(path.glob("*.json")) if not p.name.endswith(".vectors.json")
            )
        elif path.is_file():
            files.append(path)
        else:
            missing.setdefault(str(path), []).append(
                content_error(rules.PATH, "no such file or folder")
            )
    return files, missing


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
    files, found = resource_files(dirs)  # each file's issues together, in the order read
    loaded: list[_Loaded] = []
    for path in files:
        item, issues = _load_file(path, compiler)
        if issues:
            found.setdefault(str(path), []).extend(issues)
        if item is not None:
            loaded.append(item)
    for source, issue in _check_together(loaded):
        found.setdefault(source, []).append(issue)
    if found:
        raise CatalogError(found)
    _warn_unknown(disabled, loaded)
    entries = [
        build_entry(item.resource, item.source, item.modified, item.compiled)
        for item in loaded
        if not (
            item.resource["resourceType"] == "Questionnaire" and item.resource["id"] in disabled
        )
    ]
    return Catalog(entries, disabled=disabled)


def _load_file(path: Path, compiler: Compiler | None) -> tuple[_Loaded | None, list[Issue]]:
    try:
        data = path.read_bytes()
        modified = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    except OSError as exc:
        return None, [content_error(rules.PATH, f"cannot read: {exc.strerror}")]
    try:
        resource = loads(data)
    except ValueError as exc:  # jsonio's InvalidRequest / PayloadTooDeep
        return None, [content_error(rules.JSON, str(exc))]
    issues, compiled = check_resource(resource, compiler)
    if not isinstance(resource, dict) or resource.get("resourceType") not in CATALOGUE_TYPES:
        return None, issues
    if not isinstance(resource.get("id"), str):
        return None, issues
    # Kept even with issues: the cross-file checks (ids, canonicals, codes) still apply.
    return _Loaded(path, resource, modified, compiled), issues


def _check_together(loaded: list[_Loaded]) -> Iterator[tuple[str, Issue]]:
    """Rules across files: unique id per type, unique url|version, codes that exist."""
    ids: dict[tuple[str, str], Path] = {}
    canonicals: dict[tuple[str, str | None], Path] = {}
    for item in loaded:
        source, root, rid = str(item.source), item.resource["resourceType"], item.resource["id"]
        if (root, rid) in ids:
            text = f"{root} id {rid!r} is also defined in {ids[root, rid]}"
            yield source, content_error(rules.DUPLICATE_ID, text, f"{root}.id")
        ids.setdefault((root, rid), item.source)
        url, version = item.resource.get("url"), item.resource.get("version")
        if isinstance(url, str) and (version is None or isinstance(version, str)):
            if (url, version) in canonicals:
                text = f"{url}|{version} is also defined in {canonicals[url, version]}"
                yield source, content_error(rules.DUPLICATE_CANONICAL, text, f"{root}.url")
            canonicals.setdefault((url, version), item.source)
    index = code_index([i.resource for i in loaded if i.resource["resourceType"] == "CodeSystem"])
    for item in loaded:
        for issue in check_codings(item.resource, index):
            yield str(item.source), issue


def _warn_unknown(disabled: Collection[str], loaded: list[_Loaded]) -> None:
    known = {i.resource["id"] for i in loaded if i.resource["resourceType"] == "Questionnaire"}
    for rid in sorted(set(disabled) - known):
        log.warning("disabled Questionnaire %r is not in the catalogue", rid)
