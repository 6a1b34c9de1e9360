import math

import torch

from anthology.rl.distributions import bound_log_std, sample_squashed, squashed_log_prob
from anthology.rl.temperature import (
    box_entropy_range,
    decoupled_entropy_target,
    sac_entropy_target,
    static_box_temperature,
    static_discrete_temperature,
)


def test_squashed_density_matches_the_change_of_variables_and_integrates_to_one():
    mean, log_std, scale = torch.tensor([[0.3]]), torch.tensor([[-0.2]]), torch.tensor([2.0])
    # density of a on (-2, 2) by the formula, integrated numerically
    a = torch.linspace(-1.999, 1.999, 40001)[:, None]
    u = torch.atanh(a / scale)
    density = squashed_log_prob(u, mean.expand_as(u), log_std.expand_as(u), scale).exp()
    assert abs(float(torch.trapezoid(density, a[:, 0])) - 1.0) < 1e-3
    # against an explicit Jacobian: p(a) = N(u) / |da/du|, da/du = scale (1 - tanh(u)^2)
    u0 = torch.tensor([[0.7]])
    normal = torch.distributions.Normal(mean, log_std.exp()).log_prob(u0)
    expected = normal - torch.log(scale * (1 - torch.tanh(u0) ** 2))
    assert torch.allclose(squashed_log_prob(u0, mean, log_std, scale), expected[:, 0], atol=1e-6)


def test_rescaling_actions_by_s_shifts_log_prob_by_d_log_s():
    d, s = 6, 4.0
    mean, log_std = torch.randn(5, d), torch.randn(5, d) * 0.1
    gen = torch.Generator().manual_seed(0)
    unit = sample_squashed(mean, log_std, torch.ones(d), torch.zeros(d), gen)
    gen = torch.Generator().manual_seed(0)
    scaled = sample_squashed(mean, log_std, torch.full((d,), s), torch.zeros(d), gen)
    assert torch.allclose(scaled.action, s * unit.action)
    assert torch.allclose(unit.log_prob - scaled.log_prob, torch.full((5,), d * math.log(s)), atol=1e-5)


def test_log_std_is_bounded():
    out = bound_log_std(torch.tensor([-100.0, 0.0, 100.0]))
    assert torch.allclose(out, torch.tensor([-5.0, -1.5, 2.0]))
    assert torch.allclose(bound_log_std(torch.tensor([-100.0, 0.0, 100.0]), -3.0), torch.tensor([-3.0, -0.5, 2.0]))


def test_temperature_formulas_give_the_notes_numbers_for_a_6d_unit_box():
    low, high = -torch.ones(6), torch.ones(6)
    h_max, h_min = box_entropy_range(low, high)
    assert abs((h_max - h_min) - 45.61) < 0.01  # 6 log 2 - 6 log 1e-3
    assert abs(static_box_temperature(0.25, low, high) - 0.00548) < 1e-5
    assert abs(decoupled_entropy_target(low, high, 0.1) - (-36.89)) < 0.01
    assert sac_entropy_target(6) == -6.0


def test_discrete_static_temperature_divides_by_log_actions_with_a_clamp():
    tau = static_discrete_temperature(0.4, torch.tensor([2, 3, 12]))
    assert torch.allclose(tau, torch.tensor([0.4, 0.4 / math.log(3), 0.4 / math.log(12)], dtype=torch.float64))
