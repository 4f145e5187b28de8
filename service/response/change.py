"""Change from baseline: a follow-up response against an earlier one the EHR sends along.

Nothing is stored: `$score` and `$extract` take a Parameters body with `response` and
`baseline`. The baseline must answer the same Questionnaire (canonical url; each response
is scored by the version it names), be about the same subject (both need `subject`), and
be authored no later than the response (both need `authored`); otherwise
UnprocessableContent (422, rule `score-baseline`), pointing at the baseline's element.

For each numeric score both responses have (same linkId and repetition): the baseline
value, the change (follow-up - baseline), the percent change (100 * change / baseline,
rounded half up to one decimal; none from a baseline of 0) and each change-rule of the
score item (remission, response), decided exactly on the unrounded values.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from service import rules
from service.errors import RapportError, UnprocessableContent
from service.fhir.outcome import Issue, IssueSeverity, IssueType
from service.fhir.temporal import order
from service.questionnaire.compile import CompiledQuestionnaire

from .score import Score, ScoreResult

__all__ = [
    "SCORES_SYSTEM",
    "SERVICE_CODES",
    "Change",
    "Scored",
    "change_observation",
    "change_parameters",
    "compare_baseline",
    "rebase_issues",
]

SCORES_SYSTEM = "https://rapport-fhir.github.io/fhir/CodeSystem/rapport-scores"
#: The rapport-scores codes the service itself writes (change Observations), not content.
SERVICE_CODES = frozenset({"change-from-baseline", "baseline-value", "percent-change"})


@dataclass(frozen=True, slots=True)
class Change:
    """One score's change from baseline, and the change rules it meets (code, met)."""

    score: Score
    baseline: float
    change: float
    percent: float | None
    outcomes: tuple[tuple[dict[str, Any], bool], ...]


def rebase_issues(error: RapportError, where: str) -> RapportError:
    """The baseline's own errors (same class), their expressions moved to where it is."""
    issues = [
        dataclasses.replace(
            issue,
            text=f"baseline: {issue.text}",
            expression=_moved(issue.expression, where),
        )
        for issue in error.issues
    ]
    text = f"baseline: {issues[0].text.removeprefix('baseline: ')}" if issues else str(error)
    return type(error)(text, issues=issues, issue_type=error.issue_type)


def _moved(expression: str | None, where: str) -> str | None:
    if expression is None or not expression.startswith("QuestionnaireResponse"):
        return expression
    return where + expression.removeprefix("QuestionnaireResponse")


@dataclass(frozen=True, slots=True)
class Scored:
    """A response as sent, its Questionnaire and its scores."""

    cq: CompiledQuestionnaire
    result: ScoreResult
    response: dict[str, Any]


def compare_baseline(follow_up: Scored, earlier: Scored, where: str) -> list[Change]:
    """The changes from the baseline `earlier` (at `where` in the request) to `follow_up`;
    422 if the two cannot be compared."""
    cq, result, response = follow_up.cq, follow_up.result, follow_up.response
    base_cq, base, baseline = earlier.cq, earlier.result, earlier.response
    if cq.url is None or base_cq.url != cq.url:
        raise _refused(
            f"the baseline answers {base_cq.url or 'another Questionnaire'!r}, not {cq.url!r}: "
            "a change is measured on the same instrument",
            f"{where}.questionnaire",
        )
    for missing, resource, path in (("baseline", baseline, where), ("response", response, None)):
        if not _identifies(resource.get("subject")):
            raise _refused(
                f"the {missing} has no subject that identifies the patient: a change is "
                "measured between two responses about the same patient, so both need a "
                "`subject` with a `reference` or an `identifier` (a `display` names no one)",
                f"{path or 'QuestionnaireResponse'}.subject",
            )
    if _about(baseline.get("subject")) != _about(response.get("subject")):
        raise _refused(
            "the baseline is about another subject than the response", f"{where}.subject"
        )
    before, after = baseline.get("authored"), response.get("authored")
    if type(before) is not str or type(after) is not str:
        missing = "baseline" if type(before) is not str else "response"
        expression = (
            f"{where}.authored" if missing == "baseline" else "QuestionnaireResponse.authored"
        )
        raise _refused(f"the {missing} needs `authored` to be ordered", expression)
    if order(before, after) == 1:
        raise _refused("the baseline is authored after the response", f"{where}.authored")
    values = {
        (s.link_id, s.instance): s.value
        for s in base.scores
        if s.value is not None and type(s.value) is not bool
    }
    changes = []
    for score in result.scores:
        value = score.value
        then = values.get((score.link_id, score.instance))
        if value is None or type(value) is bool or then is None or type(then) is bool:
            continue
        definition = cq.score(score.link_id)
        rules = definition.change_rules if definition is not None else ()
        outcomes = tuple(
            (rule.code, met) for rule in rules if (met := rule.met(then, value)) is not None
        )
        changes.append(Change(score, then, _exact(value - then), _percent(then, value), outcomes))
    return changes


