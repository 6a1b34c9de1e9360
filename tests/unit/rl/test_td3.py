import copy

import pytest
import torch

from anthology.nets.ensemble import EnsembleLayerNorm
from anthology.rl.actor_critic import DeterministicActor, QEnsemble
from anthology.rl.replay_buffer import Batch, ReplayBuffer
from anthology.rl.td3 import (
    TD3Learner,
    add_exploration_noise,
    linear_schedule,
    td3_actor_loss,
    td3_critic_loss,
    td3_critic_target,
    td3_target_action,
    td3_update,
)

OBS_DIM, ACTION_DIM, HIDDEN = 3, 2, (16, 16)
LOW, HIGH = torch.tensor([-1.0, 0.0]), torch.tensor([1.0, 2.0])  # an asymmetric box
# tau is large here so that a wrong Polyak coefficient moves the targets by far more than float error
HYPER = {"gamma": 0.9, "policy_delay": 2, "target_noise": 0.2, "noise_clip": 0.5, "tau": 0.25}


def make_learner(seed: int = 0, lr: float = 1e-3, optimizer: type[torch.optim.Optimizer] = torch.optim.Adam,
                 critic_lr: float | None = None) -> TD3Learner:
    """Targets are initialised independently of the online networks (not copies) so that a Polyak step is
    visible in every parameter."""
    torch.manual_seed(seed)
    actor, target_actor = DeterministicActor(OBS_DIM, LOW, HIGH, HIDDEN), DeterministicActor(OBS_DIM, LOW, HIGH, HIDDEN)
    critic = QEnsemble(OBS_DIM, ACTION_DIM, HIDDEN, layer_norm=True)
    target_critic = QEnsemble(OBS_DIM, ACTION_DIM, HIDDEN, layer_norm=True)
    return TD3Learner(actor, target_actor, critic, target_critic, optimizer(actor.parameters(), lr=lr),
                      optimizer(critic.parameters(), lr=lr if critic_lr is None else critic_lr))


def make_batch(size: int = 32) -> Batch:
    gen = torch.Generator().manual_seed(123)
    buffer = ReplayBuffer(64, OBS_DIM, ACTION_DIM)
    n = 64
    buffer.add(torch.randn(n, OBS_DIM, generator=gen), LOW + (HIGH - LOW) * torch.rand(n, ACTION_DIM, generator=gen),
               torch.randn(n, generator=gen), torch.randn(n, OBS_DIM, generator=gen),
               torch.rand(n, generator=gen) < 0.2)
    return buffer.sample(size, gen)


