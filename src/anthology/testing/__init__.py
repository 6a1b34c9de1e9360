"""Shared assertions and fakes for the tests of every method."""

from anthology.testing.assertions import (
    assert_all_parameters_change,
    assert_deterministic,
    assert_learns_to_threshold,
    assert_summaries_equal,
    snapshot_parameters,
)
from anthology.testing.fakes import KillAtStep, SimulatedKill, crashing_oracle_call, slow_oracle_call

__all__ = [
    "KillAtStep",
    "SimulatedKill",
    "assert_all_parameters_change",
    "assert_deterministic",
    "assert_learns_to_threshold",
    "assert_summaries_equal",
    "crashing_oracle_call",
    "slow_oracle_call",
    "snapshot_parameters",
]
