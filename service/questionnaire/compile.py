"""A Questionnaire compiled once, when it enters the catalogue: items indexed, logic compiled.

Content problems raise `UnprocessableContent` carrying every issue found, each
with an `expression` into the Questionnaire (`Questionnaire.item[3].extension[2]`)
and one of the q-* rules of the registry (service/rules/content.py; docs/rules.md).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Any

from service import rules
from service.errors import UnprocessableContent
from service.fhir.outcome import Issue, IssueType, error
from service.fhirpath import Expression, compile_expression, interpret_expression
from service.rules import Rule

from . import constraints as _rules
from . import logic as _logic
from .constraints import Constraint
from .items import EnableWhen, ItemDef, Option, index_item
from .logic import Band, Scope, ScoreDef, Variable
from .plain import optional_children, plain_questions
from .terminology import Terminology, terminology

__all__ = [
    "Band",
    "CompiledQuestionnaire",
    "Constraint",
    "EnableWhen",
    "ItemDef",
    "Limits",
    "Option",
    "Scope",
    "ScoreDef",
    "Variable",
    "compile_questionnaire",
    "outer_deadline",
    "within_deadline",
]


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on content compiled per request (contained Questionnaires) and on evaluation."""

    max_items: int = 2_000
    max_depth: int = 32
    max_expressions: int = 500
    max_expression_length: int = 4_096
    # Parsing is the costly part of compiling (~0.1 ms a character for long arithmetic), so
    # the total source bounds the time a Questionnaire sent with a request can take.
    max_expression_chars: int = 64_000
    # Wall-clock bound on compiling, checked after each expression; each expression is
    # itself bounded by `max_expression_length`, so the overrun is a fraction of a second.
    max_compile_seconds: float = 30.0
    budget: int = 100_000  # elements materialised per expression evaluation
    max_response_nodes: int = 10_000  # items plus answers in one response
    # Wall-clock bound on evaluating every expression for one response (validation and
    # scoring share it), so that a request fails with 422 long before the worker timeout.
    max_evaluation_seconds: float | None = 10.0

    def deadline(self) -> float | None:
        """The `time.monotonic()` by which evaluation for a response starting now must end:
        never past the deadline of what it runs within (`within_deadline`, a batch)."""
        seconds = self.max_evaluation_seconds
        own = None if seconds is None else time.monotonic() + seconds
        outer = _OUTER_DEADLINE.get()
        return outer if own is None else own if outer is None else min(own, outer)


#: The deadline of what the current work runs within: a batch sets its budget's end, so
#: that an entry running past it is stopped inside (compiling, evaluating), not only the
#: entries not yet started.
_OUTER_DEADLINE: ContextVar[float | None] = ContextVar("outer_deadline", default=None)


def outer_deadline() -> float | None:
    """The deadline of what the current work runs within (`within_deadline`), if any."""
    return _OUTER_DEADLINE.get()


@contextmanager
def within_deadline(deadline: float) -> Iterator[None]:
    """Compile and evaluate within the block so as to end by `deadline` (time.monotonic())."""
    token = _OUTER_DEADLINE.set(deadline)
    try:
        yield
    finally:
        _OUTER_DEADLINE.reset(token)


