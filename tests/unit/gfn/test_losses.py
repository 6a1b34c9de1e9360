"""Each loss is zero for exact flows; SubTB with TB weighting is TB; the n-losses are zero for the true n."""

import torch
from torch import nn

from anthology.envs.hypergrid import HyperGrid
from anthology.gfn.detailed_balance import detailed_balance_loss
from anthology.gfn.exact import (
    backward_log_probs,
    build_graph,
    soft_value_iteration,
    step_reward_from_backward,
)
from anthology.gfn.path_count import N_LOSSES, path_count_loss
from anthology.gfn.policy import PolicyOutput
from anthology.gfn.sampler import sample_trajectories, score_trajectories
from anthology.gfn.soft_q import soft_q_loss
from anthology.gfn.sub_trajectory_balance import pair_weights, sub_trajectory_balance_loss
from anthology.gfn.trajectory_balance import trajectory_balance_loss

ENV = HyperGrid(3, 5)
GRAPH = build_graph(ENV)


class TablePolicy(nn.Module):
    """Outputs looked up from exact tables by state index (the protocol of GFlowNetPolicy)."""

    def __init__(self, forward, backward, log_flow, log_n):
        super().__init__()
        self.tables = [t.float() for t in (forward, backward, log_flow, log_n)]

    def forward(self, x):
        idx = ENV.index(x.reshape(len(x), ENV.ndim, ENV.height).argmax(-1))
        return PolicyOutput(*(t[idx] for t in self.tables))


def _exact(kind="random"):
    log_pb = backward_log_probs(ENV, GRAPH, kind, seed=3)
    value, log_pi = soft_value_iteration(GRAPH, step_reward_from_backward(GRAPH, log_pb))
    log_pb = log_pb.clamp(min=-1e4)
    policy = TablePolicy(log_pi.clamp(min=-1e4), log_pb, value.clamp(min=-1e4), ENV.log_n(GRAPH.states).clamp(min=-1e4))
    trajs = sample_trajectories(ENV, policy, 64, torch.Generator().manual_seed(0))
    return trajs, score_trajectories(ENV, policy, trajs, "free"), float(value[0]), log_pi, value


def test_tb_db_subtb_are_zero_for_exact_flows():
    trajs, scores, log_z, _, _ = _exact()
    log_z = torch.tensor(log_z)
    reward = trajs.log_reward.float()
    tb, _ = trajectory_balance_loss(log_z, scores.log_pf, scores.log_pb, reward)
    db, _ = detailed_balance_loss(scores.log_flow, scores.log_pf, scores.log_pb, reward, trajs.valid, trajs.is_exit)
    subtb, _ = sub_trajectory_balance_loss(log_z, scores.log_flow, scores.log_pf, scores.log_pb, reward,
                                           trajs.lengths, lam=0.9)
    assert tb < 1e-9 and db < 1e-9 and subtb < 1e-9  # float32 rounding of ~10-term sums: ~1e-11 seen


def test_losses_are_positive_for_wrong_flows_and_subtb_with_tb_weighting_is_tb():
    trajs, scores, log_z, _, _ = _exact()
    reward = trajs.log_reward.float()
    wrong = torch.tensor(log_z + 0.5)
    tb, _ = trajectory_balance_loss(wrong, scores.log_pf, scores.log_pb, reward)
    assert abs(float(tb) - 0.25) < 1e-5
    noisy_flow = scores.log_flow + torch.randn(scores.log_flow.shape, generator=torch.Generator().manual_seed(1))
    as_tb, _ = sub_trajectory_balance_loss(wrong, noisy_flow, scores.log_pf, scores.log_pb, reward, trajs.lengths,
                                           weighting="tb")
    assert torch.allclose(as_tb, tb)
    db, _ = detailed_balance_loss(noisy_flow, scores.log_pf, scores.log_pb, reward, trajs.valid, trajs.is_exit)
    assert db > 0.1


