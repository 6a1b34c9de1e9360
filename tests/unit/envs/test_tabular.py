import pytest
import torch

from anthology.envs.distractor_chain import DistractorChain
from anthology.envs.escape_grid import EscapeGrid
from anthology.envs.tabular import TabularMDP


def test_stepping_follows_the_tables_and_ends_at_the_goal():
    mdp = TabularMDP(DistractorChain((2, 3)))
    state = torch.tensor([0, 0, 1])
    step = mdp.step(state, torch.tensor([0, 1, 0]))
    assert step.next_state.tolist() == [1, 0, 2] and step.reward.tolist() == [-1, -1, -1]
    assert step.terminated.tolist() == [False, False, True]
    assert mdp.observe(step.next_state).argmax(-1).tolist() == [1, 0, 2]


def test_invalid_actions_are_refused():
    mdp = TabularMDP(DistractorChain((2, 3)))
    with pytest.raises(ValueError, match="valid set"):
        mdp.step(torch.tensor([0]), torch.tensor([2]))  # state 0 has 2 actions


def test_walking_the_escape_grid_diagonal_reaches_the_goal_in_the_shortest_path():
    grid = EscapeGrid(3, 4)
    mdp = TabularMDP(grid)
    state = torch.tensor([grid.start])
    for step in range(grid.shortest_path):
        moved = mdp.step(state, torch.tensor([step % 3]))  # +1 along axes 0, 1, 2 in turn
        state = moved.next_state
    assert int(state) == grid.goal and bool(moved.terminated)
