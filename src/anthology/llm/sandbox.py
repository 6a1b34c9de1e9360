"""Running code an LLM wrote: checked against an allow-list, then run in a separate, limited process.

Code from a language model is untrusted. `check` parses it and refuses, before anything runs:
- imports other than the allowed modules (`math`, `random`, `itertools`, `functools`, `collections`,
  `statistics`, `re`, `dataclasses`, `typing`, `enum`);
- names that reach the interpreter's machinery (`eval`, `exec`, `compile`, `open`, `__import__`,
  `globals`, `locals`, `vars`, `getattr`, `setattr`, `delattr`, `breakpoint`, `input`, `help`, `memoryview`,
  `type`, `object`, `super`, `classmethod`, `staticmethod`, `property`) and any dunder name or attribute
  (`__class__`, `__subclasses__`, `__globals__`, `__builtins__`, ...), the usual ways back to builtins;
- private or dunder names imported from an allowed module, strings containing "__", and statements a
  policy has no use for (`global`, `nonlocal`, `async` code, `with`, generators).
An allowed module reaches the code as a read-only namespace of its public, non-module names (so
`dataclasses.sys` or `typing.sys` do not lead to `sys`).
`run` then executes the checked code in a fresh `python -I` process that gets only a small set of safe
builtins, under resource limits set before the code starts: CPU seconds, address space, no new
processes (RLIMIT_NPROC 0), no file writes (RLIMIT_FSIZE 0), few file descriptors; the parent kills it
after a wall-clock timeout. The code's entry function is called with JSON arguments and its result comes
back as JSON on stdout. A refusal, crash, timeout or memory error is a `SandboxResult` with `ok=False`,
never an exception in the caller: a bad candidate fails, the run goes on.

Limits of this design: it is a defence in depth for a research tool on a single-user machine, not a
security boundary against a determined attacker; run untrusted code from unknown parties in a container.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import json
import os
import select
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

ALLOWED_MODULES = frozenset({"math", "random", "itertools", "functools", "collections", "statistics", "re",
                             "dataclasses", "typing", "enum"})
FORBIDDEN_NAMES = frozenset({"eval", "exec", "compile", "open", "__import__", "globals", "locals", "vars", "getattr",
                             "setattr", "delattr", "breakpoint", "input", "help", "memoryview", "type", "object",
                             "super", "classmethod", "staticmethod", "property", "exit", "quit", "dir", "id",
                             "hasattr", "__builtins__", "__loader__", "__spec__"})
FORBIDDEN_NODES = (ast.Global, ast.Nonlocal, ast.AsyncFunctionDef, ast.AsyncFor, ast.AsyncWith, ast.Await,
                   ast.With, ast.Yield, ast.YieldFrom)
SAFE_BUILTINS = ("abs", "all", "any", "bool", "dict", "divmod", "enumerate", "filter", "float", "frozenset", "int",
                 "isinstance", "len", "list", "map", "max", "min", "pow", "range", "reversed", "round", "set",
                 "sorted", "str", "sum", "tuple", "zip", "print", "ValueError", "KeyError", "IndexError",
                 "TypeError", "Exception", "StopIteration", "ZeroDivisionError", "AssertionError", "True", "False",
                 "None", "__build_class__")


@dataclasses.dataclass(frozen=True)
class SandboxResult:
    ok: bool
    value: Any = None
    error: str = ""
    kind: str = "ok"
    """ok, refused (the static check), crash (an exception), timeout, memory, killed (another signal)."""
    stdout: str = ""


@dataclasses.dataclass(frozen=True)
class Limits:
    seconds: float = 5.0
    """Wall-clock limit; the CPU limit is the same, rounded up."""
    memory_mb: int = 256
    output_kb: int = 64


DEFAULT_LIMITS = Limits()


def check(code: str, allowed_modules: frozenset[str] = ALLOWED_MODULES) -> str | None:
    """None when the code passes the allow-list, else the reason it is refused (one line)."""
    try:
        tree = ast.parse(code)
    except SyntaxError as err:
        return f"syntax error at line {err.lineno}: {err.msg}"
    for node in ast.walk(tree):
        if isinstance(node, FORBIDDEN_NODES):
            return f"line {node.lineno}: {type(node).__name__} statements are not allowed"
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            bad = [n for n in names if n.split(".")[0] not in allowed_modules or (isinstance(node, ast.ImportFrom)
                                                                                 and node.level)]
            if bad:
                return f"line {node.lineno}: import of {bad[0]!r} is not allowed"
            private = [a.name for a in node.names if a.name.startswith("_")]
            if private:
                return f"line {node.lineno}: import of {private[0]!r} is not allowed"
        if isinstance(node, ast.Name) and (node.id in FORBIDDEN_NAMES or _dunder(node.id)):
            return f"line {node.lineno}: the name {node.id!r} is not allowed"
        if isinstance(node, ast.Attribute) and (_dunder(node.attr) or node.attr.startswith("_")):
            return f"line {node.lineno}: the attribute {node.attr!r} is not allowed"
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and "__" in node.value:
            return f"line {node.lineno}: strings with '__' are not allowed"
        if isinstance(node, ast.FunctionDef | ast.ClassDef) and _dunder(node.name) and node.name != "__init__":
            return f"line {node.lineno}: the name {node.name!r} is not allowed"
    return None


def _dunder(name: str) -> bool:
    return name.startswith("__") and name != "__init__"


_CHILD = r"""
import json, resource, sys
limits = json.loads(sys.argv[1])
resource.setrlimit(resource.RLIMIT_CPU, (limits["cpu"], limits["cpu"]))
resource.setrlimit(resource.RLIMIT_AS, (limits["memory"], limits["memory"]))
resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
payload = json.loads(sys.stdin.readline())
import builtins, io
safe = {name: getattr(builtins, name) for name in payload["builtins"] if hasattr(builtins, name)}
allowed = set(payload["modules"])
import types
def public(module):  # what the code sees of a module: its public names, never another module
    return types.SimpleNamespace(**{k: v for k, v in vars(module).items()
                                    if not k.startswith("_") and not isinstance(v, types.ModuleType)})
