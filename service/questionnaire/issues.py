"""What a failed content check reports: an error `Issue` per broken rule, raised together.

ValueError
└── UnprocessableContent        (service.errors; 422 when a write is refused)
    └── CatalogError            content that breaks catalogue rules; its issues, by file
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from service import rules
from service.errors import UnprocessableContent
from service.fhir.outcome import Issue, IssueSeverity, IssueType
from service.rules import Rule

__all__ = ["CatalogError", "content_error", "describe"]

#: Rules whose issue code is not `invalid` (or `invariant`, for R4's que-*): content over
#: the compiler's limits.
_CODES = {rules.Q_TOO_LARGE: IssueType.TOO_COSTLY}


def content_error(
    rule: Rule,
    text: str,
    path: str | None = None,
    link_id: str | None = None,
    *,
    code: IssueType | None = None,
) -> Issue:
    """The error for content that breaks `rule` at `path` (FHIRPath), in the item `link_id`;
    its issue code is `code`, else the rule's: invariant for que-*, else invalid."""
    if code is None:
        code = _CODES.get(rule) or (
            IssueType.INVARIANT if rule.code.startswith("que-") else IssueType.INVALID
        )
    return Issue(IssueSeverity.ERROR, code, text, path, rule=rule, link_id=link_id)


def describe(source: str, issue: Issue) -> str:
    """One line of `python -m service lint`: `file: linkId 'x' (path): rule: text`, or the
    bare path when no item is involved."""
    where = issue.expression or "(file)"
    if issue.link_id is not None:
        where = f"linkId {issue.link_id!r} ({where})"
    return f"{source}: {where}: {issue.rule}: {issue.text}"


class CatalogError(UnprocessableContent):
    """Catalogue content breaks one or more rules; `found` holds the issues by the file
    (or `Questionnaire/{id}`) they are in, and the message lists every one."""

    def __init__(self, found: Mapping[str, Sequence[Issue]]) -> None:
        self.found: dict[str, tuple[Issue, ...]] = {
            source: tuple(issues) for source, issues in found.items() if issues
        }
        lines = [describe(source, i) for source, issues in self.found.items() for i in issues]
        count = len(lines)
        super().__init__(
            f"{count} catalogue problem{'s' if count != 1 else ''}:\n" + "\n".join(lines),
            issues=[issue for issues in self.found.values() for issue in issues],
        )
