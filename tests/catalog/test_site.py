"""The site catalogue over a real private Redis: versions, atomic If-Match, refresh, faults."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import redis

from service.catalog import Catalog, CatalogError, load_catalog
from service.catalog.layered import POLL_SECONDS, SiteCatalog, open_site
from service.catalog.redis_site import RedisSiteStore, redacted
from service.catalog.site import NullSiteStore, Outcome
from service.config import SHIPPED
from service.errors import (
    InvalidRequest,
    MethodNotAllowed,
    PreconditionFailed,
    ResourceNotFound,
    ServiceUnavailable,
)
from service.scoring import compile_questionnaire
from tests.catalog.builders import mini
from tests.support.processes import free_port


@pytest.fixture(scope="module")
def base() -> Catalog:
    return load_catalog([SHIPPED], compiler=compile_questionnaire)


@pytest.fixture
def site(base: Catalog, redis_url: str, redis_client: redis.Redis) -> SiteCatalog:
    """A worker's view of the site catalogue, on the private Redis emptied for this test."""
    return worker(base, redis_url)


def questionnaire(rid: str = "local", **changes: Any) -> dict[str, Any]:
    """A valid site Questionnaire with its own canonical url."""
    found = mini()
    found.update({"id": rid, "url": f"https://example.org/site/{rid}", **changes})
    return found


def worker(base: Catalog, url: str) -> SiteCatalog:
    """Another worker: its own store client and its own compiled copy."""
    return SiteCatalog(base, RedisSiteStore(url), compile_questionnaire)


def test_put_versions_and_serves_the_entry(site: SiteCatalog) -> None:
    outcome, entry = site.put("local", questionnaire())
    assert (outcome, entry.version_id) == (Outcome.CREATED, "1")
    assert entry.resource["meta"]["versionId"] == "1"
    outcome, entry = site.put("local", questionnaire(title="Second"), if_match="1")
    assert (outcome, entry.version_id) == (Outcome.UPDATED, "2")
    served = site.current.get("Questionnaire", "local")
    assert served is not None
    assert served.resource["title"] == "Second"
    assert served.compiled is not None


def test_server_meta_sent_by_the_client_is_replaced(site: SiteCatalog) -> None:
    sent = questionnaire(meta={"versionId": "99", "lastUpdated": "2000-01-01T00:00:00Z"})
    _, entry = site.put("local", sent)
    assert entry.resource["meta"]["versionId"] == "1"
    assert entry.resource["meta"]["lastUpdated"] != "2000-01-01T00:00:00Z"


def test_stale_if_match_is_refused_and_nothing_changes(site: SiteCatalog) -> None:
    site.put("local", questionnaire())
    site.put("local", questionnaire(title="Two"), if_match="1")
    with pytest.raises(PreconditionFailed, match='W/"2"'):
        site.put("local", questionnaire(title="Lost"), if_match="1")
    assert [v.version_id for v in site.history("local")] == ["2", "1"]


def test_if_match_star_needs_a_current_version(site: SiteCatalog) -> None:
    with pytest.raises(PreconditionFailed):
        site.put("local", questionnaire(), if_match="*")
    site.put("local", questionnaire())
    assert site.put("local", questionnaire(), if_match="*")[0] is Outcome.UPDATED


def test_site_entry_overrides_a_shipped_one_and_delete_reveals_it(
    site: SiteCatalog, base: Catalog
) -> None:
    shipped = base.get("Questionnaire", "gad-7")
    assert shipped is not None
    with pytest.raises(PreconditionFailed):
        site.put("gad-7", {**shipped.resource, "title": "Ours"}, if_match="stale")
    ours = {**shipped.resource, "title": "Ours"}
    outcome, entry = site.put("gad-7", ours, if_match=shipped.version_id)
    assert outcome is Outcome.UPDATED
    assert site.current.get("Questionnaire", "gad-7") is entry
    assert [v.version_id for v in site.history("gad-7")] == ["1", shipped.version_id]
    assert site.delete("gad-7", if_match="1") is True
    assert site.current.get("Questionnaire", "gad-7") is shipped
    with pytest.raises(MethodNotAllowed, match="RAPPORT_INSTRUMENTS_DISABLED"):
        site.delete("gad-7")


def test_delete_then_recreate_continues_the_history(site: SiteCatalog) -> None:
    site.put("local", questionnaire())
    assert site.delete("local") is False
    assert site.current.get("Questionnaire", "local") is None
    with pytest.raises(ResourceNotFound):
        site.delete("local")
    outcome, entry = site.put("local", questionnaire())
    assert (outcome, entry.version_id) == (Outcome.CREATED, "3")
    assert [(v.version_id, v.method) for v in site.history("local")] == [
        ("3", "PUT"),
        ("2", "DELETE"),
        ("1", "PUT"),
    ]


def test_create_assigns_a_fresh_valid_id(site: SiteCatalog) -> None:
    outcome, entry = site.create(questionnaire("ignored"))
    assert outcome is Outcome.CREATED
    assert entry.id != "ignored"
    assert len(entry.id) == 36


