"""Resource-level checks of a QuestionnaireResponse: its shape, status and questionnaire.

The elements the walk does not read (meta, subject, authored, ...) are `datatypes`'s.
"""

from __future__ import annotations

from typing import Any

from service import rules
from service.fhir import r4
from service.fhir.bundle import local_reference
from service.fhir.outcome import Issue, IssueSeverity, IssueType
from service.questionnaire.compile import CompiledQuestionnaire
from service.rules import Rule

from .answers import Answers
from .datatypes import RESPONSE, check_elements

__all__ = ["STATUSES", "check_resource"]

STATUSES = r4.RESPONSE_STATUSES
_HERE = "QuestionnaireResponse"


def _error(out: Answers, code: IssueType, text: str, where: str, rule: Rule) -> None:
    out.issues.append(Issue(IssueSeverity.ERROR, code, text, where, None, rule))


def check_resource(
    out: Answers, cq: CompiledQuestionnaire, response: Any, base: str = ""
) -> str | None:
    """Check the resource itself; its status ('' if unusable), or None if it is no QR at all.

    `base` is this service's FHIR base URL, at which `questionnaire` may name `cq`.
    """
    if type(response) is not dict:
        _error(out, IssueType.STRUCTURE, "not a JSON object", _HERE, rules.QR_NOT_OBJECT)
        return None
    if response.get("resourceType") != "QuestionnaireResponse":
        text = f"resourceType is {response.get('resourceType')!r}, not QuestionnaireResponse"
        _error(out, IssueType.STRUCTURE, text, f"{_HERE}.resourceType", rules.QR_RESOURCE_TYPE)
        return None
    check_elements(out.issues, RESPONSE, response, _HERE, None)
    _check_questionnaire(out, cq, response.get("questionnaire"), base)
    return _check_status(out, response.get("status"))


def _check_status(out: Answers, status: Any) -> str:
    where = f"{_HERE}.status"
    if status is None:
        _error(out, IssueType.REQUIRED, "status is required", where, rules.QR_STATUS_MISSING)
        return ""
    if not isinstance(status, str) or status not in STATUSES:
        text = f"status {str(status)[:40]!r} is not one of {', '.join(sorted(STATUSES))}"
        _error(out, IssueType.VALUE, text, where, rules.QR_STATUS_INVALID)
        return ""
    return str(status)


def _check_questionnaire(
    out: Answers, cq: CompiledQuestionnaire, canonical: Any, base: str
) -> None:
    """The response's `questionnaire` must name the Questionnaire it is validated against:
    by canonical, `#id`, or `Questionnaire/{id}[/_history/{vid}]` (relative or at `base`).
    """
    where = f"{_HERE}.questionnaire"
    if canonical is None:
        text = "no questionnaire: validated against the one the request named"
        out.issues.append(
            Issue(
                IssueSeverity.WARNING,
                IssueType.REQUIRED,
                text,
                where,
                None,
                rules.QR_QUESTIONNAIRE_MISSING,
            )
        )
        return
    if type(canonical) is not str or not canonical:
        _error(
            out,
            IssueType.STRUCTURE,
            "questionnaire must be a canonical string",
            where,
            rules.QR_QUESTIONNAIRE_MISMATCH,
        )
        return
    local = local_reference(canonical, base)
    if local.startswith("#") or local.startswith("Questionnaire/"):
        named = local.removeprefix("#")
        if local.startswith("Questionnaire/"):  # which version is the resolver's to check
            named = local.removeprefix("Questionnaire/").partition("/_history/")[0]
        if named != cq.id:
            text = f"questionnaire {canonical!r} is not Questionnaire {cq.id!r}"
            _error(out, IssueType.VALUE, text, where, rules.QR_QUESTIONNAIRE_MISMATCH)
        return
    url, _, version = canonical.partition("|")
    if url != cq.url:
        text = f"questionnaire {url!r} is not {cq.url!r}"
        _error(out, IssueType.VALUE, text, where, rules.QR_QUESTIONNAIRE_MISMATCH)
    elif version and version != cq.version:
        text = f"questionnaire version {version!r} is not {cq.version!r}, the version used"
        _error(out, IssueType.VALUE, text, where, rules.QR_QUESTIONNAIRE_VERSION)
