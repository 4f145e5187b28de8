"""No FHIRPath function writes what it sees anywhere: stdout, stderr, or any logger.

fhirpathpy's `trace()` printed its input (the whole response: subject, names, answers) to
stdout, which under gunicorn is the log. Every function either engine knows is called here,
enumerated from the engines' own tables so that a function added later is covered too,
with a canary as input and as every argument; the file descriptors 1 and 2 are captured
(so that C code and subprocess-level writes count too) and every logger record.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest
from fhirpathpy.engine.invocations import invocation_registry as fhirpathpy_functions

from harness.gunicorn import run_gunicorn
from service.fhirpath import Env, FhirPathError, compile_expression, interpret_expression
from service.fhirpath._calls import FUNCTIONS as COMPILED_FUNCTIONS
from service.fhirpath._interpreter import _TABLE as OUR_INTERPRETER_FUNCTIONS

CANARY = "CANARY-9d1f-patient-Jane-Doe"
RESOURCE = {
    "resourceType": "QuestionnaireResponse",
    "status": "completed",
    "subject": {"display": CANARY},
    "item": [{"linkId": "a", "answer": [{"valueString": CANARY}, {"valueInteger": 7}]}],
}
#: An argument of each type fhirpathpy's tables name, carrying the canary where it can.
_ARGUMENTS = {
    "String": "%c",
    "Expr": "%c",
    "AnyAtRoot": "%c",
    "Any": "%c",
    "Integer": "1",
    "Number": "1",
    "Boolean": "true",
    "TypeSpecifier": "String",
    "Identifier": "c",
}


def _argument(kind: Any) -> str:
    """An argument for a parameter type (a name, or a list of allowed names)."""
    if isinstance(kind, list):
        kind = kind[0] if kind else "Any"
    return _ARGUMENTS.get(str(kind), "%c")


def _arities() -> dict[str, list[list[str]]]:
    """Every function name either engine knows, with the argument lists to call it with."""
    calls: dict[str, list[list[str]]] = {}
    for table in (fhirpathpy_functions, OUR_INTERPRETER_FUNCTIONS):
        for name, entry in table.items():
            arity = entry.get("arity", {0: []})
            for types in arity.values():
                calls.setdefault(name, []).append([_argument(t) for t in types])
    for name, (fewest, most, _) in COMPILED_FUNCTIONS.items():
        for count in range(fewest, most + 1):
            calls.setdefault(name, []).append(["%c"] * count)
    return calls


CALLS = _arities()
EXPRESSIONS = sorted(
    {
        f"{focus}.{name}({', '.join(arguments)})"
        for name, argument_lists in CALLS.items()
        for arguments in argument_lists
        for focus in ("%c", "%resource", "%resource.item.answer.value")
    }
)


@contextmanager
def _captured() -> Iterator[list[str]]:
    """Everything written to fd 1, fd 2 and any logger inside the block (read after it)."""
    found: list[str] = []
    records: list[logging.LogRecord] = []

    class _Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = _Keep(logging.DEBUG)
    loggers = [logging.getLogger(name) for name in ("", "service", "gunicorn.error", "gunicorn")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        saved = os.dup(1), os.dup(2)
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        try:
            yield found
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
            for logger, level in zip(loggers, levels, strict=True):
                logger.removeHandler(handler)
                logger.setLevel(level)
        for stream in (out, err):
            stream.seek(0)
            found.append(stream.read().decode("utf-8", "replace"))
    found.extend(f"{record.getMessage()} {record.args!r} {record.__dict__!r}" for record in records)


def test_the_tables_are_enumerated() -> None:
    """The enumeration finds the functions it is meant to (a guard on the test itself)."""
    assert {"trace", "matches", "replaceMatches", "where", "iif", "weight"} <= set(CALLS)
    assert len(CALLS) > 60


@pytest.mark.parametrize("make", [compile_expression, interpret_expression])
def test_no_function_writes_the_canary_anywhere(
    make: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    env = Env(RESOURCE, variables={"c": [CANARY]})
    evaluated = 0
    with capsys.disabled(), _captured() as written:
        for source in EXPRESSIONS:
            try:
                expression = make(source)
            except FhirPathError:
                continue  # a call the engine refuses to compile writes nothing either
            with suppress(FhirPathError):
                expression.evaluate([RESOURCE], env)
            evaluated += 1
    assert evaluated > 100
    leaks = [text[:300] for text in written if CANARY in text]
    assert leaks == []


@pytest.mark.parametrize("make", [compile_expression, interpret_expression])
@pytest.mark.parametrize("source", ["%c.trace('x')", "%c.trace('x', length())", "%c.trace()"])
def test_trace_returns_its_input(make: Any, source: str) -> None:
    assert make(source).evaluate([{}], Env({}, variables={"c": [CANARY]})) == [CANARY]


ENABLE_WHEN = (
    "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-enableWhenExpression"
)


@pytest.mark.slow
def test_trace_in_a_contained_questionnaire_logs_nothing_under_gunicorn(tmp_path: Path) -> None:
    """The attack from the review: trace(%resource) in a contained Questionnaire, real gunicorn."""
    expression = "%resource.trace('leak', %resource.item.answer.value).exists()"
    when = {"url": ENABLE_WHEN, "valueExpression": {"language": "text/fhirpath",
                                                    "expression": expression}}  # fmt: skip
    body = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": "#q",
        "status": "completed",
        "subject": {"display": CANARY},
        "contained": [{
            "resourceType": "Questionnaire", "id": "q", "status": "active",
            "item": [{"linkId": "s", "type": "string"},
                     {"linkId": "t", "type": "string", "extension": [when]}],
        }],
        "item": [{"linkId": "s", "answer": [{"valueString": CANARY + "\nforged log line"}]},
                 {"linkId": "t", "answer": [{"valueString": "x"}]}],
    }  # fmt: skip
    # Unbuffered, so that what a worker prints is in the log file at once, as in a container.
    with run_gunicorn({"PYTHONUNBUFFERED": "1"}, log_dir=tmp_path) as server:
        request = urllib.request.Request(
            f"{server.url}/fhir/QuestionnaireResponse/$validate",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/fhir+json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
            answer = response.read().decode()
    log = server.read_log()  # after gunicorn stopped: everything is flushed
    assert "qr-expression-failed" not in answer  # the expression ran, trace() and all
    assert "request" in log  # the access line was written: the log is the right one
    assert CANARY not in log
    assert "forged log line" not in log
