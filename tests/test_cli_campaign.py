"""The hostile campaign as tests: bad suite files, command lines and damaged folders.

Every rejected input must give exit code 2, exactly one line naming the bad value, no traceback,
and no file written; a damaged folder must be repaired by the next ``mibench run``. Hypothesis
generates the inputs from the classes of the campaign; the named cases pin its findings.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from mibench.cli import app
from mibench.execute import runner
from mibench.results import integrity, store

BASE = {
    "steps": "20",
    "seeds": "1",
    "batch_sizes": "[8]",
    "eval_every": "10",
}
GRID = """
[[grid]]
estimators = ["infonce"]
tasks = [{ name = "gaussian", dim = 2, mi = 1 }]
critics = [{ name = "separable", hidden = [8], embed_dim = 4 }]
"""


class WouldTrainError(Exception):
    """Raised by the patched runner.execute: the input was accepted."""


@pytest.fixture
def no_training(monkeypatch):
    def refuse(*args, **kwargs):
        raise WouldTrainError

    monkeypatch.setattr(runner, "execute", refuse)


def _suite_text(settings_: dict[str, str], extra: str = "") -> str:
    lines = "\n".join(f"{k} = {v}" for k, v in settings_.items())
    return f'[suite]\nname = "c"\n{lines}\n{GRID}{extra}'


def _rejected(result, out: Path) -> None:
    """Exit 2, one line, no traceback, nothing written under ``out``."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert result.output.startswith("error: ") and result.output.count("\n") == 1, result.output
    assert "Traceback" not in result.output
    assert not out.exists() or not any(out.iterdir())


def _invoke(args: list[str]):
    return CliRunner().invoke(app, ["run", *args, "--no-plots", "--no-progress"])


@pytest.mark.parametrize(
    ("settings_", "extra", "options", "named"),
    [
        ({**BASE, "steps": "1\nsteps = 2"}, "", [], ["c.toml", "given twice", "'steps = 2'"]),
        (BASE, "", ["--tasks", '{name="gaussian", dim=}'], ["--tasks", "dim=}"]),
        (BASE, "", ["--workers", "1.5"], ["--workers", "'1.5'"]),
        (BASE, "", ["--seeds", "0-999999999"], ["--seeds", "1000000000 seeds", "10000"]),
        ({**BASE, "seeds": "1000000000"}, "", [], ["seeds", "at most 10000"]),
        ({**BASE, "batch_sizes": "[1000000000]"}, "", [], ["batch size 1000000000", "ceiling"]),
        ({**BASE, "steps": "1000000000000"}, "", [], ["steps", "ceiling 100000000"]),
        ({**BASE, "batch_sizes": "[100000]"}, "", [], ["estimated peak", "lower batch_sizes"]),
        (BASE, "[grid.estimator_params.infonce]\n", [], None),  # empty table: accepted
    ],
)
def test_named_cases_of_the_campaign(tmp_path, no_training, settings_, extra, options, named):
    suite = tmp_path / "c.toml"
    suite.write_text(_suite_text(settings_, extra))
    out = tmp_path / "out"
    result = _invoke([str(suite), "--out", str(out), *options])
    if named is None:
        assert isinstance(result.exception, WouldTrainError), result.output
        return
    _rejected(result, out)
    for text in named:
        assert text in result.output, result.output


def test_a_hyperparameter_the_trainer_refuses_fails_at_plan_time(tmp_path, no_training):
    suite = tmp_path / "c.toml"
    grid = GRID.replace('"infonce"', '"smile"') + "[grid.estimator_params.smile]\nclip = -1.0\n"
    suite.write_text(_suite_text(BASE).replace(GRID, grid))
    result = _invoke([str(suite), "--out", str(tmp_path / "out")])
    _rejected(result, tmp_path / "out")
    assert "estimator_params.smile: clip (tau) must be > 0, got -1.0" in result.output


