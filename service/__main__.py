"""Command line: `python -m service lint [PATH ...]` checks catalogue content as start-up does;
`python -m service rules [--write]` checks (or rewrites) what is generated from the rule registry;
`python -m service examples [FOLDER]` writes the example files the README's tour posts;
`python -m service healthcheck` asks the local server's /healthz (the image's HEALTHCHECK).
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from service.catalog import CatalogError, describe, expression_warnings, load_catalog
from service.fhir.outcome import Issue

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
    examples = commands.add_parser(
        "examples",
        help="write an example response per shipped instrument, and what the service answers",
        description=(
            "Write FOLDER/{id}.response.json for every shipped Questionnaire that has test "
            "vectors (its first completed 'mixed' vector, else its first completed one, so "
            "its scores are the vector's hand-worked ones), plus the $score result and the "
            "$extract Bundle of the PHQ-9 one and a batch Bundle, as this service answers them."
        ),
    )
    examples.add_argument(
        "folder", nargs="?", type=Path, default=Path("questionnaires/examples"), metavar="FOLDER"
    )
    commands.add_parser(
        "healthcheck",
        help="exit 0 if the server RAPPORT_BIND names answers GET /healthz with 200, else 1",
        description=(
            "GET /healthz from the server on this machine at RAPPORT_BIND's port: its host, "
            "or the loopback address when it binds every interface (0.0.0.0, ::)."
        ),
    )
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


#: Bind hosts that mean every interface, and the loopback address that reaches them.
_WILDCARDS = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "[::1]", "[::]": "[::1]"}


def healthz_url(bind: str) -> str:
    """The /healthz URL of a server bound to `bind` (`host:port`), seen from its own machine."""
    host, _, port = bind.rpartition(":")
    host = _WILDCARDS.get(host, host)
    if ":" in host and not host.startswith("["):  # an IPv6 literal, e.g. ::1
        host = f"[{host}]"
    return f"http://{host}:{port}/healthz"


def healthcheck(out: TextIO) -> int:
    """Ask the local server's /healthz; 0 when it answers 200, else 1 (with the reason)."""
    from service.config import ConfigError, load_settings  # noqa: PLC0415

    try:
        url = healthz_url(load_settings().bind)
        with urllib.request.urlopen(url, timeout=3) as answer:
            if answer.status == 200:
                return 0
            print(f"unhealthy: {url} answered {answer.status}", file=out)
    except (ConfigError, OSError, ValueError) as exc:
        print(f"unhealthy: {exc}", file=out)
    return 1


#: Who and when every example response is about: made up, and the same on every run.
EXAMPLE_CONTEXT = {"subject": {"reference": "Patient/example"}, "authored": "2026-01-15T10:30:00Z"}
#: The instrument whose example also has its $score result and $extract Bundle written.
SCORED_EXAMPLE = "phq-9"


def example_vector(vectors: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The vector an instrument's example response answers as."""
    completed = [vector for vector in vectors if vector.get("status") == "completed"]
    mixed = [vector for vector in completed if str(vector.get("name", "")).startswith("mixed")]
    return (mixed or completed)[0]


def example_files() -> dict[str, Any]:
    """File name -> content of every example, from the shipped content and the live app."""
    from service import create_app  # noqa: PLC0415 - the app is only needed here
    from service.config import SHIPPED, load_settings  # noqa: PLC0415
    from service.vectors import response_for  # noqa: PLC0415

    files: dict[str, Any] = {}
    for path in sorted(SHIPPED.glob("*.vectors.json")):
        questionnaire = json.loads(path.with_name(path.name.replace(".vectors", "")).read_text())
        vector = example_vector(json.loads(path.read_text())["vectors"])
        response = response_for(questionnaire, vector["answers"], "completed", **EXAMPLE_CONTEXT)
        files[f"{questionnaire['id']}.response.json"] = _plain_codings(response)
    client = create_app(load_settings(environ={})).test_client()
    scored = files[f"{SCORED_EXAMPLE}.response.json"]
    for operation in ("score", "extract"):
        answer = client.post(f"/fhir/QuestionnaireResponse/${operation}", json=scored)
        files[f"{SCORED_EXAMPLE}.{operation}.json"] = answer.get_json()
    files["batch.json"] = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {"request": {"method": "POST", "url": f"QuestionnaireResponse/${operation}"},
             "resource": files[name]}
            for operation, name in (("score", "gad-7.response.json"),
                                    ("validate", "wai-sr.response.json"))
        ],
    }  # fmt: skip
    return files


def _plain_codings(node: Any) -> Any:
    """`node` with each Coding cut to system, code and display, as a form filler sends one."""
    if isinstance(node, list):
        return [_plain_codings(child) for child in node]
    if not isinstance(node, dict):
        return node
    if "valueCoding" in node:
        coding = node["valueCoding"]
        return {**node, "valueCoding": {k: coding[k] for k in ("system", "code", "display")
                                        if k in coding}}  # fmt: skip
    return {key: _plain_codings(value) for key, value in node.items()}


def write_examples(folder: Path, out: TextIO) -> int:
    """Write the example files into `folder`; the exit status."""
    folder.mkdir(parents=True, exist_ok=True)
    files = example_files()
    for name, content in files.items():
        (folder / name).write_text(json.dumps(content, indent=2, ensure_ascii=False) + "\n")
    print(f"ok: {len(files)} files in {folder}", file=out)
    return 0


def lint(paths: Sequence[Path], out: TextIO) -> int:
    """Check the content at `paths`; print `ok: …` or one line per issue; the exit status."""
    # Scoring is the heaviest import; only `lint` needs it, and it compiles as start-up does.
    from service.questionnaire import compile_questionnaire  # noqa: PLC0415
    from service.vectors import check_vectors  # noqa: PLC0415

    found: Mapping[str, Sequence[Issue]]
    try:
        catalog = load_catalog(paths, compiler=compile_questionnaire)
    except CatalogError as exc:
        found = exc.found
    else:
        found = check_vectors(catalog)  # issue 3: the content's own expressions pass them
    if found:
        for source, issues in found.items():
            for issue in issues:
                print(describe(source, issue), file=out)
        return 1
    for entry in catalog.questionnaires():
        for warning in expression_warnings(entry.resource, "Questionnaire"):
            print(f"warning: {describe(str(entry.source), warning)}", file=out)
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
    if args.command == "examples":
        return write_examples(args.folder, sys.stdout)
    if args.command == "healthcheck":
        return healthcheck(sys.stderr)
    parser.print_help(sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
