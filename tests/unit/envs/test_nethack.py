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


def test_the_dungeon_crops_the_map_around_the_agent_and_ends_the_episode_at_a_descent():
    from anthology.envs.nethack import crop_around

    grid = np.full((5, 7), ord("."), dtype=np.uint8)
    grid[0, 0] = ord("@")
    view = crop_around(grid, 0, 0, 3)
    assert view[1, 1] == ord("@") and view[0, 0] == ord(" ") and view[2, 2] == ord(".")
    envs = LevelEnvs(1, seed=0, max_steps=50, crop=9, dungeon=True)
    first = envs.current[0]
    assert first.chars.shape == (9, 9) and first.chars[4, 4] == ord("@") and first.stats[0] == 1
    rng = np.random.default_rng(0)
    ends = [t.terminated or t.truncated for _ in range(60) for t in envs.step([int(rng.integers(10))])]
    assert any(ends) and envs.episodes == [1]  # max_steps ended the first episode; the next one was seeded
    envs.close()
