"""NetHack through NLE and MiniHack: a small custom level for skill learning, and what the agent sees of it.

The level (MaestroMotif's CPU-scale plan): a lit room with a short wall in its middle, a pile of gold, a
newt, an altar and the stairs down, each placed at random every episode. The agent is a Monk (the paper's
role) with ten actions: the eight compass moves, pick up (`,`) and go down (`>`); attacking is moving into
the monster. Going down the stairs ends the episode, as in MiniHack. `nle` and `minihack` come with the
`nethack` extra and are imported only here.

`observe` turns an NLE observation into an `Observation`: the agent-centred crop of the map's characters,
the bottom-line stats the captions and code use (depth, gold, HP, XP level, hunger) and the message.
"""

from __future__ import annotations

import dataclasses
import re
import warnings
from typing import Any

import numpy as np

from anthology.core.errors import require

ACTION_NAMES = ("north", "east", "south", "west", "northeast", "southeast", "southwest", "northwest", "pickup",
                "down")
KILL = re.compile(r"\bYou kill\b|\bYou destroy\b")
# NLE's bottom-line indices (nle.nethack.NLE_BL_*), copied so that this module imports without nle
_BL_X, _BL_Y, _BL_HP, _BL_DEPTH, _BL_GOLD, _BL_XP, _BL_HUNGER = 0, 1, 10, 12, 13, 18, 21


