"""Command line: `python -m service lint [PATH ...]` checks catalogue content as start-up does;
`python -m service rules [--write]` checks (or rewrites) what is generated from the rule registry.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from service.catalog import CatalogError, expression_warnings, load_catalog

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m service",
        description="Rapport: a FHIR R4 service that publishes and scores SDC Questionnaires.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    lint = commands.add_parser(
        "lint",
        help="check Questionnaire and CodeSystem files with the start-up rules",
        description=(
            "Load PATHs (folders: every *.json except *.vectors.json; or single files) "
            "with the start-up checks: R4 model, que-1..que-13, enableWhen, FHIRPath, "
            "SDC scoring rules, ids, url|version, codes, and the scoring compiler; "
            "then each {id}.vectors.json beside a Questionnaire must score as written. "
            "Exit 0 when clean, 1 with one line per problem."
        ),
    )
    lint.add_argument(
        "paths", nargs="*", type=Path, default=[Path("questionnaires")], metavar="PATH"
    )
    rules = commands.add_parser(
        "rules",
        help="check the files generated from the rule registry (service/rules/)",
        description=(
            "Compare questionnaires/CodeSystem-rapport-rules.json and docs/rules.md with "
            "what the rule registry generates; exit 1 naming each stale file, or rewrite "
            "them with --write."
        ),
    )
    rules.add_argument("--write", action="store_true", help="rewrite the stale files")
    return parser


#: The repository: the generated files live beside service/.
ROOT = Path(__file__).resolve().parents[1]


def rules(write: bool, out: TextIO) -> int:
    """Report (or with `write`, rewrite) the stale generated files; the exit status."""
    from service.rules import publish  # noqa: PLC0415

    if write:
        for path in publish.write(ROOT):
            print(f"wrote {path}", file=out)
        return 0
    stale = publish.stale(ROOT)
    for path in stale:
        print(f"stale: {path} (python -m service rules --write)", file=out)
    if not stale:
        print("ok: generated rule files are current", file=out)
    return 1 if stale else 0


def lint(paths: Sequence[Path], out: TextIO) -> int:
    """Check the content at `paths`; print `ok: …` or one line per problem; the exit status."""
    # Scoring is the heaviest import; only `lint` needs it, and it compiles as start-up does.
    from service.questionnaire import compile_questionnaire  # noqa: PLC0415
    from service.vectors import check_vectors  # noqa: PLC0415

    try:
        catalog = load_catalog(paths, compiler=compile_questionnaire)
    except CatalogError as exc:
        problems = list(exc.problems)
    else:
        problems = check_vectors(catalog)  # issue 3: the content's own expressions pass them
    if problems:
        for problem in problems:
            print(problem, file=out)
        return 1
    for entry in catalog.questionnaires():
        for warning in expression_warnings(entry.resource, str(entry.source), "Questionnaire"):
            print(f"warning: {warning}", file=out)
    counts = (len(catalog.questionnaires()), len(catalog.code_systems()))
    print(f"ok: {counts[0]} Questionnaires, {counts[1]} CodeSystems", file=out)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "lint":
        return lint(args.paths, sys.stdout)
    if args.command == "rules":
        return rules(args.write, sys.stdout)
    parser.print_help(sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