def snapshot(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def changed(before: list[torch.Tensor], module: torch.nn.Module) -> list[bool]:
    return [not torch.equal(b, p) for b, p in zip(before, module.parameters(), strict=True)]


def test_smoothing_noise_never_exceeds_the_clip_and_target_action_stays_in_the_box():
    gen = torch.Generator().manual_seed(0)
    centre = ((LOW + HIGH) / 2).expand(10_000, ACTION_DIM)  # 0.5 and more from every face: only the clip acts
    smoothed = td3_target_action(centre, target_noise=1.0, noise_clip=0.3, low=LOW, high=HIGH, generator=gen)
    noise = smoothed - centre
    assert float(noise.abs().max()) <= 0.3 + 1e-6
    assert float(noise.abs().max()) >= 0.3 - 1e-6  # with sigma = 1 most draws are clipped, so the bound is reached
    near_high = (HIGH - 0.05).expand(10_000, ACTION_DIM)  # a wide clip: only the box acts
    smoothed = td3_target_action(near_high, target_noise=1.0, noise_clip=10.0, low=LOW, high=HIGH, generator=gen)
    assert bool(((smoothed >= LOW) & (smoothed <= HIGH)).all())
    assert bool((smoothed == HIGH).any()) and bool((smoothed < near_high).any())  # clipped at the face; noisy


def test_exploration_noise_has_the_scheduled_std_and_stays_in_the_box():
    gen = torch.Generator().manual_seed(0)
    wide_low, wide_high = torch.full((ACTION_DIM,), -100.0), torch.full((ACTION_DIM,), 100.0)
    std = linear_schedule(50_000, init=1.0, final=0.1, duration=100_000)
    noisy = add_exploration_noise(torch.zeros(20_000, ACTION_DIM), std, wide_low, wide_high, gen)
    # the standard error of a sample std from 20k draws is std / sqrt(2 * 20k) = 0.5 %; allow 3 %
    assert noisy.std().item() == pytest.approx(0.55, rel=0.03)
    clipped = add_exploration_noise(torch.zeros(20_000, ACTION_DIM), 1.0, wide_low, wide_high, gen, noise_clip=0.3)
    assert float(clipped.abs().max()) <= 0.3 + 1e-6
    in_box = add_exploration_noise(HIGH.expand(1000, ACTION_DIM), 1.0, LOW, HIGH, gen)
    assert bool(((in_box >= LOW) & (in_box <= HIGH)).all())


def test_exploration_std_decays_linearly_from_init_to_final_over_the_duration():
    def schedule(step: int) -> float:
        return linear_schedule(step, init=1.0, final=0.1, duration=100_000)

    assert schedule(0) == 1.0
    assert schedule(25_000) == pytest.approx(0.775)
    assert schedule(100_000) == pytest.approx(0.1) and schedule(1_000_000) == pytest.approx(0.1)


def test_critic_target_uses_the_smaller_critic_and_stops_at_termination():
    next_q = torch.tensor([[1.0, 2.0, 4.0], [0.5, 3.0, 5.0]])  # the minimum is critic 2's, then critic 1's
    y = td3_critic_target(torch.tensor([1.0, 1.0, 1.0]), torch.tensor([False, True, False]), next_q, gamma=0.9)
    assert torch.allclose(y, torch.tensor([1.0 + 0.9 * 0.5, 1.0, 1.0 + 0.9 * 4.0]))


def test_critic_loss_is_squared_error_summed_over_critics_and_actor_loss_is_minus_q():
    loss, _ = td3_critic_loss(torch.tensor([[1.0, 1.0], [2.0, 0.0]]), torch.tensor([0.0, 0.0]))
    assert torch.isclose(loss, torch.tensor(1.0 + 2.0))
    loss, info = td3_actor_loss(torch.tensor([1.0, 3.0]))
    assert torch.isclose(loss, torch.tensor(-2.0)) and info["train/loss_actor"] == -2.0


def test_actor_and_targets_step_every_policy_delay_updates_while_critics_step_every_update():
    learner, batch = make_learner(), make_batch()
    gen = torch.Generator().manual_seed(0)
    for step in range(4):
        actor, critic = snapshot(learner.actor), snapshot(learner.critic)
        target_actor, target_critic = snapshot(learner.target_actor), snapshot(learner.target_critic)
        info = td3_update(learner, batch, step=step, generator=gen, **HYPER)
        assert all(changed(critic, learner.critic))  # every critic parameter, LayerNorm gains included
        if step % 2 == 0:
            assert all(changed(actor, learner.actor)) and "train/loss_actor" in info
            for online, target, before in ((learner.actor, learner.target_actor, target_actor),
                                           (learner.critic, learner.target_critic, target_critic)):
                for p, t, b in zip(online.parameters(), target.parameters(), before, strict=True):
                    torch.testing.assert_close(t, (1 - HYPER["tau"]) * b + HYPER["tau"] * p)
        else:
            assert not any(changed(actor, learner.actor)) and "train/loss_actor" not in info
            assert not any(changed(target_actor, learner.target_actor))
            assert not any(changed(target_critic, learner.target_critic))


def test_actor_ascends_the_first_critic_only():
    # the critics are frozen (lr 0) and the actor takes one plain gradient step (SGD, lr 1), so its change is
    # minus the gradient of the actor loss, which must be that of -Q_1, not of -min_j Q_j or -Q_2
    learner, batch = make_learner(lr=1.0, optimizer=torch.optim.SGD, critic_lr=0.0), make_batch()
    expected = {}
    for name, pick in (("q1", lambda q: q[0]), ("min", lambda q: q.min(0).values), ("q2", lambda q: q[1])):
        probe = copy.deepcopy(learner.actor)
        (-pick(learner.critic(batch.obs, probe(batch.obs))).mean()).backward()
        expected[name] = [-p.grad for p in probe.parameters()]
    before = snapshot(learner.actor)
    td3_update(learner, batch, step=0, generator=torch.Generator().manual_seed(0), **HYPER)
    step = [p.detach() - b for p, b in zip(learner.actor.parameters(), before, strict=True)]
    for s, e in zip(step, expected["q1"], strict=True):
        torch.testing.assert_close(s, e)
    assert not all(torch.allclose(s, e) for s, e in zip(step, expected["min"], strict=True))
    assert not all(torch.allclose(s, e) for s, e in zip(step, expected["q2"], strict=True))


def test_same_seed_gives_identical_updates_and_another_seed_differs():
    def run(seed: int) -> list[torch.Tensor]:
        learner, batch, gen = make_learner(), make_batch(), torch.Generator().manual_seed(seed)
        for step in range(3):
            td3_update(learner, batch, step=step, generator=gen, **HYPER)
        return [*snapshot(learner.actor), *snapshot(learner.critic), *snapshot(learner.target_critic)]

    first, again, other = run(0), run(0), run(1)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(first, other, strict=True))


