"""RLOO: leave-one-out advantages by hand, the clipped surrogate, and the fine-tuning loop."""

import copy

import numpy as np
import pytest
import torch

from anthology.rl.rloo import rloo_advantages, rloo_loss


def test_advantage_is_reward_minus_the_mean_of_the_others():
    rewards = torch.tensor([[1.0, 2.0, 3.0, 6.0], [0.5, 0.5, 0.5, 0.5]])
    # sample 0: 1 - (2 + 3 + 6) / 3 = -8/3; sample 3: 6 - (1 + 2 + 3) / 3 = 4
    expected = torch.tensor([[1 - 11 / 3, 2 - 10 / 3, 3 - 9 / 3, 6 - 6 / 3], [0.0, 0.0, 0.0, 0.0]])
    torch.testing.assert_close(rloo_advantages(rewards), expected)
    with pytest.raises(ValueError):
        rloo_advantages(torch.ones(3, 1))


def test_clipped_surrogate_stops_the_gradient_outside_the_trust_region():
    old = torch.zeros(3)
    new = torch.log(torch.tensor([1.0, 1.5, 0.5])).requires_grad_(True)
    advantages = torch.tensor([1.0, 1.0, -1.0])
    loss, info = rloo_loss(new, old, advantages, clip=0.2)
    # ratios 1, 1.5 (clipped to 1.2 for A > 0), 0.5 (clipped to 0.8 for A < 0): -(1 + 1.2 - 0.8) / 3
    assert loss.item() == pytest.approx(-(1.0 + 1.2 - 0.8) / 3)
    loss.backward()
    assert new.grad[1] == 0 and new.grad[2] == 0 and new.grad[0] == pytest.approx(-1 / 3)
    assert info["clip_fraction"] == pytest.approx(2 / 3)


def test_rloo_finetune_raises_the_reward_and_touches_only_the_trainable_parameters():
    """A tiny Llama rewarded for the share of token 5 in its continuation (1 in 10 at random)."""
    pytest.importorskip("transformers", reason="the llm extra is installed by make test")
    from anthology.nets.causal_lm import LMConfig, make_llama, mlp_parameters
    from anthology.rl.rloo import RLOOConfig, Sampling, rloo_finetune

    def run(trainable_of, steps, lr):
        torch.manual_seed(0)
        reference = make_llama(LMConfig(hidden=16, layers=2, heads=2, intermediate=32, max_length=16), 10, 0, 1, 2)
        policy, seen = copy.deepcopy(reference.eval()), []
        rloo_finetune(policy, reference, trainable_of(policy), RLOOConfig(steps=steps, prompts=8, k=4, lr=lr, beta=0.0),
                      Sampling(max_new_tokens=6, eos_id=2, pad_id=0), lambda n, _g: (torch.full((n, 1), 1), torch.zeros(n, 1)),
                      lambda tokens, _c: ((tokens == 5).float().mean(1), {}), torch.Generator().manual_seed(0),
                      lambda step, metrics: seen.append(metrics["reward"]))
        return policy, reference, seen

    _, _, seen = run(lambda m: list(m.parameters()), 20, 1e-2)
    # torch seeds 0..4: mean reward over the first 5 steps 0.13..0.19, over the last 5 0.991..0.998
    # (lr 1e-12: 0.07..0.10 and 0.07..0.09)
    assert np.mean(seen[-5:]) > 0.8 and np.mean(seen[:5]) < 0.3, seen
    policy, reference, _ = run(mlp_parameters, 2, 1e-2)
    moved = {n for n, p in policy.named_parameters() if not torch.equal(p, dict(reference.named_parameters())[n])}
    assert moved and all("mlp" in n for n in moved), moved
    assert all(p.requires_grad for p in policy.parameters())  # handed back fully trainable


def test_early_stop_waits_for_the_smoothed_reward_to_stall():
    from anthology.rl.rloo import EarlyStop

    rising = EarlyStop(patience=3, min_delta=0.1, smoothing=2)
    assert not any(rising(float(r)) for r in range(20))  # +1 a step: a new best every step
    flat = EarlyStop(patience=3, min_delta=0.1, smoothing=2)
    # smoothed: (-, 1.0, 1.025, 1.05, 1.075, 1.1): best 1.0 after step 2, then 3 steps within +0.1
    stops = [flat(r) for r in (1.0, 1.0, 1.05, 1.05, 1.1)]
    assert stops == [False, False, False, False, True]
    never = EarlyStop(patience=0, min_delta=0.1, smoothing=2)  # patience 0: the full budget
    assert not any(never(1.0) for _ in range(50))


def test_rloo_finetune_stops_early_on_a_reward_that_cannot_move():
    pytest.importorskip("transformers", reason="the llm extra is installed by make test")
    from anthology.nets.causal_lm import LMConfig, make_llama
    from anthology.rl.rloo import RLOOConfig, Sampling, rloo_finetune

    torch.manual_seed(0)
    reference = make_llama(LMConfig(hidden=16, layers=1, heads=2, intermediate=32, max_length=16), 10, 0, 1, 2)
    seen, policy = [], copy.deepcopy(reference.eval())
    cfg = RLOOConfig(steps=40, prompts=2, k=2, lr=1e-3, beta=0.0, patience=5, min_delta=0.01, smoothing=3)
    rloo_finetune(policy, reference, list(policy.parameters())[:1], cfg,
                  Sampling(max_new_tokens=3, eos_id=2, pad_id=0), lambda n, _g: (torch.full((n, 1), 1), torch.zeros(n, 1)),
                  lambda tokens, _c: (torch.zeros(len(tokens)), {}), torch.Generator().manual_seed(0),
                  lambda step, metrics: seen.append((step, metrics)))
    # a constant reward: the first smoothed value is the best, then 5 steps without a gain
    assert [s for s, _ in seen] == list(range(1, 9)) and seen[-1][1]["stopped_at"] == 8
    assert all("stopped_at" not in m for _, m in seen[:-1])
