"""Plug-in names and objects to specs: module:attribute, entry points, objects, workers."""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

import pytest

from mibench.core.interface import Estimator, RunConfig, SampleEstimator, UnknownNameError
from mibench.plan import plugins
from tests.plan._plugin_fixtures import EXAMPLE, USER_MODULE, write_distribution, write_module


@pytest.fixture
def user_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder holding the user's ``usermod.py`` (imported from the working folder)."""
    write_module(tmp_path, "usermod", USER_MODULE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "usermod", raising=False)
    return tmp_path


@pytest.fixture
def example_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The example plug-in's entry points visible to importlib.metadata, without pip."""
    monkeypatch.syspath_prepend(str(EXAMPLE))
    monkeypatch.syspath_prepend(str(write_distribution(tmp_path / "site")))


def test_module_attribute_names_resolve_to_specs(user_folder: Path) -> None:
    bound, fn = plugins.from_name("usermod:bound"), plugins.from_name("usermod:fn")
    assert bound is not None and fn is not None
    assert isinstance(bound.spec, Estimator) and bound.spec.name == "my_nwj"
    assert isinstance(fn.spec, SampleEstimator) and fn.spec.name == "fn"
    assert bound.origin == "module usermod" and bound.target == "usermod:bound"
    assert bound.search_path == str(user_folder.resolve())
    config = RunConfig.make(estimator="my_nwj", task="gaussian",
                            estimator_fingerprint=bound.fingerprint)  # fmt: skip
    assert plugins.spec_for(config) is bound.spec
    assert plugins.from_name("infonce") is None  # built in


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("nomodule_xyz:bound", "cannot import module 'nomodule_xyz': ModuleNotFoundError"),
        ("usermod:missing", "module 'usermod' has no attribute 'missing'"),
        ("usermod:np", "a module (<module 'numpy'"),
        ("usermod:", "give it as package.module:attribute"),
    ],
)
def test_a_broken_name_is_one_line_naming_it(user_folder: Path, name: str, message: str) -> None:
    with pytest.raises(plugins.PluginError) as caught:
        plugins.from_name(name)
    text = str(caught.value)
    assert message in text and "\n" not in text and repr(name) in text


def test_an_unknown_name_lists_the_valid_ones() -> None:
    with pytest.raises(UnknownNameError, match=r"unknown estimator 'nope'.*infonce.*module:attr"):
        plugins.from_name("nope")


def test_entry_points_are_listed_with_their_origin_and_named_like_built_ins(
    example_installed: None,
) -> None:
    rows = {row.name: row for row in plugins.entry_point_rows()}
    assert set(rows) >= {"symmetric_infonce", "copula_gaussian"}
    row = rows["symmetric_infonce"]
    assert row.origin == "entry point of mibench-example-plugin 0.1.0" and not row.error
    resolved = plugins.from_name("copula_gaussian")
    assert resolved is not None and resolved.spec.name == "copula_gaussian"
    assert resolved.version == "mibench-example-plugin 0.1.0"


def test_a_broken_entry_point_is_listed_with_its_reason(tmp_path: Path, monkeypatch) -> None:
    folder = write_distribution(tmp_path, name="broken-plugin", version="9.9",
                                entry_points={"broken_bound": "no_such_module_q:bound"})  # fmt: skip
    monkeypatch.syspath_prepend(str(folder))
    rows = {row.name: row for row in plugins.entry_point_rows()}
    assert rows["broken_bound"].plugin is None
    assert "failed to import: ModuleNotFoundError" in rows["broken_bound"].error
    assert "broken-plugin 9.9" in rows["broken_bound"].origin
    with pytest.raises(plugins.PluginError, match="broken_bound"):
        plugins.from_name("broken_bound")


def test_two_estimators_with_one_name_are_an_error_naming_both(user_folder: Path) -> None:
    def my_nwj(x, y):
        return 0.0

    first, second = plugins.resolve("usermod:bound"), plugins.resolve(my_nwj)
    with pytest.raises(plugins.PluginError, match=r"two estimators are named 'my_nwj': "
                       r"'usermod:bound' \(module usermod\) and 'my_nwj' \(Python object\)"):  # fmt: skip
        plugins.check_unique([first, second])

    def infonce(x, y):
        return 0.0

    with pytest.raises(plugins.PluginError, match="name of a built-in estimator"):
        plugins.check_unique([plugins.resolve(infonce)])
    plugins.check_unique([first, plugins.resolve("usermod:bound")])  # the same one twice: fine


def test_an_object_that_is_not_an_estimator_is_a_plugin_error() -> None:
    with pytest.raises(plugins.PluginError, match=r"a int .* is not an estimator"):
        plugins.resolve(3)
    with pytest.raises(plugins.PluginError, match="is a class; give an instance"):
        plugins.resolve(dict)


def test_payloads_reload_on_a_worker_or_say_in_one_line_why_not(
    user_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def local_fn(x, y):
        return 2.0

    by_object = plugins.resolve(local_fn)
    by_name = plugins.resolve("usermod:bound")
    configs = [
        RunConfig.make(estimator=r.spec.name, task="gaussian", estimator_fingerprint=r.fingerprint)
        for r in (by_object, by_name)
    ]
    sent = pickle.loads(pickle.dumps(plugins.payloads(configs)))  # what a worker receives
    assert sent[0].pickled is not None and sent[1].target == "usermod:bound"
    monkeypatch.setattr(plugins, "_LOADED", {})  # a fresh worker process
    plugins.install(sent)
    assert plugins.spec_for(configs[0]).estimate([[0.0]], [[0.0]]) == 2.0
    assert plugins.spec_for(configs[1]).name == "my_nwj"
    monkeypatch.setattr(plugins, "_LOADED", {})
    missing = plugins.PluginPayload("my_nwj", "f" * 16, target="gone_module_q:bound",
                                    search_path="/nonexistent")  # fmt: skip
    with pytest.raises(plugins.PluginError, match="cannot import module 'gone_module_q'"):
        plugins.install([missing])
    changed = plugins.PluginPayload("my_nwj", "0" * 16, target="usermod:bound")
    with pytest.raises(plugins.PluginError, match="not the code the plan was made with"):
        plugins.install([changed])
