"""Re-scoring a QuestionnaireResponse from its Questionnaire's own SDC expressions.

Variables and calculatedExpressions are evaluated in document order (SDC), with
`%resource` the response, `%questionnaire` the Questionnaire, `%qitem` the
Questionnaire item the expression is on and `weight()` the itemWeight of the
answerOption a Coding matches in the item it answers (`weights`). `%context`, also
the focus, is the instance of the item that declares the variable (SDC): the
response for the Questionnaire's, each repetition of a group for the group's,
the response item for a question's; a calculatedExpression (and its item's own
variables) is evaluated in each instance holding its item, which the response
may lack. Each score is written into a copy of the response as soon as it is
computed, so later expressions see it, as in an SDC form filler.

Values are what the expression computes in IEEE doubles, exactly as fhirpath.js
(LHC-Forms, Smart Forms) computes them: sums of the integer weights our content
uses are exact, and the shipped means round themselves (`.round(2)`). A decimal
score item with `maxDecimalPlaces` (its precision) is then rounded to it as
`round(places)` would, so a site's content that forgets to round still gives
the decimal (2.47), never 2.4666666666666668; bands apply to that value.
Integer results stay integers.

Scoring's rules are the registry's score-* (service/rules/content.py, docs/rules.md).

A calculated item is computed and filled in at the top level, or in each
instance of its parent group (a `Score` per repetition); one under a question's
answer, or in a group the response lacks, is computed there and reported in
`scores` only.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from service import rules
from service.errors import UnprocessableContent
from service.fhir.outcome import Issue, IssueSeverity, IssueType
from service.fhirpath import BudgetExceeded, Env, Expression, FhirPathError, js_round
from service.questionnaire.compile import CompiledQuestionnaire, Scope, ScoreDef
from service.rules import Rule

from .validate import Validation, validate_response
from .weights import AnswerWeights
from .working import copy_items

__all__ = ["Score", "ScoreResult", "check_scores", "score_response"]

_VALUE_KEY = {"decimal": "valueDecimal", "integer": "valueInteger", "boolean": "valueBoolean"}


# Named tuples rather than frozen dataclasses: as immutable, and built several times per
# response, where a frozen dataclass's __init__ (object.__setattr__ per field) cost about
# as much as evaluating a score expression.
class Score(NamedTuple):
    """One computed score: its item, code, value (None when withheld) and band; under a
    repeating group or question, which repetition (from 0, in document order) it is for;
    for a positive safety item at the top level, the FHIRPath of its value in the response.
    """

    link_id: str
    code: dict[str, Any] | None
    value: float | bool | None
    interpretation: dict[str, Any] | None = None
    instance: int | None = None
    where: str | None = None  # None: not noted (`safety._value_path` finds it)


class ScoreResult(NamedTuple):
    """What scoring returns: the filled-in response, the scores, and warnings."""

    response: dict[str, Any]
    scores: list[Score]
    issues: list[Issue]
    status: str


def score_response(cq: CompiledQuestionnaire, response: Any, *, base: str = "") -> ScoreResult:
    """Validate and score `response`; UnprocessableContent if it has errors or scoring fails.

    `base` is as for `validate_response`.
    """
    validation = validate_response(cq, response, base=base)
    if validation.errors:
        raise UnprocessableContent(
            validation.errors[0].text, issues=validation.issues, issue_type=IssueType.INVALID
        )
    if validation.stopped:  # the rest of the response was never checked: not scored either
        raise UnprocessableContent(
            validation.issues[-1].text, issues=validation.issues, issue_type=IssueType.TOO_COSTLY
        )
    return _score(cq, response, validation)


def check_scores(cq: CompiledQuestionnaire, response: Any, validation: Validation) -> list[Issue]:
    """For $validate: a `score-differs` warning for each calculated value `response` carries
    that the service computes otherwise. Scoring runs only when the response answers a
    calculated item and `validation` found no errors; its own failures are $score's to report.
    """
    if validation.errors or validation.stopped or not validation.answered & cq.calculated:
        return []
    try:
        result = _score(cq, response, validation)
    except UnprocessableContent:
        return []
    return [issue for issue in result.issues if issue.rule == rules.SCORE_DIFFERS]


def _score(cq: CompiledQuestionnaire, response: Any, validation: Validation) -> ScoreResult:
    paths: dict[int, str] = {}
    working = dict(response)
    if "item" in working:
        working["item"] = copy_items(
            response["item"], "QuestionnaireResponse", paths, cq.score_paths
        )
    # Validation's Codings are the working copy's too when it validated this very response.
    codings = validation.codings if validation.response is response else None
    run = _Run(cq, validation, working, paths, codings)
    run.scope(cq.scope, {}, working)
    issues = [*validation.issues, *run.issues]
    return ScoreResult(working, run.scores, issues, str(response["status"]))


class _Run:
    """One scoring run: the environment, the scores so far and their issues."""

    def __init__(
        self,
        cq: CompiledQuestionnaire,
        validation: Validation,
        working: dict[str, Any],
        paths: dict[int, str],
        codings: list[tuple[str, Any]] | None,
    ) -> None:
        """`codings`: those of `working` as validation noted them, or None (`AnswerWeights`)."""
        self.cq = cq
        self.answered = validation.answered
        self.working = working
        self.paths = paths
        weights = AnswerWeights(cq, working, codings)
        self.env = Env(
            working,
            cq.questionnaire,
            weight=weights,
            weights=weights.by_node,
            budget=cq.limits.budget,
            memo={},  # cleared whenever a score is written into `working`
            deadline=validation.deadline,
        )
        self.scores: list[Score] = []
        self.issues: list[Issue] = []
        self.instances: dict[str, int] = {}  # scores so far of each item under a repetition
        self.by_link: dict[int, tuple[Any, dict[Any, list[Any]]]] = {}  # `_items`

    def scope(self, scope: Scope, variables: dict[str, list[Any]], context: Any) -> None:
        """Evaluate one item's variables, its score, then its children, in document order.

        `context` is %context and the focus (SDC): the item's instance in the response (the
        response itself for the Questionnaire), or, for a calculated item, the instance
        holding it. The children are evaluated in each instance holding them.
        """
        self.env.qitem = None if scope.link_id is None else self.cq.items[scope.link_id].qitem
        if scope.variables:
            variables = dict(variables)
            for variable in scope.variables:
                found = self.evaluate(
                    "variable %{}", variable.name, variables, variable.expression, context
                )
                variables[variable.name] = found
        if scope.score is not None:
            self.score(scope.score, variables, context)
        if not scope.children:
            return
        for holder in self._holders(scope, context):
            for child in scope.children:
                if child.score is not None:
                    self.scope(child, variables, holder)
                    continue
                instances = self._items(holder).get(child.link_id)
                for instance in instances or [{"linkId": child.link_id}]:
                    self.scope(child, variables, instance)

    def _items(self, holder: Any) -> dict[Any, list[Any]]:
        """The items of `holder` by linkId, in order, found in one pass when first needed. An
        item is looked up only before its score is written (once per holder), so the item
        `_insert` adds is never missed; the holder is kept with them, its id unique."""
        found = self.by_link.get(id(holder))
        if found is None:
            index: dict[Any, list[Any]] = {}
            for item in holder.get("item", ()):
                index.setdefault(item["linkId"], []).append(item)
            found = self.by_link[id(holder)] = (holder, index)
        return found[1]

    def _holders(self, scope: Scope, context: Any) -> list[Any]:
        """Where the item's children are: its instance (a group, the response) or its answers.

        A question left unanswered (or a calculated one, whose answers the score replaces)
        holds them in an empty answer, so that their scores are still reported.
        """
        if scope.link_id is None or self.cq.items[scope.link_id].type == "group":
            return [context]
        answers = context.get("answer") if scope.score is None else None
        return [a for a in answers if type(a) is dict] if type(answers) is list else [{}]

    def evaluate(
        self,
        what: str,
        name: str,
        variables: dict[str, list[Any]],
        expression: Expression,
        context: Any,
    ) -> list[Any]:
        """Run one expression (`what`, a template, names it with `name` in a failure);
        budget or evaluation failures become UnprocessableContent."""
        self.env.variables = variables
        self.env.context = context
        try:
            return expression.evaluate([context], self.env)
        except BudgetExceeded as exc:
            text = f"{what.format(name)}: {exc}"
            raise _failure(text, rules.SCORE_TOO_COSTLY, IssueType.TOO_COSTLY) from exc
        except FhirPathError as exc:
            text = f"{what.format(name)}: {exc}"
            raise _failure(text, rules.SCORE_FAILED, IssueType.PROCESSING) from exc

    def score(self, definition: ScoreDef, variables: dict[str, list[Any]], holder: Any) -> None:
        """Compute one score in the instance holding its item, fill it in there, and note why
        it is withheld or differs.
        """
        link = definition.link_id
        result = self.evaluate("score '{}'", link, variables, definition.expression, holder)
        value = _at_precision(_value(definition, result), self.cq.items[link].max_decimal_places)
        interpretation = _band(definition, value)
        instance = None
        if link in self.cq.repeated_scores:
            instance = self.instances[link] = self.instances.get(link, -1) + 1
        items = self._items(holder).get(link, [])
        if value is None:
            self._withheld(definition, next((self.paths[id(i)] for i in items), None))
        for item in items:
            self.env.memo = {}
            self._compare(definition, item, self.paths[id(item)], value)
            if value is None:
                item.pop("answer", None)
            else:
                item["answer"] = [{_VALUE_KEY[definition.type]: value}]
        at = None
        if value is not None and not items and self._writable(holder):
            at = self._insert(definition, value, holder)
        where = None
        if value is True and definition.safety and holder is self.working:
            # `safety._value_path`'s, the first breadth first: the first top-level item of
            # its linkId (or the one added), which a later score is never put before.
            if items:  # its place by identity: equal items would be compared by content
                at = next(n for n, item in enumerate(self.working["item"]) if item is items[0])
            where = f"QuestionnaireResponse.item[{at}].answer[0].value"
        self.scores.append(Score(link, definition.code, value, interpretation, instance, where))

    def _writable(self, holder: Any) -> bool:
        """The response or a group instance in it (`paths` notes items only): where a missing
        calculated item is added; not a question's answer, nor an instance the response lacks.
        """
        return holder is self.working or id(holder) in self.paths

    def _withheld(self, definition: ScoreDef, where: str | None) -> None:
        missing = [link for link in self.cq.items if link in definition.uses - self.answered]
        if missing:
            text = (
                f"score '{definition.link_id}' is withheld: "
                f"item{'s' if len(missing) > 1 else ''} {', '.join(missing)} unanswered"
            )
        else:
            text = f"score '{definition.link_id}' is withheld by the instrument's rule"
        self.issues.append(
            Issue(
                IssueSeverity.WARNING,
                IssueType.BUSINESS_RULE,
                text,
                where,
                definition.link_id,
                rules.SCORE_WITHHELD,
            )
        )

    def _compare(
        self, definition: ScoreDef, item: dict[str, Any], path: str, value: float | bool | None
    ) -> None:
        answers = item.get("answer")
        if not answers:
            return
        theirs = answers[0].get(_VALUE_KEY[definition.type])
        if _same(theirs, value) and len(answers) == 1:
            return
        ours = "withheld" if value is None else repr(value)
        text = f"score '{definition.link_id}' was given as {theirs!r}; the service computes {ours}"
        self.issues.append(
            Issue(
                IssueSeverity.WARNING,
                IssueType.VALUE,
                text,
                f"{path}.answer[0].value",
                definition.link_id,
                rules.SCORE_DIFFERS,
            )
        )

    def _insert(self, definition: ScoreDef, value: float | bool, holder: dict[str, Any]) -> int:
        """Add the calculated item to `holder` in Questionnaire order; its index there."""
        self.env.memo = {}
        item = {"linkId": definition.link_id, "answer": [{_VALUE_KEY[definition.type]: value}]}
        if definition.text is not None:
            item["text"] = definition.text
        position = self.cq.items[definition.link_id].position
        items = self.cq.items
        siblings = holder.setdefault("item", [])
        # Validation saw the siblings in Questionnaire order, so the place is found by
        # stepping back past those after it (usually none: scores come last).
        at = len(siblings)
        while at and items[siblings[at - 1]["linkId"]].position > position:
            at -= 1
        siblings.insert(at, item)
        return at


def _failure(text: str, rule: Rule, code: IssueType) -> UnprocessableContent:
    issue = Issue(IssueSeverity.ERROR, code, text, None, None, rule)
    return UnprocessableContent(text, issues=[issue], issue_type=code)


def _value(definition: ScoreDef, result: list[Any]) -> float | bool | None:
    """The single value of a score's result; empty is None (withheld)."""
    if not result:
        return None
    value = result[0]
    if len(result) == 1 and definition.type == "boolean" and type(value) is bool:
        return value
    if len(result) == 1 and definition.type != "boolean" and type(value) in (int, float):
        if not _representable(value):
            raise _failure(
                f"score '{definition.link_id}' is not a finite decimal FHIR can carry",
                rules.SCORE_FAILED,
                IssueType.PROCESSING,
            )
        if definition.type == "integer" and type(value) is float:
            if not value.is_integer():
                raise _failure(
                    f"score '{definition.link_id}' gave {value}, not an integer",
                    rules.SCORE_FAILED,
                    IssueType.PROCESSING,
                )
            return int(value)
        return value  # type: ignore[no-any-return]
    text = f"score '{definition.link_id}' ({definition.type}) gave {result!r}"
    raise _failure(text, rules.SCORE_FAILED, IssueType.PROCESSING)


