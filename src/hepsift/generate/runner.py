"""Chunked, parallel, resumable generation of a scenario.

Each sample of a scenario is split into chunks of ``chunk_size`` events with their own seeds
(derived from (seed, sample, chunk), so the output does not depend on the number of workers).
A chunk runs in-process (``workers=1``), in a ``ProcessPoolExecutor`` (``workers > 1``) or as a
Dask task (``scheduler``); Pythia is created inside the worker. Each finished chunk is written
atomically to ``OUT/.chunks/<sample>/`` and reused by a rerun; final files are assembled from
the chunks and written atomically, the manifest last.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hepsift.errors import ConfigError, GenerationError, suggest
from hepsift.generate import constants as C
from hepsift.generate.processes import Sample, derive_seeds

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "MAX_CHUNKS_PER_SAMPLE",
    "MAX_EVENTS_PER_SAMPLE",
    "ChunkTask",
    "ChunkWarning",
    "generate",
    "plan_tasks",
    "run_chunk",
]

#: Events per chunk (per Pythia initialisation); the output depends on it (seeds per chunk).
DEFAULT_CHUNK_SIZE = 500
#: Largest ``--events`` per sample one run accepts (about a CPU-day per sample at 1 kHz);
#: larger productions are several runs with different seeds.
MAX_EVENTS_PER_SAMPLE = 100_000_000
#: Largest number of chunks per sample (the task list is built before the run starts).
MAX_CHUNKS_PER_SAMPLE = 200_000


class ChunkWarning(UserWarning):
    """A finished chunk file could not be read back (corrupt or truncated): regenerated."""


@dataclass(frozen=True)
class ChunkTask:
    scenario: str
    sample: Sample
    chunk: int
    n_events: int
    chunk_size: int
    seed: int
    images: bool

    @property
    def first_event_number(self) -> int:
        return self.chunk * self.chunk_size + 1


def run_chunk(task: ChunkTask) -> dict[str, Any]:
    """Generate, simulate and reconstruct one chunk; returns rows, images and bookkeeping."""
    import awkward as ak

    from hepsift.generate.detector import simulate
    from hepsift.generate.processes import run_pythia
    from hepsift.generate.reconstruct import event_images
    from hepsift.generate.scenarios import build_chunk

    t0 = time.perf_counter()
    pythia_seed, np_seed = derive_seeds(task.seed, task.sample.name, task.chunk)
    batch = run_pythia(
        task.sample.settings_for_chunk(task.chunk),
        n_events=task.n_events,
        pythia_seed=pythia_seed,
        veto=task.sample.veto,
        parton_model=task.sample.parton_model,
    )
    rng = np.random.default_rng(np_seed)
    det = simulate(batch.events, batch.charge_of, rng)
    rows, accepted = build_chunk(task.scenario, task.sample, det, rng)
    base = task.first_event_number
    if "event" in ak.fields(rows):
        local = ak.to_numpy(rows["event"])
        rows = ak.without_field(rows, "event")
    else:
        local = np.flatnonzero(accepted)
    rows = ak.with_field(rows, (base + local).astype(np.int64), "eventNumber")
    rows = ak.with_field(rows, batch.weights[local].astype(np.float64), "mcWeight")
    images = event_images(det)[accepted] if task.images else None
    meta = {
        "chunk": task.chunk,
        "pythia_seed": pythia_seed,
        "events_generated": int(det.n),
        "events_accepted": int(accepted.sum()),
        "configuration": task.sample.configuration(task.chunk),
        "sum_weights": float(batch.weights.sum()),
        "xsection_pb": batch.sigma_pb,
        "xsection_err_pb": batch.sigma_err_pb,
        "filter_tried": batch.filter_tried,
        "filter_passed": batch.filter_passed,
        "pythia_seconds": batch.pythia_seconds,
        "seconds": time.perf_counter() - t0,
        "image_event_numbers": (base + np.flatnonzero(accepted)).tolist() if task.images else [],
    }
    return {"rows": rows, "meta": meta, "images": images}


def _hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    from hepsift import __version__

    out = {"hepsift": __version__}
    for dist in ("pythia8mc", "fastjet", "uproot", "awkward", "numpy"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:  # pragma: no cover
            out[dist] = "unknown"
    return out


def _chunk_path(out: Path, task: ChunkTask) -> Path:
    key = _hash(
        {
            "scenario": task.scenario,
            "sample": task.sample.as_dict(),
            "chunk": task.chunk,
            "n": task.n_events,
            "chunk_size": task.chunk_size,
            "seed": task.seed,
            "images": task.images,
            "version": _versions()["hepsift"],
        }
    )
    return out / ".chunks" / task.sample.name / f"chunk-{task.chunk:05d}-{key}.npz"


def _check_out(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".write-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise GenerationError(
            f"output folder '{out}' is not writable ({exc.strerror or exc}); give --out a "
            "folder you can write to"
        ) from None


class _Progress:
    """A rich progress bar per sample with events/s and ETA (a no-op when disabled)."""

    def __init__(self, enabled: bool, samples: Sequence[Sample], totals: dict[str, int]) -> None:
        self.enabled = enabled
        self.tasks: dict[str, Any] = {}
        self.start: dict[str, float] = {}
        self.done: dict[str, int] = dict.fromkeys(totals, 0)
        self.busy: dict[str, float] = dict.fromkeys(totals, 0.0)
        if not enabled:
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn("{task.description:<16}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeRemainingColumn(),
        )
        for s in samples:
            self.tasks[s.name] = self.progress.add_task(s.name, total=totals[s.name], rate="")

    def __enter__(self) -> _Progress:
        if self.enabled:
            self.progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.enabled:
            self.progress.__exit__(*exc)

    def advance(self, sample: str, n: int, seconds: float | None) -> None:
        """``n`` more events done; ``seconds`` = worker time they took (None if reused)."""
        self.done[sample] += n
        if seconds is not None:
            self.busy[sample] += seconds
        if self.enabled:
            busy = self.busy[sample]
            rate = f"{self.done[sample] / busy:6.0f} ev/s/worker" if busy > 0 else "cached"
            self.progress.update(self.tasks[sample], advance=n, rate=rate)


def _execute(
    tasks: list[ChunkTask],
    workers: int,
    scheduler: Any,
    on_done: Callable[[ChunkTask, dict[str, Any]], None],
) -> None:
    if not tasks:
        return
    if scheduler is not None:
        from distributed import Client, as_completed

        client = scheduler if isinstance(scheduler, Client) else Client(scheduler)
        try:
            futures = [client.submit(run_chunk, t, pure=False) for t in tasks]
            index = {f.key: t for f, t in zip(futures, tasks, strict=True)}
            for fut in as_completed(futures):
                on_done(index[fut.key], fut.result())
        finally:
            if client is not scheduler:
                client.close()
        return
    if workers <= 1:
        for t in tasks:
            on_done(t, run_chunk(t))
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures import as_completed as cf_completed

    # fork (Linux): instant workers and no `if __name__ == "__main__"` guard needed in scripts;
    # the workers only run Pythia + NumPy. Elsewhere the platform default (spawn).
    method = "fork" if "fork" in mp.get_all_start_methods() else None
    ex = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context(method))
    try:
        futs = {ex.submit(run_chunk, t): t for t in tasks}
        for fut in cf_completed(futs):
            on_done(futs[fut], fut.result())
    finally:
        ex.shutdown(wait=True, cancel_futures=True)


def _check_counts(*, events: Any, workers: Any, chunk_size: int, seed: Any) -> None:
    """One-line ConfigErrors for the counts of a generation request."""
    if isinstance(events, bool) or not isinstance(events, int | np.integer) or events <= 0:
        raise ConfigError(
            f"--events must be a positive integer (events per sample), got {events!r}"
        )
    if isinstance(workers, bool) or not isinstance(workers, int | np.integer) or workers < 1:
        raise ConfigError(f"--workers must be a positive integer, got {workers!r}")
    if chunk_size < 1:
        raise ConfigError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    if events > MAX_EVENTS_PER_SAMPLE:
        raise ConfigError(
            f"--events {events} is more than one run generates per sample (at most "
            f"{MAX_EVENTS_PER_SAMPLE}); split the production into runs with different --seed"
        )
    if math.ceil(events / chunk_size) > MAX_CHUNKS_PER_SAMPLE:
        raise ConfigError(
            f"--events {events} in chunks of {chunk_size} makes more than "
            f"{MAX_CHUNKS_PER_SAMPLE} chunks per sample; use a larger chunk_size"
        )
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(f"--seed must be a non-negative integer, got {seed!r}")


def plan_tasks(
    scenario: str,
    samples: Sequence[Sample],
    *,
    events: int,
    chunk_size: int,
    seed: int,
    images: bool,
) -> list[ChunkTask]:
    """The chunks of a run, ``events`` Pythia events per sample.

    A sample with two disjoint configurations (``Sample.alt_settings``: which W decays to a
    lepton in lepton+jets t tbar) gives each configuration half of the events (the first one
    the odd event if any), in chunks that alternate configuration (even chunk numbers run the
    first, odd ones the second); the two halves are then balanced whatever the number of
    chunks, and their cross sections add up in the manifest.
    """
    tasks: list[ChunkTask] = []
    for s in samples:
        k = s.n_configurations
        mine: list[ChunkTask] = []
        for cfg in range(k):
            n_cfg = events // k + (1 if cfg < events % k else 0)
            for i in range(math.ceil(n_cfg / chunk_size)):
                n = min(chunk_size, n_cfg - i * chunk_size)
                mine.append(
                    ChunkTask(scenario, s, i * k + cfg, n, int(chunk_size), int(seed), images)
                )
        tasks += sorted(mine, key=lambda t: t.chunk)
    return tasks


def _readable_chunk(path: Path) -> bool:
    """Whether a finished chunk file reads back whole; a corrupt or truncated one is reported
    with a :class:`ChunkWarning` and regenerated (the new file replaces it atomically)."""
    import warnings
    import zipfile

    from hepsift.generate.writer import read_chunk

    if not path.is_file():
        return False
    try:
        read_chunk(path)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        warnings.warn(
            f"chunk file {path} is corrupt or truncated ({type(exc).__name__}); regenerating it",
            ChunkWarning,
            stacklevel=3,
        )
        return False
    return True


def _choose_samples(
    scenario: str, all_samples: Sequence[Sample], samples: Sequence[str] | None
) -> list[Sample]:
    """The samples a run generates: all of the scenario's, or the named ones (checked)."""
    if samples is None:
        return list(all_samples)
    names = [s.name for s in all_samples]
    for name in samples:
        if name not in names:
            raise ConfigError(
                f"--samples: unknown sample {name!r} of scenario {scenario!r}; allowed: "
                f"{', '.join(names)}{suggest(name, names)}"
            )
    return [s for s in all_samples if s.name in set(samples)]


