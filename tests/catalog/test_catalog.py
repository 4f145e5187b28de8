"""The Catalog: reads, canonical resolution, disabled ids, served metadata and search keys."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from service.catalog import Catalog, content_hash, fold, load_catalog, version_key
from tests.builders.catalog import mini, write

URL = "https://example.org/fhir/Questionnaire/mini"


def _version(tmp_path: Path, version: str, status: str = "active") -> dict[str, Any]:
    q = mini()
    q["id"], q["version"], q["status"] = f"mini-{version}", version, status
    write(tmp_path, f"mini-{version}.json", q)
    return q


@pytest.fixture
def versions(tmp_path: Path) -> Catalog:
    """Several versions of one canonical: 1.0.0, 1.10.0, 1.2.0, 2.0.0-beta.1, 3.0.0 (draft)."""
    for version in ("1.0.0", "1.10.0", "1.2.0", "2.0.0-beta.1"):
        _version(tmp_path, version)
    _version(tmp_path, "3.0.0", status="draft")
    return load_catalog([tmp_path])


def test_resolve_with_version(versions: Catalog) -> None:
    entry = versions.resolve(f"{URL}|1.2.0")
    assert entry is not None
    assert entry.id == "mini-1.2.0"
    assert versions.resolve(f"{URL}|9.9.9") is None


def test_resolve_without_version_takes_highest_active_semver(versions: Catalog) -> None:
    entry = versions.resolve(URL)
    assert entry is not None
    assert entry.id == "mini-2.0.0-beta.1"  # 3.0.0 is a draft; 1.10.0 > 1.2.0 numerically


def test_resolve_falls_back_to_highest_of_any_status(tmp_path: Path) -> None:
    _version(tmp_path, "1.0.0", status="retired")
    _version(tmp_path, "2.0.0", status="draft")
    entry = load_catalog([tmp_path]).resolve(URL)
    assert entry is not None
    assert entry.id == "mini-2.0.0"


def test_resolve_unknown_and_by_type(versions: Catalog) -> None:
    assert versions.resolve("https://example.org/fhir/Questionnaire/other") is None
    assert versions.resolve(URL, resource_type="CodeSystem") is None
    assert versions.resolve(URL, resource_type="Questionnaire") is not None


def test_version_precedence() -> None:
    ordered = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta.2", "1.0.0-beta.11"]
    ordered += ["1.0.0-rc.1", "1.0.0", "1.2.0", "1.10.0", "2.0.0"]
    assert sorted(ordered[5:] + ordered[:5], key=version_key) == ordered
    assert version_key(None) < version_key("2024-01") < version_key("0.0.1")


def test_get_and_stable_order(versions: Catalog) -> None:
    ids = [e.id for e in versions.questionnaires()]
    assert ids == sorted(ids)
    assert versions.get("Questionnaire", "mini-1.0.0") is not None
    assert versions.get("CodeSystem", "mini-1.0.0") is None
    assert versions.code_systems() == ()
    assert len(versions) == 5


def test_disabled_ids_are_neither_served_nor_resolvable(tmp_path: Path) -> None:
    _version(tmp_path, "1.0.0")
    _version(tmp_path, "2.0.0")
    catalog = load_catalog([tmp_path], disabled={"mini-2.0.0"})
    assert catalog.get("Questionnaire", "mini-2.0.0") is None
    assert catalog.resolve(f"{URL}|2.0.0") is None
    entry = catalog.resolve(URL)
    assert entry is not None
    assert entry.id == "mini-1.0.0"
    assert [e.id for e in catalog.questionnaires()] == ["mini-1.0.0"]
    assert catalog.disabled == {"mini-2.0.0"}


def test_unknown_disabled_id_is_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    _version(tmp_path, "1.0.0")
    assert len(load_catalog([tmp_path], disabled=["nope"])) == 1
    assert "disabled Questionnaire 'nope' is not in the catalogue" in caplog.text


def test_served_copy_carries_version_id_and_last_updated(tmp_path: Path) -> None:
    file = write(tmp_path, "mini.json", mini())
    stamp = datetime(2026, 11, 25, 9, 30, 15, 500000, tzinfo=UTC).timestamp()
    os.utime(file, (stamp, stamp))
    entry = load_catalog([tmp_path]).get("Questionnaire", "mini")
    assert entry is not None
    assert entry.last_updated == datetime(2026, 11, 25, 9, 30, 15, tzinfo=UTC)
    assert entry.resource["meta"] == {
        "versionId": entry.version_id,
        "lastUpdated": "2026-11-25T09:30:15Z",
    }
    assert list(entry.resource)[:3] == ["resourceType", "id", "meta"]
    assert json.loads(entry.body) == entry.resource
    assert len(entry.version_id) == 16
    assert entry.source == file
    assert (entry.url, entry.version, entry.status) == (URL, "1.0.0", "active")


def test_version_id_is_the_content_not_the_file(tmp_path: Path) -> None:
    q = mini()
    write(tmp_path / "a", "mini.json", q)
    q["meta"] = {"versionId": "old", "lastUpdated": "2020-01-01T00:00:00Z"}
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "mini.json").write_text(json.dumps(q, indent=4), encoding="utf-8")
    first = load_catalog([tmp_path / "a"]).get("Questionnaire", "mini")
    second = load_catalog([tmp_path / "b"]).get("Questionnaire", "mini")
    assert first is not None
    assert second is not None
    assert first.version_id == second.version_id == content_hash(mini())
    q["title"] = "Changed"
    assert content_hash(q) != first.version_id


def test_search_keys(tmp_path: Path) -> None:
    write(tmp_path, "mini.json", mini())
    entry = load_catalog([tmp_path]).get("Questionnaire", "mini")
    assert entry is not None
    assert (entry.keys.name, entry.keys.title, entry.keys.publisher) == (
        "mini",
        "mini questionnaire",
        "example clinic",
    )
    # Questionnaire.item.code (the R4 `code` search parameter) plus the root Questionnaire.code.
    assert entry.keys.codes == {
        ("http://loinc.org", "00000-0"),
        ("http://example.org/fhir/CodeSystem/mini", "q1"),
        ("http://example.org/fhir/CodeSystem/mini", "total"),
    }


def test_fold() -> None:
    assert fold("Ärztliche ÉVALUATION") == "arztliche evaluation"
    assert fold("Straße") == "strasse"
