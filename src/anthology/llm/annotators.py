"""Preference annotators: which of two captions shows more progress towards a goal (Motif, MaestroMotif).

A `PreferenceAnnotator` labels caption pairs for one goal: 1.0 when the first is preferred, 0.0 for the
second, 0.5 for a tie. The paper's annotator is an LLM (`ChatAnnotator`: the prompt in
`prompts/preference.txt`, the verdict `("best_description": 1|2|None)` parsed by a regular expression,
one retry prompt when it is missing, and None or a second miss counted as a tie). Offline runs use
`ScriptedAnnotator`: per-goal regular expressions with weights, the caption with the larger total
preferred. `RandomAnnotator` is the uninformed control.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from importlib import resources
from typing import Protocol

from .client import ChatClient, Message

VERDICT = re.compile(r"\(?\s*[\"']?best_description[\"']?\s*:\s*[\"']?(1|2|None)[\"']?\s*\)?", re.IGNORECASE)


def load_prompt(name: str) -> str:
    """A prompt file shipped in `anthology/llm/prompts/`."""
    return resources.files("anthology.llm").joinpath("prompts", name).read_text()


class PreferenceAnnotator(Protocol):
    def annotate(self, goal: str, pairs: Sequence[tuple[str, str]]) -> list[float]: ...


def parse_verdict(answer: str) -> float | None:
    """1.0, 0.0 or 0.5 (None) from the last verdict in an answer; None when it has none."""
    found = VERDICT.findall(answer)
    if not found:
        return None
    return {"1": 1.0, "2": 0.0}.get(found[-1], 0.5)


class ChatAnnotator:
    """An LLM behind an OpenAI-compatible server (temperature and sampling as the client is set up)."""

    def __init__(self, client: ChatClient, prompt: str | None = None) -> None:
        self.client = client
        self.prompt = prompt or load_prompt("preference.txt")
        self.retry = load_prompt("preference_retry.txt")

    def annotate(self, goal: str, pairs: Sequence[tuple[str, str]]) -> list[float]:
        labels = []
        for first, second in pairs:
            messages: list[Message] = [{"role": "user", "content": self.prompt.format(goal=goal, first=first,
                                                                                        second=second)}]
            answer = self.client.complete(messages)
            label = parse_verdict(answer)
            if label is None:
                messages += [{"role": "assistant", "content": answer}, {"role": "user", "content": self.retry}]
                label = parse_verdict(self.client.complete(messages))
            labels.append(0.5 if label is None else label)
        return labels


class ScriptedAnnotator:
    """Deterministic labels: `rules[goal]` is a list of (regular expression, weight); a caption scores the
    weights of the expressions it matches, and the higher score is preferred (equal scores tie)."""

    def __init__(self, rules: dict[str, Sequence[tuple[str, float]]]) -> None:
        self.rules = {goal: [(re.compile(p), w) for p, w in rule] for goal, rule in rules.items()}

    def score(self, goal: str, caption: str) -> float:
        if goal not in self.rules:
            raise KeyError(f"the scripted annotator has no rules for the goal {goal!r}; "
                           f"it knows {', '.join(map(repr, self.rules))}")
        return sum(w for pattern, w in self.rules[goal] if pattern.search(caption))

    def annotate(self, goal: str, pairs: Sequence[tuple[str, str]]) -> list[float]:
        labels = []
        for first, second in pairs:
            a, b = self.score(goal, first), self.score(goal, second)
            labels.append(1.0 if a > b else 0.0 if b > a else 0.5)
        return labels


class RandomAnnotator:
    def __init__(self, seed: int = 0) -> None:
        self.rng = random.Random(seed)

    def annotate(self, goal: str, pairs: Sequence[tuple[str, str]]) -> list[float]:
        return [self.rng.choice((0.0, 0.5, 1.0)) for _ in pairs]
