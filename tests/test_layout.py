"""The layout is the architecture: imports go one way, and no module grows past ~400 lines.

    api -> catalog -> questionnaire -> fhirpath
    api -> response -> questionnaire -> fhir, rules

Read with `ast`, not run: each module's imports (at any depth, lazy ones included) are
resolved to `service.<package>` and checked against what its package may use.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "service"
MAX_LINES = 400

#: What each package may import from the service (besides itself). Not listed: anything.
ALLOWED = {
    "rules": set(),
    "fhirpath": set(),
    "fhir": {"rules", "errors"},
    "questionnaire": {"fhirpath", "fhir", "rules", "errors"},
    "response": {"questionnaire", "fhirpath", "fhir", "rules", "errors"},
    "catalog": {"questionnaire", "fhirpath", "fhir", "rules", "errors"},
}
#: Third-party packages the domain must not touch: it is served by api/, stored by catalog/.
NO_FRAMEWORKS = {"questionnaire", "response", "fhirpath", "rules", "fhir"}
FRAMEWORKS = {"flask", "redis", "werkzeug", "gunicorn"}


def _module(path: Path, root: Path = ROOT) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, root: Path = ROOT) -> set[str]:
    """The absolute names of every module (or name in one) that `path` imports."""
    module = _module(path, root)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            name = ".".join(
                [*base, *filter(None, [node.module])] if node.level else [node.module or ""]
            )
            found.add(name)
            found.update(f"{name}.{alias.name}" for alias in node.names)
    return found


def _package(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if parts[0] == "service" and len(parts) > 1 else None


MODULES = sorted(SOURCE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_go_one_way(path: Path) -> None:
    own = _package(_module(path))
    if own not in ALLOWED:
        return  # api/, observability/ and the top-level modules compose the rest
    used = {_package(name) for name in imports(path)} - {None, own}
    assert used <= ALLOWED[own], f"{own}/ may not import {sorted(map(str, used - ALLOWED[own]))}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_domain_uses_no_framework(path: Path) -> None:
    if _package(_module(path)) in NO_FRAMEWORKS:
        roots = {name.split(".")[0] for name in imports(path)}
        assert not roots & FRAMEWORKS


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_is_over_the_limit(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{lines} lines: split it"


#: The catalogue's implementations: HTTP code sees their contracts (catalog/interfaces.py).
CONCRETE = {
    "service.catalog.Catalog",
    "service.catalog._catalog",
    "service.catalog.layered.SiteCatalog",
    "service.catalog.redis_site.RedisSiteStore",
    "service.catalog.site.NullSiteStore",
}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_http_code_sees_the_catalogue_through_its_contracts(path: Path) -> None:
    if _package(_module(path)) in {"api", "portal"}:
        assert not imports(path) & CONCRETE, "use CatalogReader / SiteCatalogue"


def test_benchmarks_do_not_import_the_tests() -> None:
    for path in sorted((ROOT / "benchmarks").rglob("*.py")):
        assert not {name for name in imports(path) if name.split(".")[0] == "tests"}, path


def test_the_check_sees_a_wrong_way_import(tmp_path: Path) -> None:
    bad = tmp_path / "service" / "questionnaire" / "bad.py"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "from service.response import score_response\nfrom .. import api\nimport flask\n"
    )
    found = imports(bad, tmp_path)
    assert {"service.response", "service.response.score_response", "service.api", "flask"} <= found
    assert {_package(name) for name in found} - {None, "questionnaire"} == {"response", "api"}
