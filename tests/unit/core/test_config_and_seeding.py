import dataclasses
import random

import numpy as np
import pytest
import torch

from anthology.core.config import config_from_dict, config_to_dict, override
from anthology.core.errors import AnthologyError, MissingExtraError, UnknownNameError, require
from anthology.core.seeding import capture_rng_state, restore_rng_state, seed_everything
from anthology.methods.koopman import PRESETS, Config


def test_config_round_trips_through_a_dict():
    cfg = PRESETS["tiny"]
    assert config_from_dict(Config, config_to_dict(cfg)) == cfg


def test_override_reaches_nested_fields():
    cfg = override(PRESETS["tiny"], steps=5, **{"model.latent_dim": 3})
    assert cfg.steps == 5 and cfg.model.latent_dim == 3 and cfg.model.hidden == PRESETS["tiny"].model.hidden


def test_bad_override_and_unknown_field_are_user_errors():
    with pytest.raises(AnthologyError, match="bad config override"):
        override(PRESETS["tiny"], no_such_field=1)
    with pytest.raises(AnthologyError, match="unknown config field"):
        config_from_dict(Config, {"no_such_field": 1})


def test_configs_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        PRESETS["tiny"].steps = 3  # type: ignore[misc]


def test_rng_state_capture_and_restore_replays_every_generator():
    seed_everything(3)
    state = capture_rng_state()
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    restore_rng_state(state)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first


def test_unknown_name_suggests_the_closest():
    err = UnknownNameError("method", "koopmann", ["koopman", "demp"])
    assert "Did you mean 'koopman'" in str(err) and "\n" not in str(err)


def test_missing_extra_names_the_extra():
    with pytest.raises(MissingExtraError, match=r"pip install 'anthology-ml\[chem\]'"):
        require("surely_not_an_installed_module", "chem")


def test_validate_names_the_field_and_its_range_and_catches_its_own_misuse():
    import dataclasses
    import math

    import pytest

    from anthology.core.config import validate
    from anthology.core.errors import AnthologyError

    @dataclasses.dataclass(frozen=True)
    class Toy:
        steps: int = 10
        lr: float = 0.1
        widths: tuple[int, ...] = (4, 4)
        p: float = 0.5

        def __post_init__(self):
            validate(self, lr=">0", p="[0,1]")

    Toy()
    for change, field in (({"steps": 0}, "steps"), ({"lr": 0.0}, "lr"), ({"lr": math.nan}, "lr"),
                          ({"widths": (4, -1)}, "widths"), ({"p": 1.5}, "p"), ({"p": math.inf}, "p")):
        with pytest.raises(AnthologyError, match=rf"Toy\.{field} = .* must be finite"):
            Toy(**change)
    with pytest.raises(TypeError, match="unknown fields"):
        validate(Toy(), lr_typo=">0")
    with pytest.raises(TypeError, match="ranges"):
        validate(Toy(), lr="positive")
