"""MaestroMotif: the option executor on a toy grid, the intrinsic reward, the scripted annotator's skills,
code failures recorded rather than raised, and the judge."""

import pytest

from anthology.core.claims import summarize
from anthology.core.config import override
from anthology.llm.annotators import ScriptedAnnotator
from anthology.llm.sandbox import Limits
from anthology.methods.maestro_motif.config import PRESETS, REPRODUCE_PRESETS, Config
from anthology.methods.maestro_motif.reproduce import judge
from anthology.methods.maestro_motif.rewards import SkillReward, intrinsic_reward
from anthology.methods.maestro_motif.skills import (
    RULES,
    SKILLS,
    CodeFailure,
    OptionController,
    goals,
    prompt,
)
from anthology.methods.maestro_motif.train import train
from anthology.rl.preference_reward import Caption

TASK_CODE = prompt("template_skills.txt") + "\n" + prompt("template_task_policy.txt")


class ToyGrid:
    """A 1-D corridor: gold at 3, the monster at 6, the stairs at 9; each skill walks to its target."""

    def __init__(self) -> None:
        self.targets = {"collector": 3, "fighter": 6, "descender": 9}
        self.x, self.gold, self.depth, self.message = 0, 0.0, 1.0, ""

    def state(self) -> dict:
        return {"gold": self.gold, "depth": self.depth, "hp": 10.0, "message": self.message, "visible": [],
                "kills": 0, "skill_steps": 0, "limit": 40}

    def step(self, skill: str) -> None:
        target = self.targets[skill]
        self.x += (target > self.x) - (target < self.x)
        self.message = ""
        if self.x == target == 3 and skill == "collector":
            self.gold = 5.0
        if self.x == target == 6 and skill == "fighter":
            self.message = "You kill the newt!"
        if self.x == target == 9 and skill == "descender":
            self.depth = 2.0


def run_toy(code: str, steps: int = 30) -> tuple[list[str], ToyGrid]:
    grid, controller = ToyGrid(), OptionController(code, SKILLS, 1)
    chosen, new = [], [True]
    try:
        for _ in range(steps):
            (skill,), _ = controller.step([grid.state()], new, [0.5])
            new = [False]
            if not chosen or chosen[-1] != SKILLS[skill]:
                chosen.append(SKILLS[skill])
            grid.step(SKILLS[skill])
            if grid.depth > 1:
                break
    finally:
        controller.close()
    return chosen, grid


def test_the_option_executor_composes_collect_fight_descend_on_a_toy_grid():
    chosen, grid = run_toy(TASK_CODE)
    assert chosen == ["collector", "fighter", "descender"]
    assert grid.gold == 5 and grid.depth == 2


def test_a_policy_over_skills_that_ignores_its_memory_never_leaves_the_fighter():
    # broken fake: `kills` is never updated, so the fighter's termination never fires and it never descends
    broken = TASK_CODE.replace('memory["kills"] = memory.get("kills", 0) + 1', 'pass')
    chosen, grid = run_toy(broken)
    assert chosen[-1] == "fighter" and grid.depth == 1


def test_bad_written_code_is_a_code_failure_not_a_crash():
    with pytest.raises(CodeFailure, match="refused"):
        OptionController("import os\n", SKILLS, 1)
    bad_skill = TASK_CODE.replace('return "descender"', 'return "dancer"').replace('return "collector"',
                                                                                  'return "dancer"')
    with pytest.raises(CodeFailure, match="dancer"):
        run_toy(bad_skill)
    hang = TASK_CODE.replace("def update(memory, state):", "def update(memory, state):\n    while True:\n"
                                                             "        pass")
    controller = OptionController(hang, SKILLS, 1, Limits(seconds=0.5))
    with pytest.raises(CodeFailure, match="timeout"):
        controller.step([ToyGrid().state()], [True], [0.5])
    controller.close()


