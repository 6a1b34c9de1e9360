import pytest
import torch

from anthology.envs.distractor_chain import DistractorChain
from anthology.rl.soft_q import soft_policy, soft_value_iteration
from anthology.rl.temperature import static_discrete_temperature

ENV = DistractorChain((2, 4, 16, 2, 8, 32))


def test_tables_give_each_state_its_own_action_count():
    reward, next_state, mask, terminal = ENV.tables()
    assert mask[:-1].sum(1).tolist() == [2, 4, 16, 2, 8, 32]
    assert next_state[:-1, 0].tolist() == [1, 2, 3, 4, 5, 6] and (next_state[:-1, 1] == torch.arange(6)).all()
    assert terminal.tolist() == [False] * 6 + [True] and (reward == -1).all()


def _solve(temperature):
    reward, next_state, mask, terminal = ENV.tables()
    _, q = soft_value_iteration(reward, next_state, mask, terminal, temperature)
    return soft_policy(q, mask, temperature)


def test_fixed_temperature_lingers_where_actions_are_many_and_decoupled_does_not():
    _, _, mask, _ = ENV.tables()
    fixed = _solve(0.2)
    decoupled = _solve(static_discrete_temperature(0.2, mask.sum(1)))
    # exact values: fixed 6.46 steps, decoupled 6.02 (shortest 6)
    assert ENV.length <= ENV.expected_length(decoupled) < ENV.expected_length(fixed)
    h = ENV.normalised_entropy(fixed)
    assert h[0] < h[1] < h[2] and h[3] < h[4] < h[5]  # k = 2 < 4 < 16 and 2 < 8 < 32: more lingering


def test_a_fixed_temperature_can_make_lingering_worth_more_than_arriving():
    _, _, mask, _ = ENV.tables()
    with pytest.raises(ArithmeticError):
        _solve(0.4)  # 0.4 log 32 > 1: the distractors' entropy pays for the step cost forever
    assert ENV.expected_length(_solve(static_discrete_temperature(0.4, mask.sum(1)))) < 7.0