@dataclasses.dataclass(frozen=True)
class SkillLevel:
    """A MiniHack level: a `size` x `size` lit room, a vertical wall of `wall` squares in its middle column
    (0: none), and the objects placed at random."""

    size: int = 7
    wall: int = 3
    gold: int = 5
    monster: str = "newt"
    altar: bool = True
    stairs: bool = True

    def des(self) -> str:
        """The level in NetHack's des-file language."""
        rows = [["."] * self.size for _ in range(self.size)]
        top = (self.size - self.wall) // 2
        for y in range(top, top + self.wall):
            rows[y][self.size // 2] = "|"
        # MiniHack loads its custom level by the name "mylevel"
        lines = ["MAZE: \"mylevel\", ' '", "FLAGS:hardfloor", "INIT_MAP: solidfill,' '",
                 "GEOMETRY:center,center", "MAP", *("".join(r) for r in rows), "ENDMAP",
                 f"REGION:(0,0,{self.size},{self.size}),lit,\"ordinary\""]
        if self.gold:
            lines.append(f"GOLD:{self.gold},random")
        if self.monster:
            lines.append(f"MONSTER:\"{self.monster}\",random")
        if self.altar:
            lines.append("ALTAR:random,random,random")
        if self.stairs:
            lines.append("STAIR:random,down")
        return "\n".join(lines) + "\n"


@dataclasses.dataclass(frozen=True)
class Observation:
    chars: np.ndarray
    """[crop, crop] uint8: the map's characters around the agent (the agent at the centre)."""
    stats: np.ndarray
    """[5] float: depth, gold, HP, XP level, hunger state."""
    message: str
    hp_max: float = 1.0

    def visible(self) -> list[str]:
        """The distinct characters in view (without floor, walls and the agent)."""
        return sorted({chr(c) for c in np.unique(self.chars)} - {" ", ".", "|", "-", "@"})

    def text(self) -> str:
        """The view as lines of text (what an LLM acting directly reads)."""
        return "\n".join(bytes(row).decode("latin-1") for row in self.chars)


def observe(obs: dict[str, Any], crop: int = 13) -> Observation:
    blstats = obs["blstats"]
    stats = np.array([blstats[_BL_DEPTH], blstats[_BL_GOLD], blstats[_BL_HP], blstats[_BL_XP], blstats[_BL_HUNGER]],
                     dtype=np.float32)
    message = bytes(obs["message"]).decode("latin-1").rstrip("\x00").strip()
    chars = obs["chars_crop"] if "chars_crop" in obs else crop_around(obs["chars"], int(blstats[_BL_X]),
                                                                       int(blstats[_BL_Y]), crop)
    return Observation(np.asarray(chars, dtype=np.uint8), stats, message, float(max(blstats[11], 1)))


def crop_around(chars: np.ndarray, x: int, y: int, crop: int) -> np.ndarray:
    """[crop, crop] of the map centred on (x, y), blank (' ') beyond its edges (MiniHack's chars_crop)."""
    half = crop // 2
    padded = np.pad(np.asarray(chars, dtype=np.uint8), half, constant_values=ord(" "))
    return padded[y:y + crop, x:x + crop]


def _actions() -> tuple[Any, ...]:
    from nle import nethack

    compass = tuple(nethack.CompassDirection)[:8]
    if [d.name for d in compass] != ["N", "E", "S", "W", "NE", "SE", "SW", "NW"]:
        raise RuntimeError(f"nle's compass order changed ({compass}); update ACTION_NAMES")
    return (*compass, nethack.Command.PICKUP, nethack.MiscDirection.DOWN)


def make_dungeon_env(max_steps: int = 10_000) -> Any:
    """NetHack itself (NLE's NetHackScore-v0, the paper's setting) as a Monk with ACTION_NAMES as its actions."""
    gym = require("gymnasium", "nethack")
    require("nle", "nethack")
    return gym.make("NetHackScore-v0", actions=_actions(), character="mon-hum-neu-mal",
                    observation_keys=("chars", "blstats", "message"), max_episode_steps=max_steps)


def make_level_env(level: SkillLevel = SkillLevel(), max_steps: int = 200, crop: int = 13) -> Any:
    """A MiniHack env on `level` with ACTION_NAMES as its actions and the keys `observe` reads."""
    gym = require("gymnasium", "nethack")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # minihack imports the deprecated pkg_resources
        require("minihack", "nethack")
    return gym.make("MiniHack-Skill-Custom-v0", des_file=level.des(), actions=_actions(), character="mon-hum-neu-mal",
                    autopickup=False, observation_keys=("chars_crop", "blstats", "message"), obs_crop_h=crop,
                    obs_crop_w=crop, max_episode_steps=max_steps)


@dataclasses.dataclass
class Transition:
    """What a step of one env returns, after its possible reset."""

    before: Observation
    after: Observation
    """The observation the step led to (the last one of an episode, before the reset)."""
    reward: float
    terminated: bool
    truncated: bool
    descended: bool
    """The agent went down the stairs; the episode ends there (MiniHack's level; in the dungeon we end it)."""


class LevelEnvs:
    """`n` MiniHack envs (or, with `dungeon`, NetHack's) stepped in turn; an env that ends is reset from the
    seed seed * 100_000 + its episode count, so runs repeat exactly."""

    def __init__(self, n: int, seed: int, level: SkillLevel = SkillLevel(), max_steps: int = 200, crop: int = 13,
                 episodes: list[int] | None = None, dungeon: bool = False) -> None:
        self.dungeon, self.crop = dungeon, crop
        self.envs = [make_dungeon_env(max_steps) if dungeon else make_level_env(level, max_steps, crop)
                     for _ in range(n)]
        self.seed = seed
        self.episodes = list(episodes) if episodes is not None else list(range(n))
        self.next_episode = max(self.episodes) + 1 if self.episodes else 0
        self.current = [self._reset(i) for i in range(n)]

    def _reset(self, i: int) -> Observation:
        seed = self.seed * 100_000 + self.episodes[i]
        # NetHack's own generators (core: the game and the level's random placements; disp: display), which
        # gymnasium's reset(seed=) does not reach in nle 1.x; no reseeding during the episode
        self.envs[i].unwrapped.seed(core=seed, disp=seed + 1, reseed=False)
        obs, _ = self.envs[i].reset(seed=seed)
        return observe(obs, self.crop)

    def step(self, actions: list[int]) -> list[Transition]:
        out = []
        for i, (env, action) in enumerate(zip(self.envs, actions, strict=True)):
            before = self.current[i]
            obs, reward, terminated, truncated, _ = env.step(int(action))
            after = observe(obs, self.crop)
            if self.dungeon:  # the game goes on below; the task's episode ends at the first descent
                descended = bool(after.stats[0] > before.stats[0])
                terminated = terminated or descended
            else:
                descended = bool(terminated and reward > 0)
                if descended:  # MiniHack's final observation is blank: keep the stats, one level deeper
                    stats = before.stats.copy()
                    stats[0] += 1
                    after = Observation(before.chars, stats, after.message, before.hp_max)
            out.append(Transition(before, after, float(reward), bool(terminated), bool(truncated), descended))
            if terminated or truncated:
                self.episodes[i] = self.next_episode
                self.next_episode += 1
                self.current[i] = self._reset(i)
            else:
                self.current[i] = after
        return out

    def close(self) -> None:
        for env in self.envs:
            env.close()
