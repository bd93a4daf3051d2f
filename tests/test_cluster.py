"""``--scheduler``: what it accepts, what it refuses (one line), and the cluster it opens."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

import pytest

from hepsift.cluster import (
    MAX_LOCAL_WORKERS,
    current_cluster,
    open_cluster,
    parse_scheduler,
)
from hepsift.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "kind", "workers", "address"),
    [
        ("local:2", "local", 2, None),
        ("LOCAL: 3 ", "local", 3, None),
        ("tcp://10.0.0.5:8786", "address", None, "tcp://10.0.0.5:8786"),
        ("10.0.0.5:8786", "address", None, "tcp://10.0.0.5:8786"),
        ("tls://sched.cern.ch:8786", "address", None, "tls://sched.cern.ch:8786"),
        ("tcp://[::1]:8786", "address", None, "tcp://[::1]:8786"),
    ],
)
def test_accepted_forms(text: str, kind: str, workers: int | None, address: str | None) -> None:
    spec = parse_scheduler(text)
    assert (spec.kind, spec.n_workers, spec.address) == (kind, workers, address)


def test_a_scheduler_file_gives_its_address(tmp_path: Path) -> None:
    path = tmp_path / "scheduler.json"
    path.write_text(json.dumps({"type": "Scheduler", "address": "tcp://10.1.2.3:40000"}))
    spec = parse_scheduler(str(path))
    assert (spec.kind, spec.address, spec.path) == ("file", "tcp://10.1.2.3:40000", path)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "is empty"),
        ("x", "is not a scheduler"),
        ("local", "is not a scheduler"),
        ("local:0", r"integer in \[1, "),
        ("local:-2", r"integer in \[1, "),
        ("local:two", r"integer in \[1, "),
        (f"local:{MAX_LOCAL_WORKERS + 1}", r"integer in \[1, "),
        ("ftp://h:1", "unknown protocol 'ftp'"),
        ("tcp://h:99999", "not an address HOST:PORT"),
        ("tcp://127.0.0.1", "not an address HOST:PORT"),
        ("tcp://h:1/path", "not an address HOST:PORT"),
        ("missing-scheduler.json", "not an existing scheduler JSON file"),
    ],
)
def test_bad_values_are_one_line_errors(text: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as info:
        parse_scheduler(text)
    message = str(info.value)
    assert "\n" not in message and message.startswith("--scheduler")
    assert "local:N" in message and "tcp://HOST:PORT" in message  # what is allowed


def test_bad_scheduler_files(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    with pytest.raises(ConfigError, match="not a scheduler JSON file"):
        parse_scheduler(str(garbage))
    no_address = tmp_path / "other.json"
    no_address.write_text(json.dumps({"workers": {}}))
    with pytest.raises(ConfigError, match="without a scheduler 'address'"):
        parse_scheduler(str(no_address))
    with pytest.raises(ConfigError, match="not an existing scheduler JSON file"):
        parse_scheduler(str(tmp_path))  # a folder


def test_no_scheduler_is_no_cluster() -> None:
    with open_cluster(None) as cluster:
        assert cluster is None
        assert current_cluster() is None


def test_cli_refuses_a_bad_scheduler_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from hepsift.cli import main

    code = main(["run", "nand", "--out", str(tmp_path), "--scheduler", "local:0"])
    err = capsys.readouterr().err
    assert code == 2 and "--scheduler 'local:0'" in err
    assert not any(tmp_path.iterdir())


@pytest.mark.slow
def test_local_cluster_opens_records_and_closes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """local:2 starts two single-threaded worker processes; a second client reaches the same
    scheduler by its address and through a scheduler file; everything is closed at the end."""
    with open_cluster("local:2") as cluster:
        assert cluster is not None
        info = current_cluster()
        assert info == {"kind": "local", "address": cluster.address, "n_workers": 2, "threads": 2}
        pids = cluster.client.run(lambda: os.getpid())
        assert len(set(pids.values())) == 2 and os.getpid() not in pids.values()
        with open_cluster(cluster.address) as by_address:
            assert by_address is not None
            assert by_address.info["kind"] == "address"
            assert by_address.info["n_workers"] == 2
            assert by_address.client.submit(sum, [1, 2, 3]).result() == 6
        assert current_cluster() == info  # the inner block restored the outer entry
        path = tmp_path / "scheduler.json"
        path.write_text(json.dumps({"address": cluster.address}))
        with open_cluster(str(path)) as by_file:
            assert by_file is not None
            assert by_file.info["kind"] == "file"
            assert by_file.info["threads"] == 2
        _partitioned_scores_match(cluster.client)
        _cutflow_command_matches(cluster.address, tmp_path, capsys)
        address = cluster.address
        client = cluster.client
    assert current_cluster() is None
    assert client.status == "closed"
    with pytest.raises(OSError):  # the local scheduler is gone
        host, _, port = address.split("://")[1].rpartition(":")
        socket.create_connection((host, int(port)), timeout=1).close()


def _partitioned_scores_match(client: Any) -> None:
    """A model scored per partition on the workers, summaries merged on the cluster: the
    in-memory weighted AUC and ROC."""
    import numpy as np

    from hepsift.evaluate.partitioned import auc_from_summary, roc_from_summary, score_summary
    from hepsift.metrics import auc, roc_curve
    from hepsift.models import create

    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 3000)
    X = rng.normal(size=(3000, 4)) + 0.8 * y[:, None]
    w = rng.uniform(0.5, 2.0, 3000)
    model = create("logistic").fit(X, y, sample_weight=w)
    parts = [
        (X[i : i + 700], y[i : i + 700], w[i : i + 700]) for i in range(0, 3000, 700)
    ]  # 5 partitions, the last one short
    summary = score_summary(client, model.predict_proba, client.scatter(parts))
    score = model.predict_proba(X)[:, 1]
    assert auc_from_summary(summary) == pytest.approx(auc(y, score, sample_weight=w), rel=1e-12)
    np.testing.assert_allclose(
        roc_from_summary(summary).signal_efficiency,
        roc_curve(y, score, sample_weight=w).signal_efficiency,
        rtol=1e-12,
    )


def _cutflow_command_matches(address: str, tmp_path: Path, capsys: Any) -> None:
    """``hepsift cutflow --scheduler ADDRESS`` prints the table of the local cutflow."""
    from hepsift.cli import main
    from hepsift.toydata import write_toy_gamgam

    path = write_toy_gamgam(tmp_path / "toy.root", 3000, seed=4)
    capsys.readouterr()
    assert main(["cutflow", str(path)]) == 0
    here = capsys.readouterr().out
    assert main(["cutflow", str(path), "--scheduler", address]) == 0
    there = capsys.readouterr().out
    assert there == here and "cutflow sample" in here
