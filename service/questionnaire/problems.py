"""What a failed catalogue check reports: one Problem per broken rule, all raised together.

ValueError
└── UnprocessableContent        (service.errors; 422 when a write is refused)
    └── CatalogError            content that breaks a catalogue rule; lists every Problem
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from service import rules
from service.errors import UnprocessableContent
from service.fhir.outcome import Issue, IssueSeverity, IssueType
from service.rules import Rule

__all__ = ["CatalogError", "Problem"]


@dataclass(frozen=True, slots=True)
class Problem:
    """One broken rule: the file, where in the resource (FHIRPath and linkId), the rule, why."""

    source: str
    rule: Rule
    text: str
    path: str | None = None
    link_id: str | None = None
    code: IssueType | None = None  # the issue code, when not the rule's (`_CODES`) default

    def __str__(self) -> str:
        return f"{self.source}: {self.where}: {self.rule}: {self.text}"

    @property
    def where(self) -> str:
        """`linkId 'x' (Questionnaire.item[3])`, or the bare path when no item is involved."""
        path = self.path or "(file)"
        if self.link_id is None:
            return path
        return f"linkId {self.link_id!r} ({path})"

    def to_issue(self) -> Issue:
        """The problem as an OperationOutcome issue (for refused catalogue writes)."""
        code = (
            self.code
            or _CODES.get(self.rule)
            or (IssueType.INVARIANT if self.rule.code.startswith("que-") else IssueType.INVALID)
        )
        return Issue(IssueSeverity.ERROR, code, self.text, self.path, rule=self.rule)


#: Rules whose issue code is not `invalid`: content over the compiler's limits (model.py).
_CODES = {rules.Q_TOO_LARGE: IssueType.TOO_COSTLY}


class CatalogError(UnprocessableContent):
    """Catalogue content breaks one or more rules; the message lists every problem."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        lines = "\n".join(str(problem) for problem in self.problems)
        count = len(self.problems)
        super().__init__(
            f"{count} catalogue problem{'s' if count != 1 else ''}:\n{lines}",
            issues=[problem.to_issue() for problem in self.problems],
        )
