"""A plug-in's stack where it trains: a worker that cannot load the plug-in, or plug-in code that
raises, fails that stack's runs with the reason, instead of stopping the sweep."""

from __future__ import annotations

import pickle

import torch

from mibench.core.interface import Estimator, RunConfig
from mibench.execute import jobs
from mibench.plan import plugins
from mibench.train import failures


def _config(name: str, fingerprint: str, seed: int = 0) -> RunConfig:
    return RunConfig.make(
        estimator=name, task="gaussian", task_params={"dim": 2, "mi": 1.0}, critic="separable",
        critic_params={"hidden": [4], "embed_dim": 2}, batch_size=4, n_steps=3, eval_every=2,
        seed=seed, estimator_fingerprint=fingerprint,
    )  # fmt: skip


def _raises(scores: torch.Tensor) -> torch.Tensor:
    raise RuntimeError("my bound has a bug")


def test_a_worker_that_cannot_import_the_plugin_fails_the_stack_in_one_line(monkeypatch) -> None:
    payload = plugins.PluginPayload("remote_bound", "ab" * 8, target="not_on_worker_q:bound")
    job = jobs.StackJob(0, (_config("remote_bound", "ab" * 8),), plugins=(payload,))
    monkeypatch.setattr(plugins, "_LOADED", {})
    (run,) = jobs.train_job(pickle.loads(pickle.dumps(job)))
    reason = run.sidecar[failures.FAILURE_KEY]["reason"]
    assert "cannot import module 'not_on_worker_q'" in reason and "Traceback" not in reason
    assert run.frame["estimate"].isna().all()


def test_plugin_code_that_raises_fails_its_runs_with_the_exception() -> None:
    resolved = plugins.resolve(Estimator(name="buggy", value_fn=_raises))
    configs = [_config("buggy", resolved.fingerprint, seed) for seed in (0, 1)]
    (job,) = jobs.make_jobs([configs], "unused", checkpoint_every_s=None)
    runs = jobs.train_job(job)
    assert [r.sidecar["failure"]["reason"] for r in runs] == [
        "raised RuntimeError: my bound has a bug"] * 2  # fmt: skip
    assert "_raises" in runs[0].sidecar["failure"]["detail"]
