"""The working copy of a response that scoring writes its scores into (`score`).

Only the items on the way to a score are copied, down to their answers: the rest of the
response, and every answer's value, stays shared with the response sent (so the answer
Codings validation noted are those of the copy, `weights`).
"""

from __future__ import annotations

from typing import Any

__all__ = ["copy_items"]


def copy_items(
    items: list[dict[str, Any]], path: str, paths: dict[int, str], on: frozenset[str]
) -> list[dict[str, Any]]:
    """A copy of the list, with copies of the items `on` the way to a score (scoring writes
    there) down to their answers; other items, and values, stay shared. The copies' paths
    are noted by id(): the copies live in the working response for the whole run.
    """
    copied = list(items)
    for index, item in enumerate(items):
        if item["linkId"] not in on:
            continue
        here = f"{path}.item[{index}]"
        copied[index] = new = dict(item)
        paths[id(new)] = here
        if "item" in new:
            new["item"] = copy_items(item["item"], here, paths, on)
        if "answer" in new:
            new["answer"] = [
                _copy_answer(answer, f"{here}.answer[{n}]", paths, on)
                for n, answer in enumerate(item["answer"])
            ]
    return copied


def _copy_answer(
    answer: dict[str, Any], path: str, paths: dict[int, str], on: frozenset[str]
) -> dict[str, Any]:
    new = dict(answer)
    if "item" in new:
        new["item"] = copy_items(answer["item"], path, paths, on)
    return new