@dataclass(frozen=True, slots=True)
class CompiledQuestionnaire:
    """A Questionnaire ready to validate and score responses, built by compile_questionnaire."""

    questionnaire: dict[str, Any]
    url: str | None
    version: str | None
    id: str | None
    items: dict[str, ItemDef]
    root_children: tuple[str, ...]
    scope: Scope
    scores: tuple[ScoreDef, ...]
    terminology: Terminology
    limits: Limits = field(default_factory=Limits)
    conditional: frozenset[str] = frozenset()  # items with enableWhen(Expression), or under one
    calculated: frozenset[str] = frozenset()  # items the service fills in (scores)
    score_paths: frozenset[str] = frozenset()  # the calculated items and their ancestors
    repeated_scores: frozenset[str] = frozenset()  # calculated, under a repeating item
    item_variables: dict[str, tuple[Variable, ...]] = field(default_factory=dict)
    enable_expressions: dict[str, Expression] = field(default_factory=dict)
    constraints: dict[str | None, tuple[Constraint, ...]] = field(default_factory=dict)
    # SDC weight(): per linkId, the weight of each (system, code) a Coding answering it may
    # have (its answerOptions', else its CodeSystem's); see `coding_weights`.
    coding_weights: dict[str, dict[tuple[Any, Any], float]] = field(default_factory=dict)
    # Questions with items under their answers, none of them required or with minOccurs:
    # an answer that leaves them out has nothing to check there.
    optional_children: frozenset[str] = frozenset()
    plain_questions: dict[str, ItemDef] = field(default_factory=dict)  # `plain`'s

    def score(self, link_id: str) -> ScoreDef | None:
        """The score item with this linkId, if any."""
        return next((s for s in self.scores if s.link_id == link_id), None)


def compile_questionnaire(
    questionnaire: dict[str, Any],
    *,
    limits: Limits | None = None,
    interpret: bool = False,
    siblings: Sequence[Any] = (),
) -> CompiledQuestionnaire:
    """Compile a Questionnaire once; `interpret` uses fhirpathpy throughout (tests, benchmarks);
    `siblings` are the resources contained beside a contained one, where its `#id` ValueSets
    may be.
    """
    limits = limits or Limits()
    if type(questionnaire) is not dict or questionnaire.get("resourceType") != "Questionnaire":
        raise UnprocessableContent(
            "not a Questionnaire",
            issues=[_issue("Questionnaire", "not a Questionnaire", rules.Q_NOT_QUESTIONNAIRE)],
        )
    builder = _Builder(limits, interpret)
    root_vars, visible = _logic.variables(
        questionnaire, "Questionnaire", {}, builder.compile, builder.issues
    )
    root_constraints = _rules.constraints(
        questionnaire, "Questionnaire", visible, builder.compile, builder.issues
    )
    if root_constraints:
        builder.constraints[None] = root_constraints
    children, scopes = builder.walk(
        questionnaire.get("item", []), "Questionnaire", None, 1, visible
    )
    builder.check_enable_when()
    if builder.issues:
        raise UnprocessableContent(builder.issues[0].text, issues=builder.issues)
    url, version = questionnaire.get("url"), questionnaire.get("version")
    found = terminology(questionnaire, siblings)
    optional = optional_children(builder.items)
    return CompiledQuestionnaire(
        questionnaire=questionnaire,
        url=url if type(url) is str else None,
        version=version if type(version) is str else None,
        id=questionnaire.get("id") if type(questionnaire.get("id")) is str else None,
        items=builder.items,
        root_children=children,
        scope=Scope(root_vars, None, scopes),
        scores=tuple(builder.scores),
        terminology=found,
        limits=limits,
        conditional=_conditional(builder.items, builder.enable_expressions),
        calculated=frozenset(score.link_id for score in builder.scores),
        score_paths=_score_paths(builder.items, builder.scores),
        repeated_scores=_repeated_scores(builder.items, builder.scores),
        item_variables=builder.item_variables,
        enable_expressions=builder.enable_expressions,
        constraints=builder.constraints,
        coding_weights=coding_weights(builder.items, found),
        optional_children=optional,
        plain_questions=plain_questions(builder.items, builder.constraints, optional),
    )


