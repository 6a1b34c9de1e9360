"""The skills, their goals and the code that composes them.

Each skill is a goal in English (`prompts/goals.txt`, used by the annotator), scripted labelling rules for
offline runs, and a reward model trained from the labels. The code writer writes the initiation and
termination functions (`prompts/skills_code.txt`), the training-time policy over skills
(`prompts/training_policy.txt`) and, zero-shot, the task's policy over skills (`prompts/task_policy.txt`);
the LLM-only baseline's policy over primitive actions comes from `prompts/llm_policy.txt`. The template
code writer answers each with the matching `prompts/template_*.txt`. `OptionController` runs the code in a
sandbox session and drives one skill per env.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from typing import Any

from anthology.envs.nethack import Observation
from anthology.llm.sandbox import Limits, Session

SKILLS = ("collector", "fighter", "descender")
CODE_LIMITS = Limits(seconds=5.0)  # each call of the written code
TASK = "task"
# scripted annotator: (pattern over the caption text, weight); the caption with the larger total is preferred
RULES: dict[str, list[tuple[str, float]]] = {
    "collector": [(r"Gold \+", 1.0), (r"currently displayed \"[^\"]*\$ - \d+ gold", 1.0),
                  (r"currently displayed \"[^\"]*see here \d+ gold", 0.3)],
    "fighter": [(r"currently displayed \"[^\"]*You kill", 1.0), (r"currently displayed \"[^\"]*You hit", 0.3)],
    "descender": [(r"Dlvl \+", 1.0), (r"currently displayed \"[^\"]*staircase down here", 0.3)],
}
RULES[TASK] = RULES["collector"] + RULES["fighter"] + RULES["descender"]


def prompt(name: str) -> str:
    return resources.files("anthology.methods.maestro_motif").joinpath("prompts", name).read_text()


def goals() -> dict[str, str]:
    """Skill (and 'task') -> its goal text."""
    out = {}
    for line in prompt("goals.txt").splitlines():
        if ":" in line:
            name, text = line.split(":", 1)
            out[name.strip()] = text.strip()
    return out


def code_prompt(name: str, skills: Sequence[str] = SKILLS) -> str:
    g = goals()
    return prompt(name).format(skills=", ".join(skills), goals="\n".join(f"- {s}: {g[s]}" for s in skills))


def code_state(obs: Observation, limit: int) -> dict[str, Any]:
    """The JSON state the written code reads; `CONTROL_HARNESS` fills "kills" from the code's memory and
    `OptionController.step` fills "skill_steps"."""
    return {"gold": float(obs.stats[1]), "depth": float(obs.stats[0]), "hp": float(obs.stats[2]),
            "message": obs.message, "visible": obs.visible(), "kills": 0, "skill_steps": 0, "limit": limit}


def view_state(obs: Observation) -> dict[str, Any]:
    """The JSON state the LLM-only policy reads (the map as text rows)."""
    return {"view": obs.text().splitlines(), "message": obs.message, "gold": float(obs.stats[1]),
            "depth": float(obs.stats[0]), "hp": float(obs.stats[2])}


# our harness, appended to the written code and run in the same sandbox: one call per vector step
CONTROL_HARNESS = '''

def control(items):
    out = []
    for item in items:
        memory, state, skill, start, draw = item
        memory = update(memory, state)
        state = dict(state)
        state["kills"] = memory.get("kills", 0)
        ended = skill is None or termination(skill, state, start)
        if ended:
            skill = choose(memory, state, draw)
            start = state
        out.append([memory, skill, start, ended])
    return out
'''

ACT_HARNESS = '''

def act_all(items):
    return [act(memory, state) for memory, state in items]
'''


class CodeFailure(RuntimeError):
    """The written code failed (crash, timeout, refusal, a skill that does not exist)."""


def open_session(code: str, limits: Limits) -> Session:
    """The written code loaded into a sandbox session; CodeFailure when it is refused or crashes on load."""
    session = Session(code, limits)
    if not session.loaded.ok:
        raise CodeFailure(f"the code did not load ({session.loaded.kind}): {session.loaded.error}")
    return session


class OptionController:
    """Runs a policy over skills with its initiation/termination functions for `n` envs.

    `step(states, new_episode, draws)` updates each env's memory, ends the running skill when its
    termination function says so (or the episode is new) and asks the policy over skills for the next;
    it returns the skill of each env and whether its previous skill ended. A failing call raises
    `CodeFailure` (the caller records it as a failure of the code)."""

    def __init__(self, code: str, skills: Sequence[str], n: int, limits: Limits = CODE_LIMITS) -> None:
        self.skills = list(skills)
        self.session = open_session(code + CONTROL_HARNESS, limits)
        self.memory: list[dict[str, Any]] = [{} for _ in range(n)]
        self.skill: list[str | None] = [None] * n
        self.start: list[dict[str, Any] | None] = [None] * n
        self.steps = [0] * n

    def step(self, states: list[dict[str, Any]], new_episode: Sequence[bool], draws: Sequence[float]
             ) -> tuple[list[int], list[bool]]:
        items = []
        for i, state in enumerate(states):
            if new_episode[i]:
                self.memory[i], self.skill[i], self.start[i], self.steps[i] = {}, None, None, 0
            state = dict(state, skill_steps=self.steps[i])
            items.append([self.memory[i], state, self.skill[i], self.start[i], float(draws[i])])
        result = self.session.call("control", items)
        if not result.ok:
            raise CodeFailure(f"the policy over skills failed ({result.kind}): {result.error}")
        ids, ended = [], []
        for i, answer in enumerate(result.value):
            memory, skill, start, done = answer
            if skill not in self.skills:
                raise CodeFailure(f"the policy over skills chose {skill!r}, not one of {', '.join(self.skills)}")
            self.memory[i], self.skill[i], self.start[i] = memory, skill, start
            self.steps[i] = 1 if done else self.steps[i] + 1
            ids.append(self.skills.index(skill))
            ended.append(bool(done))
        return ids, ended

    def close(self) -> None:
        self.session.close()


class ActionController:
    """The LLM-only baseline: the written `act(memory, state)` picks primitive actions for `n` envs."""

    def __init__(self, code: str, actions: Sequence[str], n: int, limits: Limits = CODE_LIMITS) -> None:
        self.actions = list(actions)
        self.session = open_session(code + ACT_HARNESS, limits)
        self.memory: list[dict[str, Any]] = [{} for _ in range(n)]

    def step(self, states: list[dict[str, Any]], new_episode: Sequence[bool]) -> list[int]:
        for i, new in enumerate(new_episode):
            if new:
                self.memory[i] = {}
        result = self.session.call("act_all", [[m, s] for m, s in zip(self.memory, states, strict=True)])
        if not result.ok:
            raise CodeFailure(f"the policy failed ({result.kind}): {result.error}")
        out = []
        for i, answer in enumerate(result.value):
            memory, action = answer
            if action not in self.actions:
                raise CodeFailure(f"the policy chose {action!r}, not one of {', '.join(self.actions)}")
            self.memory[i] = memory
            out.append(self.actions.index(action))
        return out

    def close(self) -> None:
        self.session.close()
