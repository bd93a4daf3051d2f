"""Assemble final output files of a scenario from its finished chunk files, and the manifest."""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hepsift.generate import constants as C
from hepsift.generate.processes import Sample, derive_seeds
from hepsift.generate.writer import (
    content_sha256,
    read_chunk,
    sha256,
    write_csv,
    write_images,
    write_parquet,
    write_root,
)
from hepsift.generate.xsec import normalisation

__all__ = ["assemble", "combine_xsec", "complete_manifest", "configurations"]

#: how background rows of the resonance table get their ``mass`` (recorded in the manifest)
BACKGROUND_MASS_POLICY = (
    "HEPMASS: each background row carries a mass drawn uniformly from the generated Z' masses "
    "(masses_gev), seeded by (seed, sample); the mass column never reveals the class. The "
    "true m_tt of every row is in column mtt_true (Parquet only; not a feature)"
)


def configurations(metas: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per Pythia configuration of a sample (``meta['configuration']``, 0 when absent): its
    chunks' event-weighted mean cross section (pb) and error, events and sum of weights.

    Chunks of one configuration estimate the same cross section (so they are averaged);
    different configurations are disjoint pieces of the sample (so they add up)."""
    out = []
    for cfg in sorted({int(m.get("configuration", 0)) for m in metas}):
        ms = [m for m in metas if int(m.get("configuration", 0)) == cfg]
        n = np.array([m["events_generated"] for m in ms], dtype=float)
        s = np.array([m["xsection_pb"] for m in ms], dtype=float)
        e = np.array([m["xsection_err_pb"] for m in ms], dtype=float)
        out.append(
            {
                "configuration": cfg,
                "chunks": len(ms),
                "events_generated": int(n.sum()),
                "sum_weights": float(sum(m["sum_weights"] for m in ms)),
                "xsection_pb": float(np.sum(n * s) / n.sum()),
                "xsection_err_pb": float(np.sqrt(np.sum((n * e) ** 2)) / n.sum()),
            }
        )
    return out


def combine_xsec(metas: list[dict[str, Any]]) -> tuple[float, float]:
    """Cross section (pb) of a sample and its error from its chunks' metadata: the
    event-weighted mean within each configuration, summed over the (disjoint) configurations
    (e.g. W+ -> l nu and W- -> l nu in lepton+jets t tbar)."""
    cfgs = configurations(metas)
    sigma = float(sum(c["xsection_pb"] for c in cfgs))
    err = float(np.sqrt(sum(c["xsection_err_pb"] ** 2 for c in cfgs)))
    return sigma, err


def complete_manifest(path: Path, config_hash: str) -> dict[str, Any] | None:
    """The manifest at ``path`` if it belongs to ``config_hash`` and every file it lists is
    present with its recorded sha256; else None (the outputs must be (re)built)."""
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if manifest.get("config_hash") != config_hash:
        return None
    for rel, digest in manifest.get("files", {}).items():
        f = path.parent / rel
        if not f.is_file() or sha256(f) != digest:
            return None
    return dict(manifest)


_Chunks = tuple[Any, list[dict[str, Any]], np.ndarray | None, np.ndarray, np.ndarray]


def _load(files: list[Path]) -> _Chunks:
    """(rows, chunk metadata, images, image event numbers, configuration of each row)."""
    import awkward as ak

    rows, metas, imgs, img_ev, cfg = [], [], [], [], []
    for f in files:
        r, m, im = read_chunk(f)
        rows.append(r)
        metas.append(m)
        cfg.append(np.full(len(r), int(m.get("configuration", 0)), dtype=np.int64))
        if im is not None:
            imgs.append(im)
            img_ev.append(np.asarray(m["image_event_numbers"], dtype=np.int64))
    table = ak.concatenate(rows) if len(rows) > 1 else rows[0]
    images = np.concatenate(imgs) if imgs else None
    events = np.concatenate(img_ev) if img_ev else np.zeros(0, dtype=np.int64)
    return table, metas, images, events, np.concatenate(cfg)


def _sample_summary(s: Sample, metas: list[dict[str, Any]], seed: int, file: str) -> dict[str, Any]:
    sigma, err = combine_xsec(metas)
    out = {
        **s.as_dict(),
        "file": file,
        "seed": seed,
        "pythia_seeds": [derive_seeds(seed, s.name, m["chunk"])[0] for m in metas],
        "chunks": len(metas),
        "events_generated": int(sum(m["events_generated"] for m in metas)),
        "events_accepted": int(sum(m["events_accepted"] for m in metas)),
        "xsection_pb": sigma,
        "xsection_err_pb": err,
        **normalisation(s.name, sigma, metas),
        "sum_weights": float(sum(m["sum_weights"] for m in metas)),
        "pythia_seconds": float(sum(m["pythia_seconds"] for m in metas)),
        "chunk_seconds": float(sum(m["seconds"] for m in metas)),
    }
    if s.n_configurations > 1:
        out["configurations"] = configurations(metas)
    return out


def _row_weights(table: Any, metas: list[dict[str, Any]], cfg_of_row: np.ndarray) -> np.ndarray:
    """Physics weight (pb) per row: mcWeight * sigma_c / sum_weights_c of the row's own
    configuration c (the configurations together hold the sample's whole cross section)."""
    scale = np.zeros(max(int(m.get("configuration", 0)) for m in metas) + 1)
    for c in configurations(metas):
        scale[c["configuration"]] = c["xsection_pb"] / c["sum_weights"]
    return np.asarray(np.asarray(table["mcWeight"], dtype=np.float64) * scale[cfg_of_row])


def _higgs_file(path: Path, s: Sample, table: Any, summary: dict[str, Any]) -> None:
    n = len(table)
    f4 = np.float32
    ones = np.ones(n, dtype=f4)
    branches: dict[str, Any] = {
        "runNumber": np.full(n, C.RUN_NUMBER, dtype=np.int32),
        "eventNumber": np.asarray(table["eventNumber"], dtype=np.int32),
        "channelNumber": np.full(n, s.channel_number, dtype=np.int32),
        "mcWeight": np.asarray(table["mcWeight"], dtype=f4),
        "scaleFactor_PILEUP": ones,
        "scaleFactor_PHOTON": ones,
        "scaleFactor_PhotonTRIGGER": ones,
        "XSection": np.full(n, summary["xsection_pb"], dtype=f4),
        "SumWeights": np.full(n, summary["sum_weights"], dtype=f4),
        "trigP": np.asarray(table["trigP"], dtype=bool),
        "photon": table["photon"],
        "jet": table["jet"],
        "lep": table["lep"],
        "met_et": np.asarray(table["met_et"], dtype=f4),
        "met_phi": np.asarray(table["met_phi"], dtype=f4),
    }
    write_root(path, branches)


_Loaded = dict[str, _Chunks]


def _images_out(s: Sample, loaded: _Loaded, out: Path, files: list[str]) -> None:
    """Write the sample's event images (if it has any) beside the table."""
    _, _, imgs, ev, _ = loaded[s.name]
    if imgs is not None:
        name = f"{s.name}.images.npz"
        write_images(out / name, imgs, ev)
        files.append(name)


def _write_higgs(
    samples: Sequence[Sample], loaded: _Loaded, out: Path, seed: int
) -> tuple[list[str], list[dict[str, Any]]]:
    """One ATLAS-layout ROOT file per sample."""
    files: list[str] = []
    summaries: list[dict[str, Any]] = []
    for s in samples:
        table, metas, _, _, _ = loaded[s.name]
        name = f"{s.name}.root"
        summary = _sample_summary(s, metas, seed, name)
        _higgs_file(out / name, s, table, summary)
        files.append(name)
        _images_out(s, loaded, out, files)
        summaries.append(summary)
    return files, summaries


def _write_table(
    samples: Sequence[Sample],
    loaded: _Loaded,
    out: Path,
    seed: int,
    name: str,
    columns: Callable[[Sample, Any, np.ndarray], dict[str, np.ndarray]],
) -> tuple[dict[str, np.ndarray], list[str], list[dict[str, Any]]]:
    """One Parquet table ``name`` of all samples: ``columns(sample, table, weight)`` gives a
    sample's columns, followed by its event number and name (the weight is in pb per row).

    Returns the merged columns, the files written (images first) and the sample summaries."""
    files: list[str] = []
    summaries: list[dict[str, Any]] = []
    cols: dict[str, list[np.ndarray]] = {}
    for s in samples:
        table, metas, _, _, cfg_of_row = loaded[s.name]
        summary = _sample_summary(s, metas, seed, name)
        summaries.append(summary)
        w = _row_weights(table, metas, cfg_of_row)
        part = columns(s, table, w)
        part["event_number"] = np.asarray(table["eventNumber"])
        part["sample"] = np.full(len(w), s.name)
        for k, v in part.items():
            cols.setdefault(k, []).append(v)
        _images_out(s, loaded, out, files)
    merged = {k: np.concatenate(v) for k, v in cols.items()}
    write_parquet(out / name, merged)
    files.append(name)
    return merged, files, summaries


def _write_photon_id(
    samples: Sequence[Sample], loaded: _Loaded, out: Path, seed: int
) -> tuple[list[str], list[dict[str, Any]]]:
    """One Parquet table of photon candidates with a per-row physics weight (pb)."""
    import awkward as ak

    def columns(s: Sample, table: Any, w: np.ndarray) -> dict[str, np.ndarray]:
        part = {
            f: np.asarray(table[f])
            for f in ak.fields(table)
            if f not in ("eventNumber", "mcWeight")
        }
        part["weight"] = w
        return part

    _, files, summaries = _write_table(samples, loaded, out, seed, "photon-id.parquet", columns)
    for s, summary in zip(samples, summaries, strict=True):
        summary["candidates"] = len(loaded[s.name][0])
    return files, summaries


def _write_multijet(
    samples: Sequence[Sample], loaded: _Loaded, out: Path, seed: int
) -> tuple[list[str], list[dict[str, Any]]]:
    """One Parquet table per sample (eventNumber, the ``ll_`` and ``hl_`` columns, bookkeeping,
    weight in pb per event, XSection, SumWeights) and its images beside it."""
    import awkward as ak

    files: list[str] = []
    summaries: list[dict[str, Any]] = []
    for s in samples:
        table, metas, _, _, cfg_of_row = loaded[s.name]
        name = f"{s.name}.parquet"
        summary = _sample_summary(s, metas, seed, name)
        cols = {f: np.asarray(table[f]) for f in ak.fields(table)}
        cols["weight"] = _row_weights(table, metas, cfg_of_row)
        cols["XSection"] = np.full(len(table), summary["xsection_pb"])
        cols["SumWeights"] = np.full(len(table), summary["sum_weights"])
        write_parquet(out / name, cols)
        files.append(name)
        _images_out(s, loaded, out, files)
        summaries.append(summary)
    return files, summaries


def background_masses(masses_gev: Sequence[float], n: int, seed: int, sample: str) -> np.ndarray:
    """HEPMASS policy: ``n`` masses drawn uniformly from the generated signal masses, with a
    random stream fixed by (seed, sample name)."""
    rng = np.random.default_rng([int(seed), zlib.crc32(sample.encode()), 0x6D617373])
    return np.asarray(rng.choice(np.asarray(masses_gev, dtype=np.float64), size=n))


def _write_resonance(
    samples: Sequence[Sample], loaded: _Loaded, out: Path, seed: int, masses: Sequence[float]
) -> tuple[list[str], list[dict[str, Any]]]:
    """The HEPMASS-style table (Parquet and CSV) of the Z' mass scan and its background."""
    from hepsift.generate.scenarios import HEPMASS_FEATURES, hepmass_columns

    def columns(s: Sample, table: Any, w: np.ndarray) -> dict[str, np.ndarray]:
        n = len(table)
        mtt = np.asarray(table["mtt_true"], dtype=np.float64)
        part: dict[str, np.ndarray] = {"label": np.full(n, int(s.is_signal), dtype=np.int64)}
        for i, f in enumerate(HEPMASS_FEATURES):
            part[f"f{i}"] = np.asarray(table[f], dtype=np.float64)
        part["mass"] = (
            np.full(n, s.extra["mass_gev"])
            if s.is_signal
            else background_masses(masses, n, seed, s.name)
        )
        part["weight"] = w
        part["mtt_true"] = mtt
        return part

    merged, files, summaries = _write_table(
        samples, loaded, out, seed, "resonance-ttbar.parquet", columns
    )
    csv_name = "resonance-ttbar.csv"
    header = hepmass_columns()
    data = np.column_stack([merged[c].astype(np.float64) for c in header])
    write_csv(out / csv_name, header, data, ["%d"] + ["%.6g"] * (len(header) - 1))
    files.append(csv_name)
    return files, summaries


def assemble(
    scenario: str,
    samples: Sequence[Sample],
    chunk_files: dict[str, list[Path]],
    out: Path,
    config: dict[str, Any],
    config_hash: str,
    versions: dict[str, str],
) -> dict[str, Any]:
    """Write the final files of ``scenario`` from its chunks; return the manifest (unwritten)."""
    from hepsift.generate.scenarios import HEPMASS_FEATURES

    seed = int(config["seed"])
    loaded = {s.name: _load(chunk_files[s.name]) for s in samples}
    if scenario == "resonance-ttbar":
        files, summaries = _write_resonance(samples, loaded, out, seed, config["masses_gev"])
    elif scenario == "multijet-bsm":
        files, summaries = _write_multijet(samples, loaded, out, seed)
    else:
        writer = _write_higgs if scenario == "higgs-diphoton" else _write_photon_id
        files, summaries = writer(samples, loaded, out, seed)

    manifest: dict[str, Any] = {
        "scenario": scenario,
        "config_hash": config_hash,
        **{k: v for k, v in config.items() if k != "samples"},
        "events_note": "events_per_sample = Pythia events generated per sample",
        "versions": versions,
        "samples": summaries,
        "files": {f: sha256(out / f) for f in files},
        "content_note": (
            "content_sha256: a hash of the decoded arrays of each file, identical for the same "
            "seed and settings (file bytes differ: ROOT and NPZ headers hold write times)"
        ),
        "content_sha256": {f: content_sha256(out / f) for f in files},
    }
    if scenario == "resonance-ttbar":
        manifest["hepmass_features"] = {f"f{i}": f for i, f in enumerate(HEPMASS_FEATURES)}
        manifest["units"] = "GeV, rad; mass = Z' mass (signal) or a drawn Z' mass (background)"
        manifest["background_mass_policy"] = BACKGROUND_MASS_POLICY
    elif scenario == "higgs-diphoton":
        manifest["units"] = "MeV, rad (ATLAS Open Data convention); XSection in pb"
        manifest["preselection"] = (
            f">= {C.NTUPLE_MIN_PHOTONS} photon candidates (no matched track) with "
            f"E_T > {C.NTUPLE_PHOTON_ET_MIN_GEV:g} GeV"
        )
    elif scenario == "multijet-bsm":
        from hepsift.generate.bsm import table_layout

        manifest.update(table_layout())
    else:
        manifest["units"] = "GeV, rad; weight in pb per candidate (sigma * mcWeight / SumWeights)"
    return manifest