def coding_weights(
    items: dict[str, ItemDef], found: Terminology
) -> dict[str, dict[tuple[Any, Any], float]]:
    """Per item, the weight of each (system, code) answering it (SDC lookup order): for an
    item with answerOptions, each Coding option's own weight, else its CodeSystem's; for one
    without (bound to a ValueSet), the CodeSystems'. A Coding not listed has no weight; an
    item none of whose answers has one is left out.
    """
    tables: dict[str, dict[tuple[Any, Any], float]] = {}
    for link, definition in items.items():
        if not definition.options:
            if found.weights:
                tables[link] = found.weights
            continue
        table = {}
        for option in definition.options.values():
            if option.value_type != "Coding":
                continue
            key: tuple[Any, Any, Any] = option.key  # type: ignore[assignment]
            system, code = key[1], key[2]  # ("Coding", system, code): `answer_key`
            weight = option.weight
            if weight is None:
                weight = found.weights.get((system, code))
            if weight is not None:
                table[system, code] = weight
        if table:
            tables[link] = table
    return tables  # empty: no answer has a weight (an instrument of integers, say)


def _conditional(items: dict[str, ItemDef], expressions: dict[str, Expression]) -> frozenset[str]:
    """The items whose enablement depends on answers (parents precede children in `items`)."""
    found: set[str] = set()
    for definition in items.values():
        conditional = definition.enable_when or definition.link_id in expressions
        if conditional or definition.parent in found:
            found.add(definition.link_id)
    return frozenset(found)


def _score_paths(items: dict[str, ItemDef], scores: list[ScoreDef]) -> frozenset[str]:
    """The calculated items and every item above one: what scoring may write into."""
    found: set[str] = set()
    for score in scores:
        link: str | None = score.link_id
        while link is not None and link not in found:
            found.add(link)
            link = items[link].parent
    return frozenset(found)


def _repeated_scores(items: dict[str, ItemDef], scores: list[ScoreDef]) -> frozenset[str]:
    """The calculated items under a repeating group or question (a score per repetition)."""

    def repeats(link_id: str | None) -> bool:  # link_id or one of its ancestors
        while link_id is not None and not items[link_id].repeats:
            link_id = items[link_id].parent
        return link_id is not None

    return frozenset(score.link_id for score in scores if repeats(items[score.link_id].parent))


def _issue(expression: str, text: str, rule: Rule, code: IssueType = IssueType.INVALID) -> Issue:
    return error(code, text, expression, rule=rule)


def _too_large(expression: str, text: str) -> UnprocessableContent:
    issue = _issue(expression, text, rules.Q_TOO_LARGE, IssueType.TOO_COSTLY)
    return UnprocessableContent(text, issues=[issue], issue_type=IssueType.TOO_COSTLY)


