"""The generate, test, self-check, rewrite loop repairs broken code with a fake LLM, and gives up cleanly."""

from anthology.llm.codegen import (
    REWRITE_HEAD,
    SELF_CHECK_HEAD,
    TemplateCodeWriter,
    extract_code,
    generate_code,
    parse_yes,
)
from anthology.llm.sandbox import Limits

TASK = "Write next_skill(depth, target): 'descender' while depth < target, else 'discoverer'."
INPUTS = [[1, 3], [3, 3], [5, 3]]
LIMITS = Limits(seconds=2.0)
BROKEN_SYNTAX = "def next_skill(depth, target)\n    return 'descender'"
WRONG = "def next_skill(depth, target):\n    return 'descender'"
RIGHT = "def next_skill(depth, target):\n    return 'descender' if depth < target else 'discoverer'"


class FakeLLM:
    """Writes `drafts` in turn; its self-check says yes only for the right outputs (as a capable model would)."""

    def __init__(self, drafts):
        self.drafts, self.seen = list(drafts), []

    def write(self, messages):
        last = messages[-1]["content"]
        self.seen.append(last)
        if last.startswith(SELF_CHECK_HEAD):
            right = '"descender"' in last.split("\n")[1] and last.count('"discoverer"') == 2
            return "Yes, it is correct." if right else "No. The second and third should be discoverer."
        return f"Here you go:\n```python\n{self.drafts.pop(0)}\n```\nHope it helps."


def test_a_broken_snippet_is_repaired():
    llm = FakeLLM([BROKEN_SYNTAX, WRONG, RIGHT])
    out = generate_code(llm, TASK, "next_skill", INPUTS, rounds=4, limits=LIMITS)
    assert [a.verdict for a in out.attempts] == ["failed", "rejected", "passed"]
    assert out.code.strip() == RIGHT and out.attempts[-1].result.value == ["descender", "discoverer", "discoverer"]
    rewrites = [m for m in llm.seen if m.startswith(REWRITE_HEAD)]
    assert len(rewrites) == 2 and "refused" in rewrites[0] and '"descender"' in rewrites[1]


def test_the_loop_gives_up_after_its_rounds_without_raising():
    llm = FakeLLM([WRONG] * 3)
    out = generate_code(llm, TASK, "next_skill", INPUTS, rounds=2, limits=LIMITS)
    assert out.code is None and [a.verdict for a in out.attempts] == ["rejected"] * 3


def test_hostile_or_hanging_code_is_a_failed_attempt():
    llm = FakeLLM(["import os\ndef next_skill(d, t):\n    return os.getcwd()",
                   "def next_skill(d, t):\n    while True:\n        pass", RIGHT])
    out = generate_code(llm, TASK, "next_skill", INPUTS, rounds=3, limits=Limits(seconds=1.0))
    assert [a.result.kind for a in out.attempts] == ["refused", "timeout", "ok"] and out.code is not None


def test_the_template_writer_and_the_parsers():
    out = generate_code(TemplateCodeWriter(RIGHT), TASK, "next_skill", INPUTS, limits=LIMITS)
    assert out.code.strip() == RIGHT and len(out.attempts) == 1
    assert extract_code("a\n```python\nx = 1\n```\nb\n```py\ny = 2\n```") == "y = 2\n"
    assert extract_code("x = 1") == "x = 1\n"
    assert parse_yes("Yes.") and not parse_yes("No, yes later") and not parse_yes("maybe")