def _identifies(subject: Any) -> bool:
    """Whether a subject Reference says who it is about: its display and extensions do not
    (two display-only subjects, or two empty ones, would compare equal)."""
    return type(subject) is dict and (
        subject.get("reference") is not None or subject.get("identifier") is not None
    )


def _about(subject: Any) -> str:
    """A subject Reference without its display (what decides who it is about)."""
    if type(subject) is not dict:
        return json.dumps(subject)
    kept = {key: value for key, value in subject.items() if key not in ("display", "extension")}
    return json.dumps(kept, sort_keys=True)


def _exact(value: float) -> float:
    """A difference of two doubles, as the shortest decimal that is it (8.1 - 8 is 0.1)."""
    return float(Decimal(repr(value)).normalize()) if type(value) is float else value


def _percent(baseline: float, value: float) -> float | None:
    if baseline == 0:
        return None
    exact = (Decimal(repr(value)) - Decimal(repr(baseline))) * 100 / Decimal(repr(baseline))
    return float(exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def _refused(text: str, expression: str) -> UnprocessableContent:
    issue = Issue(
        IssueSeverity.ERROR, IssueType.BUSINESS_RULE, text, expression, None, rules.SCORE_BASELINE
    )
    return UnprocessableContent(text, issues=[issue], issue_type=IssueType.BUSINESS_RULE)


def change_parameters(changes: list[Change]) -> list[dict[str, Any]]:
    """`$score`'s `change` parameters, one per score."""
    found = []
    for change in changes:
        parts: list[dict[str, Any]] = []
        if change.score.code is not None:
            parts.append({"name": "code", "valueCoding": change.score.code})
        parts.append({"name": "baseline", "valueDecimal": change.baseline})
        parts.append({"name": "value", "valueDecimal": change.score.value})
        parts.append({"name": "change", "valueDecimal": change.change})
        if change.percent is not None:
            parts.append({"name": "percentChange", "valueDecimal": change.percent})
        for code, met in change.outcomes:
            parts.append(
                {
                    "name": "outcome",
                    "part": [
                        {"name": "code", "valueCoding": code},
                        {"name": "value", "valueBoolean": met},
                    ],
                }
            )
        found.append({"name": "change", "part": parts})
    return found


def change_observation(change: Change, observation: dict[str, Any], value_of: Any) -> None:
    """Turn `observation`, the score's own (identifier, status, subject, ...), into the one
    of its change from baseline; `value_of` makes a valueQuantity of a number."""
    score = change.score
    display = (score.code or {}).get("display") or score.link_id
    components: list[dict[str, Any]] = [
        {"code": {"coding": [dict(score.code or {})]}, "valueQuantity": value_of(score.value)},
        {
            "code": _ours("baseline-value", "Baseline value"),
            "valueQuantity": value_of(change.baseline),
        },
    ]
    if change.percent is not None:
        percent = {
            "value": change.percent,
            "unit": "%",
            "system": "http://unitsofmeasure.org",
            "code": "%",
        }
        code = _ours("percent-change", "Percent change")
        components.append({"code": code, "valueQuantity": percent})
    for rule, met in change.outcomes:
        components.append({"code": {"coding": [dict(rule)]}, "valueBoolean": met})
    observation.pop("interpretation", None)
    observation.pop("valueQuantity", None)
    observation["code"] = {
        **_ours("change-from-baseline", "Change from baseline"),
        "text": f"Change from baseline: {display}",
    }
    observation["valueQuantity"] = value_of(change.change)
    observation["component"] = components


def _ours(code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": SCORES_SYSTEM, "code": code, "display": display}]}
