"""FHIRPath parses with ANTLR's SLL prediction alone: it gives the full LL prediction's tree
for every expression we have, fails invalid text where LL does, and costs SLL's time."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from antlr4.atn.PredictionMode import PredictionMode

from service.fhirpath import FhirPathError
from service.fhirpath._parser import _parse_tree, parse

ROOT = Path(__file__).parents[2]
SLL, LL = PredictionMode.SLL, PredictionMode.LL


def _expressions(node: Any) -> Iterator[str]:
    if type(node) is dict:
        for key, value in node.items():
            if key == "expression" and type(value) is str:
                yield value
            else:
                yield from _expressions(value)
    elif type(node) is list:
        for value in node:
            yield from _expressions(value)


def _corpus() -> list[str]:
    """Every expression in the shipped Questionnaires and the test corpora."""
    found: set[str] = set()
    for path in [*(ROOT / "questionnaires").rglob("*.json"), *(ROOT / "tests").rglob("*.json")]:
        found.update(_expressions(json.loads(path.read_text(encoding="utf-8"))))
    return sorted(found)


CORPUS = _corpus()


def _outcome(source: str, mode: int) -> str:
    """The tree, or where the first syntax error is (the message may word it otherwise)."""
    try:
        return json.dumps(_parse_tree(source, mode=mode))
    except FhirPathError as exc:
        at = re.match(r"FHIRPath syntax error at (\d+:\d+)", str(exc))
        return f"error at {at.group(1)}" if at else str(exc)


def test_the_corpus_is_there() -> None:
    assert len(CORPUS) > 200, len(CORPUS)


def test_sll_gives_lls_tree_for_every_expression() -> None:
    assert [s for s in CORPUS if _outcome(s, SLL) != _outcome(s, LL)] == []


def test_sll_fails_invalid_text_where_ll_does() -> None:
    """Each corpus expression cut short, with a stray `)` or `,` put in its middle."""
    broken = {
        variant
        for source in CORPUS
        for middle in [len(source) // 2]
        for variant in (
            source[:middle],
            source[:middle] + ")" + source[middle:],
            source[:middle] + "," + source[middle:],
            source + ")",
        )
    }
    outcomes = [(s, _outcome(s, SLL), _outcome(s, LL)) for s in broken]
    assert sum(sll.startswith("error at") for _, sll, _ in outcomes) > len(broken) // 2
    assert [o for o in outcomes if o[1] != o[2]] == []


def test_a_syntax_error_says_where_and_what() -> None:
    with pytest.raises(FhirPathError, match=r"syntax error at 1:3: extraneous input '\*'"):
        parse("1 +* 2", max_length=100)
    with pytest.raises(FhirPathError, match=r"syntax error at 1:2: missing '\)' at '<EOF>'"):
        parse("(1", max_length=100)


def test_invalid_text_costs_no_full_context_parse() -> None:
    """Four 8,000-character `1+1+...1)`: SLL bailed out at the `)` and the LL parse then
    spent ~1.5 s of CPU each (~0.2 ms a character, however the text is split), 6-8 s in all;
    SLL alone takes ~0.2 s each. CPU time, which other work on the machine moves little; the
    bound only guards against the LL parse coming back."""
    sources = ["+".join(["1"] * 4000)[:7998] + f"{n})" for n in range(4)]
    started = time.process_time()
    for source in sources:
        with pytest.raises(FhirPathError, match="syntax error at 1:7999"):
            parse(source, max_length=8000)
    spent = time.process_time() - started
    assert spent < 3.0, spent