def test_deterministic_actor_maps_onto_the_box():
    torch.manual_seed(0)
    actor = DeterministicActor(OBS_DIM, LOW, HIGH, HIDDEN)
    with torch.no_grad():
        actor.body[-1].bias.fill_(100.0)  # saturate tanh: the actor's action is the box's upper face
    action = actor(torch.randn(5, OBS_DIM))
    assert action.shape == (5, ACTION_DIM) and torch.allclose(action, HIGH.expand(5, ACTION_DIM))


def test_layer_norm_critics_hold_layer_norms_and_the_default_critic_is_a_plain_relu_mlp():
    torch.manual_seed(0)
    plain = QEnsemble(OBS_DIM, ACTION_DIM, HIDDEN)
    torch.manual_seed(0)
    normed = QEnsemble(OBS_DIM, ACTION_DIM, HIDDEN, layer_norm=True)
    assert sum(isinstance(m, EnsembleLayerNorm) for m in normed.modules()) == len(HIDDEN)
    assert not any(isinstance(m, EnsembleLayerNorm | torch.nn.LayerNorm) for m in plain.modules())
    # without the flag: the same parameters as before LayerNorm existed, and Q = W3 relu(W2 relu(W1 x + b1) + b2) + b3
    assert set(plain.state_dict()) == {f"net.layers.{i}.{k}" for i in range(3) for k in ("weight", "bias")}
    obs, action = torch.randn(7, OBS_DIM), torch.rand(7, ACTION_DIM)
    x = torch.cat([obs, action], dim=-1).expand(2, 7, OBS_DIM + ACTION_DIM)
    for i, layer in enumerate(plain.net.layers):
        x = x @ layer.weight + layer.bias
        x = torch.relu(x) if i < 2 else x
    torch.testing.assert_close(plain(obs, action), x[..., 0])
    # LayerNorm draws no random numbers: the same seed gives the same linear weights with or without it
    for a, b in zip(plain.net.layers.parameters(), normed.net.layers.parameters(), strict=True):
        assert torch.equal(a, b)
    assert not torch.allclose(plain(obs, action), normed(obs, action))


def test_a_single_critic_member_gives_its_slice_of_the_ensemble():
    torch.manual_seed(0)
    obs, action = torch.randn(6, OBS_DIM), torch.rand(6, ACTION_DIM)
    for layer_norm in (False, True):
        critic = QEnsemble(OBS_DIM, ACTION_DIM, HIDDEN, layer_norm=layer_norm)
        with torch.no_grad():  # members that differ in every parameter, LayerNorm's included
            for p in critic.parameters():
                p.add_(torch.randn_like(p))
        both = critic(obs, action)
        for j in range(2):
            torch.testing.assert_close(critic.member(j, obs, action), both[j])
