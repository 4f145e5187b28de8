"""Evaluating a Questionnaire's enableWhenExpressions and targetConstraints on one response.

As in SDC form fillers: `%resource` is the response, `%questionnaire` the
Questionnaire, `%qitem` the Questionnaire item the expression (or variable) is on, and
the `variable`s in scope are those of the Questionnaire and
of the item and its ancestors, in document order, each evaluated (as scoring
does) with `%context` and the focus the instance of the item declaring it: the
response for the Questionnaire's, the repetition of a group (or the response
item of a question) enclosing the item for an ancestor's, and the context of
the expression using them for the item's own. An expression's own `%context`,
also its focus, is for an enableWhenExpression the instance that holds the item
(its group instance or answer, or the response at the top level), so that in a
repeating group each repetition decides for itself; for a targetConstraint it
is the response item the constraint is on (each occurrence in turn), or the
response for one on the Questionnaire. An enableWhenExpression enables on true
and disables on false or empty; a targetConstraint is violated by false only
(empty: nothing to check).
An expression that fails, or gives something other than one boolean, is a
warning (`qr-expression-failed`); the item then counts as enabled.
"""

from __future__ import annotations

from typing import Any

from service import rules
from service.fhir.outcome import Issue, IssueSeverity, IssueType
from service.fhirpath import Env, Expression, FhirPathError
from service.questionnaire.compile import CompiledQuestionnaire
from service.questionnaire.constraints import Constraint
from service.questionnaire.enable_when import Frame
from service.questionnaire.items import ItemDef
from service.questionnaire.logic import Variable

from .answers import Answers

__all__ = ["Evaluator"]


class Evaluator:
    """The expressions of one validation: one environment, root variables computed once."""

    __slots__ = ("_cq", "_env", "_out", "_root", "_scoped")

    def __init__(
        self,
        cq: CompiledQuestionnaire,
        response: dict[str, Any],
        out: Answers,
        deadline: float | None = None,
    ) -> None:
        self._cq = cq
        self._out = out
        self._env = Env(response, cq.questionnaire, budget=cq.limits.budget, deadline=deadline)
        self._root: dict[str, list[Any]] | None = None
        self._scoped: dict[tuple[str, int], dict[str, list[Any]]] = {}  # by item, instance

    def enabled(self, definition: ItemDef, frame: Frame) -> bool:
        """The item's enableWhenExpression in `frame` (true when it has none)."""
        expression = self._cq.enable_expressions.get(definition.link_id)
        if expression is None:
            return True
        link = definition.link_id
        result = self._run(expression, link, frame.node, frame.path, frame)
        if result is None:
            return True
        if not result:
            return False
        if len(result) == 1 and type(result[0]) is bool:
            return result[0]
        self._not_boolean(expression, result, frame.path, link)
        return True

    def check(
        self,
        constraint: Constraint,
        link: str | None,
        context: Any,
        where: str,
        frame: Frame | None = None,
    ) -> None:
        """Report `constraint` if it is false for `context` (at `where`, held in `frame`)."""
        result = self._run(constraint.expression, link, context, where, frame)
        if not result:
            return
        if len(result) != 1 or type(result[0]) is not bool:
            self._not_boolean(constraint.expression, result, where, link)
            return
        if result[0]:
            return
        location = constraint.location
        if location is not None and not location.startswith("QuestionnaireResponse"):
            location = f"{where}.{location}"
        self._out.issues.append(
            Issue(
                constraint.severity,
                IssueType.INVARIANT,
                f"{constraint.human} (constraint {constraint.key})",
                location or where,
                link,
                rules.QR_CONSTRAINT,
            )
        )

    def _run(
        self,
        expression: Expression,
        link: str | None,
        context: Any,
        where: str,
        frame: Frame | None,
    ) -> list[Any] | None:
        """Evaluate with the variables in scope at `link`; None (and a warning) if it fails."""
        try:
            self._env.variables = self._variables(link, context, frame)
            self._env.context = context
            self._env.qitem = None if link is None else self._cq.items[link].qitem
            return expression.evaluate([context], self._env)
        except FhirPathError as exc:
            text = f"expression {expression.source!r} failed: {exc}"
            self._out.issues.append(
                Issue(
                    IssueSeverity.WARNING,
                    IssueType.PROCESSING,
                    text,
                    where,
                    link,
                    rules.QR_EXPRESSION_FAILED,
                )
            )
            return None

    def _variables(
        self, link: str | None, context: Any, frame: Frame | None
    ) -> dict[str, list[Any]]:
        """The variables in scope at `link`, each evaluated in its item's instance."""
        if self._root is None:
            self._root = self._evaluate(self._cq.scope.variables, {}, self._env.resource, None)
        chain: list[str] = []
        while link is not None:
            chain.append(link)
            link = self._cq.items[link].parent
        instances: dict[str | None, Any] = {}  # the ancestors' instances enclosing `frame`
        while frame is not None:
            instances[frame.link] = frame.item
            frame = frame.parent
        variables = self._root
        for item in reversed(chain):
            declared = self._cq.item_variables.get(item)
            if declared:
                here = instances.get(item, context)  # the item's own: the expression's context
                key = (item, id(here))
                found = self._scoped.get(key)
                if found is None:
                    qitem = self._cq.items[item].qitem
                    found = self._scoped[key] = self._evaluate(declared, variables, here, qitem)
                variables = found
        return variables

    def _evaluate(
        self,
        declared: tuple[Variable, ...],
        visible: dict[str, list[Any]],
        context: Any,
        qitem: dict[str, Any] | None,
    ) -> dict[str, list[Any]]:
        variables = dict(visible)
        self._env.context = context
        self._env.qitem = qitem
        for variable in declared:
            self._env.variables = variables
            variables[variable.name] = variable.expression.evaluate([context], self._env)
        return variables

    def _not_boolean(
        self, expression: Expression, result: list[Any], where: str, link: str | None
    ) -> None:
        text = f"expression {expression.source!r} gave {str(result)[:80]}, not one boolean"
        self._out.issues.append(
            Issue(
                IssueSeverity.WARNING,
                IssueType.PROCESSING,
                text,
                where,
                link,
                rules.QR_EXPRESSION_FAILED,
            )
        )
