"""pyproject.toml declares what the code imports; constraints.txt pins what the venv holds."""
from __future__ import annotations

import ast
import re
import sys
from importlib import metadata
from pathlib import Path

import pytest
import tomllib

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
# Optional imports of packages that are not installed here, so the metadata cannot map them.
NOT_INSTALLED = {"cv2": "opencv-python-headless"}


def _name(requirement: str) -> str:
    """Normalized distribution name of a requirement string ("ruamel.yaml>=0.17" -> "ruamel-yaml")."""
    return re.sub(r"[-_.]+", "-", re.match(r"\s*([A-Za-z0-9._-]+)", requirement)[1]).lower()


def _top_level_imports(folders: list[str]) -> dict[str, str]:
    """{top-level module: first file importing it} over the .py files of `folders`, absolute imports only."""
    found: dict[str, str] = {}
    for folder in folders:
        for path in sorted((REPO / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    found.setdefault(name.split(".")[0], str(path.relative_to(REPO)))
    return found


def _local_modules(folders: list[str]) -> set[str]:
    """Modules the scanned folders provide themselves (tinykd, stages/_common, tests' helpers, ...)."""
    local = {"tinykd", "bench", "stages", "tests"}
    for folder in folders:
        local |= {p.stem for p in (REPO / folder).rglob("*.py")}
        local |= {p.parent.name for p in (REPO / folder).rglob("__init__.py")}   # packages: tests/support
    return local


def _undeclared(folders: list[str], declared: set[str]) -> list[str]:
    dists = metadata.packages_distributions()
    local = _local_modules(["src", "stages", "tests", "bench", "scripts"])
    problems = []
    for module, where in sorted(_top_level_imports(folders).items()):
        if module in sys.stdlib_module_names or module in local:
            continue
        names = {_name(d) for d in dists.get(module, [])} or ({_name(NOT_INSTALLED[module])}
                                                               if module in NOT_INSTALLED else set())
        if not names:
            problems.append(f"{module} (imported by {where}): no installed distribution provides it")
        elif not names & declared:
            problems.append(f"{module} (imported by {where}): {sorted(names)} not in pyproject.toml")
    return problems


def test_every_third_party_import_of_the_package_and_stages_is_a_dependency():
    project = PYPROJECT["project"]
    declared = {_name(r) for r in project["dependencies"]}
    declared |= {_name(r) for extra, reqs in project["optional-dependencies"].items() if extra != "dev" for r in reqs}
    assert _undeclared(["src", "stages", "scripts", "bench"], declared) == []


def test_every_third_party_import_of_the_tests_is_a_dependency_or_dev_extra():
    project = PYPROJECT["project"]
    declared = {_name(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]}
    assert _undeclared(["tests"], declared) == []


def test_package_data_globs_match_files():
    package_data = PYPROJECT.get("tool", {}).get("setuptools", {}).get("package-data", {})
    for package, globs in package_data.items():
        root = REPO / "src" / package.replace(".", "/")
        for pattern in globs:
            assert list(root.glob(pattern)), f"package-data {package}: {pattern} matches nothing under {root}"


def _constraints() -> dict[str, str]:
    pins = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            m = re.fullmatch(r"([A-Za-z0-9._-]+)==(\S+)", line)
            assert m, f"constraints.txt: {line!r} is not NAME==VERSION"
            pins[_name(m[1])] = m[2]
    return pins


def test_constraints_are_exact_pins_of_what_the_venv_holds():
    mismatched = []
    for name, version in _constraints().items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            mismatched.append(f"{name}=={version}: not installed")
            continue
        if installed != version:
            mismatched.append(f"{name}=={version}: installed {installed}")
    if mismatched:
        pytest.fail("constraints.txt differs from this venv (update one of them): " + "; ".join(mismatched))


def test_makefile_installs_with_the_constraints():
    makefile = (REPO / "Makefile").read_text()
    installs = [line for line in makefile.splitlines() if "pip install" in line and "-e" in line]
    assert installs and all("-c constraints.txt" in line for line in installs), installs
