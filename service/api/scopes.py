"""SMART on FHIR scopes: what a token grants, and what each endpoint needs.

Scopes follow SMART App Launch 2.x, and the 1.x forms it still accepts:

    system/<ResourceType or *>.<read | write | * | c?r?u?d?s?>

A 1.x `read` grants read and search (`rs`), `write` grants create, update and delete
(`cud`), `*` everything (`cruds`). A 2.x scope with a query (`system/Questionnaire.rs?...`)
is narrower than anything checked here, so it grants nothing. Only `system/` scopes count:
this is a backend service, and `user/`/`patient/` scopes say whose data, which we do not hold.

Every route declares what it needs with the `requires` decorator beside its view (`PUBLIC`
lists the few that need no token); a route that declares nothing is refused (403) when
authentication is on, and a test lists every route so none is forgotten.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final, TypeVar

__all__ = [
    "PUBLIC",
    "Need",
    "granted",
    "need",
    "required_for",
    "requires",
    "scopes_supported",
]

#: (resource type or "*", one SMART 2.x interaction letter)
Grant = tuple[str, str]

_V1: Final = {"read": "rs", "write": "cud", "*": "cruds"}
_SCOPE: Final = re.compile(r"system/(\*|[A-Z][A-Za-z]{0,63})\.(read|write|\*|c?r?u?d?s?)")
_NEED: Final = re.compile(r"([A-Z][A-Za-z]{0,63})\.([cruds])")


def granted(scopes: Iterable[str]) -> frozenset[Grant]:
    """Every (resource type, interaction) the scopes grant; unknown scopes grant nothing."""
    found: set[Grant] = set()
    for scope in scopes:
        match = _SCOPE.fullmatch(scope)
        if match is None or not match.group(2):
            continue
        kind, permission = match.groups()
        found.update((kind, letter) for letter in _V1.get(permission, permission))
    return frozenset(found)


@dataclass(frozen=True, slots=True)
class Need:
    """What an endpoint needs: any one of these grants lets the request through."""

    any_of: tuple[Grant, ...]

    def allowed_by(self, grants: frozenset[Grant]) -> bool:
        """Whether the token's grants include one of ours, directly or by a `*` type."""
        return any(grant in grants or ("*", grant[1]) in grants for grant in self.any_of)

    def describe(self) -> str:
        """The scopes that would do, as a client would write them (2.x syntax)."""
        return " or ".join(f"system/{kind}.{letter}" for kind, letter in self.any_of)


def need(*grants: str) -> Need:
    """A Need from `Type.letter` strings: `need("Questionnaire.r", "CodeSystem.r")`."""
    parsed: list[Grant] = []
    for text in grants:
        match = _NEED.fullmatch(text)
        if match is None:
            raise ValueError(f"not a Type.letter grant: {text!r}")
        parsed.append((match.group(1), match.group(2)))
    return Need(tuple(parsed))


#: Needs no token: conformance and SMART discovery, probes, the API description, the metrics,
#: and the portal's pages when it is on (`RAPPORT_PORTAL`; see `service.portal`): they show
#: only the catalogue, and compute in-process, storing nothing, what is posted to them.
PUBLIC: Final = frozenset(
    {
        "resources.metadata",
        "auth.smart_configuration",
        "ops.healthz",
        "ops.readyz",
        "ops.openapi",
        "telemetry.metrics",
        "portal.home",
        "portal.instrument",
        "portal.submit",
        "portal.docs",
        "portal.static",
    }
)

_ATTRIBUTE = "rapport_scope"
View = TypeVar("View", bound=Callable[..., Any])


def requires(*grants: str) -> Callable[[View], View]:
    """Declare on a view what it needs: `@requires("Questionnaire.u", "Questionnaire.c")`."""
    declared = need(*grants)

    def mark(view: View) -> View:
        setattr(view, _ATTRIBUTE, declared)
        return view

    return mark


def scopes_supported(needs: Iterable[Need]) -> list[str]:
    """The 2.x scopes that grant every need: `system/*` first, then one per resource type."""
    letters: dict[str, set[str]] = {}
    for needed in needs:
        for kind, letter in needed.any_of:
            letters.setdefault(kind, set()).add(letter)
            letters.setdefault("*", set()).add(letter)
    # SMART 2.x writes the letters in the order c, r, u, d, s.
    return [
        f"system/{kind}.{''.join(letter for letter in 'cruds' if letter in found)}"
        for kind, found in sorted(letters.items())
    ]


def required_for(endpoint: str, view: Callable[..., Any] | None) -> Need | None:
    """What the endpoint's view declares with `requires`; None if it declares nothing."""
    declared = getattr(view, _ATTRIBUTE, None)
    return declared if isinstance(declared, Need) else None
