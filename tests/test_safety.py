"""No user file lost, safe model folders, modes under the umask, interrupts.

hepsift deletes or replaces only what it wrote: a saved model folder it recognises (model.json
with its format marker), an output folder with its marker, an ONNX file it stamped. Anything
else is refused with one line (``--force`` / ``force=True`` where overwriting is a wish).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

import hepsift.models as models
from hepsift._files import atomic_write_text
from hepsift.cli import main
from hepsift.errors import ConfigError, ModelError


def _fitted() -> models.Model:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = (X[:, 0] + 0.3 * rng.normal(size=200) > 0).astype(int)
    model: models.Model = models.create("logistic").fit(X, y)
    return model


@pytest.fixture(scope="module")
def fitted() -> models.Model:
    return _fitted()


def _tree(path: Path) -> dict[str, bytes]:
    """Every file under ``path`` (hidden ones included) with its content."""
    return {
        str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()
    }


def _one_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, text
    assert "Traceback" not in text and len(lines[0]) < 300
    return lines[0]


@contextmanager
def _umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


# -- Classifier.save -----------------------------------------------------------------------------
def test_save_onto_a_regular_file_refuses_and_keeps_it(
    fitted: models.Model, tmp_path: Path
) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("my notes\n")
    before = _tree(tmp_path)
    with pytest.raises(ModelError, match="not a folder") as exc:
        fitted.save(target)
    _one_line(str(exc.value))
    assert _tree(tmp_path) == before  # no hidden .notes.txt.old, no temporary folder


def test_save_onto_a_user_folder_refuses_and_keeps_its_files(
    fitted: models.Model, tmp_path: Path
) -> None:
    target = tmp_path / "results"
    (target / "sub").mkdir(parents=True)
    (target / "thesis.tex").write_text("chapter 1\n")
    (target / "sub" / "data.csv").write_text("1,2\n")
    before = _tree(tmp_path)
    with pytest.raises(ModelError, match="not a saved hepsift model"):
        fitted.save(target)
    assert _tree(tmp_path) == before
    with pytest.raises(ModelError):
        fitted.save(tmp_path / "results" / "thesis.tex")
    assert _tree(tmp_path) == before


def test_save_replaces_only_its_own_model_folder(fitted: models.Model, tmp_path: Path) -> None:
    target = tmp_path / "m"
    fitted.save(target)
    (tmp_path / ".m.old").write_text("a user's file with an unlucky name\n")
    first = json.loads((target / "model.json").read_text())
    other = models.create("logistic", C=0.01).fit(
        np.random.default_rng(1).normal(size=(50, 3)), np.arange(50) % 2
    )
    other.save(target)
    assert json.loads((target / "model.json").read_text())["params"] != first["params"]
    assert (tmp_path / ".m.old").read_text().startswith("a user's file")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".m.old", "m"]
    # an empty folder is fine, and force=True replaces a foreign folder (never a file)
    (tmp_path / "empty").mkdir()
    fitted.save(tmp_path / "empty")
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "x").write_text("x")
    fitted.save(tmp_path / "foreign", force=True)
    assert models.load(tmp_path / "foreign").n_features_in_ == 3


def test_save_to_bad_paths_is_one_line(fitted: models.Model, tmp_path: Path) -> None:
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    for bad in ("", str(blocker / "sub" / "model")):
        with pytest.raises(ModelError) as exc:
            fitted.save(bad)
        _one_line(str(exc.value))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]
    for bad in ("", str(blocker / "m.onnx"), str(tmp_path)):
        with pytest.raises(ModelError) as exc:
            fitted.to_onnx(bad)
        _one_line(str(exc.value))


# -- modes under the umask -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("mask", "file_mode", "dir_mode"), [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700)]
)
def test_written_files_and_models_follow_the_umask(
    fitted: models.Model, tmp_path: Path, mask: int, file_mode: int, dir_mode: int
) -> None:
    with _umask(mask):
        folder = fitted.save(tmp_path / "m")
        path = atomic_write_text(tmp_path / "a.txt", "x")
        (tmp_path / "plain").mkdir()
    assert folder.stat().st_mode & 0o777 == dir_mode
    assert (tmp_path / "plain").stat().st_mode & 0o777 == dir_mode
    for f in folder.iterdir():
        assert f.stat().st_mode & 0o777 == file_mode, f
    assert path.stat().st_mode & 0o777 == file_mode


# -- models.load of tampered folders -------------------------------------------------------------
def _tampered(fitted: models.Model, tmp_path: Path, how: str) -> Path:
    folder = fitted.save(tmp_path / f"m-{how}")
    meta = json.loads((folder / "model.json").read_text())
    outside = tmp_path / "elsewhere"
    outside.mkdir(exist_ok=True)
    shutil.copy(folder / "logistic.npz", outside / "logistic.npz")
    if how == "absolute":
        meta["state"]["payload"] = str(outside / "logistic.npz")
    elif how == "dotdot":
        meta["state"]["payload"] = "../elsewhere/logistic.npz"
    elif how == "symlink":
        (folder / "logistic.npz").unlink()
        (folder / "logistic.npz").symlink_to(outside / "logistic.npz")
    elif how == "n_features":
        meta["n_features_in"] = 10**12
    elif how == "classes":
        meta["classes"] = [0, 1, 2]
    elif how == "classes-type":
        meta["classes"] = {"a": 1}
    elif how == "no-state":
        del meta["state"]
    elif how == "bad-state":
        meta["state"]["n_iter"] = [1, 2]
    elif how == "not-json":
        (folder / "model.json").write_text("{")
        return folder
    (folder / "model.json").write_text(json.dumps(meta))
    return folder


TAMPERED = [
    "absolute",
    "dotdot",
    "symlink",
    "n_features",
    "classes",
    "classes-type",
    "no-state",
    "bad-state",
    "not-json",
]


@pytest.mark.parametrize("how", TAMPERED)
def test_tampered_model_folders_are_one_line(
    fitted: models.Model, tmp_path: Path, how: str
) -> None:
    folder = _tampered(fitted, tmp_path, how)
    with pytest.raises(ModelError) as exc:
        models.load(folder)
    _one_line(str(exc.value))


@pytest.mark.parametrize("how", ["absolute", "symlink", "n_features", "classes", "bad-state"])
def test_hepsift_onnx_on_tampered_folders_exits_2(
    fitted: models.Model, tmp_path: Path, how: str, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _tampered(fitted, tmp_path, how)
    out = tmp_path / "out.onnx"
    assert main(["onnx", str(folder), str(out)]) == 2
    _one_line(capsys.readouterr().err)
    assert not out.exists()


# -- hepsift onnx OUT ----------------------------------------------------------------------------
def test_onnx_output_is_replaced_only_when_hepsift_wrote_it(
    fitted: models.Model, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = fitted.save(tmp_path / "m")
    out = tmp_path / "model.onnx"
    out.write_text("not mine to lose\n")
    assert main(["onnx", str(folder), str(out)]) == 2
    assert "--force" in _one_line(capsys.readouterr().err)
    assert out.read_text() == "not mine to lose\n"
    assert main(["onnx", str(folder), str(out), "--force"]) == 0
    capsys.readouterr()
    assert main(["onnx", str(folder), str(out)]) == 0  # its own file: replaced
    capsys.readouterr()
    # an ONNX file written by the API (as `hepsift run` writes its models) is hepsift's too
    api = tmp_path / "api.onnx"
    fitted.to_onnx(api)
    assert main(["onnx", str(folder), str(api)]) == 0
    capsys.readouterr()


def test_failed_onnx_export_leaves_nothing_behind(
    fitted: models.Model,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import hepsift.export
    from hepsift.errors import ModelError

    def parity_fails(*args: object, **kwargs: object) -> float:
        raise ModelError("ONNX parity failed: max |diff| = 1 > 1e-05")

    monkeypatch.setattr(hepsift.export, "check_parity", parity_fails)
    folder = fitted.save(tmp_path / "m")
    out = tmp_path / "x" / "model.onnx"
    assert main(["onnx", str(folder), str(out)]) == 2  # the parity check fails after writing
    assert "parity" in _one_line(capsys.readouterr().err)
    assert not out.exists() and not any(out.parent.iterdir())


def test_onnx_to_unwritable_or_empty_paths_is_one_line(
    fitted: models.Model, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = fitted.save(tmp_path / "m")
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    for bad in ("", str(blocker / "m.onnx"), str(tmp_path)):
        assert main(["onnx", str(folder), bad]) == 2
        _one_line(capsys.readouterr().err)
    assert blocker.read_text() == "x"


# -- hepsift tune --out / pnn study --out ---------------------------------------------------------
def _tune_config(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 2))
    rows = ["a,b,label"] + [f"{a:.4f},{b:.4f},{int(a + 0.5 * b > 0)}" for a, b in X]
    (tmp_path / "train.csv").write_text("\n".join(rows) + "\n")
    cfg = {
        "model": "logistic",
        "space": {"C": {"type": "float", "low": 0.1, "high": 10.0, "log": True}},
        "trials": 2,
        "data": {"path": "train.csv", "label": "label", "features": ["a", "b"]},
    }
    path = tmp_path / "tune.yaml"
    path.write_text(json.dumps(cfg))
    return path


def test_tune_never_deletes_a_user_model_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = _tune_config(tmp_path)
    out = tmp_path / "t"
    (out / "model").mkdir(parents=True)
    (out / "model" / "my-notes.txt").write_text("keep me\n")
    before = _tree(out)
    assert main(["tune", str(cfg), "--out", str(out)]) == 2
    assert "--force" in _one_line(capsys.readouterr().err)
    assert _tree(out) == before
    # a user's file named like tune's results is refused too; other files are left alone
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "trials.json").write_text("my own trials\n")
    assert main(["tune", str(cfg), "--out", str(mine)]) == 2
    assert "trials.json" in _one_line(capsys.readouterr().err)
    (mine / "trials.json").rename(mine / "a.txt")
    for _ in range(2):  # its own results are replaced on the second run
        assert main(["tune", str(cfg), "--out", str(mine)]) == 0
        capsys.readouterr()
    assert models.load(mine / "model").n_features_in_ == 2
    assert (mine / "a.txt").read_text() == "my own trials\n"
    assert main(["tune", str(cfg), "--out", str(out), "--force"]) == 0
    assert models.load(out / "model").n_features_in_ == 2


def test_tune_bad_out_paths_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = _tune_config(tmp_path)
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    for bad in ("", str(blocker), str(blocker / "sub")):
        assert main(["tune", str(cfg), "--out", bad]) == 2
        _one_line(capsys.readouterr().err)
    assert blocker.read_text() == "x"


def test_pnn_study_out_is_checked_before_the_study(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "auc_vs_mass.png").write_bytes(b"my own figure")
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    for bad in (str(mine), "", str(blocker), str(blocker / "sub")):
        assert main(["pnn", "study", "--toy", "--quick", "--out", bad]) == 2
        _one_line(capsys.readouterr().err)
    assert _tree(mine) == {"auc_vs_mass.png": b"my own figure"}


def test_output_dir_rules(tmp_path: Path) -> None:
    from hepsift._outputs import OUTPUT_MARKER, check_output_dir, claim_output_dir, json_with

    owned = {"result.json": json_with("files"), "*.png": None}
    with pytest.raises(ConfigError, match="empty"):
        check_output_dir("  ", kind="x", owned=owned)
    # a folder hepsift makes is marked, and its own figures may be replaced next time
    made = claim_output_dir(tmp_path / "new", kind="x", owned=owned)
    assert json.loads((made / OUTPUT_MARKER).read_text()) == {"written_by": "hepsift", "kind": "x"}
    (made / "a.png").write_bytes(b"png")
    (made / "result.json").write_text(json.dumps({"files": {}}))
    assert check_output_dir(made, kind="x", owned=owned) == made
    with pytest.raises(ConfigError, match=r"a\.png"):  # marked for another command
        check_output_dir(made, kind="y", owned=owned)
    # a user's folder: other files are fine, a colliding name is not (unless --force)
    user = tmp_path / "user"
    user.mkdir()
    (user / "notes.txt").write_text("n")
    claim_output_dir(user, kind="x", owned=owned)
    assert sorted(p.name for p in user.iterdir()) == ["notes.txt"]  # no marker in a user's
    (user / "result.json").write_text("[1, 2]")
    with pytest.raises(ConfigError, match=r"result\.json"):
        check_output_dir(user, kind="x", owned=owned)
    assert check_output_dir(user, kind="x", owned=owned, force=True) == user


# -- interrupted runs: stale partial folders, swallowed Ctrl-C -----------------------------------
_HOLD_RUNDIR = """
import sys, time
from hepsift.report.rundir import RunDir
rd = RunDir(sys.argv[1], "samples").__enter__()
rd.write_text("half.txt", "half")
print(rd.path, flush=True)
time.sleep(600)
"""


def _python(script: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_two_runs_of_one_name_started_in_the_same_second_both_get_a_folder(
    tmp_path: Path,
) -> None:
    """Both pick the same free name before either creates it: the second takes the next."""
    from hepsift.report.rundir import RunDir

    first = RunDir(tmp_path, "samples", stamp="20261128T000000Z")
    second = RunDir(tmp_path, "samples", stamp="20261128T000000Z")
    assert first.path == second.path
    with first, second:
        assert first.path != second.path and first.path.is_dir() and second.path.is_dir()
        done = [first.finish(), second.finish()]
    assert sorted(p.name for p in done) == [
        "samples-20261128T000000Z",
        "samples-20261128T000000Z-1",
    ]


def test_partial_folders_of_killed_runs_are_swept_by_the_next_run(tmp_path: Path) -> None:
    from hepsift.report.rundir import PARTIAL_MARKER, RunDir

    killed = _python(_HOLD_RUNDIR, str(tmp_path))
    alive = _python(_HOLD_RUNDIR, str(tmp_path))
    try:
        dead_path = Path(killed.stdout.readline().strip())  # type: ignore[union-attr]
        live_path = Path(alive.stdout.readline().strip())  # type: ignore[union-attr]
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=30)
        assert dead_path.is_dir() and (dead_path / PARTIAL_MARKER).is_file()
        # not hepsift's: no marker, or a marker of another host that is recent
        (tmp_path / ".mine.partial").mkdir()
        (tmp_path / ".mine.partial" / "data.txt").write_text("keep")
        other = tmp_path / ".other-host.partial"
        other.mkdir()
        (other / PARTIAL_MARKER).write_text(
            json.dumps({"written_by": "hepsift", "pid": 1, "host": "elsewhere.invalid"})
        )
        with RunDir(tmp_path, "next") as rd:
            assert rd.swept == [dead_path]
            rd.finish()
        assert not dead_path.exists()
        assert live_path.is_dir()  # its run still holds the lock
        assert (tmp_path / ".mine.partial" / "data.txt").read_text() == "keep"
        assert other.is_dir()
        done = [p for p in tmp_path.iterdir() if p.name.startswith("next-")]
        assert len(done) == 1 and sorted(f.name for f in done[0].iterdir()) == ["DONE"]
    finally:
        for proc in (killed, alive):
            proc.kill()
            proc.communicate(timeout=30)


_SWALLOWED_SIGINT = """
import os, signal, sys, time, weakref
from hepsift._interrupt import stop_on_sigint
from hepsift.report.rundir import RunDir

