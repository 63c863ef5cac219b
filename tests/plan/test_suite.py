"""Suite files: schema validation (one-line errors naming value and choices) and expansion."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import mibench.plan.resolve
from mibench import estimators, tasks
from mibench.plan.suite import (
    ALL,
    Overrides,
    SuiteError,
    TaskEntry,
    expand_task_params,
    load_suite,
    parse_seeds_option,
    parse_task_option,
    plan,
    resolve_suite,
)

BASE = """
[suite]
name = "tiny"
steps = 10
seeds = 2
batch_sizes = [8]

[[grid]]
estimators = ["infonce"]
tasks = [{ name = "gaussian", dim = 2, mi = [1, 2] }]
critics = [{ name = "separable", hidden = [4], embed_dim = 2 }]
"""


@pytest.fixture
def applies_always(monkeypatch):
    """Every estimator-task-critic combination applies (isolates the expansion logic)."""
    monkeypatch.setattr(mibench.plan.resolve, "compatibility", lambda e, t, c: None)


def write(tmp_path: Path, text: str, name: str = "tiny.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_expansion_is_the_full_product(tmp_path, applies_always):
    suite = load_suite(write(tmp_path, BASE))
    cells = plan(suite).configs
    # 1 estimator x 2 MI levels x 1 critic x 1 batch size x 2 seeds.
    assert len(cells) == 4
    assert sorted((dict(c.task_params)["mi"], c.seed) for c in cells) == [
        (1.0, 0), (1.0, 1), (2.0, 0), (2.0, 1)]  # fmt: skip
    first = cells[0]
    assert (first.n_steps, first.batch_size, first.suite, first.critic) == (
        10,
        8,
        "tiny",
        "separable",
    )
    # Parameters are stored merged over the registry defaults, so the hash pins every value.
    assert dict(first.task_params) == {**tasks.get("gaussian").defaults, "dim": 2, "mi": 1.0}
    assert dict(first.critic_params)["activation"] == "relu"
    assert len({c.cell_hash() for c in cells}) == 4


def test_int_and_float_mi_are_one_cell(tmp_path, applies_always):
    a = plan(load_suite(write(tmp_path, BASE))).configs
    b = plan(load_suite(write(tmp_path, BASE.replace("mi = [1, 2]", "mi = [1.0, 2.0]"), "b.toml")))
    assert [c.cell_hash() for c in a] == [c.cell_hash() for c in b.configs]


def test_sequence_parameter_is_one_value_unless_nested():
    single = expand_task_params(TaskEntry("staircase", {"levels": [1, 2, 3]}))
    assert [p["levels"] for p in single] == [[1.0, 2.0, 3.0]]  # ints become floats like the default
    swept = expand_task_params(TaskEntry("staircase", {"levels": [[1, 2], [3, 4]]}))
    assert len(swept) == 2


def test_grid_settings_override_suite(tmp_path, applies_always):
    text = (
        BASE
        + """