def test_an_evaluation_whose_code_fails_is_recorded_as_failed_episodes(monkeypatch):
    import sys

    writer = sys.modules["anthology.methods.maestro_motif.code_writing"]
    real = writer.prompt
    monkeypatch.setattr(writer, "prompt", lambda name: "import os\n" if name == "template_llm_policy.txt"
                        else real(name))
    result = train(override(PRESETS["tiny"], method="llm_policy"))
    assert result.summary["eval/code_failed"] == 1.0 and result.summary["eval/success"] == 0.0


def test_the_intrinsic_reward_is_zero_below_eps_and_divided_by_the_message_count_cubed():
    cfg = Config()
    assert intrinsic_reward(cfg, 0.5, 0.6, 1) == 0.0
    assert intrinsic_reward(cfg, 2.0, 0.6, 1) == pytest.approx(0.2)
    assert intrinsic_reward(cfg, 2.0, 0.6, 2) == pytest.approx(0.2 / 8)


def test_the_scripted_rules_prefer_each_skills_event():
    g = goals()
    annotator = ScriptedAnnotator({g[name]: rule for name, rule in RULES.items()})
    stone = Caption("", "It's solid stone.", (0, 0, 0, 0, 0)).text()
    gold = Caption("You see here 5 gold pieces.", "$ - 5 gold pieces.", (0, 5, 0, 0, 0)).text()
    kill = Caption("", "You kill the newt!", (0, 0, 0, 0, 0)).text()
    down = Caption("There is a staircase down here.", "", (1, 0, 0, 0, 0)).text()
    assert annotator.annotate(g["collector"], [(gold, stone), (stone, gold), (kill, down)]) == [1.0, 0.0, 0.5]
    assert annotator.annotate(g["fighter"], [(kill, gold)]) == [1.0]
    assert annotator.annotate(g["descender"], [(stone, down)]) == [0.0]
    assert annotator.annotate(g["task"], [(gold, stone), (kill, stone), (down, stone)]) == [1.0, 1.0, 1.0]


def test_normalised_rewards_are_cached_per_message_and_stats():
    import torch

    class Counting(torch.nn.Module):
        calls = 0

        def score(self, captions):
            Counting.calls += 1
            return torch.tensor([float(len(c.message)) for c in captions])

    r = SkillReward(Counting(), mean=1.0, std=2.0, threshold=0.0, accuracy=1.0)
    a = Caption("x", "abc", (0.0,))
    assert r.normalised([a, a]) == [1.0, 1.0] and r.normalised([Caption("y", "abc", (0.0,))]) == [1.0]
    assert Counting.calls == 1


def _rows(values: dict[str, list[float]]):
    return [summarize("composite", m, "success", v) for m, v in values.items()]


def test_the_judge_needs_maestromotif_to_solve_and_every_baseline_to_trail_on_every_seed():
    rcfg = REPRODUCE_PRESETS["quick"]
    good = {"maestromotif": [0.5, 0.4, 0.6], "motif": [0.0, 0.1, 0.0], "flat_ppo": [0.0] * 3,
            "llm_policy": [0.2, 0.1, 0.3], "random": [0.0] * 3}
    assert judge(rcfg, _rows(good))[0]
    assert not judge(rcfg, _rows({**good, "llm_policy": [0.2, 0.3, 0.3]}))[0]  # one seed within the margin
    assert not judge(rcfg, _rows({**good, "maestromotif": [0.5, 0.2, 0.6]}))[0]  # one seed below 0.25


@pytest.mark.learning
def test_tiny_runs_learn_reward_models_that_rank_the_collectors_event_first():
    result = train(PRESETS["tiny"])
    reward = result.artifacts["rewards"]["collector"]
    gold = Caption("You see here 5 gold pieces.", "$ - 5 gold pieces.", (0.0, 5.0, 0.0, 0.0, 0.0))
    stone = Caption("", "It's solid stone.", (0.0, 0.0, 0.0, 0.0, 0.0))
    assert reward.normalised([gold])[0] > reward.normalised([stone])[0]
    assert result.summary["eval/pair_accuracy_collector"] > 0.9
