"""The sandbox runs ordinary generated code and stops every case of the hostile corpus."""

import pathlib

import pytest

from anthology.llm.sandbox import Limits, check, run
from anthology.testing.hostile_code import CASES

FAST = Limits(seconds=2.0, memory_mb=256)
POLICY = '''
import math
from collections import deque


class Policy:
    def __init__(self, depth):
        self.depth = depth
        self.seen = deque(maxlen=3)

    def choose(self, skills):
        self.seen.append(len(skills))
        return sorted(skills)[min(len(skills) - 1, int(math.sqrt(self.depth)))]


def act(depth, skills):
    print("choosing")
    return Policy(depth).choose(skills)
'''


def test_ordinary_code_runs_and_returns_json():
    result = run(POLICY, "act", [4, ["descend", "fight", "collect"]], FAST)
    assert result.ok and result.value == "fight" and result.stdout == "choosing\n"
    assert check(POLICY) is None


def test_a_crash_is_a_failed_result_not_an_exception():
    result = run("def f(x):\n    return 1 / x", "f", [0], FAST)
    assert not result.ok and result.kind == "crash" and "ZeroDivisionError" in result.error
    assert run("def f(:", "f", [], FAST).kind == "refused"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_hostile_case_is_refused_or_stopped(case, tmp_path):
    result = run(case.code, case.entry, [], FAST)
    assert not result.ok, f"{case.name} ran to completion: {result}"
    if case.category in ("time",):
        assert result.kind == "timeout", result
    elif case.category == "memory":
        assert result.kind in ("memory", "timeout", "killed", "crash"), result
    elif case.category in ("crash", "runtime"):
        assert result.kind == "crash", result
    else:
        assert result.kind == "refused", result
    assert not pathlib.Path("/tmp/anthology-pwned").exists()


def test_a_session_keeps_its_code_loaded_and_a_hang_closes_it():
    from anthology.llm.sandbox import Limits, Session

    code = "seen = []\ndef add(x):\n    seen.append(x)\n    return len(seen)\ndef hang():\n    while True:\n        pass\n"
    with Session(code, Limits(seconds=0.5)) as session:
        assert [session.call("add", i).value for i in range(3)] == [1, 2, 3]
        assert session.call("missing").kind == "crash"
        assert session.call("hang").kind == "timeout" and not session.alive
        assert not session.call("add", 1).ok
    assert Session("import socket\n").call("add", 1).kind == "refused"
