"""Self-predictive RL: the ZP loss and its targets, the collapse diagnostics, and the linear theorem."""

import statistics

import pytest
import torch
from torch import distributions as td

from anthology.methods.self_predictive import linear
from anthology.methods.self_predictive.losses import collapse_diagnostics, zp_loss
from anthology.methods.self_predictive.networks import Encoder, TransitionModel
from anthology.rl.td3 import td3_target_action


def _gaussian(mean, std):
    return td.Independent(td.Normal(mean, std), 1)


def test_zp_loss_is_zero_for_an_exact_latent_model_in_every_form():
    z = torch.randn(16, 4)
    assert zp_loss(z.clone(), z, "l2")[0].abs().max() == 0
    mean, std = torch.randn(16, 4), torch.rand(16, 4) + 0.1
    for form in ("fkl", "rkl"):
        assert zp_loss(_gaussian(mean, std), _gaussian(mean.clone(), std.clone()), form)[0].abs().max() < 1e-6
    assert zp_loss(z + 0.1, z, "l2")[0].min() > 0  # and positive when the model is off


def test_kl_forms_are_the_two_directions():
    p, q = _gaussian(torch.zeros(2, 3), torch.ones(2, 3)), _gaussian(torch.ones(2, 3), 2 * torch.ones(2, 3))
    torch.testing.assert_close(zp_loss(p, q, "fkl")[0], td.kl_divergence(q, p))
    torch.testing.assert_close(zp_loss(p, q, "rkl")[0], td.kl_divergence(p, q))
    with pytest.raises(ValueError, match="stochastic"):
        zp_loss(torch.zeros(2, 3), torch.zeros(2, 3), "fkl")


@pytest.mark.parametrize("target", ["ema", "detached", "online"])
def test_only_the_online_target_sends_gradient_through_the_next_state(target):
    torch.manual_seed(0)
    encoder, model = Encoder(5, (8,), 3), TransitionModel(3, 1, (8,), 3)
    ema = Encoder(5, (8,), 3).requires_grad_(False)
    obs, next_obs, action = torch.randn(10, 5), torch.randn(10, 5), torch.randn(10, 1)
    if target == "online":
        goal = encoder(next_obs)
    else:
        with torch.no_grad():
            goal = (ema if target == "ema" else encoder)(next_obs)
    (grad_obs,) = torch.autograd.grad(zp_loss(model(encoder(obs), action), goal, "l2")[0].sum(),
                                      encoder.body[0].weight, retain_graph=True)
    # the part of the encoder's gradient that comes from s' alone: with the s path cut
    goal_only = zp_loss(model(encoder(obs).detach(), action), goal, "l2")[0].sum()
    grads = torch.autograd.grad(goal_only, encoder.body[0].weight, allow_unused=True)[0]
    if target == "online":
        assert grads is not None and grads.abs().sum() > 0
    else:
        assert grads is None or grads.abs().sum() == 0
    assert all(p.grad is None for p in ema.parameters())  # the EMA encoder is never trained by gradient
    assert grad_obs.abs().sum() > 0


def test_the_rank_metric_flags_a_collapsed_batch():
    torch.manual_seed(0)
    healthy = collapse_diagnostics(torch.randn(64, 8))
    collapsed = collapse_diagnostics(torch.randn(64, 1) @ torch.randn(1, 8))  # every z on one line
    assert healthy["train/rank_0.001"] == 8 and collapsed["train/rank_0.001"] == 1
    assert collapsed["train/condition"] > 1e6 > healthy["train/condition"]


def test_smoothing_noise_is_clipped_and_actions_stay_in_the_box():
    generator = torch.Generator().manual_seed(0)
    mean = torch.zeros(10_000, 2)
    low, high = -torch.ones(2), torch.ones(2)
    action = td3_target_action(mean, 5.0, 0.3, low, high, generator)
    assert action.abs().max() <= 0.3 and action.abs().max() > 0.29  # std 5: nearly all draws hit the clip
    assert td3_target_action(mean + 0.9, 5.0, 0.3, low, high, generator).max() <= 1.0


def _random_mdp_records(target, seeds=(0, 1, 2)):
    cfg = linear.LinearConfig(task="random_mdp", log_every=500)
    data, counts = linear.stack_datasets([linear.make_dataset(cfg, s) for s in seeds])
    return linear.train_linear_encoder(cfg, data, counts, target, list(seeds))


@pytest.mark.parametrize("target", ["detached", "ema"])
def test_a_stopped_target_keeps_the_linear_encoders_gram_matrix(target):
    record = _random_mdp_records(target)
    # seeds 0-2 after 500 SGD steps: drift 1e-6 to 1e-4, |cos| about 2e-5 (discretisation of the flow)
    assert max(record["gram_drift"][-1]) < 1e-3
    assert max(record["cosine"][-1]) < 1e-3


def test_the_online_target_lets_the_linear_encoder_drift():
    record = _random_mdp_records("online")
    # seeds 0-2: drift 1.1-1.2 after 500 steps, median |cos| 6e-2 (20 seeds)
    assert min(record["gram_drift"][-1]) > 0.1
    assert statistics.median(record["cosine"][-1]) > 1e-3


@pytest.mark.learning
def test_td3_on_a_learned_encoder_learns_pendulum_in_4k_steps():
    from anthology.core.config import override
    from anthology.methods.self_predictive.config import PRESETS
    from anthology.methods.self_predictive.train import train

    curve = train(override(PRESETS["demo"], aux="none", seed=0)).curve
    # seeds 0-4 at the demo sizes: -1556 to -1351 at 2k steps (1k after the warm-up), -310 to -155 at 4k
    assert curve[0]["eval/return"] < -1000 and curve[-1]["eval/return"] > -500
