"""DemP: the one-cycle schedule, the regularisers, live-unit noise, dying units, and the baselines' removals."""

import dataclasses
import math

import pytest
import torch

from anthology.core.errors import AnthologyError
from anthology.methods.demp import PRESETS, REPRODUCE_PRESETS, judge, reproduce
from anthology.methods.demp.losses import (
    REGULARISERS,
    add_live_noise,
    one_cycle,
    regulariser,
    regulariser_grad,
)
from anthology.methods.demp.train import smallest_units, train, update
from anthology.vision.models import MLP, SmallCNN, unit_layers

TINY = PRESETS["tiny"]


def test_one_cycle_values_at_0_03t_and_t_are_optax_defaults():
    peak, total = 2.0, 1000
    assert one_cycle(0, total, peak) == pytest.approx(peak / 25)
    assert one_cycle(300, total, peak) == pytest.approx(peak)
    assert one_cycle(1000, total, peak) == pytest.approx(peak / 25 / 1e4)
    assert one_cycle(5000, total, peak) == pytest.approx(peak / 25 / 1e4)  # held after T
    # cosine shapes: half way up at 0.15 T, half way down at 0.65 T
    assert one_cycle(150, total, peak) == pytest.approx((peak + peak / 25) / 2)
    assert one_cycle(650, total, peak) == pytest.approx((peak + peak / 25e4) / 2)


@pytest.mark.parametrize("kind", REGULARISERS)
def test_each_regulariser_gradient_is_the_gradient_of_its_value(kind):
    torch.manual_seed(0)
    p = torch.randn(7, 5, requires_grad=True)
    (grad,) = torch.autograd.grad(regulariser(kind, [p]), p)
    torch.testing.assert_close(regulariser_grad(kind, p.detach()), grad)
    if kind.startswith("cdg"):  # the positive-part forms leave negative weights alone
        assert torch.all(grad[p.detach() < 0] == 0)


def test_noise_touches_only_live_entries():
    p = torch.zeros(4, 3)
    live = torch.tensor([[True, False, True]] * 4)
    add_live_noise([p], [live], 1.0, torch.Generator().manual_seed(0))
    assert torch.all(p[:, 1] == 0) and torch.all(p[:, [0, 2]] != 0)


def test_a_demp_step_gives_no_noise_to_a_dead_unit_nor_to_its_outgoing_weights():
    """A unit forced dead (pre-activation -100 everywhere) gets no noise: neither its incoming weights nor the next
    layer's weights from it move, while live weights do (lr 1e-12: the noise, std 0.1, is all that moves them)."""
    torch.manual_seed(0)
    cfg = dataclasses.replace(TINY, reg_lambda=0.0, noise_eta=0.1, lr=1e-12)
    model = MLP((1, 8, 8), (8, 8), 10)
    first, second = (layer.producer for layer in unit_layers(model))
    with torch.no_grad():
        first.weight[0] = 0.0
        first.bias[0] = -100.0
    before = [p.detach().clone() for p in (first.weight, first.bias, second.weight)]
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    x, y, generator = torch.randn(32, 1, 8, 8), torch.randint(0, 10, (32,)), torch.Generator().manual_seed(0)
    for step in range(3):
        update(cfg, model, optimizer, x, y, step, 10, generator)
    assert torch.equal(first.weight[0], before[0][0]) and first.bias[0] == before[1][0]
    assert torch.equal(second.weight[:, 0], before[2][:, 0])
    assert (first.weight[1:] - before[0][1:]).abs().max() > 1e-3 and (second.weight[:, 1:] - before[2][:, 1:]).abs().max() > 1e-3


def test_a_high_learning_rate_kills_units_within_a_few_hundred_steps():
    """Adam at lr 1e-1 on digits, no regulariser, no noise: within 207 steps (9 epochs of 23) most units die; at
    lr 1e-3 almost none do. Seeds 0-4: dead fraction 0.65-0.91 at lr 1e-1, 0.02-0.06 at lr 1e-3."""
    cfg = dataclasses.replace(TINY, method="constant", reg_lambda=0.0, noise_eta=0.0, hidden=(64, 64), epochs=9,
                              batch_size=64, prune_every=200, death_fraction=1.0)
    high = train(dataclasses.replace(cfg, lr=1e-1)).summary
    low = train(dataclasses.replace(cfg, lr=1e-3)).summary
    assert high["eval/neuron_sparsity"] > 0.3
    assert low["eval/neuron_sparsity"] < 0.1


def test_magnitude_baseline_removes_its_target_fraction_of_units_once():
    result = train(dataclasses.replace(TINY, method="magnitude", target_sparsity=0.5, epochs=4, prune_at=0.6))
    assert result.summary["eval/neuron_sparsity"] == pytest.approx(0.5)
    # 23 steps an epoch: the removal at step int(0.6 * 92) = 55 falls in the third epoch
    assert [e["eval/neuron_sparsity"] for e in result.curve] == pytest.approx([0.0, 0.0, 0.5, 0.5])


def test_smallest_units_rank_by_incoming_l1_and_by_batch_norm_scale():
    torch.manual_seed(0)
    mlp = MLP((1, 4, 4), (8,), 3)
    with torch.no_grad():
        mlp.body[1].producer.weight.mul_(torch.arange(1, 9, dtype=torch.float)[:, None])
        mlp.body[1].producer.bias.zero_()
    assert sorted(smallest_units(mlp, 0.25, "magnitude")[0].tolist()) == [0, 1]
    cnn = SmallCNN((1, 8, 8), (4,), 6, 3, batch_norm=True)
    with torch.no_grad():
        for layer, scales in zip(unit_layers(cnn), ([0.5, -0.01, 2.0, 0.02], [1, 2, 3, 4, 5, 0.001]), strict=True):
            layer.norm.weight.copy_(torch.tensor(scales))
    picked = smallest_units(cnn, 0.3, "slimming")  # the 3 smallest |γ| of 10, across layers
    assert [sorted(p.tolist()) for p in picked] == [[1, 3], [5]]


def test_configs_refuse_slimming_and_bn_scale_without_batch_norm():
    with pytest.raises(AnthologyError, match="batch-norm"):
        dataclasses.replace(TINY, method="slimming")
    with pytest.raises(AnthologyError, match="BatchNorm"):
        dataclasses.replace(TINY, regularised="bn_scale")


def test_tiny_reproduction_judges_its_own_table(tmp_path):
    claim = reproduce("tiny", root=tmp_path)
    rcfg = REPRODUCE_PRESETS["tiny"]
    assert (claim.holds, claim.evidence) == judge(rcfg, claim.table)
    variants = {(r.setting, r.variant) for r in claim.table}
    assert ("cnn", "slimming s=0.5") in variants and ("mlp", "magnitude s=0.5") in variants
    assert all(math.isfinite(v) for r in claim.table for v in r.values)