@pytest.mark.parametrize(
    ("rid", "body", "error"),
    [
        ("bad id!", questionnaire("bad id!"), InvalidRequest),
        ("local", questionnaire("other"), InvalidRequest),
        ("local", {"resourceType": "Patient", "id": "local"}, InvalidRequest),
        ("local", questionnaire(status="nonsense"), CatalogError),
        ("local", questionnaire(item=[{"linkId": "1", "type": "group"}]), CatalogError),
        (
            "local",
            questionnaire(
                url="https://rapport-fhir.github.io/fhir/Questionnaire/gad-7", version="1.0.0"
            ),
            CatalogError,
        ),
    ],
    ids=["bad-id", "id-mismatch", "not-a-questionnaire", "model", "que-rule", "duplicate-url"],
)
def test_invalid_writes_store_nothing(
    site: SiteCatalog, redis_client: redis.Redis, rid: str, body: Any, error: type[Exception]
) -> None:
    with pytest.raises(error):
        site.put(rid, body)
    assert redis_client.keys("rapport:*") == []


def test_expression_that_does_not_parse_is_refused(site: SiteCatalog) -> None:
    body = questionnaire()
    body["item"][-1]["extension"][0]["valueExpression"]["expression"] = "%two + + )"
    with pytest.raises(CatalogError) as info:
        site.put("local", body)
    assert any(p.path and "item[4]" in p.path for p in info.value.problems)


def test_another_worker_sees_a_write_after_one_poll(
    site: SiteCatalog, base: Catalog, redis_url: str
) -> None:
    other = worker(base, redis_url)
    assert other.refreshed().get("Questionnaire", "local") is None
    site.put("local", questionnaire(title="Fresh"))
    time.sleep(POLL_SECONDS)
    seen = other.refreshed().get("Questionnaire", "local")
    assert seen is not None
    assert seen.resource["title"] == "Fresh"
    assert seen.compiled is not None
    site.delete("local")
    time.sleep(POLL_SECONDS)
    assert other.refreshed().get("Questionnaire", "local") is None


def test_sixteen_concurrent_conditional_writes_one_wins(
    site: SiteCatalog, base: Catalog, redis_url: str
) -> None:
    site.put("local", questionnaire())
    writers = [worker(base, redis_url) for _ in range(16)]

    def attempt(index: int) -> str:
        try:
            writers[index].put("local", questionnaire(title=f"w{index}"), if_match="1")
        except PreconditionFailed:
            return "412"
        return "ok"

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(attempt, range(16)))
    assert sorted(results) == ["412"] * 15 + ["ok"]
    assert [v.version_id for v in site.history("local")] == ["2", "1"]


@pytest.fixture
def dead_url() -> str:
    return f"redis://127.0.0.1:{free_port()}/0"


def test_unreachable_store_keeps_the_last_catalogue_and_fails_fast(
    base: Catalog, dead_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    site = worker(base, dead_url)
    started = time.monotonic()
    assert site.refreshed() is base
    assert site.refreshed() is base  # backed off: not asked again at once
    assert time.monotonic() - started < 0.5
    assert "unreachable" in caplog.text
    with pytest.raises(ServiceUnavailable) as info:
        site.put("local", questionnaire())
    assert info.value.retry_after > 0
    assert site.store.problem() is not None


def test_embedded_mode_refuses_writes_saying_how(base: Catalog) -> None:
    site = SiteCatalog(base, NullSiteStore(), compile_questionnaire)
    assert site.refreshed() is base
    for call in (
        lambda: site.put("local", questionnaire()),
        lambda: site.create(questionnaire()),
        lambda: site.delete("local"),
        lambda: site.history("gad-7"),
    ):
        with pytest.raises(MethodNotAllowed, match="RAPPORT_REDIS_URL"):
            call()
    assert site.store.problem() is None


def test_start_up_logs_the_mode(base: Catalog, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="service.catalog.layered"):
        open_site("", base, compile_questionnaire)
        open_site("rediss://user:secret@cache.example:6380/2", base, compile_questionnaire)
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0].startswith("catalogue mode: embedded")
    assert lines[1].startswith("catalogue mode: redis (rediss://user:***@cache.example:6380/2")
    assert "secret" not in caplog.text


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://h:6379/0", "redis://h:6379/0"),
        ("redis://:pw@h:6379/0", "redis://***@h:6379/0"),
        ("rediss://u:pw@h/1", "rediss://u:***@h/1"),
    ],
)
def test_redacted_hides_passwords(url: str, shown: str) -> None:
    assert redacted(url) == shown


def test_no_patient_data_keys(site: SiteCatalog, redis_client: redis.Redis) -> None:
    site.put("local", questionnaire())
    keys = set(redis_client.keys("*"))
    assert all(key.startswith("rapport:") for key in keys)
    assert not any("Response" in key for key in keys)
