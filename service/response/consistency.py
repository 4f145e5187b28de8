"""What R4 says of a Reference's or an Attachment's content as a whole, beyond the format
of each element: checked wherever one stands in a response (subject, author, answers).
Its rules are the registry's (service/rules/consistency.py; docs/rules.md):
qr-reference-invalid, qr-reference-type, qr-attachment-size, qr-attachment-hash.

A literal reference (R4 references.html#literal) is relative, `Type/id`, or absolute,
`http(s)://base/Type/id`, either with an optional `/_history/version`; `#id` (or `#`
alone, the container) for a contained resource; or a `urn:uuid:` / `urn:oid:` of a Bundle
entry, in the uuid / oid format (see `primitives`). The id is an R4 id (1 to 64 of
`A-Za-z0-9-.`). Attachment: "size: the number of bytes of data that make up this
attachment (before base64 encoding, if that is done)"; "hash: the calculated hash of the
data using SHA-1. Represented using base64" (R4 datatypes.html#Attachment).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any

from service import rules
from service.fhir import r4
from service.fhir.outcome import Issue, IssueType

from .primitives import check_primitive, value_error

__all__ = ["attachment_problems", "reference_problem"]


def reference_problem(reference: str) -> Issue | None:
    """What is wrong with `reference` (a Reference.reference string), or None."""
    kind, _, rest = reference.partition("/")
    if kind in r4.RESOURCE_TYPES and r4.ID.fullmatch(rest):
        return None  # the common case, relative `Type/id`, decided in one go
    if reference.startswith("urn:"):
        if reference.startswith(("urn:uuid:", "urn:oid:")):
            problem = check_primitive("uri", reference)
            if problem is None:
                return None
            return value_error(rules.QR_REFERENCE_INVALID, problem.code, problem.text)
        return _invalid("a urn: reference must be a urn:uuid: or urn:oid:")
    if reference.startswith("#"):
        if reference == "#" or r4.ID.fullmatch(reference[1:]):
            return None
        return _invalid("'#' must be followed by an id")
    found = r4.LITERAL_REFERENCE.fullmatch(reference)
    if found is None:
        return _invalid("must be Type/id, an absolute URL ending in Type/id, #id or a urn")
    if found.group(1) not in r4.RESOURCE_TYPES:
        text = f"{found.group(1)[:40]!r} is not an R4 resource type"
        return value_error(rules.QR_REFERENCE_TYPE, IssueType.VALUE, text)
    return None


def _invalid(text: str) -> Issue:
    return value_error(
        rules.QR_REFERENCE_INVALID, IssueType.VALUE, f"not a literal reference: {text}"
    )


def attachment_problems(attachment: dict[str, Any]) -> list[tuple[str, Issue]]:
    """(element, problem) for each of `size` and `hash` that disagrees with `data`; only
    when `data` is there and is base64 (its format is the element check's)."""
    data = attachment.get("data")
    size, digest = attachment.get("size"), attachment.get("hash")
    if type(data) is not str or (type(size) is not int and type(digest) is not str):
        return []
    try:
        decoded = base64.b64decode("".join(data.split()), validate=True)
    except (binascii.Error, ValueError):
        return []  # not base64: reported as such by the element check
    found: list[tuple[str, Issue]] = []
    if type(size) is int and size != len(decoded):
        text = f"size {size} is not the {len(decoded)} bytes the data decodes to"
        found.append(("size", value_error(rules.QR_ATTACHMENT_SIZE, IssueType.VALUE, text)))
    if type(digest) is str and digest.strip():
        actual = base64.b64encode(hashlib.sha1(decoded, usedforsecurity=False).digest())
        if "".join(digest.split()) != actual.decode("ascii"):
            text = "hash is not the SHA-1 of the data (base64, as R4 defines Attachment.hash)"
            found.append(("hash", value_error(rules.QR_ATTACHMENT_HASH, IssueType.VALUE, text)))
    return found
