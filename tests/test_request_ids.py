"""Request ids (service/observability/ids.py): version-4 UUIDs, from the OS in batches."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable

import pytest

from service.observability import ids


def test_ids_are_distinct_version_4_uuids_across_batches() -> None:
    ids._pool.clear()
    made = [ids.new_request_id() for _ in range(3 * ids._BATCH + 7)]
    assert len(set(made)) == len(made)
    for given in made:
        parsed = uuid.UUID(hex=given)
        assert parsed.hex == given
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)


def test_the_os_is_read_once_per_batch_not_once_per_id(monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[int] = []
    real: Callable[[int], bytes] = os.urandom

    def counted(size: int) -> bytes:
        reads.append(size)
        return real(size)

    monkeypatch.setattr(ids.os, "urandom", counted)
    ids._pool.clear()
    for _ in range(2 * ids._BATCH):
        ids.new_request_id()
    assert reads == [ids._SIZE * ids._BATCH] * 2


def test_a_forked_process_never_hands_out_its_parents_bytes() -> None:
    # gunicorn's workers are forks of one master: a pool inherited whole would give two
    # workers the same ids in the same order.
    ids._pool.clear()
    ids.new_request_id()  # the parent now holds a batch
    inherited = set(ids._pool)
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe
        drawn = [ids.new_request_id() for _ in range(ids._BATCH)]
        os.write(write, "".join(drawn).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    with os.fdopen(read, "rb") as pipe:
        text = pipe.read().decode()
    drawn = {text[start : start + 32] for start in range(0, len(text), 32)}
    assert len(drawn) == ids._BATCH
    parents = [ids.new_request_id() for _ in range(ids._BATCH)]
    assert not drawn & set(parents)
    # The child's ids were made from fresh bytes, none from the parent's batch (only the
    # version and variant bits are rewritten, so compare the untouched bytes).
    untouched = {bytes.fromhex(given)[9:] for given in drawn}
    assert not untouched & {raw[9:] for raw in inherited}
