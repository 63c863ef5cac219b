"""The atomic store: write order, finished = Parquet exists, partial files, loading."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from mibench.core.interface import RunConfig
from mibench.results import schema, store, tempfiles


def _config(seed: int = 0) -> RunConfig:
    return RunConfig.make(estimator="infonce", task="gaussian", task_params={"dim": 2, "mi": 1.0},
                          n_steps=20, eval_every=5, seed=seed)  # fmt: skip


def test_write_then_read_round_trip(tmp_path, make_frame, make_sidecar):
    config = _config()
    frame = make_frame(config, estimate=lambda s: np.sqrt(s))
    run_id = config.cell_hash()
    assert not store.is_finished(tmp_path, run_id)
    store.write_run(tmp_path, run_id, frame, make_sidecar(config))
    assert store.is_finished(tmp_path, run_id)
    pd.testing.assert_frame_equal(store.read_run(tmp_path, run_id), frame)
    assert store.read_sidecar(tmp_path, run_id)["config"] == config.as_dict()
    # The Parquet footer carries the sidecar too, so a lone .parquet file is self-describing.
    footer = store.pq.read_schema(store.run_path(tmp_path, run_id)).metadata
    assert json.loads(footer[store.PARQUET_METADATA_KEY])["run_id"] == run_id
    # No temporary file is left behind.
    assert sorted(p.name for p in store.runs_dir(tmp_path).iterdir()) == [
        f"{run_id}.json", f"{run_id}.parquet"]  # fmt: skip


def test_sidecar_is_written_before_parquet(tmp_path, make_frame, make_sidecar, monkeypatch):
    config = _config()
    order = []
    real = store.write_bytes_atomic

    def spy(target, data):
        order.append(target.suffix)
        real(target, data)

    monkeypatch.setattr(store, "write_bytes_atomic", spy)
    monkeypatch.setattr(store, "write_parquet_atomic",
                        lambda target, frame, metadata=None: order.append(target.suffix))  # fmt: skip
    store.write_run(tmp_path, config.cell_hash(), make_frame(config, estimate=np.sqrt),
                    make_sidecar(config))  # fmt: skip
    assert order == [".json", ".parquet"]


def test_failed_parquet_write_leaves_cell_unfinished(
    tmp_path, make_frame, make_sidecar, monkeypatch
):
    config = _config()

    def broken(table, where):
        with open(where, "wb") as handle:
            handle.write(b"PAR1 half")  # a torn write
        raise OSError("disk full")

    monkeypatch.setattr(store.pq, "write_table", broken)
    with pytest.raises(OSError, match="disk full"):
        store.write_run(tmp_path, config.cell_hash(), make_frame(config, estimate=np.sqrt),
                        make_sidecar(config))  # fmt: skip
    assert not store.is_finished(tmp_path, config.cell_hash())
    assert [p.suffix for p in store.runs_dir(tmp_path).iterdir()] == [".json"]


def test_frame_missing_schema_columns_is_rejected(tmp_path, make_frame, make_sidecar):
    config = _config()
    frame = make_frame(config, estimate=np.sqrt).drop(columns=[schema.ESS])
    with pytest.raises(ValueError, match="ess"):
        store.write_run(tmp_path, config.cell_hash(), frame, make_sidecar(config))
    assert not store.runs_dir(tmp_path).exists()


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_clean_partials_removes_only_temporary_files_of_dead_writers(tmp_path):
    runs = store.runs_dir(tmp_path)
    runs.mkdir()
    host = tempfiles.host_name()
    dead = f".abc.parquet.{_dead_pid()}@{host}.partial"
    live = f".def.parquet.{os.getpid()}@{host}.partial"  # a concurrent writer's, in flight
    old_form = f".ghi.json.{_dead_pid()}.partial"
    for name in ("abc.parquet", dead, live, old_form):
        (runs / name).write_bytes(b"x")
    removed = store.clean_partials(runs)
    assert sorted(p.name for p in removed) == sorted([dead, old_form])
    assert sorted(p.name for p in runs.iterdir()) == sorted(["abc.parquet", live])


def test_clean_leftovers_covers_figures_and_other_hosts_by_age(tmp_path):
    figures = tmp_path / store.FIGURES_DIR
    figures.mkdir()
    dead = figures / f".bias.png.{_dead_pid()}@{tempfiles.host_name()}.tmp"
    foreign_new = figures / ".mse.png.12@elsewhere.tmp"
    foreign_old = figures / ".ess.png.13@elsewhere.tmp"
    for path in (dead, foreign_new, foreign_old):
        path.write_bytes(b"x")
    age = tempfiles.FOREIGN_LEFTOVER_AGE_S + 60
    os.utime(foreign_old, (time.time() - age, time.time() - age))
    removed = store.clean_leftovers(tmp_path)
    assert sorted(p.name for p in removed) == sorted([dead.name, foreign_old.name])
    assert foreign_new.exists()


def test_load_runs_uses_manifest_when_present(tmp_path, make_frame, make_sidecar):
    configs = [_config(seed) for seed in range(3)]
    for c in configs:
        store.write_run(tmp_path, c.cell_hash(), make_frame(c, estimate=np.sqrt), make_sidecar(c))
    assert set(store.load_runs(tmp_path)[schema.SEED]) == {0, 1, 2}
    store.write_json_atomic(tmp_path / store.MANIFEST_FILE,
                            {"run_ids": [configs[1].cell_hash()]})  # fmt: skip
    assert set(store.load_runs(tmp_path)[schema.SEED]) == {1}
    assert set(store.load_sidecars(tmp_path)["config.seed"]) == {1}
    with pytest.raises(FileNotFoundError, match="no finished runs"):
        store.load_runs(tmp_path / "elsewhere")


def test_environment_versions_name_the_packages():
    versions = store.environment_versions()
    assert {"python", "torch", "numpy", "mibench"} <= set(versions)


def test_suite_folder_files_round_trip_through_the_store(tmp_path):
    """Every file of the suite folder is read back as written; absent files read as None."""
    assert store.manifest_run_ids(tmp_path) is None
    assert store.read_suite_record(tmp_path) is None
    assert store.read_skipped(tmp_path) is None
    assert store.read_summary(tmp_path) is None and not store.has_summary(tmp_path)
    assert store.summary_metadata(tmp_path) is None
    assert store.read_verify(tmp_path) is None
    store.write_manifest(tmp_path, iter(["b", "a"]))
    assert store.manifest_run_ids(tmp_path) == ["b", "a"]  # plan order, not sorted
    assert store.manifest_bytes(tmp_path) == (tmp_path / store.MANIFEST_FILE).read_bytes()
    store.write_suite_record(tmp_path, {"name": "tiny", "grids": []})
    assert store.read_suite_record(tmp_path) == {"name": "tiny", "grids": []}
    skipped = [{"estimator": "nwj", "task": "labeled", "critic": "separable", "reason": "no y"}]
    store.write_skipped(tmp_path, skipped)
    assert store.read_skipped(tmp_path) == skipped
    summary = pd.DataFrame({schema.ESTIMATOR: ["infonce"], schema.BIAS: [-0.25]})
    assert store.write_summary(tmp_path, summary, metadata={"k": 1}) == store.summary_path(tmp_path)
    pd.testing.assert_frame_equal(store.read_summary(tmp_path), summary)
    assert store.summary_metadata(tmp_path) == {"k": 1}
    store.verify_path(tmp_path).write_text('[{"id": "x", "passed": true}]')
    assert store.read_verify(tmp_path) == [{"id": "x", "passed": True}]
    assert store.report_paths(tmp_path) == (tmp_path / "report.md", tmp_path / "report.html")
    assert store.write_report(tmp_path, "# r é", "<p>r</p>") == store.report_paths(tmp_path)
    assert (tmp_path / "report.md").read_text(encoding="utf-8") == "# r é"
    assert store.figures_dir(tmp_path) == tmp_path / "figures"
    # JSON files are indented and key-sorted: the same content gives the same bytes.
    assert (tmp_path / store.SUITE_FILE).read_text() == '{\n  "grids": [],\n  "name": "tiny"\n}\n'
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_latest_run_ids_prefer_the_manifest(tmp_path, make_frame, make_sidecar):
    configs = [_config(seed) for seed in range(2)]
    for config in configs:
        frame = make_frame(config, estimate=np.sqrt)
        store.write_run(tmp_path, config.cell_hash(), frame, make_sidecar(config))
    ids = [c.cell_hash() for c in configs]
    assert store.latest_run_ids(tmp_path) == sorted(ids)  # no manifest: every finished run
    store.write_manifest(tmp_path, [ids[1], "not-finished"])
    assert store.latest_run_ids(tmp_path) == [ids[1], "not-finished"]


def test_write_atomic_failure_keeps_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "f.bin"
    store.write_atomic(target, lambda tmp: tmp.write_bytes(b"old"))

    def half_written(tmp):
        tmp.write_bytes(b"ne")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        store.write_atomic(target, half_written, suffix=tempfiles.TMP_SUFFIX)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]


def _mixed_schema_suite(tmp_path, make_frame, make_sidecar) -> list[str]:
    """Five runs whose files differ in their columns, as estimators' own diagnostics do: an
    int column only some runs have, a text column only one has, a float column in another."""
    ids = []
    for seed in range(5):
        config = _config(seed)
        frame = make_frame(config, estimate=lambda s, seed=seed: np.sqrt(s) + seed)
        if seed in (1, 3):
            frame["k_eff"] = np.arange(len(frame), dtype=np.int64)
        if seed == 2:
            frame["system"] = "in_batch"
        if seed == 4:
            frame["per_row_dv"] = np.linspace(0.0, 1.0, len(frame))
        store.write_run(tmp_path, config.cell_hash(), frame, make_sidecar(config))
        ids.append(config.cell_hash())
    return ids


def test_load_runs_equals_the_concatenated_files(tmp_path, make_frame, make_sidecar):
    ids = _mixed_schema_suite(tmp_path, make_frame, make_sidecar)
    # Manifest order, which is not the order of the file names.
    order = [ids[3], ids[0], ids[4], ids[2], ids[1]]
    store.write_manifest(tmp_path, order)
    expected = pd.concat([store.read_run(tmp_path, r) for r in order], ignore_index=True)
    loaded = store.load_runs(tmp_path)
    pd.testing.assert_frame_equal(loaded, expected)
    assert list(dict.fromkeys(loaded[schema.RUN_ID])) == order


def test_read_columns_of_runs_equals_reading_each_run(tmp_path, make_frame, make_sidecar):
    ids = _mixed_schema_suite(tmp_path, make_frame, make_sidecar)
    columns = [schema.STEP, schema.ESTIMATE, schema.READOUT, "k_eff", "per_row_dv", "absent"]
    together = store.read_columns_of_runs(tmp_path, ids[::-1], columns)
    assert list(together) == ids[::-1]
    for run_id in ids:
        alone = store.read_columns(tmp_path, run_id, columns)
        # Each run keeps only the columns its own file has (no NaN column added).
        assert list(together[run_id]) == list(alone)
        for name, values in alone.items():
            assert together[run_id][name].dtype == values.dtype
            np.testing.assert_array_equal(together[run_id][name], values)
    assert store.read_columns_of_runs(tmp_path, [], columns) == {}


@pytest.mark.parametrize(
    ("file", "text", "read", "message"),
    [
        (store.SKIPPED_FILE, "[1, 2]", store.read_skipped, "not a list of skipped combinations"),
        (store.SKIPPED_FILE, "{bad", store.read_skipped, "not readable JSON"),
        (store.MANIFEST_FILE, '{"ids": []}', store.manifest_run_ids, "not a manifest"),
        (store.MANIFEST_FILE, '{"run_ids": [1]}', store.manifest_run_ids, "not a manifest"),
        (store.SUITE_FILE, "[]", store.read_suite_record, "not a suite record"),
        (store.SUMMARY_FILE, "PAR1 torn", store.read_summary, "not a readable Parquet file"),
        (store.SUMMARY_FILE, "PAR1 torn", store.summary_metadata, "not a readable Parquet"),
    ],
)
def test_a_malformed_folder_file_is_named_in_one_line(tmp_path, file, text, read, message):
    (tmp_path / file).write_text(text)
    with pytest.raises(store.DamagedFileError) as caught:
        read(tmp_path)
    assert str(caught.value).startswith(f"{tmp_path / file}: ") and message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_folder_where_a_json_file_must_be_is_named(tmp_path):
    (tmp_path / store.MANIFEST_FILE).mkdir()
    with pytest.raises(store.DamagedFileError, match="manifest.json: not readable JSON"):
        store.manifest_run_ids(tmp_path)


def test_layout_problems_name_each_path_of_the_wrong_kind(tmp_path):
    assert store.layout_problems(tmp_path) == []
    (tmp_path / store.RUNS_DIR).write_text("not a folder")
    (tmp_path / store.MANIFEST_FILE).mkdir()
    problems = store.layout_problems(tmp_path)
    assert len(problems) == 2
    assert f"{tmp_path / 'runs'} is a file where mibench keeps a folder" in problems[0]
    assert f"{tmp_path / 'manifest.json'} is not a file" in problems[1]


def test_a_write_that_fails_without_a_path_names_the_target(tmp_path, monkeypatch):
    def full(table, where, **kwargs):
        raise OSError("Error writing bytes to file. Detail: [errno 28] No space left on device")

    monkeypatch.setattr(store.pq, "write_table", full)
    target = tmp_path / "x.parquet"
    with pytest.raises(OSError) as caught:
        store.write_parquet_atomic(target, pd.DataFrame({"a": [1]}))
    assert caught.value.filename == str(target) and caught.value.errno == 28
    assert list(tmp_path.iterdir()) == []
