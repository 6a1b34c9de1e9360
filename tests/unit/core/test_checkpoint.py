import json

import pytest
import torch
from torch import nn

from anthology.core.checkpoint import (
    load_checkpoint,
    load_training_state,
    save_checkpoint,
    save_training_state,
)


def test_nested_state_round_trips_exactly(tmp_path):
    state = {"step": 7, "name": "x", "pair": (1.5, None), "ints": {0: torch.arange(3), 1: [torch.ones(2, 2)]}}
    save_checkpoint(tmp_path / "ckpt", state)
    back = load_checkpoint(tmp_path / "ckpt")
    assert back["step"] == 7 and back["name"] == "x" and back["pair"] == (1.5, None)
    assert torch.equal(back["ints"][0], torch.arange(3)) and torch.equal(back["ints"][1][0], torch.ones(2, 2))


def test_checkpoint_holds_only_json_and_safetensors(tmp_path):
    save_checkpoint(tmp_path / "ckpt", {"w": torch.zeros(3)})
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == ["state.json", "tensors.safetensors"]
    json.loads((tmp_path / "ckpt" / "state.json").read_text())


def test_unsupported_objects_are_refused(tmp_path):
    with pytest.raises(TypeError, match="cannot checkpoint a object"):
        save_checkpoint(tmp_path / "ckpt", {"bad": object()})


def test_a_kill_between_renames_keeps_the_previous_checkpoint(tmp_path):
    save_checkpoint(tmp_path / "ckpt", {"step": 1})
    (tmp_path / "ckpt").rename(tmp_path / "ckpt.old")  # as if killed after moving the old one away
    assert load_checkpoint(tmp_path / "ckpt")["step"] == 1


def test_training_state_restores_model_optimizer_and_generators(tmp_path):
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    gen = torch.Generator().manual_seed(5)
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    save_training_state(tmp_path / "ckpt", 3, {"model": model, "optimizer": opt}, gen, {"best": 1.0})
    expected_draw, expected_global = torch.rand(2, generator=gen), torch.rand(2)

    model2 = nn.Linear(3, 2)
    opt2 = torch.optim.Adam(model2.parameters(), lr=0.1)
    gen2 = torch.Generator()
    step, extra = load_training_state(tmp_path / "ckpt", {"model": model2, "optimizer": opt2}, gen2)
    assert step == 3 and extra == {"best": 1.0}
    assert torch.equal(torch.rand(2, generator=gen2), expected_draw)
    assert torch.equal(torch.rand(2), expected_global)
    for a, b in zip(model.parameters(), model2.parameters()):
        assert torch.equal(a, b)
    assert torch.equal(opt.state_dict()["state"][0]["exp_avg"], opt2.state_dict()["state"][0]["exp_avg"])
