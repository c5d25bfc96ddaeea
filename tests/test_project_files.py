"""The set-up files agree with each other, so pip and conda users get the same environment."""

import re
import tomllib

import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from tests.notebook_paths import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
ENVIRONMENT = yaml.safe_load((ROOT / "environment.yml").read_text())


def _pyproject_requirements() -> dict[str, SpecifierSet]:
    project = PYPROJECT["project"]
    lines = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        lines += extra
    requirements = [Requirement(line) for line in lines]
    return {r.name.lower(): r.specifier for r in requirements if r.name != project["name"]}


def _conda_pip_requirements() -> dict[str, SpecifierSet]:
    pip_section = next(d["pip"] for d in ENVIRONMENT["dependencies"] if isinstance(d, dict))
    requirements = [Requirement(line) for line in pip_section if not line.startswith("-e")]
    return {r.name.lower(): r.specifier for r in requirements}


def test_conda_and_pip_pin_the_same_packages_the_same_way():
    assert _conda_pip_requirements() == _pyproject_requirements()


def test_torch_is_pinned_exactly_everywhere():
    assert str(_pyproject_requirements()["torch"]) == "==2.13.0"
    assert str(_conda_pip_requirements()["torch"]) == "==2.13.0"


def test_conda_python_satisfies_requires_python():
    python = next(d for d in ENVIRONMENT["dependencies"] if isinstance(d, str) and d.startswith("python="))
    version = python.split("=", 1)[1]
    assert SpecifierSet(PYPROJECT["project"]["requires-python"]).contains(version + ".0")


def test_conda_installs_the_package_itself():
    pip_section = next(d["pip"] for d in ENVIRONMENT["dependencies"] if isinstance(d, dict))
    assert "-e ." in pip_section


def test_ci_runs_the_test_command_readme_gives():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    commands = re.findall(r"^make (\w+)$", readme, flags=re.MULTILINE)
    assert "test" in commands and "lab" in commands
    assert re.search(r"^make test$", ci, flags=re.MULTILINE)
