"""``mibench.run`` with your own estimators: objects beside built-in names, reuse by
fingerprint, failed external commands, the rank view."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
import torch

import mibench
from mibench.estimators import infonce_value
from mibench.results import schema, store
from tests.plan._plugin_fixtures import SMALL_SUITE


def _nwj(scores: torch.Tensor) -> torch.Tensor:
    K = scores.shape[-1]
    off = scores - 1.0 + torch.diag_embed(torch.full(scores.shape[:-1], -math.inf))
    log_mean = torch.logsumexp(off, dim=(-2, -1)) - math.log(K * (K - 1))
    return torch.diagonal(scores, dim1=-2, dim2=-1).mean(-1) - torch.exp(log_mean)


def _nwj_halved(scores: torch.Tensor) -> torch.Tensor:
    return 0.5 * _nwj(scores)


def corr_mi(x, y) -> float:
    rho = float(((x[:, 0] - x[:, 0].mean()) * (y[:, 0] - y[:, 0].mean())).mean()
                / (x[:, 0].std() * y[:, 0].std()))  # fmt: skip
    return -0.5 * x.shape[1] * math.log(1 - rho**2)


@pytest.fixture
def suite_file(tmp_path: Path) -> Path:
    path = tmp_path / "small.toml"
    path.write_text(SMALL_SUITE)
    return path


def _run(suite_file: Path, estimators: list, **kwargs) -> mibench.Results:
    return mibench.run(suite_file, estimators=estimators, out=suite_file.parent / "results",
                       workers=1, progress=False, figures=False, **kwargs)  # fmt: skip


def test_objects_run_beside_built_ins_and_an_edit_retrains_only_its_runs(suite_file) -> None:
    bound = mibench.Estimator(name="my_nwj", value_fn=_nwj, kind="lower_bound")
    first = _run(suite_file, ["infonce", bound, corr_mi])
    assert first.run_report.n_trained == 12  # 3 estimators x 2 levels x 2 seeds
    assert set(first.summary[schema.ESTIMATOR]) == {"infonce", "my_nwj", "corr_mi"}
    ranks = first.standing()
    assert set(ranks["estimator"]) == {"my_nwj", "corr_mi"} and len(ranks) == 4
    assert set(ranks["best_builtin"]) == {"infonce"}
    ids = set(store.finished_run_ids(first.suite_dir))
    again = _run(suite_file, ["infonce", bound, corr_mi])
    assert (again.run_report.n_trained, again.run_report.n_reused) == (0, 12)
    edited = mibench.Estimator(name="my_nwj", value_fn=_nwj_halved, kind="lower_bound")
    third = _run(suite_file, ["infonce", edited, corr_mi])
    assert third.run_report.n_trained == 4  # my_nwj's runs only
    new_ids = set(store.finished_run_ids(third.suite_dir)) - ids
    assert len(new_ids) == 4
    assert {store.read_sidecar(third.suite_dir, r)["config"]["estimator"] for r in new_ids} == {
        "my_nwj"}  # fmt: skip
    records = store.read_plugins(third.suite_dir)
    assert records["my_nwj"]["kind"] == "lower_bound" and records["corr_mi"]["kind"] == "sample"
    assert {v.claim_id for v in third.verify()} >= {"results-plugin-lower-bound-le-truth"}
    assert len(third.runs()) > 0 and third.findings()["best_per_level"]


def test_a_failing_command_is_a_failed_run_and_the_other_runs_are_written(suite_file) -> None:
    exits = mibench.CommandEstimator(
        [sys.executable, "-c", "import sys; sys.stderr.write('no R here'); sys.exit(1)", "{x}",
         "{y}"], name="exits")  # fmt: skip
    garbage = mibench.CommandEstimator(
        [sys.executable, "-c", "print('[1] 0.5')", "{x}", "{y}"], name="garbage"
    )
    res = _run(suite_file, ["infonce", exits, garbage])
    summary = res.summary.set_index(schema.ESTIMATOR)
    assert (summary.loc["infonce", schema.FAILED_FRACTION] == 0).all()
    assert (summary.loc["exits", schema.FAILED_FRACTION] == 1).all()
    assert set(summary.loc["exits", schema.FAILURE]) == {"exited with status 1"}
    assert set(summary.loc["garbage", schema.FAILURE]) == {"printed 2 tokens, not one number, on "
                                                           "standard output: '[1] 0.5'"}  # fmt: skip
    run_id = next(r for r in store.finished_run_ids(res.suite_dir)
                  if store.read_sidecar(res.suite_dir, r)["config"]["estimator"] == "exits")  # fmt: skip
    assert store.read_sidecar(res.suite_dir, run_id)["failure"]["detail"] == "no R here"
    assert set(res.standing()["state"]) == {"failed"}
    rerun = _run(suite_file, ["infonce", exits, garbage])
    assert (rerun.run_report.n_trained, rerun.run_report.n_reused) == (8, 4)  # failed: again


def test_bad_estimators_are_refused_before_anything_is_written(suite_file: Path) -> None:
    out = suite_file.parent / "results"
    with pytest.raises(ValueError, match="is not an estimator"):
        _run(suite_file, ["infonce", 42])
    with pytest.raises(ValueError, match="cannot import module 'no_module_zz'"):
        _run(suite_file, ["no_module_zz:bound"])
    with pytest.raises(ValueError, match=r"two estimators are named 'dup'"):
        _run(suite_file, [mibench.SampleEstimator(corr_mi, name="dup"),
                          mibench.Estimator(name="dup", value_fn=infonce_value)])  # fmt: skip
    assert not out.exists()


def test_in_jupyter_without_ipywidgets_the_bars_are_off_with_one_note(monkeypatch) -> None:
    import io

    from rich.console import Console

    from mibench.api import run as run_module

    console = Console(file=io.StringIO(), force_jupyter=True)
    printed: list[str] = []  # a Jupyter console prints to the notebook's display, not to a file
    monkeypatch.setattr(console, "print", lambda text, **_: printed.append(text))
    monkeypatch.setattr(run_module.importlib.util, "find_spec", lambda name: None)
    assert run_module._show_progress(console, True) is False
    assert printed == [run_module.NOTEBOOK_NOTE]
    monkeypatch.setattr(run_module.importlib.util, "find_spec", lambda name: object())
    assert run_module._show_progress(console, True) is True
    assert run_module._show_progress(Console(file=io.StringIO()), True) is True  # a terminal


@pytest.mark.integration
def test_plugins_train_on_a_local_dask_cluster(suite_file: Path, monkeypatch) -> None:
    from tests.plan._plugin_fixtures import USER_MODULE, write_module

    write_module(suite_file.parent, "usermod_dask", USER_MODULE)
    monkeypatch.chdir(suite_file.parent)
    bound = mibench.Estimator(name="obj_nwj", value_fn=_nwj, kind="lower_bound")
    res = mibench.run(suite_file, estimators=["infonce", bound, "usermod_dask:bound"],
                      out=suite_file.parent / "results", workers=2, progress=False,
                      figures=False)  # fmt: skip
    summary = res.summary
    assert set(summary[schema.ESTIMATOR]) == {"infonce", "obj_nwj", "my_nwj"}
    assert (summary[schema.FAILED_FRACTION] == 0).all()  # both loaded on the workers