proxies = {}
def guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
    top = name.split(".")[0]
    if level or top not in allowed or name != top:
        raise ImportError(f"import of {name!r} is not allowed")
    if top not in proxies:
        proxies[top] = public(__import__(top))
    return proxies[top]
safe["__import__"] = guarded_import
scope = {"__builtins__": safe, "__name__": "candidate"}
real_stdout = sys.stdout
def call(step):  # run one piece: the module's code (step "code") or a call of one of its functions
    captured = io.StringIO()
    sys.stdout = captured
    try:
        if "code" in step:
            exec(compile(step["code"], "<candidate>", "exec"), scope)
        value = scope[step["entry"]](*step["args"]) if step.get("entry") else None
        out = {"ok": True, "value": value}
    except MemoryError:
        out = {"ok": False, "kind": "memory", "error": "MemoryError"}
    except BaseException as err:
        out = {"ok": False, "kind": "crash", "error": f"{type(err).__name__}: {err}"[:500]}
    sys.stdout = real_stdout
    try:
        text = json.dumps({**out, "stdout": captured.getvalue()[-4000:]})
    except (TypeError, ValueError) as err:
        text = json.dumps({"ok": False, "kind": "crash", "error": f"result is not JSON: {err}"})
    real_stdout.write(text + "\n")
    real_stdout.flush()
call(payload)
if payload.get("session"):  # later calls, one JSON line each, until stdin closes
    for line in sys.stdin:
        call(json.loads(line))
