"""`weight()` for one response: each answer Coding's weight, found by the item it answers.

As fhirpath.js resolves `weight()` (SDC): a Coding's weight belongs to the Questionnaire
item it answers, the answerOption with its system and code (that option's itemWeight or
ordinalValue), else the weight its CodeSystem gives that code. Items that share codes but
score them differently (reverse-scored items) differ by linkId, so the item is part of the
key: (linkId, system, code), all of it content, none of it identity.

A FHIRPath engine hands `weight()` a bare Coding (a dict), not where it sits, so the item
it answers is found in the resource under evaluation: `AnswerWeights` notes, for each answer
Coding in that resource, the weight of its (linkId, system, code). Both engines return the
resource's own dicts (the compiler's navigation, the interpreter's unwrapping;
tests/response/test_weights.py), so a Coding an expression reaches is one of those noted.

The Codings are found by walking the resource the Env evaluates, when the Env is built; or,
when scoring evaluates a working copy of the very response validation walked to the end
(`Validation.codings`), taken from validation's own list of them: the copy shares the
answers' values (`working.copy_items`), and validation without errors has been to every
answer Coding a walk finds, in the walk's order (tests/response/test_weights.py compares
the two). A response copied in any other way (deep or shallow) is walked as itself and
keeps every weight.
"""

from __future__ import annotations

from typing import Any

from service.questionnaire.compile import CompiledQuestionnaire

__all__ = ["AnswerWeights", "coding_weight"]


def coding_weight(cq: CompiledQuestionnaire, link: str, system: Any, code: Any) -> float | None:
    """The weight of (system, code) as an answer to item `link` (`coding_weights` in
    `service.questionnaire.compile`); None if it is not an answer of the item with a weight.
    """
    table = cq.coding_weights.get(link)
    return None if table is None else table.get((system, code))


class AnswerWeights:
    """The weights of the answer Codings of one resource (a QuestionnaireResponse), for
    `Env(weight=..., weights=...by_node)`. Built when the Env is; whoever puts other answer
    Codings into the resource while it is evaluated builds a new one (scoring adds only
    decimal, integer and boolean answers)."""

    __slots__ = ("_codings", "_resource", "_tables", "by_node")

    def __init__(
        self,
        cq: CompiledQuestionnaire,
        resource: Any,
        codings: list[tuple[str, Any]] | None = None,
    ) -> None:
        """`codings`, if given, are the answer Codings of `resource` with the linkId of the
        item each answers, in document order (`Validation.codings`): no walk is needed."""
        self.by_node: dict[int, float | int] = {}
        self._resource = resource  # holds the Codings keyed, alive while their ids are keys
        self._codings = codings  # and these, whatever scoring writes into the resource
        self._tables = cq.coding_weights
        items = resource.get("item") if type(resource) is dict else None
        if type(items) is not list or not self._tables:
            return  # no weighted answers: nothing to note
        if codings is None:
            self._items(items)
        else:
            self._noted(codings)

    def _noted(self, codings: list[tuple[str, Any]]) -> None:
        tables, by_node = self._tables, self.by_node
        for link, coding in codings:
            table = tables.get(link)
            if table is not None:
                weight = table.get((coding.get("system"), coding.get("code")))
                if weight is not None:
                    by_node[id(coding)] = weight

    def __call__(self, node: Any) -> float | int | None:
        """The weight of `node`, an answer Coding of the resource; None for anything else."""
        return self.by_node.get(id(node))

    def _items(self, items: list[Any]) -> None:
        tables, by_node = self._tables, self.by_node
        for item in items:
            if type(item) is not dict:
                continue
            if "item" in item and type(item["item"]) is list:
                self._items(item["item"])
            answers = item.get("answer")
            if type(answers) is not list:
                continue
            link = item.get("linkId")
            table = tables.get(link) if type(link) is str else None
            for answer in answers:
                if type(answer) is not dict:
                    continue
                coding = answer.get("valueCoding")
                if table is not None and type(coding) is dict:
                    weight = table.get((coding.get("system"), coding.get("code")))
                    if weight is not None:
                        by_node[id(coding)] = weight
                if "item" in answer and type(answer["item"]) is list:
                    self._items(answer["item"])
