"""MaestroMotif's stages 2 and 3: the initiation/termination functions and the policies over skills, written
by the code writer (an LLM, or the shipped templates) through the generate, test, self-check, rewrite loop."""

from __future__ import annotations

from typing import Any

from anthology.core.run_dir import RunDir
from anthology.llm.client import ChatClient, ChatConfig
from anthology.llm.codegen import ChatCodeWriter, CodeWriter, TemplateCodeWriter, generate_code

from .config import Config
from .skills import (
    prompt,
)


def make_client(cfg: Config, run_dir: RunDir | None) -> ChatClient | None:
    if cfg.annotator != "llm" and cfg.code_writer != "llm":
        return None
    cache = None if run_dir is None else run_dir.path / "llm_cache.jsonl"
    return ChatClient(ChatConfig(base_url=cfg.llm_base_url, model=cfg.llm_model, api_key_env=cfg.llm_api_key_env),
                      cache)


SKILL_TESTS = [["collector", {"gold": 5.0, "depth": 1.0, "hp": 14.0, "message": "$ - 5 gold pieces.", "visible": [],
                              "kills": 0, "skill_steps": 3, "limit": 40},
                {"gold": 0.0, "depth": 1.0, "hp": 14.0, "message": "", "visible": ["$"], "kills": 0,
                 "skill_steps": 0, "limit": 40}],
               ["descender", {"gold": 0.0, "depth": 1.0, "hp": 14.0, "message": "", "visible": [">"], "kills": 0,
                              "skill_steps": 5, "limit": 40},
                {"gold": 0.0, "depth": 1.0, "hp": 14.0, "message": "", "visible": [">"], "kills": 0,
                 "skill_steps": 0, "limit": 40}],
               ["fighter", {"gold": 0.0, "depth": 1.0, "hp": 12.0, "message": "You kill the newt!", "visible": [],
                            "kills": 1, "skill_steps": 4, "limit": 40},
                {"gold": 0.0, "depth": 1.0, "hp": 14.0, "message": "", "visible": [":"], "kills": 0,
                 "skill_steps": 0, "limit": 40}]]
POLICY_TESTS = [[{}, {"gold": 0.0, "depth": 1.0, "hp": 14.0, "message": "", "visible": ["$", ":", ">"], "kills": 0,
                      "skill_steps": 0, "limit": 40}, 0.1],
                [{"kills": 1}, {"gold": 5.0, "depth": 1.0, "hp": 14.0, "message": "", "visible": [">"], "kills": 1,
                                "skill_steps": 0, "limit": 40}, 0.9]]


def write_code(cfg: Config, writer_kind: str, client: ChatClient | None, task: str, template: str, entry: str,
               inputs: list[Any], prelude: str = "") -> tuple[str, list[dict[str, Any]]]:
    """The code for one piece through the generate, test, self-check, rewrite loop; the template when the
    writer fails every round (recorded in the returned log)."""
    writer: CodeWriter = (ChatCodeWriter(client) if writer_kind == "llm" and client is not None
                          else TemplateCodeWriter(prompt(template)))
    generated = generate_code(writer, task, entry, inputs, prelude=prelude)
    log = [{"verdict": a.verdict, "kind": a.result.kind, "error": a.result.error} for a in generated.attempts]
    if generated.code is None:
        log.append({"verdict": "fallback", "kind": "template", "error": "every attempt failed"})
        return prompt(template), log
    return generated.code, log

