"""Making a Gymnasium environment by id, with one-line errors for a bad id or a missing optional package."""

from __future__ import annotations

from typing import Any

from anthology.core.errors import AnthologyError, MissingExtraError, require


def make_gym_env(env_id: str, hint: str = "") -> Any:
    """gymnasium.make(env_id); a bad id is an AnthologyError (with `hint` appended), and an env whose module
    imports a missing package (a MuJoCo env without mujoco or imageio) names the `control` extra."""
    gym = require("gymnasium", "control")
    try:
        return gym.make(env_id)
    except ImportError as err:
        raise MissingExtraError(f"'{env_id}' needs '{err.name}': install the 'control' extra: "
                                f"pip install 'anthology-ml[control]'") from err
    except gym.error.Error as err:
        raise AnthologyError(f"cannot make '{env_id}': {err}{hint}") from err