class _Builder:
    """The state of one compilation: items and scores found so far, issues, counters."""

    def __init__(self, limits: Limits, interpret: bool) -> None:
        self.limits = limits
        self.interpret = interpret
        self.items: dict[str, ItemDef] = {}
        self.scores: list[ScoreDef] = []
        self.issues: list[Issue] = []
        self.expressions = 0
        self.characters = 0
        self.deadline = time.monotonic() + limits.max_compile_seconds
        self.late = f"compiling took longer than {limits.max_compile_seconds} s"
        outer = _OUTER_DEADLINE.get()
        if outer is not None and outer < self.deadline:
            self.deadline = outer
            self.late = "the batch's time budget ran out while this Questionnaire was compiled"
        self.item_variables: dict[str, tuple[Variable, ...]] = {}
        self.enable_expressions: dict[str, Expression] = {}
        self.constraints: dict[str | None, tuple[Constraint, ...]] = {}

    def compile(self, source: str) -> Expression:
        """Compile one expression, counting it against the limits."""
        self.expressions += 1
        self.characters += len(source)
        if self.characters > self.limits.max_expression_chars:
            raise _too_large(
                "Questionnaire",
                f"more than {self.limits.max_expression_chars} characters of expressions",
            )
        if self.expressions > self.limits.max_expressions:
            raise _too_large(
                "Questionnaire", f"more than {self.limits.max_expressions} expressions"
            )
        length = self.limits.max_expression_length
        if self.interpret:
            compiled = interpret_expression(source, max_length=length)
        else:
            compiled = compile_expression(source, max_length=length)
        if time.monotonic() > self.deadline:
            raise _too_large("Questionnaire", self.late)
        return compiled

    def walk(
        self, raw: Any, path: str, parent: str | None, depth: int, visible: dict[str, Any]
    ) -> tuple[tuple[str, ...], tuple[Scope, ...]]:
        """Index the items under `path`; their linkIds and their non-empty scopes."""
        if type(raw) is not list:
            self.issues.append(_issue(f"{path}.item", "item must be an array", rules.Q_INVALID))
            return (), ()
        if raw and depth > self.limits.max_depth:
            raise _too_large(path, f"items nest deeper than {self.limits.max_depth} levels")
        link_ids: list[str] = []
        scopes: list[Scope] = []
        for index, item in enumerate(raw):
            here = f"{path}.item[{index}]"
            if not self._admit(item, here):
                continue
            scope = self._item(
                item, path=here, parent=parent, position=len(link_ids), depth=depth, visible=visible
            )
            link_ids.append(item["linkId"])
            if scope.variables or scope.score or scope.children:
                scopes.append(scope)
        return tuple(link_ids), tuple(scopes)

    def _admit(self, item: Any, path: str) -> bool:
        if len(self.items) >= self.limits.max_items:
            raise _too_large(path, f"more than {self.limits.max_items} items")
        if type(item) is not dict or type(item.get("linkId")) is not str or not item["linkId"]:
            self.issues.append(_issue(path, "an item needs a linkId", rules.Q_LINKID))
            return False
        if item["linkId"] in self.items:
            text = f"linkId '{item['linkId']}' is used by more than one item (que-2)"
            self.issues.append(_issue(f"{path}.linkId", text, rules.Q_LINKID))
            return False
        return True

    def _item(
        self,
        item: dict[str, Any],
        *,
        path: str,
        parent: str | None,
        position: int,
        depth: int,
        visible: dict[str, Any],
    ) -> Scope:
        definition = index_item(item, path, parent, position, self.issues)
        self.items[definition.link_id] = definition  # placeholder keeps document order
        visible = {**visible, "qitem": frozenset()}  # SDC %qitem: the item, on items only
        own, inner = _logic.variables(item, path, visible, self.compile, self.issues)
        self._rules(item, definition.link_id, path, own, inner)
        score = _logic.calculation(
            item,
            kind=definition.type,
            path=path,
            visible=inner,
            compile_=self.compile,
            issues=self.issues,
        )
        if score is not None:
            self.scores.append(score)
        children, scopes = self.walk(
            item.get("item", []), path, definition.link_id, depth + 1, inner
        )
        self.items[definition.link_id] = replace(definition, children=children)
        return Scope(own, score, scopes, definition.link_id)

    def _rules(
        self,
        item: dict[str, Any],
        link_id: str,
        path: str,
        own: tuple[Variable, ...],
        inner: dict[str, frozenset[str]],
    ) -> None:
        """The item's variables, enableWhenExpression and targetConstraints, for validation."""
        if own:
            self.item_variables[link_id] = own
        found = _rules.enable_expression(item, path, inner, self.compile, self.issues)
        if found is not None:
            self.enable_expressions[link_id] = found
        constraints = _rules.constraints(item, path, inner, self.compile, self.issues)
        if constraints:
            self.constraints[link_id] = constraints

    def check_enable_when(self) -> None:
        """Every enableWhen.question names an item of this Questionnaire."""
        for definition in self.items.values():
            for index, condition in enumerate(definition.enable_when):
                if condition.question not in self.items:
                    text = f"enableWhen.question '{condition.question}' is not an item"
                    where = f"{definition.path}.enableWhen[{index}].question"
                    self.issues.append(_issue(where, text, rules.Q_ENABLEWHEN_INVALID))
