"""R2D2 chunk replay: burn-in windows, n-step targets and the ring's forgetting of old episodes."""

import numpy as np
import pytest
import torch

from anthology.rl.sequence_replay import SequenceReplay

GAMMA = 0.9


def episode(steps: int, base: float = 0.0, hidden_dim: int = 3):
    """obs row i = [base + i], action i = i % 2, reward i = i + 1, hidden before row i = [base + i] * Z."""
    obs = (base + np.arange(steps + 1, dtype=np.float32))[:, None]
    hidden = np.repeat((base + np.arange(steps + 1, dtype=np.float32))[:, None, None], 2, 1).repeat(hidden_dim, 2)
    return obs, np.arange(steps) % 2, np.arange(1, steps + 1, dtype=np.float32), hidden


def make(capacity=100, burn_in=3, learn_len=4, n_step=2):
    return SequenceReplay(capacity, 1, 2, 3, burn_in, learn_len, n_step, GAMMA)


def test_inputs_carry_previous_action_and_reward():
    replay = make()
    obs, actions, rewards, hidden = episode(5)
    replay.add_episode(obs, actions, rewards, True, hidden)
    rows = replay.inputs(np.arange(6))
    assert rows[0].tolist() == [0.0, 0.0, 0.0, 0.0]  # o_0, no previous action, r_{-1} = 0
    assert rows[3].tolist() == [3.0, 1.0, 0.0, 3.0]  # o_3, a_2 = 0 one-hot, r_2 = 3


def test_chunks_burn_in_and_n_step_targets():
    replay = make()
    obs, actions, rewards, hidden = episode(7)
    replay.add_episode(obs, actions, rewards, True, hidden)
    assert replay.chunks == [0, 4]
    replay.chunks, replay.chunk_episode = [4], [0]  # sample the second chunk only
    b = replay.sample(1, torch.Generator().manual_seed(0))
    assert b.burn_in_len.tolist() == [3]
    assert b.burn_in[0, :, 0].tolist() == [1.0, 2.0, 3.0]  # the rows before the chunk
    assert b.hidden[0][0, 0].item() == 1.0  # the stored state before the first burn-in row
    assert b.learn_rows.tolist() == [4] and b.steps.tolist() == [3]  # rows o_4..o_7, steps 4, 5, 6
    assert b.learn[0, :4, 0].tolist() == [4.0, 5.0, 6.0, 7.0]
    assert b.action[0, :3].tolist() == [0, 1, 0]
    # step 4: r_4 + g r_5 bootstraps row 6 (two steps on); step 5's two steps reach the terminal o_7,
    # so it does not bootstrap; step 6 is the last: r_6 alone, terminated
    assert b.nstep_return[0, :3].tolist() == pytest.approx([5 + GAMMA * 6, 6 + GAMMA * 7, 7.0])
    assert b.bootstrap_row[0, :3].tolist() == [2, 3, 3]
    assert b.discount[0, :3].tolist() == pytest.approx([GAMMA**2, 0.0, 0.0])
    assert b.valid[0].tolist() == [True, True, True, False]
    assert b.aux_valid[0].tolist() == [True, True, False, False]  # no auxiliary target past the last step
    assert b.next_obs[0, :3, 0].tolist() == [5.0, 6.0, 7.0]


def test_a_time_out_bootstraps_from_the_final_observation():
    replay = make()
    obs, actions, rewards, hidden = episode(7)
    replay.add_episode(obs, actions, rewards, False, hidden)
    replay.chunks, replay.chunk_episode = [4], [0]
    b = replay.sample(1, torch.Generator().manual_seed(0))
    assert b.discount[0, 2].item() == pytest.approx(GAMMA)  # the last step bootstraps o_7's value


def test_first_chunk_has_no_burn_in_and_starts_from_the_stored_state():
    replay = make()
    obs, actions, rewards, hidden = episode(3, base=10.0)
    replay.add_episode(obs, actions, rewards, True, hidden)
    b = replay.sample(2, torch.Generator().manual_seed(0))
    assert b.burn_in_len.tolist() == [0, 0]
    assert torch.all(b.burn_in == 0)
    assert b.hidden[0][:, 0].tolist() == [10.0, 10.0]


def test_ring_forgets_overwritten_episodes_only():
    replay = make(capacity=12)
    for k in range(3):  # 6 rows each: the third overwrites the first
        replay.add_episode(*episode(5, base=100.0 * k)[:3], True, episode(5, base=100.0 * k)[3])
    assert len(replay) == 4 and replay.chunk_episode == [6, 6, 12, 12]
    seen = replay.sample(64, torch.Generator().manual_seed(0)).learn[:, 0, 0]
    assert set(seen.tolist()) <= {100.0, 104.0, 200.0, 204.0}


def test_state_dict_round_trip_samples_the_same():
    replay = make()
    for k in range(4):
        replay.add_episode(*episode(6 + k, base=10.0 * k)[:3], k % 2 == 0, episode(6 + k, base=10.0 * k)[3])
    copy = make()
    copy.load_state_dict(replay.state_dict())
    a, b = replay.sample(8, torch.Generator().manual_seed(3)), copy.sample(8, torch.Generator().manual_seed(3))
    assert torch.equal(a.learn, b.learn) and torch.equal(a.discount, b.discount)


def test_rejects_an_episode_longer_than_the_ring():
    with pytest.raises(ValueError, match="does not fit"):
        make(capacity=5).add_episode(*episode(5)[:3], True, episode(5)[3])
