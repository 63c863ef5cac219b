"""Nested states (mibench.train.trees): every tensor leaf handled, containers rebuilt as they were."""

from __future__ import annotations

import torch

from mibench.train import trees


def _state() -> dict:
    return {"a": torch.arange(3.0), "b": (torch.ones(2, 2), [torch.zeros(1), 7]), "c": None}


def test_map_tensors_rebuilds_the_containers_and_passes_other_leaves_through() -> None:
    out = trees.map_tensors(lambda t: t + 1, _state())
    assert torch.equal(out["a"], torch.tensor([1.0, 2.0, 3.0]))
    assert isinstance(out["b"], tuple) and isinstance(out["b"][1], list)
    assert torch.equal(out["b"][1][0], torch.ones(1)) and out["b"][1][1] == 7 and out["c"] is None


def test_clone_and_detach_give_independent_or_gradient_free_leaves() -> None:
    state = _state()
    copy = trees.clone(state)
    state["a"].add_(10.0)  # in place: the clone must not see it
    assert torch.equal(copy["a"], torch.arange(3.0))
    leaf = torch.ones(2, requires_grad=True)
    assert not trees.detach({"x": leaf * 2})["x"].requires_grad


def test_stack_steps_adds_a_leading_step_axis_leaf_by_leaf() -> None:
    steps = [{"m": torch.full((2,), float(i)), "n": (torch.tensor(i),)} for i in range(3)]
    stacked = trees.stack_steps(steps)
    assert torch.equal(stacked["m"], torch.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]))
    assert torch.equal(stacked["n"][0], torch.tensor([0, 1, 2]))


def test_where_runs_selects_per_run_along_the_leading_axis() -> None:
    new = {"w": torch.ones(3, 2, 2), "t": (torch.ones(3),)}
    old = {"w": torch.zeros(3, 2, 2), "t": (torch.zeros(3),)}
    keep = torch.tensor([True, False, True])
    out = trees.where_runs(keep, new, old)
    assert out["w"][:, 0, 0].tolist() == [1.0, 0.0, 1.0]
    assert out["t"][0].tolist() == [1.0, 0.0, 1.0]
    assert trees.where_runs(keep, new, None) is new  # no state yet: the new one
    assert trees.to_device(new, torch.device("cpu"))["w"].device.type == "cpu"