[[grid]]
estimators = ["infonce"]
tasks = ["gaussian"]
steps = 3
seeds = [7]
batch_sizes = [4, 16]
"""
    )
    cells = plan(load_suite(write(tmp_path, text))).configs
    second = [c for c in cells if c.n_steps == 3]
    assert sorted((c.batch_size, c.seed) for c in second) == [(4, 7), (16, 7)]
    assert all(c.critic == "separable" for c in second)  # default critic


def test_duplicate_cells_across_grids_are_kept_once(tmp_path, applies_always):
    text = BASE + BASE[BASE.index("[[grid]]") :]
    assert len(plan(load_suite(write(tmp_path, text))).configs) == 4


def test_all_means_every_registered_estimator(tmp_path, applies_always):
    text = BASE.replace('estimators = ["infonce"]', 'estimators = "all"')
    cells = plan(load_suite(write(tmp_path, text))).configs
    assert sorted({c.estimator for c in cells}) == estimators.names()


def test_inapplicable_pairs_are_skipped_with_the_reason(tmp_path, monkeypatch):
    def compatibility(estimator, task, critic):  # estimator: the spec the planner resolved
        return "needs labels" if estimator.name != "infonce" else None

    monkeypatch.setattr(mibench.plan.resolve, "compatibility", compatibility)
    text = BASE.replace('estimators = ["infonce"]', 'estimators = "all"')
    result = plan(load_suite(write(tmp_path, text)))
    assert {c.estimator for c in result.configs} == {"infonce"}
    others = sorted(set(estimators.names()) - {"infonce"})
    assert sorted(s.estimator for s in result.skipped) == others  # one note per pair, not per MI
    assert {s.reason for s in result.skipped} == {"needs labels"}


def test_everything_skipped_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setattr(mibench.plan.resolve, "compatibility", lambda e, t, c: "never")
    with pytest.raises(SuiteError, match=r"nothing to run.*never"):
        plan(load_suite(write(tmp_path, BASE)))


def test_estimator_hyperparameters_sweep_and_validate(tmp_path, applies_always, monkeypatch):
    spec = next((estimators.get(n) for n in estimators.names() if estimators.get(n).hyper), None)
    if spec is None:
        pytest.skip("no registered estimator has hyperparameters yet")
    key, default = next(iter(spec.hyper.items()))
    text = BASE.replace('estimators = ["infonce"]', f'estimators = ["{spec.name}"]') + (
        f"\n[grid.estimator_params.{spec.name}]\n{key} = [{default!r}, {default / 2!r}]\n"
    )
    cells = plan(load_suite(write(tmp_path, text))).configs
    assert sorted({dict(c.estimator_params)[key] for c in cells}) == sorted(
        {float(default), float(default / 2)})  # fmt: skip
    bad = text.replace(f"{key} = [", "not_a_hyper = [")
    with pytest.raises(SuiteError, match=f"no hyperparameter 'not_a_hyper'; valid: .*{key}"):
        plan(load_suite(write(tmp_path, bad, "bad.toml")))


# --- bad input: one line, naming the bad value and the valid choices/range --------------------

BAD_CASES = {
    "unknown suite key": (("steps = 10", "stepz = 10"), r"unknown key 'stepz'; valid keys: name"),
    "unknown grid key": (('critics = [', 'critic = ['), r"unknown key 'critic'; valid keys: "),
    "unknown estimator": (('["infonce"]', '["infonse"]'), r"unknown estimator 'infonse'; valid "
                          r"choices: .*infonce"),
    "unknown task": (('name = "gaussian"', 'name = "gausian"'), r"unknown task 'gausian'; valid "
                     r"choices: .*gaussian"),
    "unknown critic": (('name = "separable"', 'name = "separabel"'), r"unknown critic "
                       r"'separabel'; valid choices: .*separable"),
    "unknown critic parameter": (("embed_dim = 2", "embed = 2"), r"no parameter 'embed'; valid: "),
    "bad critic value": (("hidden = [4]", "hidden = [0]"), r"hidden"),
    "negative MI": (("mi = [1, 2]", "mi = [1, -2]"), r"mi must be .*>= 0.*-2"),
    "rho outside (-1, 1)": (("mi = [1, 2]", "rho = 1.5"), r"rho must lie in .*\(-1, 1\).*1\.5"),
    "dim < 1": (("dim = 2", "dim = 0"), r"dim must be an integer >= 1.*0"),
    "batch < 2": (("batch_sizes = [8]", "batch_sizes = [1]"), r"batch_sizes: must be an "
                  r"integer >= 2, got 1"),
    "steps < 1": (("steps = 10", "steps = 0"), r"steps: must be an integer >= 1, got 0"),
    "bad dtype": (("steps = 10", 'steps = 10\ndtype = "float16"'), r"invalid value 'float16'; "
                  r"valid choices: float32, float64"),
    "bad negatives": (("steps = 10", 'steps = 10\nnegatives = "all"'), r"valid choices: offdiag, "
                      r"derangement"),
    "duplicate seeds": (("seeds = 2", "seeds = [1, 1]"), r"seeds must be distinct"),
    "negative lr": (("steps = 10", "steps = 10\nlr = -1e-3"), r"lr: must be a finite number > 0"),
    "bad suite name": (('name = "tiny"', 'name = "../escape"'), r"\[suite\].name: must match"),
    "estimators not a list": (('["infonce"]', "3"), r"must be 'all' or a non-empty list"),
    "empty task list": (('tasks = [{ name = "gaussian", dim = 2, mi = [1, 2] }]', "tasks = []"),
                        r"must be a non-empty list of tasks"),
    "cuda without a GPU": (("steps = 10", 'steps = 10\ndevice = "cuda"'), r"device 'cuda' is not "
                           r"available here; valid choices: cpu"),
    "malformed TOML": (("steps = 10", "steps = = 10"), r"not valid TOML: "),
    "log_every neither int nor auto": (("steps = 10", 'steps = 10\nlog_every = "often"'),
                                       r'log_every: must be an integer >= 1 or "auto", got \'often\''),
    "log_every < 1": (("steps = 10", "steps = 10\nlog_every = 0"),
                      r'log_every: must be an integer >= 1 or "auto", got 0'),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_input_gives_one_clear_line(case, tmp_path, applies_always):
    (old, new), pattern = BAD_CASES[case]
    if case == "cuda without a GPU":
        import torch

        if torch.cuda.is_available():
            pytest.skip("a GPU is present")
    assert old in BASE
    path = write(tmp_path, BASE.replace(old, new, 1))
    with pytest.raises(SuiteError, match=pattern) as info:
        plan(load_suite(path))
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message  # says which file


def test_missing_grid_and_missing_keys(tmp_path, applies_always):
    with pytest.raises(SuiteError, match=r"needs at least one \[\[grid\]\] block"):
        load_suite(write(tmp_path, '[suite]\nname = "x"\n'))
    with pytest.raises(SuiteError, match=r"grid 1: missing key 'tasks'"):
        load_suite(write(tmp_path, '[[grid]]\nestimators = "all"\n', "b.toml"))


def test_unknown_suite_name_lists_the_suites():
    with pytest.raises(SuiteError, match=r"suite 'nope' not found; valid choices: .*default"):
        resolve_suite("nope")


def test_suite_names_resolve_to_repository_files():
    assert resolve_suite(None).name == "default.toml"
    assert resolve_suite("batch_sweep").name == "batch_sweep.toml"


# --- overrides ------------------------------------------------------------------------------


def test_overrides_replace_settings_and_estimators(tmp_path, applies_always):
    suite = load_suite(write(tmp_path, BASE))
    names = estimators.names()
    cells = plan(suite, Overrides(estimators=ALL, steps=3, seeds=(5,), batch_sizes=(4,),
                                  dtype="float64")).configs  # fmt: skip
    assert {c.estimator for c in cells} == set(names)
    trained = [c for c in cells if not estimators.is_sample(c.estimator)]
    assert {(c.n_steps, c.seed, c.batch_size, c.dtype) for c in trained} == {(3, 5, 4, "float64")}
    # sample estimators: the seed applies; steps/batch size do not (tests/train/test_sample_runs.py)
    assert {c.seed for c in cells} == {5}
    with pytest.raises(SuiteError, match=r"--steps: must be an integer >= 1, got 0"):
        plan(suite, Overrides(steps=0))
    with pytest.raises(SuiteError, match=r"--batch-sizes: must be an integer >= 2, got 1"):
        plan(suite, Overrides(batch_sizes=(1,)))
    with pytest.raises(SuiteError, match=r"unknown estimator 'nope'"):
        plan(suite, Overrides(estimators=("nope",)))


def test_task_override_by_name_selects_or_adds(tmp_path, applies_always):
    text = BASE.replace('tasks = [{ name = "gaussian", dim = 2, mi = [1, 2] }]',
                        'tasks = [{ name = "gaussian", dim = 2, mi = [1, 2] }, '
                        '{ name = "cubic", dim = 2, mi = 3 }]')  # fmt: skip
    suite = load_suite(write(tmp_path, text))
    assert {c.task for c in plan(suite).configs} == {"gaussian", "cubic"}
    assert {c.task for c in plan(suite, Overrides(tasks=("cubic",))).configs} == {"cubic"}
    added = plan(suite, Overrides(tasks=("asinh",))).configs
    assert {c.task for c in added} == {"asinh"}
    assert dict(added[0].task_params) == dict(tasks.get("asinh").defaults)
    with pytest.raises(SuiteError, match=r"unknown task 'nope'; valid choices"):
        plan(suite, Overrides(tasks=("nope",)))


def test_task_override_as_toml_tables(tmp_path, applies_always):
    suite = load_suite(write(tmp_path, BASE))
    entries = parse_task_option('{ name = "gaussian", dim = 3, mi = [0.5, 1.5] }')
    cells = plan(suite, Overrides(tasks=entries)).configs
    assert sorted({dict(c.task_params)["mi"] for c in cells}) == [0.5, 1.5]
    assert {dict(c.task_params)["dim"] for c in cells} == {3}
    with pytest.raises(SuiteError, match=r"mi must be .*>= 0"):
        plan(suite, Overrides(tasks=parse_task_option('{ name = "gaussian", mi = -1 }')))
    with pytest.raises(SuiteError, match=r"--tasks: .* is not a valid TOML"):
        parse_task_option("{ name = }")


def test_option_parsers():
    assert parse_task_option("gaussian, cubic") == ("gaussian", "cubic")
    assert parse_seeds_option("3") == 3
    assert parse_seeds_option("4,7") == (4, 7)
    assert parse_seeds_option("2-4") == (2, 3, 4)
    with pytest.raises(SuiteError, match=r"--seeds: invalid value 'x'; valid forms"):
        parse_seeds_option("x")


def test_default_suite_is_the_canonical_staircase_comparison():
    """Every registered estimator, 3 seeds; pair estimators on both staircases (Gaussian and
    cubic); the FlatNCE family on the bounded cosine critic (auto), SINCERE/SupCon on labels."""
    from mibench import estimators
    from mibench.plan.suite import load_suite, plan

    expanded = plan(load_suite(None))
    by_estimator: dict[str, set] = {}
    for config in expanded.configs:
        by_estimator.setdefault(config.estimator, set()).add(
            (config.task, dict(config.task_params).get("base"), config.critic, config.seed)
        )
    # every registered estimator but the grid's exclude list (the flow fits: their own suite)
    assert set(by_estimator) == set(estimators.names()) - {"flow"}
    for name in ("flatnce", "holder_flatnce", "infonce_drop"):
        assert {critic for _, _, critic, _ in by_estimator[name]} == {"cosine"}
    for name, cells in by_estimator.items():
        assert {seed for *_, seed in cells} == {0, 1, 2}, name
        spec = estimators.get(name)
        # Barber-Agakov needs H(Y) and sliced MI its sliced truth: both unknown for y^3
        if "entropy_y" in spec.needs or name == "sliced":
            assert {base for _, base, _, _ in cells} == {"gaussian"}, name
        elif spec.layout != "labels":
            assert {base for _, base, _, _ in cells} == {"gaussian", "cubic"}, name
    assert {t for t, *_ in by_estimator["sincere"]} == {"labeled_gaussians"}


def test_log_every_auto_logs_every_k_over_128th_step(tmp_path, applies_always):
    """``log_every = "auto"`` (the default) resolves per cell: every max(1, K // 128) steps, so the
    float64 train readout (one K x K pass per logged step) stays a small share of the step."""
    text = BASE.replace("batch_sizes = [8]", "batch_sizes = [8, 128, 256, 512, 1000]")
    by_k = {c.batch_size: c.log_every for c in plan(load_suite(write(tmp_path, text))).configs}
    assert by_k == {8: 1, 128: 1, 256: 2, 512: 4, 1000: 7}
    explicit = text.replace("steps = 10", "steps = 10\nlog_every = 3")
    assert {c.log_every for c in plan(load_suite(write(tmp_path, explicit))).configs} == {3}


def test_overrides_from_options_parse_what_was_typed():
    from mibench.plan.suite import overrides_from_options, parse_estimators_option

    assert overrides_from_options() == Overrides()
    overrides = overrides_from_options(estimators=" infonce, nwj ", tasks="gaussian", steps=9,
                                       seeds="1-3", batch_sizes="16,64", dtype="float64",
                                       device="cpu")  # fmt: skip
    assert overrides == Overrides(estimators=("infonce", "nwj"), tasks=("gaussian",), steps=9,
                                  seeds=(1, 2, 3), batch_sizes=(16, 64), dtype="float64",
                                  device="cpu")  # fmt: skip
    assert parse_estimators_option(" all ") == "all"
    with pytest.raises(SuiteError, match=r"--estimators: give 'all' or comma-separated"):
        parse_estimators_option(" , ")
    # Several bad options: the first one typed is the one reported.
    with pytest.raises(SuiteError, match="--seeds"):
        overrides_from_options(seeds="x", batch_sizes="y")


def test_suite_name_of_reads_the_name_without_validating(tmp_path):
    from mibench.plan.suite import suite_name_of

    named = tmp_path / "file.toml"
    named.write_text('[suite]\nname = "other"\nsteps = -1\n')  # invalid, but the name is there
    assert suite_name_of(named) == "other"
    unnamed = tmp_path / "plain.toml"
    unnamed.write_text("[suite]\nsteps = 5\n")
    assert suite_name_of(unnamed) == "plain"
    broken = tmp_path / "broken.toml"
    broken.write_text("[suite\n")
    assert suite_name_of(broken) == "broken"
    not_a_table = tmp_path / "flat.toml"
    not_a_table.write_text('suite = "x"\n')
    assert suite_name_of(not_a_table) == "flat"


def test_exclude_leaves_names_out_of_all_even_under_the_all_override() -> None:
    from mibench.plan.suite import Overrides, apply_overrides, parse_suite, plan

    document = {
        "suite": {"name": "ex", "steps": 4, "sample_size": 50},
        "grid": [
            {
                "estimators": "all",
                "exclude": ["flow", "kde"],
                "tasks": [{"name": "gaussian", "dim": 2, "mi": 1}],
            }
        ],
    }
    suite = parse_suite(document)
    names = {c.estimator for c in plan(suite).configs}
    assert "infonce" in names and not names & {"flow", "kde"}
    overridden = apply_overrides(suite, Overrides(estimators="all"))
    assert not {c.estimator for c in plan(overridden).configs} & {"flow", "kde"}


def test_exclude_names_are_checked() -> None:
    from mibench.plan.suite import SuiteError, parse_suite, plan

    document = {
        "suite": {"name": "ex"},
        "grid": [{"estimators": "all", "exclude": "flow", "tasks": ["gaussian"]}],
    }
    with pytest.raises(SuiteError, match=r"exclude: must be a list of estimator names"):
        parse_suite(document)
    document["grid"][0]["exclude"] = ["no_such_estimator"]
    with pytest.raises((SuiteError, ValueError), match="no_such_estimator"):
        plan(parse_suite(document))
