"""The site catalogue over a real private Redis: versions, atomic If-Match, refresh, faults."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest
import redis

from harness.processes import free_port
from service.catalog import Catalog, CatalogError, load_catalog
from service.catalog.layered import SiteCatalog, open_site
from service.catalog.redis_site import RedisSiteStore, redacted
from service.catalog.site import NullSiteStore, Outcome
from service.config import SHIPPED
from service.errors import (
    Forbidden,
    InvalidRequest,
    MethodNotAllowed,
    PreconditionFailed,
    ResourceGone,
    ResourceNotFound,
    ServiceUnavailable,
    UnprocessableContent,
)
from service.questionnaire import compile_questionnaire
from tests.builders.catalog import mini

VERSIONS = "rapport:questionnaire:versions"


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


def test_a_shipped_id_is_never_written_and_an_old_override_never_served(
    site: SiteCatalog, base: Catalog
) -> None:
    shipped = base.get("Questionnaire", "gad-7")
    assert shipped is not None
    ours = {**shipped.resource, "title": "Ours"}
    for if_match in ("", shipped.version_id, "*"):
        with pytest.raises(MethodNotAllowed, match="gad-7 is shipped content"):
            site.put("gad-7", ours, if_match=if_match)
    with pytest.raises(MethodNotAllowed, match="RAPPORT_INSTRUMENTS_DISABLED"):
        site.delete("gad-7")
    # An override an earlier version stored (written to the store directly, as it did): the
    # shipped file is still what is served, and DELETE clears the override away.
    site.store.write("gad-7", ours, if_match="", base_version=shipped.version_id, canonical="")
    assert site.refresh()
    assert site.current.get("Questionnaire", "gad-7") is shipped
    assert site.delete("gad-7") is True
    assert site.current.get("Questionnaire", "gad-7") is shipped
    assert [v.method for v in site.history("gad-7")] == ["DELETE", "PUT", "PUT"]


def test_create_only_stores_new_ids_and_refuses_existing_ones(site: SiteCatalog) -> None:
    outcome, _ = site.put("local", questionnaire(), create_only=True)
    assert outcome is Outcome.CREATED
    with pytest.raises(Forbidden, match=r"Questionnaire/local exists.*Questionnaire\.u"):
        site.put("local", questionnaire(title="Two"), create_only=True)
    assert site.history("local")[0].entry is not None
    assert len(site.history("local")) == 1
    site.delete("local")
    assert site.put("local", questionnaire(), create_only=True)[0] is Outcome.CREATED


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
        # The id pattern allows them, but as a URL segment they are `.` and `..`: every
        # client resolves Questionnaire/../_history/1 (the Location) to another resource.
        (".", questionnaire("."), InvalidRequest),
        ("..", questionnaire(".."), InvalidRequest),
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
    ids=[
        "bad-id",
        "dot-id",
        "dot-dot-id",
        "id-mismatch",
        "not-a-questionnaire",
        "model",
        "que-rule",
        "duplicate-url",
    ],
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
    assert any(p.expression and "item[4]" in p.expression for p in info.value.issues)


def test_another_worker_sees_writes_within_a_second_without_asking(
    site: SiteCatalog, base: Catalog, redis_url: str
) -> None:
    other = worker(base, redis_url)
    assert other.serving().get("Questionnaire", "local") is None  # starts its poller
    site.put("local", questionnaire(title="Fresh"))
    seen = eventually(lambda: other.current.get("Questionnaire", "local"))
    assert seen.resource["title"] == "Fresh"
    assert seen.compiled is not None
    site.delete("local")
    eventually(lambda: other.current.get("Questionnaire", "local") is None or None)
    assert other.gone("local") is not None


def eventually(found: Any, within: float = 1.0) -> Any:
    """What `found()` returns once it is not None; fails after `within` seconds."""
    deadline = time.monotonic() + within
    while (value := found()) is None:
        assert time.monotonic() < deadline, f"not seen within {within} s"
        time.sleep(0.02)
    return value


def test_a_write_of_this_worker_is_served_at_once_and_never_undone_by_a_poll(
    site: SiteCatalog,
) -> None:
    site.serving()
    for round in range(20):
        site.put("local", questionnaire(title=f"Round {round}"))
        served = site.current.get("Questionnaire", "local")
        assert served is not None
        assert served.resource["title"] == f"Round {round}"
        time.sleep(0.03)  # let the poller interleave with the writes
        served = site.current.get("Questionnaire", "local")
        assert served is not None
        assert served.resource["title"] == f"Round {round}"


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
    assert site.serving() is base
    assert site.serving() is base
    assert time.monotonic() - started < 0.5
    assert "unreachable" in caplog.text
    with pytest.raises(ServiceUnavailable) as info:
        site.put("local", questionnaire())
    assert info.value.retry_after > 0
    assert site.store.problem() is not None


def test_embedded_mode_refuses_writes_saying_how(base: Catalog) -> None:
    site = SiteCatalog(base, NullSiteStore(), compile_questionnaire)
    assert site.serving() is base
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


# A Lua loop keeps Redis busy (DEBUG SLEEP is off by default): every other client waits.
_BUSY = """
local function now() local t = redis.call('TIME') return t[1] + t[2] / 1e6 end
local stop = now() + tonumber(ARGV[1])
while now() < stop do end
return 1
"""


@contextmanager
def busy_redis(url: str, seconds: float) -> Iterator[None]:
    """Redis answers nobody for `seconds` from now; the block runs meanwhile."""
    client = redis.Redis.from_url(url, socket_timeout=seconds + 5)
    thread = threading.Thread(target=client.eval, args=(_BUSY, 0, seconds))
    thread.start()
    time.sleep(0.05)  # the loop has begun
    try:
        yield
    finally:
        thread.join()
        client.close()


@pytest.mark.parametrize("busy", [0.35, 0.6])
def test_a_write_redis_answers_slowly_is_stored_once_and_answered_truly(
    site: SiteCatalog, redis_url: str, busy: float
) -> None:
    site.put("local", questionnaire())
    site.put("local", questionnaire(title="Two"), if_match="1")
    with busy_redis(redis_url, busy):
        outcome, entry = site.put("local", questionnaire(title="Three"), if_match="2")
    assert (outcome, entry.version_id) == (Outcome.UPDATED, "3")
    assert [v.version_id for v in site.history("local")] == ["3", "2", "1"]


def test_a_write_redis_does_not_confirm_is_503_saying_to_read_first(
    site: SiteCatalog, redis_url: str
) -> None:
    site.put("local", questionnaire())
    with busy_redis(redis_url, 2.5), pytest.raises(ServiceUnavailable) as info:
        site.create(questionnaire("ignored"))
    assert "may or may not" in str(info.value)
    assert info.value.retry_after > 0
    # Redis ran the write once it was free again: once, not once per attempt.
    (created,) = set(redis.Redis.from_url(redis_url).hkeys(VERSIONS)) - {b"local"}
    assert [v.version_id for v in site.history(created.decode())] == ["1"]


def test_a_retried_write_is_applied_once(site: SiteCatalog, base: Catalog) -> None:
    store = site.store
    assert isinstance(store, RedisSiteStore)
    body = questionnaire()
    first = store.write("local", body, if_match="", base_version="", canonical="", token="t1")
    again = store.write("local", body, if_match="", base_version="", canonical="", token="t1")
    assert (again.outcome, again.version_id) == (first.outcome, first.version_id)
    assert [r.version_id for r in store.history("local")] == ["1"]


def test_a_pooled_connection_redis_closed_is_reopened_for_a_write(
    site: SiteCatalog, redis_client: redis.Redis
) -> None:
    site.put("local", questionnaire())
    redis_client.client_kill_filter(_type="normal", skipme=True)
    assert site.put("local", questionnaire(title="Two"), if_match="1")[1].version_id == "2"
    assert [v.version_id for v in site.history("local")] == ["2", "1"]


def test_eight_concurrent_creates_of_one_url_version_give_one_success(
    site: SiteCatalog, base: Catalog, redis_url: str
) -> None:
    writers = [worker(base, redis_url) for _ in range(8)]

    def attempt(index: int) -> str:
        try:
            writers[index].create(questionnaire("same", title=f"w{index}"))
        except CatalogError as exc:
            return str(exc.issues[0].rule)
        return "created"

    with ThreadPoolExecutor(8) as pool:
        results = sorted(pool.map(attempt, range(8)))
    assert results == ["created"] + ["duplicate-canonical"] * 7


def test_url_version_is_claimed_moved_and_freed_atomically(
    site: SiteCatalog, base: Catalog, redis_url: str
) -> None:
    other = worker(base, redis_url)  # its copy never sees the writes below: Redis decides
    url = "https://example.org/site/shared"
    site.put("a", questionnaire("a", url=url))
    with pytest.raises(CatalogError, match="Questionnaire/a"):
        other.put("b", questionnaire("b", url=url))
    site.put("a", questionnaire("a", url=url, version="2.0.0"))  # a moves to another version
    other.put("b", questionnaire("b", url=url))  # so url|1.0.0 is free again
    with pytest.raises(CatalogError, match="Questionnaire/b"):
        site.put("a", questionnaire("a", url=url))
    site.delete("a")
    other.put("c", questionnaire("c", url=url, version="2.0.0"))  # freed by the delete
    site.put("b", questionnaire("b", url=url), if_match="1")  # its own url|version


def test_a_shipped_url_version_is_refused(site: SiteCatalog, base: Catalog) -> None:
    shipped = base.get("Questionnaire", "phq-9")
    assert shipped is not None
    taken = questionnaire("mine", url=shipped.url, version=shipped.version)
    with pytest.raises(CatalogError, match="Questionnaire/phq-9"):
        site.put("mine", taken)


def test_a_deleted_site_only_entry_is_gone_and_a_revealed_file_is_not(
    site: SiteCatalog, base: Catalog
) -> None:
    site.put("local", questionnaire())
    assert site.gone("local") is None
    site.delete("local")
    gone = site.gone("local")
    assert isinstance(gone, ResourceGone)
    assert "deleted" in str(gone)
    site.put("local", questionnaire())
    assert site.gone("local") is None
    assert site.gone("never-written") is None


def test_a_questionnaire_with_too_many_items_is_refused_before_any_costly_check(
    site: SiteCatalog, redis_client: redis.Redis
) -> None:
    items = [{"linkId": str(i), "type": "string", "text": "x" * 30} for i in range(60_000)]
    started = time.monotonic()
    with pytest.raises(UnprocessableContent) as info:
        site.put("local", questionnaire(item=items))
    assert time.monotonic() - started < 0.5
    (issue,) = info.value.issues
    assert (issue.code, issue.rule) == ("too-costly", "q-too-large")
    assert "2000 items" in issue.text
    nested = [{"linkId": "g", "type": "group", "item": items[:2001]}]
    with pytest.raises(UnprocessableContent, match="2000 items"):
        site.put("local", questionnaire(item=nested))
    assert redis_client.keys("rapport:*") == []