class Thing:
    pass

def callback(ref):
    print("in callback", flush=True)
    time.sleep(3)  # the SIGINT lands here: Python prints 'Exception ignored' and goes on

with stop_on_sigint():
    with RunDir(sys.argv[1], "run") as rd:
        thing = Thing()
        ref = weakref.ref(thing, callback)
        del thing
        print("after callback", flush=True)
        rd.finish()
print("FINISHED", flush=True)
"""


def test_a_sigint_swallowed_in_a_weakref_callback_still_stops_the_run(tmp_path: Path) -> None:
    proc = _python(_SWALLOWED_SIGINT, str(tmp_path))
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "in callback"
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert "Exception ignored" in err  # the situation of the report: the first raise is lost
    assert "after callback" in out and "FINISHED" not in out
    assert proc.returncode != 0 and "KeyboardInterrupt" in err
    assert list(tmp_path.iterdir()) == []  # no DONE folder, no partial folder


_RUN_WITH_A_SLOW_CALLBACK = """
import sys, time, weakref
import hepsift.report.build as build
from hepsift.cli import main

real = build.build_report

class Thing:
    pass

def callback(ref):
    print("in callback", flush=True)
    time.sleep(3)

def build_report(*args, **kwargs):
    thing = Thing()
    ref = weakref.ref(thing, callback)
    del thing  # the callback runs here, and the SIGINT lands in it
    return real(*args, **kwargs)

