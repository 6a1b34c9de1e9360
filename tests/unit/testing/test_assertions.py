"""The shared assertions themselves: each must fail on the broken fake it exists to catch."""

import pytest
import torch

from anthology.core.claims import mean_difference_exceeds_se, summarize, wins_on_every_seed
from anthology.testing import assert_all_parameters_change, assert_deterministic


def _run(seed: int) -> dict:
    g = torch.Generator().manual_seed(seed)
    return {"method": "fake", "seed": seed, "eval/return": float(torch.rand(1, generator=g))}


def test_deterministic_accepts_a_seeded_run():
    assert_deterministic(_run)


def test_deterministic_rejects_a_run_that_ignores_its_seed():
    # only the config echo `seed` differs between seeds: the old check passed this
    with pytest.raises(AssertionError, match="is the seed used"):
        assert_deterministic(lambda seed: {**_run(0), "seed": seed})


def test_deterministic_rejects_a_run_whose_only_change_is_a_diagnostic():
    with pytest.raises(AssertionError, match="is the seed used"):
        assert_deterministic(lambda seed: {**_run(0), "train/loss": float(seed)})


def test_deterministic_rejects_an_unrepeatable_run():
    calls = iter(range(10))
    with pytest.raises(AssertionError, match="summaries differ"):
        assert_deterministic(lambda seed: {"eval/return": float(next(calls))})


def test_deterministic_needs_an_evaluation_metric():
    with pytest.raises(AssertionError, match="no numeric evaluation metric"):
        assert_deterministic(lambda seed: {"seed": seed, "loss": 1.0})


def test_all_parameters_change_catches_a_detached_layer():
    net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1))
    opt = torch.optim.SGD(net.parameters(), lr=0.1)

    def update():  # the first layer's output is detached: it never receives a gradient
        loss = net[1](net[0](torch.ones(1, 2)).detach()).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()

    with pytest.raises(AssertionError, match=r"did not change: \['0.weight', '0.bias'\]"):
        assert_all_parameters_change(net, update)


def test_per_seed_rules_pair_by_seed():
    a = summarize("s", "method", "m", [3.0, 2.0, 5.0])
    b = summarize("s", "baseline", "m", [2.0, 2.5, 1.0])  # a wins on the mean, loses seed 1
    assert not wins_on_every_seed(a, b)
    assert mean_difference_exceeds_se(a, b)  # differences 1, -0.5, 4: mean 1.5 > se 1.32
    assert wins_on_every_seed(a, [1.0])  # a seed-free reference is paired with every seed
    assert not mean_difference_exceeds_se([1.0, 1.1, 0.9], [1.0, 1.0, 1.0])  # mean difference 0
    assert wins_on_every_seed([1.0, 2.0], [2.0, 3.0], higher_is_better=False)
    with pytest.raises(ValueError, match="cannot pair values per seed"):
        wins_on_every_seed([1.0, 2.0], [1.0, 2.0, 3.0])
