"""The files for a real class that nothing here can run (Kubernetes, Docker) parse and agree with
pyproject.toml; hub/jupyterhub_config.py (the demo class) runs in tests/test_hub.py."""

import re
import tomllib

import yaml
from packaging.requirements import Requirement

from tests.notebook_paths import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
DOCKERFILE = (ROOT / "hub" / "Dockerfile").read_text()


def _pins() -> dict[str, str]:
    lines = list(PYPROJECT["project"]["dependencies"])
    for extra in PYPROJECT["project"]["optional-dependencies"].values():
        lines += extra
    return {r.name.lower(): str(r.specifier) for r in map(Requirement, lines)}


def test_the_zero_to_jupyterhub_values_parse_and_name_the_course_image():
    values = yaml.safe_load((ROOT / "hub" / "k8s" / "config.yaml").read_text())
    assert values["singleuser"]["image"]["name"].endswith("attention-course")
    assert values["singleuser"]["defaultUrl"] == "/lab"
    mounts = {m["mountPath"] for m in values["singleuser"]["storage"]["extraVolumeMounts"]}
    nbgrader = values["singleuser"]["extraFiles"]["nbgrader-config"]["stringData"]
    assert "/srv/nbgrader/exchange" in mounts and 'Exchange.root = "/srv/nbgrader/exchange"' in nbgrader


def test_the_image_installs_the_course_at_pyproject_s_pins():
    torch = re.search(r"torch==([\d.]+)", DOCKERFILE)
    assert torch and f"=={torch.group(1)}" == _pins()["torch"]
    assert '"/opt/course[hub]"' in DOCKERFILE  # everything else comes from pyproject.toml itself
    python = re.search(r"FROM \S+:python-(\d+\.\d+)", DOCKERFILE).group(1)
    assert python == "3.11" and PYPROJECT["project"]["requires-python"] == ">=3.11"


def test_the_hub_extra_pins_jupyterhub_and_its_proxy_exactly():
    pins = _pins()
    assert pins["jupyterhub"].startswith("==") and pins["configurable-http-proxy"].startswith("==")