build.build_report = build_report
sys.exit(main(["run", "nand", "--out", sys.argv[1], "--quiet"]))
"""


@pytest.mark.slow
def test_ctrl_c_during_hepsift_run_always_exits_130(tmp_path: Path) -> None:
    proc = _python(_RUN_WITH_A_SLOW_CALLBACK, str(tmp_path))
    assert proc.stdout is not None
    deadline = time.monotonic() + 120
    line = ""
    while "in callback" not in line and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
    assert "in callback" in line, proc.communicate(timeout=30)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1].startswith("interrupted: exit 130")
    assert list(tmp_path.iterdir()) == []  # neither a finished nor a partial run folder


def test_tampered_network_widths_never_allocate(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    folder = models.create("mlp", epochs=1, hidden=(8,)).fit(X, X[:, 0] > 0).save(tmp_path / "m")
    meta = json.loads((folder / "model.json").read_text())
    assert models.load(folder).classes_.tolist() == [False, True]  # boolean labels load
    meta["state"]["net"]["hidden"] = [10**6, 10**6]  # 10^12 weights if it were built
    (folder / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="holds 1000") as exc:
        models.load(folder)
    _one_line(str(exc.value))


def _huge_npz() -> bytes:
    import io
    import zipfile

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)}
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name in ("coef.npy", "intercept.npy"):
            archive.writestr(name, header.getvalue() + bytes(64))
    return out.getvalue()


@pytest.mark.parametrize("how", ["empty", "truncated", "not-zip", "huge-header"])
def test_corrupt_npz_payloads_are_one_line(fitted: models.Model, tmp_path: Path, how: str) -> None:
    folder = fitted.save(tmp_path / "m")
    payload = folder / "logistic.npz"
    data = payload.read_bytes()
    payload.write_bytes(
        {
            "empty": b"",
            "truncated": data[: len(data) // 2],
            "not-zip": b"\x93NUMPY" + bytes(100),
            "huge-header": _huge_npz(),
        }[how]
    )
    with pytest.raises(ModelError) as exc:
        models.load(folder)
    _one_line(str(exc.value))


def test_run_with_an_empty_out_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["run", "nand", "--out", "", "--quiet"]) == 2
    assert "--out is empty" in _one_line(capsys.readouterr().err)
    assert list(tmp_path.iterdir()) == []


_KILLED_SAVE = """
import os, sys, time
import numpy as np
import hepsift.models as models
from hepsift.models import base

def stall(tmp):
    print(tmp, flush=True)
    time.sleep(600)

model = models.create("logistic").fit(np.eye(4, 2), [0, 1, 0, 1])
base.write_model_dir(sys.argv[1], stall)
"""


def test_temporaries_of_a_killed_save_are_swept_by_the_next_save(
    fitted: models.Model, tmp_path: Path
) -> None:
    proc = _python(_KILLED_SAVE, str(tmp_path / "m"))
    assert proc.stdout is not None
    leftover = Path(proc.stdout.readline().strip())
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert leftover.is_dir() and leftover.name.startswith(".m.")
    mine = tmp_path / ".m.notes.tmp"  # a user's folder with a similar name: no marker
    mine.mkdir()
    fitted.save(tmp_path / "m")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".m.notes.tmp", "m"]
    assert not any(p.name.startswith(".hepsift") for p in (tmp_path / "m").iterdir())
