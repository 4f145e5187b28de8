"""`python -m service lint`: the start-up checks as a command, run as users run it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.builders.catalog import mini, write

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "service", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_lint_shipped_content_by_default() -> None:
    result = _run("lint")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == "ok: 7 Questionnaires, 4 CodeSystems\n"


def test_lint_a_broken_copy_fails_loudly(tmp_path: Path) -> None:
    copy = tmp_path / "questionnaires"
    shutil.copytree(ROOT / "questionnaires", copy)
    phq = json.loads((copy / "phq-9.json").read_text(encoding="utf-8"))
    first = next(i for i, item in enumerate(phq["item"]) if item["linkId"] == "1")
    phq["item"][first]["answerValueSet"] = "http://loinc.org/vs/LL358-3"
    phq["item"][first + 1]["linkId"] = "1"
    (copy / "phq-9.json").write_text(json.dumps(phq), encoding="utf-8")
    result = _run("lint", copy)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    where = f"linkId '1' (Questionnaire.item[{first}])"
    assert f"{copy / 'phq-9.json'}: {where}: que-4: " in result.stdout
    assert any(": que-2: " in line for line in lines)
    assert all(line.startswith(str(copy / "phq-9.json")) for line in lines)


def test_lint_files_and_folders(tmp_path: Path) -> None:
    file = write(tmp_path / "site", "mini.json", mini())
    result = _run("lint", file, ROOT / "questionnaires")
    assert result.returncode == 0, result.stdout
    assert result.stdout == "ok: 8 Questionnaires, 4 CodeSystems\n"


def test_lint_missing_path(tmp_path: Path) -> None:
    result = _run("lint", tmp_path / "nowhere")
    assert result.returncode == 1
    assert result.stdout == f"{tmp_path / 'nowhere'}: (file): path: no such file or folder\n"


def test_help() -> None:
    result = _run("--help")
    assert result.returncode == 0
    assert "lint" in result.stdout
    lint_help = _run("lint", "--help")
    assert lint_help.returncode == 0
    assert "PATH" in lint_help.stdout


def test_no_command_is_a_usage_error() -> None:
    result = _run()
    assert result.returncode == 2
    assert "usage: python -m service" in result.stderr


def test_lint_runs_the_vectors(tmp_path: Path) -> None:
    copy = tmp_path / "questionnaires"
    shutil.copytree(ROOT / "questionnaires", copy)
    path = copy / "gad-7.vectors.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    vector = document["vectors"][0]
    link_id = next(k for k, v in vector["expected"].items() if isinstance(v, int | float))
    wrong = vector["expected"][link_id] + 1
    vector["expected"][link_id] = wrong
    path.write_text(json.dumps(document), encoding="utf-8")
    result = _run("lint", copy)
    assert result.returncode == 1
    name = vector["name"]
    assert result.stdout.startswith(
        f"{path}: vectors[0] {name!r}: vectors: score {link_id!r}: expected {wrong!r}, got "
    )


def test_lint_warns_about_trace_but_passes(tmp_path: Path) -> None:
    """trace() writes nothing (it would log patient data): the content check says so."""
    resource = mini()
    expression = resource["extension"][0]["valueExpression"]
    expression["expression"] = f"({expression['expression']}).trace('t')"
    file = write(tmp_path / "site", "mini.json", resource)
    result = _run("lint", file)
    assert result.returncode == 0, result.stdout
    assert result.stdout.splitlines() == [
        f"warning: {file}: Questionnaire.extension[0].valueExpression: fhirpath-trace: "
        "trace() writes nothing here (it would log patient data); remove it",
        "ok: 1 Questionnaires, 0 CodeSystems",
    ]