def _at_precision(value: float | bool | None, places: int | None) -> float | bool | None:
    """A decimal score rounded to its item's maxDecimalPlaces, as FHIRPath `round(places)`
    rounds in fhirpath.js (halves up): the nearest double to that decimal, which JSON
    writes as the decimal itself (2.47, never 2.4700000000000002); no places: an integer.
    """
    if type(value) is not float or places is None:
        return value
    scale = 10.0**places
    rounded = js_round(value * scale)
    return int(rounded) if places == 0 else rounded / scale


def _representable(value: float) -> bool:
    """Finite, and (for integers) within the 64 bits a FHIR JSON writer carries. An int is
    compared as an int: one wider than any double makes `math.isfinite` raise."""
    if type(value) is int:
        return abs(value) <= _LARGEST
    return math.isfinite(value) and abs(value) <= _LARGEST


_LARGEST = 2**63 - 1


def _band(definition: ScoreDef, value: float | bool | None) -> dict[str, Any] | None:
    if not definition.bands or value is None or type(value) is bool:
        return None
    return next((b.interpretation for b in definition.bands if b.contains(value)), None)


def _same(theirs: Any, ours: float | bool | None) -> bool:
    if type(theirs) is bool or type(ours) is bool:
        return theirs is ours
    if ours is None or type(theirs) not in (int, float):
        return False
    return math.isclose(theirs, ours, rel_tol=1e-9, abs_tol=1e-9)
