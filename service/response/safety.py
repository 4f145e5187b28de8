"""Safety items: a response positive on one asks for a clinician, in $score and in $extract.

Which scores are safety items, and what counts as positive, is content: a boolean score
item carrying the `safety-alert` extension (valueBoolean true) is one, and its own
calculatedExpression says when it is positive (PHQ-9 `item-9-flag`: item 9 at 1 or more;
QIDS-SR-16 `item-12-flag`: item 12 at 1 or more; both a local policy the instrument sheets
describe, not part of the instruments). When such a score is `true`:

- `$score` adds an `issues` warning, rule `score-safety`, pointing at the score's value;
- `$extract` adds an R4 Flag (http://hl7.org/fhir/R4/flag.html: "prospective warnings of
  potential issues when providing care to the patient"), as the IPS Flag - Alert profile
  uses one for alerts: status active, category `clinical` (flag-category), code the score
  item's code, subject the patient, period.start the response's `authored`, and the
  response as evidence through the R4 core `flag-detail` extension (its Reference, or the
  flag's own Observation when the response has no id or identifier). A Flag's subject
  cannot be a Device (R4 Flag.subject), so a Device's response gets the warning only.

A Flag is filed like the Observations: `PUT Flag?identifier=<system>|<value>` with the value
of the score's Observation, so re-sending never duplicates it. A later amendment that is
negative does not close it: closing a safety flag is a clinician's act.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from service import rules
from service.fhir.outcome import Issue, IssueSeverity, IssueType
from service.questionnaire.compile import CompiledQuestionnaire

from .entries import conditional_entry
from .score import Score, ScoreResult

__all__ = ["FLAG_SYSTEM", "positive_scores", "safety_flag", "safety_issues"]

FLAG_SYSTEM = "https://rapport-fhir.github.io/fhir/sid/flag"
FLAG_DETAIL = "http://hl7.org/fhir/StructureDefinition/flag-detail"
_CATEGORY = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/flag-category",
            "code": "clinical",
            "display": "Clinical",
        }
    ]
}
#: The targets R4 allows for Flag.subject.
FLAG_SUBJECTS = frozenset(
    {
        "Patient",
        "Location",
        "Group",
        "Organization",
        "Practitioner",
        "PlanDefinition",
        "Medication",
        "Procedure",
    }
)


def positive_scores(cq: CompiledQuestionnaire, result: ScoreResult) -> list[Score]:
    """The safety-alert scores that are true for this response, in document order."""
    found = []
    for score in result.scores:
        definition = cq.score(score.link_id) if score.value is True else None
        if definition is not None and definition.safety:
            found.append(score)
    return found


def safety_issues(cq: CompiledQuestionnaire, result: ScoreResult) -> list[Issue]:
    """A `score-safety` warning for each positive safety item, at its value: where scoring
    wrote it (`Score.where`, a top-level item's), else the first the response holds."""
    issues = []
    for score in positive_scores(cq, result):
        display = (score.code or {}).get("display") or score.link_id
        issues.append(
            Issue(
                IssueSeverity.WARNING,
                IssueType.BUSINESS_RULE,
                f"safety item positive ({display}): route the response to a clinician",
                score.where or _value_path(result.response, score.link_id),
                score.link_id,
                rules.SCORE_SAFETY,
            )
        )
    return issues


def safety_flag(
    score: Score,
    identifier: str,
    context: dict[str, Any],
    evidence: dict[str, Any],
    status: str,
) -> dict[str, Any]:
    """The transaction entry of the Flag for a positive safety score.

    `identifier` is the value of the score's Observation; `evidence` the Reference the
    flag-detail extension carries.
    """
    flag: dict[str, Any] = {
        "resourceType": "Flag",
        "extension": [{"url": FLAG_DETAIL, "valueReference": evidence}],
        "identifier": [{"system": FLAG_SYSTEM, "value": identifier}],
        "status": "entered-in-error" if status == "entered-in-error" else "active",
        "category": [_CATEGORY],
        "code": {"coding": [dict(score.code or {})]},
        "subject": context["subject"],
    }
    if "effectiveDateTime" in context:
        flag["period"] = {"start": context["effectiveDateTime"]}
    if "encounter" in context:
        flag["encounter"] = context["encounter"]
    return conditional_entry(flag, FLAG_SYSTEM, identifier)


def _value_path(response: dict[str, Any], link_id: str) -> str | None:
    """The FHIRPath of the first answer value of the item `link_id` in `response`, breadth
    first (each level's items, then what nests in them and in their answers, in order)."""
    # The path is kept as links back to the root and written out only for the item found;
    # a node with no items under it would add nothing to the queue, so none is queued.
    queue: deque[tuple[dict[str, Any], _Steps]] = deque([(response, None)])
    while queue:
        node, steps = queue.popleft()
        for index, item in enumerate(node.get("item") or ()):
            here = (steps, "item", index)
            if item.get("linkId") == link_id and item.get("answer"):
                return _written(here) + ".answer[0].value"
            if item.get("item"):
                queue.append((item, here))
            for n, answer in enumerate(item.get("answer") or ()):
                if answer.get("item"):
                    queue.append((answer, (here, "answer", n)))
    return None


#: The steps from the response to a node: (steps to its parent, element, index), or None.
_Steps = tuple[Any, str, int] | None


def _written(steps: _Steps) -> str:
    parts = []
    while steps is not None:
        steps, element, index = steps
        parts.append(f".{element}[{index}]")
    return "QuestionnaireResponse" + "".join(reversed(parts))
