"""Damaged run files are found, named, quarantined as a pair; a damaged manifest is rebuilt."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mibench.core.interface import RunConfig
from mibench.results import integrity, lock, store
from tests.plots._plot_fixtures import make_runs
from tests.plots.synthetic import write_synthetic_suite


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    runs = make_runs(estimators=("infonce",), batch_sizes=(16,), seeds=(0,))
    suite_dir = write_synthetic_suite(tmp_path / "synthetic", runs, summary=False)
    store.write_manifest(suite_dir, store.finished_run_ids(suite_dir))
    return suite_dir


def _first(folder: Path) -> str:
    return store.finished_run_ids(folder)[0]


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:100])


def test_a_sound_run_is_trusted(folder: Path) -> None:
    trusted = integrity.TrustedRuns(folder)
    assert all(trusted(r) for r in store.finished_run_ids(folder))
    assert integrity.run_damage(folder, "not-there") is None  # unfinished, not damaged


@pytest.mark.parametrize(
    ("damage", "named", "reason"),
    [
        (lambda f, r: _truncate(store.run_path(f, r)), ".parquet", "Parquet magic bytes"),
        (lambda f, r: store.sidecar_path(f, r).write_text("{bad"), ".json", "not readable JSON"),
        (lambda f, r: store.sidecar_path(f, r).unlink(), ".json", "missing"),
        (lambda f, r: store.sidecar_path(f, r).write_text("[1]"), ".json", "not a run sidecar"),
        (lambda f, r: store.sidecar_path(f, r).write_bytes(b"\xff\xfe"), ".json", "not readable"),
    ],
)
def test_each_kind_of_damage_names_the_file(folder: Path, damage, named: str, reason: str) -> None:
    run_id = _first(folder)
    damage(folder, run_id)
    error = integrity.run_damage(folder, run_id)
    assert error is not None and error.path.name == f"{run_id}{named}"
    assert reason in str(error) and str(error).startswith(str(error.path))
    assert "\n" not in str(error)
    assert not integrity.TrustedRuns(folder)(run_id)


def test_a_sidecar_of_another_cell_is_not_trusted(folder: Path) -> None:
    first, second = store.finished_run_ids(folder)[:2]
    store.sidecar_path(folder, first).write_bytes(store.sidecar_path(folder, second).read_bytes())
    error = integrity.run_damage(folder, first)
    assert error is not None and f"hashes to {second}, not {first}" in str(error)


def test_a_run_file_of_another_cell_is_not_trusted(folder: Path) -> None:
    first, second = store.finished_run_ids(folder)[:2]
    store.run_path(folder, first).write_bytes(store.run_path(folder, second).read_bytes())
    error = integrity.run_damage(folder, first)
    assert error is not None and f"describes cell {second}, not {first}" in str(error)


def test_a_row_count_that_differs_from_the_sidecar_is_not_trusted(folder: Path) -> None:
    run_id = _first(folder)
    path = store.sidecar_path(folder, run_id)
    record = json.loads(path.read_text())
    path.write_text(json.dumps({**record, "n_rows": record["n_rows"] + 1}))
    error = integrity.run_damage(folder, run_id)
    assert error is not None and "rows where its sidecar says" in str(error)


def test_quarantine_moves_the_pair_and_never_overwrites(folder: Path) -> None:
    run_id = _first(folder)
    for expected in (0, 1):
        store.run_path(folder, run_id).write_bytes(b"x")
        store.sidecar_path(folder, run_id).write_text("{}")
        target = integrity.quarantine_run(folder, run_id)
        assert (target / f"{run_id}.{expected}.parquet").read_bytes() == b"x"
        assert (target / f"{run_id}.{expected}.json").is_file()
        assert not store.is_finished(folder, run_id)
    assert run_id not in store.finished_run_ids(folder)


def test_repair_quarantines_damaged_runs_and_rebuilds_the_manifest(folder: Path) -> None:
    run_id = _first(folder)
    _truncate(store.run_path(folder, run_id))
    store.manifest_path(folder).write_text('{"run_ids": [')
    notes = integrity.repair_folder(folder)
    assert len(notes) == 2 and "manifest.json: not readable JSON" in notes[0]
    assert f"{run_id}.parquet: not a readable Parquet file" in notes[1]
    assert "runs/quarantine" in notes[1] and "`mibench run` retrains the cell" in notes[1]
    assert run_id not in (store.manifest_run_ids(folder) or [])
    assert integrity.repair_folder(folder) == []  # repaired: nothing left to say


def test_repair_leaves_a_cell_that_a_live_run_holds(folder: Path) -> None:
    run_id = _first(folder)
    _truncate(store.run_path(folder, run_id))
    other = lock.CellLocks(folder)
    assert other.try_claim(run_id)
    (note,) = integrity.repair_folder(folder)
    assert "another mibench run holds the cell" in note and store.is_finished(folder, run_id)
    other.release(run_id)


def test_load_runs_refuses_a_damaged_run_naming_it(folder: Path) -> None:
    run_id = _first(folder)
    store.sidecar_path(folder, run_id).write_text("{bad")
    with pytest.raises(store.DamagedFileError, match=rf"{run_id}\.json: not readable JSON"):
        store.load_runs(folder)
    with pytest.raises(store.DamagedFileError, match=rf"{run_id}\.json"):
        store.load_sidecars(folder)


def test_trusted_runs_reads_a_file_once_per_state(folder: Path, monkeypatch) -> None:
    run_id = _first(folder)
    calls = []
    real = integrity.run_damage
    monkeypatch.setattr(integrity, "run_damage", lambda f, r: calls.append(r) or real(f, r))
    trusted = integrity.TrustedRuns(folder)
    assert trusted(run_id) and trusted(run_id) and len(calls) == 1
    _truncate(store.run_path(folder, run_id))  # a new state: checked again
    assert not trusted(run_id) and len(calls) == 2


def test_config_hash_of_a_sidecar_is_the_run_config_hash() -> None:
    config = RunConfig.make(estimator="infonce", task="gaussian", task_params={"mi": 1.0})
    assert integrity._config_hash(config.as_dict()) == config.cell_hash()
    assert integrity._config_hash({"estimator": "x", "bogus": 1}) is None
