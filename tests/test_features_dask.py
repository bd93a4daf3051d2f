"""The same read + select + features on a 2-worker Dask cluster gives identical arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hepsift.prepare import build_dataset
from hepsift.toydata import write_toy_gamgam


@pytest.mark.slow
def test_dask_cluster_matches_local_streaming(tmp_path: Path) -> None:
    from distributed import Client, LocalCluster

    a = write_toy_gamgam(tmp_path / "a.root", 4000, seed=21, chunk_size=1000)
    b = write_toy_gamgam(tmp_path / "b.root", 3000, seed=22, chunk_size=1000, signal_fraction=0.1)
    samples = [
        {"name": "sig", "files": str(a), "label": "signal"},
        {"name": "bkg", "files": str(b), "label": "background"},
    ]
    feats = ["m_gg", "photon_pt_0", "ptt_gg", "costhetastar_gg", "ht", "jet_n", "deta_jj"]
    local, info_l = build_dataset(samples, features=feats, selection="hgamgam", step_size="200 kB")
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        dist, info_d = build_dataset(
            samples, features=feats, selection="hgamgam", step_size="200 kB", scheduler=client
        )
    assert len(local) > 100
    np.testing.assert_array_equal(local.X, dist.X)
    np.testing.assert_array_equal(local.weight, dist.weight)
    np.testing.assert_array_equal(local.event_number, dist.event_number)
    np.testing.assert_array_equal(local.y, dist.y)
    for name in ("sig", "bkg"):
        np.testing.assert_array_equal(info_l.cutflows[name].events, info_d.cutflows[name].events)
        np.testing.assert_allclose(info_l.cutflows[name].sumw, info_d.cutflows[name].sumw)
