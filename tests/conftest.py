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
