"""The README's "Try it" tour works to the letter: every command of its `sh` blocks, run by
bash from the checkout against the service as `make run` serves it (only the port differs:
tests never use 8080), answers 2xx with FHIR JSON and no curl error."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from harness.gunicorn import REPO_ROOT, LiveServer

#: Makes every curl of a command fail on an HTTP error and report the status on stderr.
_CURL = (
    "curl() { command curl --fail-with-body --write-out '%{stderr}HTTP %{http_code}\\n' \"$@\"; }"
)


def tour_commands() -> list[str]:
    """Each command of the sh blocks of the README's "Try it" section, continuations joined."""
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Try it\n", 1)[1].split("\n## ", 1)[0]
    commands = []
    for block in re.findall(r"^```sh\n(.*?)^```", section, re.M | re.S):
        for command in block.replace("\\\n", " ").splitlines():
            if command.strip() and not command.lstrip().startswith("#"):
                commands.append(command.strip())
    return commands


def test_the_tour_has_one_request_per_operation() -> None:
    commands = " ".join(tour_commands())
    for path in ("/metadata", "/Questionnaire?", "/Questionnaire/phq-9", "/CodeSystem/",
                 "/OperationDefinition/", "$validate", "$score", "$extract", "/fhir "):  # fmt: skip
        assert path in commands, path
    assert "@questionnaires/examples/" in commands


@pytest.mark.slow
@pytest.mark.parametrize("command", tour_commands())
def test_every_tour_command_works_against_make_run(live_server: LiveServer, command: str) -> None:
    assert "localhost:8080" in command
    here = command.replace("localhost:8080", f"127.0.0.1:{live_server.port}")
    done = subprocess.run(
        ["bash", "-c", f"{_CURL}\n{here}"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, (done.returncode, done.stderr, done.stdout[:500])
    status = re.findall(r"^HTTP (\d{3})$", done.stderr, re.M)
    assert len(status) == 1, done.stderr
    assert status[0].startswith("2"), done.stderr
    assert json.loads(done.stdout)["resourceType"], done.stdout[:200]


def test_the_readme_is_a_front_door_with_live_links() -> None:
    """At most ~10 kB: reference detail lives in docs/, and every link there resolves."""
    readme = REPO_ROOT / "README.md"
    assert len(readme.read_bytes()) <= 10 * 1024
    for target in re.findall(r"\]\(([^)#:]+)\)", readme.read_text(encoding="utf-8")):
        assert (REPO_ROOT / target).exists(), target
