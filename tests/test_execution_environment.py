"""The execution environment definition: ansible-builder accepts it, and its dependency lists agree with
requirements.yml and requirements.txt. No image is built (that needs a container runtime)."""

import json
import subprocess
import sys
from pathlib import Path

import yaml
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parents[1]
BUILDER = Path(sys.executable).parent / "ansible-builder"


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[name.split("[")[0].lower()] = version
    return pins


def _create(definition: Path, context: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BUILDER), "create", "-f", str(definition), "-c", str(context)],
        cwd=definition.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_ansible_builder_accepts_the_definition(tmp_path):
    result = _create(ROOT / "execution-environment.yml", tmp_path / "context")
    assert result.returncode == 0, result.stdout + result.stderr
    build = tmp_path / "context" / "_build"
    assert (build / "requirements.yml").read_bytes() == (ROOT / "requirements.yml").read_bytes()
    assert (build / "requirements.txt").read_bytes() == (ROOT / "requirements-ee.txt").read_bytes()
    assert "ansible-core==" in (tmp_path / "context" / "Dockerfile").read_text()


def test_ansible_builder_refuses_a_broken_definition(tmp_path):
    definition = yaml.safe_load((ROOT / "execution-environment.yml").read_text())
    definition["dependencies"]["pyhton"] = definition["dependencies"].pop("python")
    broken = tmp_path / "execution-environment.yml"
    broken.write_text(yaml.safe_dump(definition))
    for name in ("requirements.yml", "requirements-ee.txt"):
        (tmp_path / name).write_bytes((ROOT / name).read_bytes())
    result = _create(broken, tmp_path / "context")
    assert result.returncode != 0
    assert "pyhton" in result.stdout + result.stderr


def test_python_pins_agree_with_requirements_txt():
    project = _pins(ROOT / "requirements.txt")
    ee = _pins(ROOT / "requirements-ee.txt")
    assert ee, "requirements-ee.txt lists nothing"
    assert {name: project.get(name) for name in ee} == ee
    definition = yaml.safe_load((ROOT / "execution-environment.yml").read_text())
    core = definition["dependencies"]["ansible_core"]["package_pip"]
    assert core == f"ansible-core=={project['ansible-core']}"


def test_collection_ranges_hold_the_collections_the_ansible_package_carries():
    import ansible_collections

    carried_root = Path(ansible_collections.__path__[0])
    wanted = yaml.safe_load((ROOT / "requirements.yml").read_text())["collections"]
    assert "amazon.aws" in {entry["name"] for entry in wanted}
    for entry in wanted:
        namespace, name = entry["name"].split(".")
        manifest = json.loads((carried_root / namespace / name / "MANIFEST.json").read_text())
        carried = manifest["collection_info"]["version"]
        assert carried in SpecifierSet(entry["version"]), (entry["name"], carried, entry["version"])