def generate(
    scenario: str,
    *,
    events: int,
    out: str | os.PathLike[str],
    seed: int = 0,
    workers: int = 1,
    images: bool = False,
    masses: str | Sequence[float] | None = None,
    scheduler: Any = None,
    progress: bool = True,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    samples: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Generate ``scenario`` with ``events`` Pythia events PER SAMPLE into folder ``out``.

    Returns the manifest (also written to ``out/manifest.json``). ``workers`` processes (or the
    Dask ``scheduler``, an address or a ``distributed.Client``) run the chunks; the same ``seed``
    gives the same files whatever the number of workers. A rerun reuses finished chunks and is a
    no-op when the outputs are complete. ``samples`` restricts the run to some of the
    scenario's samples (default: all). ``chunk_size`` events share one Pythia initialisation
    and one seed; the output depends on it.
    """
    from hepsift.generate import assemble
    from hepsift.generate.scenarios import check_scenario, parse_masses, samples_for

    check_scenario(scenario)
    _check_counts(events=events, workers=workers, chunk_size=chunk_size, seed=seed)
    if scenario != "resonance-ttbar" and masses is not None:
        raise ConfigError(f"--masses applies to scenario 'resonance-ttbar' only, not {scenario!r}")
    mass_list = parse_masses(masses) if scenario == "resonance-ttbar" else None
    images = images or scenario == "multijet-bsm"  # its images are one of its outputs
    out_dir = Path(out)
    _check_out(out_dir)
    all_samples = samples_for(scenario, mass_list)
    chosen = _choose_samples(scenario, all_samples, samples)
    config = {
        "scenario": scenario,
        "events_per_sample": int(events),
        "seed": int(seed),
        "chunk_size": int(chunk_size),
        "images": bool(images),
        "masses_gev": mass_list,
        "samples": [s.as_dict() for s in chosen],
        "hepsift": _versions()["hepsift"],
    }
    config_hash = _hash(config)
    manifest_path = out_dir / "manifest.json"
    done = assemble.complete_manifest(manifest_path, config_hash)
    if done is not None:
        return done

    tasks = plan_tasks(
        scenario, chosen, events=events, chunk_size=chunk_size, seed=seed, images=bool(images)
    )
    results: dict[tuple[str, int], Path] = {}
    todo = []
    for t in tasks:
        p = _chunk_path(out_dir, t)
        if _readable_chunk(p):
            results[(t.sample.name, t.chunk)] = p
        else:
            todo.append(t)
    totals = {s.name: events for s in chosen}
    t_start = time.perf_counter()
    with _Progress(progress, chosen, totals) as bar:
        for key, _p in results.items():
            bar.advance(
                key[0], next(t.n_events for t in tasks if (t.sample.name, t.chunk) == key), 1.0
            )

        def on_done(task: ChunkTask, res: dict[str, Any]) -> None:
            from hepsift.generate.writer import write_chunk

            path = _chunk_path(out_dir, task)
            write_chunk(path, res["rows"], res["meta"], res["images"])
            results[(task.sample.name, task.chunk)] = path
            bar.advance(task.sample.name, task.n_events, float(res["meta"]["seconds"]))

        _execute(todo, workers, scheduler, on_done)

    chunk_files = {
        s.name: [results[(s.name, t.chunk)] for t in tasks if t.sample.name == s.name]
        for s in chosen
    }
    manifest = assemble.assemble(
        scenario, chosen, chunk_files, out_dir, config, config_hash, _versions()
    )
    manifest["seconds"] = time.perf_counter() - t_start
    from hepsift.generate.writer import write_json

    write_json(manifest_path, manifest)
    return manifest


def physics_constants() -> dict[str, Any]:
    """All physics numbers of the generator (for the manifest and documentation)."""
    return {k: v for k, v in vars(C).items() if k.isupper()}