def test_soft_q_loss_is_zero_for_the_exact_soft_q_function():
    trajs, scores, _, log_pi, value = _exact("uniform")
    q = (log_pi + value[:, None]).clamp(min=-1e4).float()  # Q(s, a) = log pi(a|s) + V(s)
    steps, batch = trajs.actions.shape
    idx = ENV.index(trajs.states.reshape(-1, ENV.ndim))
    q_traj = q[idx].reshape(steps + 1, batch, -1)
    fmask = ENV.forward_mask(trajs.states.reshape(-1, ENV.ndim)).reshape(steps + 1, batch, -1)
    loss, _ = soft_q_loss(q_traj, q_traj, fmask, trajs.actions, scores.log_pb, trajs.log_reward.float(),
                          trajs.valid, trajs.is_exit)
    assert loss < 1e-9
    naive, _ = soft_q_loss(q_traj, q_traj, fmask, trajs.actions, torch.zeros_like(scores.log_pb),
                           trajs.log_reward.float(), trajs.valid, trajs.is_exit)
    assert naive > 0.1  # the naive reward's fixed point is a different Q


def test_path_count_losses_are_zero_for_the_true_n_and_maxent_backward_policy():
    trajs, _, _, _, _ = _exact()
    maxent = backward_log_probs(ENV, GRAPH, "maxent").clamp(min=-1e4)
    policy = TablePolicy(torch.zeros(GRAPH.forward_mask.shape), maxent, torch.zeros(ENV.n_states),
                         ENV.log_n(GRAPH.states))
    scores = score_trajectories(ENV, policy, trajs, "maxent_learned")
    for kind in N_LOSSES:
        loss, _ = path_count_loss(scores.log_n, scores.log_pb_learned, trajs.lengths, kind)
        assert loss < 1e-9, kind
    wrong = scores.log_n + 0.3 * (scores.log_n != 0)  # log n off at every state but s0
    for kind in N_LOSSES:
        loss, _ = path_count_loss(wrong, scores.log_pb_learned, trajs.lengths, kind)
        assert loss > 1e-3, kind
    # each anchored loss sees exactly its own sub-trajectories: an error only at the last state before the
    # exit is invisible to a prefix ending earlier, and one only at an intermediate state is invisible to
    # the whole trajectory (tb) but not to the prefixes (starttb) or suffixes (termtb) through it
    last = torch.arange(wrong.shape[0])[:, None] == (trajs.lengths - 1)[None, :]
    inner = (torch.arange(wrong.shape[0])[:, None] > 0) & (torch.arange(wrong.shape[0])[:, None] < (trajs.lengths - 1)[None, :])
    assert inner.any()
    off_inner = scores.log_n + 0.3 * inner
    losses = {k: float(path_count_loss(off_inner, scores.log_pb_learned, trajs.lengths, k)[0]) for k in N_LOSSES}
    assert losses["tb"] < 1e-9 and min(losses["starttb"], losses["termtb"], losses["subtb"]) > 1e-3, losses
    off_last = scores.log_n + 0.3 * last
    losses = {k: float(path_count_loss(off_last, scores.log_pb_learned, trajs.lengths, k)[0]) for k in N_LOSSES}
    assert min(losses.values()) > 1e-4, losses


def test_anchored_pair_weights_keep_only_prefixes_or_suffixes():
    lengths = torch.tensor([3, 1])
    start, end = pair_weights(lengths, 4, 0.9, "start"), pair_weights(lengths, 4, 0.9, "end")
    for b, n in enumerate(lengths.tolist()):
        expected_start, expected_end = torch.zeros(4, 4), torch.zeros(4, 4)
        expected_start[0, 1:n + 1] = 1 / n  # s0 -> s_j for every j
        expected_end[:n, n] = 1 / n  # s_i -> s_n for every i
        torch.testing.assert_close(start[..., b], expected_start)
        torch.testing.assert_close(end[..., b], expected_end)
