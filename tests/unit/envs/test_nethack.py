"""The MiniHack level: its des file, what `observe` reads, picking up gold and the actions' order."""

import numpy as np

from anthology.envs.nethack import ACTION_NAMES, LevelEnvs, SkillLevel


def test_the_level_has_the_room_the_wall_and_each_object():
    des = SkillLevel(size=5, wall=3).des()
    assert "MAZE: \"mylevel\"" in des and des.count("|") == 3
    assert all(k in des for k in ("GOLD:5", "MONSTER:\"newt\"", "ALTAR:", "STAIR:random,down"))


def test_picking_up_gold_adds_it_to_the_stats_and_runs_repeat_from_their_seed():
    envs = LevelEnvs(1, seed=3)
    first = envs.current[0]
    assert first.chars.shape == (13, 13) and first.chars[6, 6] == ord("@")
    rng = np.random.default_rng(0)
    gold = 0.0
    for _ in range(3000):
        if "gold" in envs.current[0].message and "see here" in envs.current[0].message:
            t = envs.step([ACTION_NAMES.index("pickup")])[0]
            gold = float(t.after.stats[1])
            assert t.after.message.startswith("$ - ")
            break
        envs.step([int(rng.integers(8))])
    assert gold == 5.0
    again = LevelEnvs(1, seed=3)
    assert np.array_equal(again.current[0].chars, first.chars)
    envs.close()
    again.close()
