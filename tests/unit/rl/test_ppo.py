import torch

from anthology.rl.ppo import compute_gae, ppo_loss


def test_gae_of_a_sparse_terminal_reward_matches_the_hand_computation():
    # one 3-step episode, reward 1 at the end, gamma 1, lambda 0.5, values 0.2, 0.4, 0.6
    rewards = torch.tensor([[0.0], [0.0], [1.0]])
    values = torch.tensor([[0.2], [0.4], [0.6], [9.0]])  # the bootstrap row is ignored after the done
    dones = torch.tensor([[False], [False], [True]])
    adv, ret = compute_gae(rewards, values, dones, gamma=1.0, lam=0.5)
    d = [0.4 - 0.2, 0.6 - 0.4, 1.0 - 0.6]
    expected = [d[0] + 0.5 * d[1] + 0.25 * d[2], d[1] + 0.5 * d[2], d[2]]
    assert torch.allclose(adv[:, 0], torch.tensor(expected))
    assert torch.allclose(ret, adv + values[:-1])


def test_gae_with_lambda_one_gives_monte_carlo_returns():
    rewards = torch.tensor([[0.0, 2.0], [3.0, 0.0]])
    dones = torch.tensor([[False, True], [True, False]])
    values = torch.rand(3, 2)
    _, ret = compute_gae(rewards, values, dones, gamma=1.0, lam=1.0)
    assert torch.allclose(ret[:, 0], torch.tensor([3.0, 3.0])) and ret[0, 1] == 2.0


def test_clipped_ratio_gets_no_policy_gradient():
    log_prob = torch.tensor([0.5, 0.01], requires_grad=True)  # ratios e^0.5 (outside 1.2) and ~1.01
    loss, info = ppo_loss(log_prob, torch.zeros(2), torch.ones(2), torch.zeros(2), torch.zeros(2),
                          torch.zeros(2), clip=0.2, entropy_coef=0.0)
    loss.backward()
    assert log_prob.grad[0] == 0 and log_prob.grad[1] < 0 and float(info["train/clip_fraction"]) == 0.5