"""


def run(code: str, entry: str | None = None, args: Sequence[Any] = (), limits: Limits = DEFAULT_LIMITS,
        allowed_modules: frozenset[str] = ALLOWED_MODULES) -> SandboxResult:
    """Check `code`, then run it in a limited child process and call `entry(*args)` (JSON in, JSON out)."""
    reason = check(code, allowed_modules)
    if reason is not None:
        return SandboxResult(False, error=reason, kind="refused")
    payload = json.dumps({"code": code, "entry": entry, "args": list(args), "builtins": SAFE_BUILTINS,
                          "modules": sorted(allowed_modules)}) + "\n"
    child_limits = json.dumps({"cpu": max(1, int(limits.seconds + 0.999)), "memory": limits.memory_mb * 2 ** 20})
    try:
        proc = subprocess.run([sys.executable, "-I", "-S", "-c", _CHILD, child_limits], input=payload,
                              capture_output=True, text=True, timeout=limits.seconds + 1.0, env={"PATH": os.defpath},
                              cwd="/", start_new_session=True)
    except subprocess.TimeoutExpired:
        return SandboxResult(False, error=f"ran past {limits.seconds:g} s", kind="timeout")
    if proc.returncode != 0:
        kind = {-9: "timeout", -24: "timeout", -11: "killed"}.get(proc.returncode, "killed")
        if "MemoryError" in proc.stderr:
            kind = "memory"
        return SandboxResult(False, error=f"the process ended with code {proc.returncode}: "
                             f"{proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ''}"[:500],
                             kind=kind)
    return _result(proc.stdout[-limits.output_kb * 1024:])


def _result(text: str) -> SandboxResult:
    try:
        out = json.loads(text)
    except json.JSONDecodeError:
        return SandboxResult(False, error="no result came back", kind="crash")
    return SandboxResult(out["ok"], out.get("value"), out.get("error", ""), out.get("kind", "ok"), out.get("stdout", ""))


class Session:
    """Checked code loaded once into a limited child process that then answers many calls (a policy's
    code, called at every step). `call` never raises because of the code: a refusal, crash, timeout or
    memory error is a failed `SandboxResult`, and after a timeout or a dead child the session is closed
    (`alive` False) and every later call fails at once. `limits.seconds` bounds each call's wall-clock
    time; `cpu_seconds` the child's CPU time over its whole life."""

    def __init__(self, code: str, limits: Limits = DEFAULT_LIMITS, cpu_seconds: int = 3600,
                 allowed_modules: frozenset[str] = ALLOWED_MODULES) -> None:
        self.limits, self.proc = limits, None
        reason = check(code, allowed_modules)
        if reason is not None:
            self.loaded = SandboxResult(False, error=reason, kind="refused")
            return
        child_limits = json.dumps({"cpu": cpu_seconds, "memory": limits.memory_mb * 2 ** 20})
        self.proc = subprocess.Popen([sys.executable, "-I", "-S", "-c", _CHILD, child_limits], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                     env={"PATH": os.defpath}, cwd="/", start_new_session=True)
        self.loaded = self._send({"code": code, "entry": None, "args": [], "builtins": SAFE_BUILTINS,
                                  "modules": sorted(allowed_modules), "session": True})

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _send(self, message: dict[str, Any]) -> SandboxResult:
        if not self.alive:
            return SandboxResult(False, error="the code's process is not running", kind="killed")
        assert self.proc is not None and self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write(json.dumps(message) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            self.close()
            return SandboxResult(False, error="the code's process ended", kind="killed")
        ready, _, _ = select.select([self.proc.stdout], [], [], self.limits.seconds)
        if not ready:
            self.close()
            return SandboxResult(False, error=f"a call ran past {self.limits.seconds:g} s", kind="timeout")
        line = self.proc.stdout.readline(self.limits.output_kb * 1024)
        if not line:
            code = self.proc.wait()
            self.close()
            return SandboxResult(False, error=f"the process ended with code {code}",
                                 kind="timeout" if code in (-9, -24) else "killed")
        return _result(line)

    def call(self, entry: str, *args: Any) -> SandboxResult:
        if not self.loaded.ok:
            return self.loaded
        return self._send({"entry": entry, "args": list(args)})

    def close(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            for stream in (self.proc.stdin, self.proc.stdout):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
