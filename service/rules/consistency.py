"""Rules on a Reference or an Attachment as a whole, wherever one stands in a response
(service.response.consistency): a literal reference and its resource type; an attachment's
size and hash against its data.

Generated documentation (docs/rules.md, the rapport-rules CodeSystem) is made from these
entries: `python -m service rules --write`.
"""

from __future__ import annotations

from ._rule import Rule

# Each entry is exported (`from .x import *`) and listed in the CodeSystem in this order.


QR_REFERENCE_INVALID = Rule(
    "qr-reference-invalid",
    "error",
    "value",
    "Not a literal reference",
    definition=(
        "Reference.reference is not a literal reference as R4 defines one: Type/id or an absolute "
        "http(s) URL ending in Type/id (optionally /_history/version), #id for a contained "
        "resource, or a urn:uuid: / urn:oid: in their formats."
    ),
    checks=(
        "Reference.reference (any Reference: subject, author, answers) is a literal reference: "
        "`Type/id`, `http(s)://.../Type/id`, either with `/_history/v`, `#id`, `urn:uuid:` / "
        "`urn:oid:` in format"
    ),
    tests=(
        "K[reference/no type], K[reference/id with a space], K[reference/id longer than 64], "
        "K[reference/absolute URL not ending in Type/id], K[reference/urn:uuid in capitals], "
        "K[reference/other urn], D[subject reference not literal], D[answer reference a bad urn]; "
        "pass K[reference/relative with a version], K[reference/absolute], K[reference/contained],"
        " K[reference/urn:oid]"
    ),
)

QR_REFERENCE_TYPE = Rule(
    "qr-reference-type",
    "error",
    "value",
    "Reference to an unknown resource type",
    definition=(
        "Reference.reference names a resource type that FHIR R4 does not define (the Type of "
        "Type/id)."
    ),
    checks="the Type of a literal reference is an R4 resource type",
    tests=(
        "K[reference/unknown resource type], K[reference/lower-case resource type], "
        "K[reference/subject to an unknown type], D[author reference to a type R4 does not have];"
        " pass K[reference/relative]"
    ),
)

QR_ATTACHMENT_SIZE = Rule(
    "qr-attachment-size",
    "error",
    "value",
    "Attachment size differs from its data",
    definition=(
        "Attachment.size is not the number of bytes its base64 data decodes to (R4: size is the "
        "number of bytes before base64 encoding)."
    ),
    checks="an Attachment's size is the byte length its data decodes to (anywhere in the response)",
    tests=(
        "K[attachment/size of the base64 text, not the bytes], D[Attachment size not that of the "
        "data], C[size within maxSize is taken over data, but must agree with it]; pass "
        "K[attachment/data with its size and hash], K[attachment/url with a size and hash: nothing"
        " to compare]"
    ),
)

QR_ATTACHMENT_HASH = Rule(
    "qr-attachment-hash",
    "error",
    "value",
    "Attachment hash differs from its data",
    definition=(
        "Attachment.hash is not the base64 SHA-1 digest of the bytes its data decodes to, as R4 "
        "defines Attachment.hash."
    ),
    checks="an Attachment's hash is the base64 SHA-1 of its decoded data",
    tests=(
        "K[attachment/hash of other data], K[attachment/hash in hex, not base64], D[Attachment "
        "hash not that of the data]; pass K[attachment/data with its size and hash]"
    ),
)
