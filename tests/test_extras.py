"""Optional extras: a missing one is a one-line error naming it; declared bounds are coherent."""

from __future__ import annotations

import importlib
import runpy
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from hepsift import extras
from hepsift.cli import main
from hepsift.errors import HepsiftError
from hepsift.extras import MissingExtraError

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _hide(monkeypatch: pytest.MonkeyPatch, *modules: str) -> None:
    """Make ``import <module>`` fail as it does when the package is not installed."""
    for name in modules:
        monkeypatch.setitem(sys.modules, name, None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("family", "unload"),
    [("mlp", None), ("mlp-regressor", None), ("pnn", "hepsift.models.pnn")],
)
def test_torch_family_without_torch_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, family: str, unload: str | None
) -> None:
    from hepsift.models.registry import model_class

    _hide(monkeypatch, "torch")
    if unload is not None:  # a family that imports torch at module level: import it afresh
        monkeypatch.delitem(sys.modules, unload, raising=False)
    with pytest.raises(MissingExtraError) as info:
        model_class(family)
    assert str(info.value) == f"model family '{family}' needs PyTorch: pip install 'hepsift[torch]'"
    assert isinstance(info.value, HepsiftError)
    assert "\n" not in str(info.value)


def test_core_families_need_no_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from hepsift.models.registry import model_class

    _hide(monkeypatch, "torch", "safetensors", "pythia8mc", "fastjet")
    for family in ("logistic", "tree", "forest", "bdt", "easy-ensemble", "bdt-regressor"):
        assert model_class(family).family == family


def test_cli_without_torch_exits_2_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _hide(monkeypatch, "torch")
    assert main(["models", "mlp"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: model family 'mlp' needs PyTorch: pip install 'hepsift[torch]'"


def test_model_list_without_torch_shows_the_install_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _hide(monkeypatch, "torch")
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["models"]) == 0
    rows = {line.split()[1]: line for line in capsys.readouterr().out.splitlines() if "│" in line}
    assert "pip install 'hepsift[torch]'" in rows["mlp"]
    assert "pip install" not in rows["bdt"]


def test_generation_without_pythia_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from hepsift.generate.processes import run_pythia

    _hide(monkeypatch, "pythia8mc")
    with pytest.raises(MissingExtraError, match=r"^event generation needs Pythia 8: pip install "):
        run_pythia((), n_events=1, pythia_seed=1)


def test_jets_without_fastjet_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    from hepsift.generate.reconstruct import jets

    _hide(monkeypatch, "fastjet")
    with pytest.raises(
        MissingExtraError, match=r"needs FastJet: pip install 'hepsift\[generate\]'$"
    ):
        jets(None, np.random.default_rng(0))  # type: ignore[arg-type]


def test_require_passes_other_import_failures_through(monkeypatch: pytest.MonkeyPatch) -> None:
    """An installed extra that is broken (one of ITS dependencies missing) is not reported as
    'not installed': its own error comes through."""

    def broken(name: str, package: str | None = None) -> None:
        raise ModuleNotFoundError(f"No module named '{name}_dep'", name=f"{name}_dep")

    monkeypatch.setattr(importlib, "import_module", broken)
    with pytest.raises(ModuleNotFoundError, match="torch_dep"):
        extras.require("torch", "model family 'mlp'")


def test_require_and_missing_on_installed_and_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="belongs to no hepsift extra"):
        extras.require("numpy", "x")
    with pytest.raises(ValueError, match="unknown extra 'gpu'"):
        extras.missing("gpu")
    _hide(monkeypatch, "fastjet")
    assert "fastjet" in extras.missing("generate")
    assert not extras.available("generate")


def test_pyproject_core_excludes_the_extras() -> None:
    core = {Requirement(r).name.lower() for r in PYPROJECT["project"]["dependencies"]}
    optional = PYPROJECT["project"]["optional-dependencies"]
    for extra, modules in extras.EXTRAS.items():
        declared = {Requirement(r).name.lower() for r in optional[extra]}
        for module in modules:
            assert module not in core, f"{module} must be in the '{extra}' extra, not core"
            assert module in declared, f"extra '{extra}' does not declare {module}"
    assert set(PYPROJECT["project"]["optional-dependencies"]["all"]) == {"hepsift[generate,torch]"}


def test_min_constraints_pin_each_core_lower_bound() -> None:
    script = runpy.run_path(str(ROOT / ".ci" / "min-constraints.py"))
    pins = script["minimum_pins"](ROOT / "pyproject.toml")
    deps = PYPROJECT["project"]["dependencies"]
    assert len(pins) == len(deps)
    for pin, dep in zip(pins, deps, strict=True):
        req = Requirement(dep)
        name, _, version = pin.partition("==")
        assert name == req.name
        assert req.specifier.contains(version), f"{pin} is outside {dep}"
    bounds = {Requirement(d).name: Requirement(d).specifier for d in deps}
    # the APIs the code uses: np.trapezoid (numpy 2.0), check_array(ensure_all_finite=) (1.6)
    assert not bounds["numpy"].contains("1.26.4")
    assert not bounds["scikit-learn"].contains("1.5.2")
    # saved trees rebuild scikit-learn's Tree internals: an upper bound is declared
    assert any(s.operator == "<" for s in bounds["scikit-learn"])


def test_installed_core_versions_are_inside_the_declared_bounds() -> None:
    for dep in PYPROJECT["project"]["dependencies"]:
        req = Requirement(dep)
        version = metadata.version(req.name)
        assert req.specifier.contains(version, prereleases=True), f"{req.name} {version}: {dep}"
