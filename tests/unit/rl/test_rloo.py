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
