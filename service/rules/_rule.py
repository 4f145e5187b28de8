"""One entry of the rule registry."""

from __future__ import annotations

from typing import Any

__all__ = ["Rule"]


class Rule(str):
    """A rule code and what the registry says of it.

    The entry *is* its code (a `str`), so it goes on the wire, into logs and into
    comparisons exactly as the bare code did; an issue takes a `Rule`, never a string,
    so every code an issue can carry is one of the registry's. Entries are
    immutable and compare, hash and serialize as their code.
    """

    severity: str  # as documented: `error`, or when it depends, how
    issue: str  # the OperationOutcome issue type(s), as documented
    display: str  # short text: the CodeSystem concept's display
    definition: str  # the CodeSystem concept's definition
    checks: str  # what a response must do to pass (the docs' table), if documented there
    tests: str  # the tests that prove it (the docs' table)

    def __new__(
        cls,
        code: str,
        severity: str,
        issue: str,
        display: str,
        *,
        definition: str,
        checks: str = "",
        tests: str = "",
    ) -> Rule:
        self = super().__new__(cls, code)
        fields = {
            "severity": severity,
            "issue": issue,
            "display": display,
            "definition": definition,
            "checks": checks,
            "tests": tests,
        }
        for name, value in fields.items():
            object.__setattr__(self, name, value)
        return self

    @property
    def code(self) -> str:
        """The code as a plain string."""
        return str.__str__(self)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"rule {self.code} is read-only")

    def __reduce__(self) -> tuple[Any, ...]:  # copies and pickles are the registry's entry
        from service.rules import rule  # noqa: PLC0415 - the registry imports this module

        return (rule, (self.code,))