def test_a_huge_concat_critic_is_refused_before_memory_is_spent(tmp_path, no_training):
    suite = tmp_path / "c.toml"
    critic = '[{ name = "concat", hidden = [100000, 100000] }]'
    suite.write_text(_suite_text(BASE).replace(
        '[{ name = "separable", hidden = [8], embed_dim = 4 }]', critic))  # fmt: skip
    result = _invoke([str(suite), "--out", str(tmp_path / "out")])
    _rejected(result, tmp_path / "out")
    assert "concat critic" in result.output and "hidden widths" in result.output


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs /proc")
def test_out_under_proc_is_exit_2(tmp_path, no_training):
    suite = tmp_path / "c.toml"
    suite.write_text(_suite_text(BASE))
    result = _invoke([str(suite), "--out", "/proc/mibench-out"])
    assert result.exit_code == 2 and "/proc" in result.output and result.output.count("\n") == 1


def test_verify_checks_its_options_before_running_any_claim(tmp_path, monkeypatch):
    import mibench.claims

    def must_not_run(*args, **kwargs):
        raise AssertionError("claims ran before the options were checked")

    monkeypatch.setattr(mibench.claims, "run_claims", must_not_run)
    for args, named in [
        (["--json", str(tmp_path)], "is a folder"),
        (["--json", str(tmp_path / "missing" / "v.json")], "does not exist"),
        (["--device", "tpu"], "invalid device 'tpu'"),
        (["--claims", ""], "no claim id in ''"),
        (["--claims", " , "], "no claim id"),
    ]:
        result = CliRunner().invoke(app, ["verify", "--quick", *args])
        assert result.exit_code == 2 and named in result.output, (args, result.output)
        assert result.output.count("\n") == 1


# ----------------------------------------------------------------------- generated inputs
_BAD_SCALARS = st.one_of(
    st.integers(-(2**70), 0).map(str),
    st.integers(2**40, 2**80).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(['"abc"', '"float16"', "true", "[]", "[0, 0]", "{}", '"-1"', "nan", "inf"]),
)
_SETTINGS = ["steps", "seeds", "lr", "dtype", "negatives", "batch_sizes", "log_every",
             "eval_every", "eval_batch_size", "device", "sample_size"]  # fmt: skip


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from(_SETTINGS), value=_BAD_SCALARS)
def test_generated_suite_files_are_accepted_or_rejected_in_one_line(
    tmp_path_factory, no_training, key, value
):
    folder = tmp_path_factory.mktemp("gen")
    suite = folder / "c.toml"
    suite.write_text(_suite_text({**BASE, key: value}))
    out = folder / "out"
    result = _invoke([str(suite), "--out", str(out)])
    if isinstance(result.exception, WouldTrainError):
        return  # a valid value (e.g. lr = 1e-300 or a huge but fine eval size)
    _rejected(result, out)


_OPTION_VALUES = st.one_of(
    st.text(alphabet="0123456789-,.e x{}[]=\"'", max_size=12),
    st.integers(-(2**66), 2**66).map(str),
)


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    option=st.sampled_from(
        [
            "--steps",
            "--seeds",
            "--batch-sizes",
            "--workers",
            "--tasks",
            "--dtype",
            "--device",
            "--estimators",
        ]
    ),
    value=_OPTION_VALUES,
)
def test_generated_command_lines_are_accepted_or_rejected_in_one_line(
    tmp_path_factory, no_training, option, value
):
    folder = tmp_path_factory.mktemp("gen")
    suite = folder / "c.toml"
    suite.write_text(_suite_text(BASE))
    out = folder / "out"
    result = _invoke([str(suite), "--out", str(out), option, value])
    if isinstance(result.exception, WouldTrainError):
        return
    _rejected(result, out)


# --------------------------------------------------------------------------- folder damage
DAMAGE_SUITE = _suite_text({**BASE, "seeds": "3"})


