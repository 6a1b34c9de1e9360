"""LLM-written code with the generate, test, self-check, rewrite loop (MaestroMotif's code generation).

1. The code writer answers the task prompt with code (a fenced block is extracted from its answer).
2. The code runs in the sandbox against a test harness (`entry` called on each test input).
3. A crash, refusal or timeout goes straight to a rewrite with the error. Otherwise the writer is shown the
   harness's output and asked whether it is correct (Yes/No); an unparseable answer counts as No.
4. On No, the writer is asked to rewrite the code line by line, with the output it produced; at most
   `rounds` rewrites. Every attempt is logged; the loop never raises because of the generated code.

Writers: `ChatCodeWriter` (any OpenAI-compatible server through `ChatClient`) and `TemplateCodeWriter` (a
fixed answer for offline runs, the fallback when no LLM is available).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Sequence
from typing import Any, Protocol

from .client import ChatClient, Message
from .sandbox import DEFAULT_LIMITS, Limits, SandboxResult, run

FENCE = re.compile(r"```(?:python|py)?\s*\n(.*?)```", re.DOTALL)
YES_NO = re.compile(r"\b(yes|no)\b", re.IGNORECASE)


class CodeWriter(Protocol):
    def write(self, messages: Sequence[Message]) -> str: ...


class ChatCodeWriter:
    def __init__(self, client: ChatClient) -> None:
        self.client = client

    def write(self, messages: Sequence[Message]) -> str:
        return self.client.complete(messages)


class TemplateCodeWriter:
    """Answers every code request with `code` and every self-check with Yes (offline runs)."""

    def __init__(self, code: str) -> None:
        self.code = code

    def write(self, messages: Sequence[Message]) -> str:
        return "Yes" if messages[-1]["content"].startswith(SELF_CHECK_HEAD) else f"```python\n{self.code}\n```"


def extract_code(answer: str) -> str:
    """The last fenced code block of an answer, or the whole answer when it has none."""
    blocks = FENCE.findall(answer)
    return (blocks[-1] if blocks else answer).strip() + "\n"


def parse_yes(answer: str) -> bool:
    """Yes only when the answer's first yes/no word is yes."""
    found = YES_NO.search(answer)
    return bool(found) and found.group(1).lower() == "yes"


SELF_CHECK_HEAD = "Here is what your code printed on the tests."
REWRITE_HEAD = "The code is not correct."


@dataclasses.dataclass
class Attempt:
    code: str
    result: SandboxResult
    verdict: str
    """passed (self-check said yes), rejected (self-check said no), failed (crash, refusal, timeout)."""


@dataclasses.dataclass
class Generated:
    code: str | None
    """The accepted code, or None when no attempt passed."""
    attempts: list[Attempt]


def harness_output(result: SandboxResult, inputs: Sequence[Sequence[Any]]) -> str:
    return "\n".join(f"{entry_args(args)} -> {json.dumps(value)}" for args, value in zip(inputs, result.value or [],
                                                                                         strict=False))


def entry_args(args: Sequence[Any]) -> str:
    return "(" + ", ".join(json.dumps(a) for a in args) + ")"


def harness_program(code: str, entry: str) -> str:
    """The candidate plus a runner that calls `entry` on every test input (the harness the sandbox runs)."""
    return code + f"\n\ndef run_tests(inputs):\n    return [{entry}(*args) for args in inputs]\n"


def generate_code(writer: CodeWriter, task: str, entry: str, inputs: Sequence[Sequence[Any]], rounds: int = 4,
                  limits: Limits = DEFAULT_LIMITS, prelude: str = "") -> Generated:
    """Generate code for `task` whose function `entry` is tested on `inputs`; see the module docstring.
    `prelude` is code written earlier that the new code may call (it runs first, in the same sandbox)."""
    messages: list[Message] = [
        {"role": "system", "content": "You write short, correct Python functions. Answer with one ```python block."},
        {"role": "user", "content": task}]
    attempts: list[Attempt] = []
    for _ in range(rounds + 1):
        code = extract_code(writer.write(messages))
        messages.append({"role": "assistant", "content": f"```python\n{code}```"})
        result = run(harness_program(prelude + "\n" + code if prelude else code, entry), "run_tests", [list(map(list, inputs))], limits)
        if not result.ok:
            attempts.append(Attempt(code, result, "failed"))
            messages.append({"role": "user", "content": f"{REWRITE_HEAD} Running it failed ({result.kind}): "
                             f"{result.error}\nRewrite the code line by line, fixing the problem."})
            continue
        shown = harness_output(result, inputs)
        check = [*messages, {"role": "user", "content": f"{SELF_CHECK_HEAD}\n{shown}\nIs this what the task "
                             "asks for? Answer Yes or No."}]
        if parse_yes(writer.write(check)):
            attempts.append(Attempt(code, result, "passed"))
            return Generated(code, attempts)
        attempts.append(Attempt(code, result, "rejected"))
        messages.append({"role": "user", "content": f"{REWRITE_HEAD} On the tests it printed:\n{shown}\n"
                         "Rewrite the code line by line so that it does what the task asks."})
    return Generated(None, attempts)
