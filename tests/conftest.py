"""Shared test fixtures. Plots render off-screen; random data is seeded per test."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np
import pytest

REALDATA = Path(__file__).resolve().parents[1].parent / "shared" / "realdata"
ATLAS_FILE = REALDATA / "atlas-opendata-13tev-data_A.4lep.root"
CMS_FILE = REALDATA / "cms-opendata-2015-ttbar-nanoaod-200ev.root"


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture
def atlas_file() -> Path:
    if not ATLAS_FILE.is_file():
        pytest.skip(f"real ATLAS Open Data file not found at {ATLAS_FILE} (../shared absent)")
    return ATLAS_FILE


@pytest.fixture
def cms_file() -> Path:
    if not CMS_FILE.is_file():
        pytest.skip(f"real CMS NanoAOD file not found at {CMS_FILE} (../shared absent)")
    return CMS_FILE


# -- optional extras (hepsift.extras): in an install without one (`make test-min` is core only),
# tests that need it are skipped with the extra's name instead of failing. A test module that
# imports an absent extra at top level is skipped whole; a test that reaches a missing extra at
# run time (MissingExtraError, or ModuleNotFoundError of the extra's module) is skipped there.
from hepsift.extras import EXTRAS, missing  # noqa: E402

_ABSENT = {m: extra for extra in EXTRAS for m in missing(extra)}


def _skip_reason(extra: str) -> str:
    return f"needs the optional extra '{extra}' (pip install 'hepsift[{extra}]')"


class _ExtraMissingModule(pytest.Module):
    extra = ""

    def collect(self):  # type: ignore[no-untyped-def]
        pytest.skip(_skip_reason(self.extra), allow_module_level=True)


def pytest_pycollect_makemodule(
    module_path: Path, parent: pytest.Collector
) -> pytest.Module | None:
    if not _ABSENT:
        return None
    import ast

    tree = ast.parse(module_path.read_text(encoding="utf-8"))
    for node in tree.body:
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module]
        for name in names:
            extra = _ABSENT.get(name.partition(".")[0])
            if extra is not None:
                module = _ExtraMissingModule.from_parent(parent, path=module_path)
                module.extra = extra
                return module
    return None


def _extra_of_failure(exc: BaseException) -> str | None:
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        return _ABSENT.get(exc.name.partition(".")[0])
    for extra in set(_ABSENT.values()):
        if f"pip install 'hepsift[{extra}]'" in str(exc):
            return extra
    return None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item):  # type: ignore[no-untyped-def]
    return (yield from _skip_on_missing_extra())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):  # type: ignore[no-untyped-def]
    return (yield from _skip_on_missing_extra())


def _skip_on_missing_extra():  # type: ignore[no-untyped-def]
    try:
        return (yield)
    except Exception as exc:
        extra = _extra_of_failure(exc) if _ABSENT else None
        if extra is None:
            raise
        pytest.skip(_skip_reason(extra))