@pytest.fixture(scope="module")
def finished_folder(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("finished")
    suite = root / "c.toml"
    suite.write_text(textwrap.dedent(DAMAGE_SUITE))
    result = CliRunner().invoke(app, ["run", str(suite), "--out", str(root / "out"), "--no-plots",
                                      "--no-progress", "--workers", "1"])  # fmt: skip
    assert result.exit_code == 0, result.output
    return suite, root / "out"


_DAMAGE = st.tuples(
    st.sampled_from(["run", "sidecar", "manifest", "summary", "skipped", "suite"]),
    st.sampled_from(["truncate", "garbage", "delete", "swap"]),
    st.integers(0, 2),  # which run
    st.binary(max_size=40),
    st.floats(0, 1),  # where to cut
)


def _apply(suite_dir: Path, damage: tuple) -> None:
    target, how, index, junk, cut = damage
    ids = store.finished_run_ids(suite_dir)
    run_id, other = ids[index % len(ids)], ids[(index + 1) % len(ids)]
    paths = {
        "run": store.run_path(suite_dir, run_id), "sidecar": store.sidecar_path(suite_dir, run_id),
        "manifest": store.manifest_path(suite_dir), "summary": store.summary_path(suite_dir),
        "skipped": store.skipped_path(suite_dir), "suite": store.suite_record_path(suite_dir),
    }  # fmt: skip
    path = paths[target]
    if how == "truncate":
        path.write_bytes(path.read_bytes()[: int(cut * path.stat().st_size)])
    elif how == "garbage":
        path.write_bytes(junk)
    elif how == "delete":
        path.unlink()
    elif target in ("run", "sidecar"):  # another run's file under this run's name
        source = store.run_path if target == "run" else store.sidecar_path
        path.write_bytes(source(suite_dir, other).read_bytes())
    else:
        path.write_bytes(b"{}")


@settings(max_examples=8, deadline=None,  # each example retrains what it damaged
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(damages=st.lists(_DAMAGE, min_size=1, max_size=3))
def test_any_damage_is_named_and_the_next_run_repairs_it(
    finished_folder, tmp_path_factory, damages
):
    import shutil

    suite, out = finished_folder
    copy = tmp_path_factory.mktemp("damaged") / "out"
    shutil.copytree(out, copy)
    suite_dir = copy / "c"
    for damage in damages:
        _apply(suite_dir, damage)
    result = CliRunner().invoke(app, ["run", str(suite), "--out", str(copy), "--no-plots",
                                      "--no-progress", "--workers", "1"])  # fmt: skip
    assert result.exit_code == 0, (damages, result.output, result.exception)
    assert "Traceback" not in result.output
    ids = store.manifest_run_ids(suite_dir) or []
    assert len(ids) == 3 and all(integrity.run_damage(suite_dir, r) is None for r in ids)
    assert all(store.is_finished(suite_dir, r) for r in ids)
    assert integrity.repair_folder(suite_dir) == []
    store.read_summary(suite_dir), store.read_skipped(suite_dir), store.read_suite_record(suite_dir)
    assert not [p for p in suite_dir.rglob(".*") if p.is_file()]
    assert os.listdir(store.runs_dir(suite_dir))


def test_a_full_disk_names_the_file_keeps_the_folder_resumable_and_sizes_the_rest(
    tmp_path, monkeypatch
):
    from mibench.results import store as results_store

    suite = tmp_path / "c.toml"
    suite.write_text(_suite_text({**BASE, "seeds": "2"}))
    out = tmp_path / "out"
    real = results_store.pq.write_table
    written: list[str] = []

    def fills_up(table, where, **kwargs):  # the first run fits, then the disk is full
        if written:
            raise OSError("Error writing bytes to file. Detail: [errno 28] No space left on device")
        written.append(str(where))
        real(table, where, **kwargs)

    monkeypatch.setattr(results_store.pq, "write_table", fills_up)
    args = [str(suite), "--out", str(out), "--workers", "1"]
    result = _invoke(args)
    assert result.exit_code == 2 and result.output.count("\n") == 1, result.output
    line = result.output
    assert line.startswith(f"error: cannot write {out / 'c' / 'runs'}/") and ".parquet" in line
    assert "No space left on device" in line and "finished runs are kept" in line
    assert "the 1 runs left need about" in line and " MB free" in line
    monkeypatch.setattr(results_store.pq, "write_table", real)
    again = _invoke(args)  # space freed: the folder resumes
    assert again.exit_code == 0 and "2 runs (1 trained, 1 already finished)" in again.output
