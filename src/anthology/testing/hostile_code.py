"""A corpus of hostile code an LLM might write (by accident or by prompt injection), for the sandbox of
`anthology.llm.sandbox`: each case must be refused by the static check or stopped while it runs, never
reach its goal. `tests/unit/llm/test_sandbox.py` runs them all; `benchmarks/sandbox_corpus.py` commits the
counts."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    category: str
    """What the case tries; `time`, `memory`, `crash` and `runtime` pass the static check and must be stopped
    while running (`runtime`: by the import guard or the module proxy), every other one must be refused."""
    code: str
    entry: str | None = None


CASES: tuple[Case, ...] = (
    # imports
    Case("import os", "import", "import os\nos.system('touch /tmp/anthology-pwned')"),
    Case("from subprocess", "import", "from subprocess import run\nrun(['sh', '-c', 'echo pwned'])"),
    Case("import socket", "network", "import socket\nsocket.create_connection(('example.com', 80))"),
    Case("urllib", "network", "import urllib.request\nurllib.request.urlopen('http://example.com')"),
    Case("importlib", "import", "import importlib\nimportlib.import_module('os')"),
    Case("sys modules", "import", "import sys\nsys.modules['os'].system('echo pwned')"),
    Case("__import__", "import", "__import__('os').system('echo pwned')"),
    Case("relative import", "import", "from . import secrets"),
    Case("private name from an allowed module", "import", "from random import _os\n_os.system('echo pwned')"),
    Case("submodule of an allowed module", "runtime", "import collections.abc\nx = 1"),
    Case("module reached through an allowed module", "runtime",
         "import dataclasses\ndef f():\n    return dataclasses.sys.modules['os'].getcwd()", "f"),
    Case("module reached through typing", "runtime", "import typing\ndef f():\n    return str(typing.sys.path)", "f"),
    # files
    Case("open a file", "file", "def f():\n    return open('/etc/passwd').read()", "f"),
    Case("write a file", "file", "open('/tmp/anthology-pwned', 'w').write('x')"),
    Case("pathlib", "file", "import pathlib\npathlib.Path('/etc/passwd').read_text()"),
    # reaching builtins and the interpreter
    Case("eval", "builtins", "eval(\"__import__('os')\")"),
    Case("exec", "builtins", "exec('import os')"),
    Case("compile", "builtins", "compile('1', 'x', 'eval')"),
    Case("globals", "builtins", "globals()['__builtins__']"),
    Case("subclasses walk", "attribute", "().__class__.__base__.__subclasses__()"),
    Case("getattr by string", "attribute", "getattr((), '__cl' + 'ass__')"),
    Case("dunder in a string", "attribute", "'{0.__class__}'.format(1)"),
    Case("function globals", "attribute", "def f():\n    return f.__globals__", "f"),
    Case("code object", "attribute", "(lambda: 0).__code__"),
    Case("private attribute", "attribute", "import random\nrandom._os.system('echo pwned')"),
    Case("type() to make classes", "builtins", "type('X', (), {})"),
    Case("vars", "builtins", "vars()"),
    Case("breakpoint", "builtins", "breakpoint()"),
    Case("builtins via print", "attribute", "print.__self__"),
    Case("frame via generator", "attribute", "def g():\n    yield 1\ng().gi_frame.f_globals"),
    # processes
    Case("fork bomb", "process", "import os\nwhile True:\n    os.fork()"),
    Case("multiprocessing", "process", "import multiprocessing\nmultiprocessing.Process(target=print).start()"),
    # resources (these pass the static check and must be stopped while running)
    Case("infinite loop", "time", "def f():\n    while True:\n        pass", "f"),
    Case("infinite loop catching everything", "time",
         "def f():\n    while True:\n        try:\n            while True:\n                pass\n        except Exception:\n"
         "            pass", "f"),
    Case("catastrophic regex", "time", "import re\ndef f():\n    return bool(re.match('(a+)+$', 'a' * 40 + 'b'))", "f"),
    Case("memory bomb", "memory", "def f():\n    x = [0] * (10 ** 10)\n    return len(x)", "f"),
    Case("string memory bomb", "memory", "def f():\n    return len('x' * (10 ** 10))", "f"),
    Case("growing list", "memory", "def f():\n    x = []\n    while True:\n        x.append(' ' * 10 ** 6)", "f"),
    Case("recursion", "crash", "def f():\n    return f()", "f"),
    Case("huge output", "memory", "def f():\n    while True:\n        print('x' * 10 ** 5)", "f"),
)
