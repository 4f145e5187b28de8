"""The rule registry: every rule code an issue can carry.

Each entry (a `Rule`) has its code, severity, OperationOutcome issue type, short text and
definition, and for the response rules what a response must do and the tests proving it.
Issues are built from entries (`rules.QR_NOT_OBJECT`), never from strings.
`questionnaires/CodeSystem-rapport-rules.json` and `docs/rules.md` are generated from the
registry by `python -m service rules --write` (tests/test_rules.py fails when stale).

This package imports nothing from the rest of the service.
"""

from __future__ import annotations

from . import answers, catalogue, conditions, consistency, content, limits, response
from ._rule import Rule as Rule
from .answers import *  # noqa: F403 - the entries, by name
from .catalogue import *  # noqa: F403
from .conditions import *  # noqa: F403
from .consistency import *  # noqa: F403
from .content import *  # noqa: F403
from .limits import *  # noqa: F403
from .response import *  # noqa: F403

#: Every rule, in the order the CodeSystem lists them.
RULES: tuple[Rule, ...] = tuple(
    entry
    for module in (response, consistency, answers, limits, conditions, content, catalogue)
    for entry in vars(module).values()
    if isinstance(entry, Rule)
)
_BY_CODE = {entry.code: entry for entry in RULES}


def rule(code: str) -> Rule:
    """The registry's entry for `code`; KeyError if there is none."""
    return _BY_CODE[code]
