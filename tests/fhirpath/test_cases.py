"""The FHIRPath case corpus (fhirpath_cases.json), run through both engines."""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from service import fhirpath
from service.fhirpath import Env, compile_expression, interpret_expression

CORPUS = json.loads(Path(__file__).with_name("fhirpath_cases.json").read_text(encoding="utf-8"))
WEIGHTS: dict[str, int] = CORPUS["weights"]


def _params() -> Iterator[Any]:
    for case in CORPUS["cases"]:
        yield pytest.param("compiled", case, id=f"compiled-{case['id']}")
        skip = case.get("interpreter_skip")
        marks = [pytest.mark.skip(reason=skip)] if skip else []
        yield pytest.param("interpreted", case, id=f"interpreted-{case['id']}", marks=marks)


def _codings(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        if value.get("code") in WEIGHTS:
            yield value
        for child in value.values():
            yield from _codings(child)
    elif isinstance(value, list):
        for child in value:
            yield from _codings(child)


def _env(case: dict[str, Any]) -> Env:
    resource = copy.deepcopy(CORPUS["resources"][case.get("resource", "qr")])
    variables = copy.deepcopy(case.get("variables", {}))
    # The stub finds a Coding by identity, as the service's lookup does: a copy has no weight.
    by_id = {id(c): WEIGHTS[c["code"]] for c in _codings([resource, variables])}
    return Env(
        resource,
        questionnaire=case.get("questionnaire"),
        variables=variables,
        weight=lambda node: by_id.get(id(node)),
    )


def _same(got: Any, expected: Any, *, exact: bool) -> bool:
    """Equal values; numbers of the same type when `exact`, else within 1e-12 (Decimal maths)."""
    if isinstance(expected, bool) or isinstance(got, bool):
        return got is expected
    if isinstance(expected, int | float) and isinstance(got, int | float):
        if exact:
            return type(got) is type(expected) and got == expected
        return math.isclose(got, expected, rel_tol=1e-12)
    if isinstance(expected, list) and isinstance(got, list):
        return len(got) == len(expected) and all(
            _same(g, e, exact=exact) for g, e in zip(got, expected, strict=True)
        )
    if isinstance(expected, dict) and isinstance(got, dict):
        return got.keys() == expected.keys() and all(
            _same(got[k], expected[k], exact=exact) for k in expected
        )
    return bool(got == expected)


@pytest.mark.parametrize(("engine", "case"), list(_params()))
def test_case(engine: str, case: dict[str, Any]) -> None:
    env = _env(case)
    make = compile_expression if engine == "compiled" else interpret_expression
    if "error" in case:
        with pytest.raises(getattr(fhirpath, case["error"])):
            make(case["expression"]).evaluate([env.resource], env)
        return
    expression = make(case["expression"])
    if engine == "compiled":
        assert expression.compiled is case.get("compiled", True)
    got = expression.evaluate([env.resource], env)
    assert _same(got, case["expect"], exact=engine == "compiled"), got


def test_corpus_is_broad() -> None:
    ids = [case["id"] for case in CORPUS["cases"]]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 60
