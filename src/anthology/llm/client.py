"""An OpenAI-compatible chat client (vLLM, a llama.cpp server, hosted APIs) with a JSONL response cache,
retries and timeouts, on the standard library only.

`ChatClient.complete(messages)` posts `{base_url}/chat/completions` and returns the first choice's text.
- Cache: every answer is appended to a JSONL file keyed by the SHA-256 of the request (model, messages,
  sampling parameters); a request seen before is answered from it without a call, so a rerun of an
  annotation or code-generation stage costs nothing and gives the same answers. The file is only appended
  to, never rewritten.
- Retries: connection errors, timeouts, HTTP 429 and 5xx are retried `retries` times with exponential
  back-off; any other HTTP error, or an answer without text, is an `LLMError` with one line saying what to
  change (the URL, the model name, the key's environment variable).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pathlib
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any

from anthology.core.errors import AnthologyError

Message = dict[str, str]


class LLMError(AnthologyError):
    """The language model could not be reached or gave no usable answer."""


@dataclasses.dataclass(frozen=True)
class ChatConfig:
    base_url: str = "http://127.0.0.1:8000/v1"
    """The server's OpenAI-compatible root (vLLM: http://host:8000/v1; llama.cpp server: http://host:8080/v1)."""
    model: str = "meta-llama/Llama-3.1-70B-Instruct"
    api_key_env: str = "OPENAI_API_KEY"
    """Environment variable holding the API key (sent as a bearer token when set)."""
    temperature: float = 0.1
    top_p: float = 0.95
    max_tokens: int = 512
    timeout: float = 60.0
    retries: int = 3
    backoff: float = 1.0
    """Seconds before the first retry; doubled each time."""


class ChatClient:
    def __init__(self, cfg: ChatConfig = ChatConfig(), cache: str | os.PathLike | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.cfg, self.sleep = cfg, sleep
        self.cache_path = None if cache is None else pathlib.Path(cache)
        self.cache: dict[str, str] = {}
        self.calls = 0
        if self.cache_path is not None and self.cache_path.is_file():
            for line in self.cache_path.read_text(encoding="utf-8").splitlines():
                try:
                    row = json.loads(line)
                    self.cache[row["key"]] = row["answer"]
                except (json.JSONDecodeError, KeyError):
                    continue  # a line cut by a crash is skipped, the rest is kept

    def request(self, messages: Sequence[Message]) -> dict[str, Any]:
        c = self.cfg
        return {"model": c.model, "messages": list(messages), "temperature": c.temperature, "top_p": c.top_p,
                "max_tokens": c.max_tokens}

    @staticmethod
    def key(request: dict[str, Any]) -> str:
        return hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()

    def complete(self, messages: Sequence[Message]) -> str:
        request = self.request(messages)
        key = self.key(request)
        if key in self.cache:
            return self.cache[key]
        answer = self._post(request)
        self.cache[key] = answer
        if self.cache_path is not None:
            self.cache_path.parent.mkdir(parents=True, exist_ok=True)
            with self.cache_path.open("a", encoding="utf-8") as f:
                f.write(json.dumps({"key": key, "request": request, "answer": answer}) + "\n")
        return answer

    def _post(self, request: dict[str, Any]) -> str:
        c = self.cfg
        url = c.base_url.rstrip("/") + "/chat/completions"
        headers = {"Content-Type": "application/json"}
        if os.environ.get(c.api_key_env):
            headers["Authorization"] = f"Bearer {os.environ[c.api_key_env]}"
        body = json.dumps(request).encode()
        last = ""
        for attempt in range(c.retries + 1):
            if attempt:
                self.sleep(c.backoff * 2 ** (attempt - 1))
            self.calls += 1
            try:
                with urllib.request.urlopen(urllib.request.Request(url, body, headers), timeout=c.timeout) as resp:
                    data = json.loads(resp.read().decode())
            except urllib.error.HTTPError as err:
                if err.code == 429 or err.code >= 500:
                    last = f"HTTP {err.code}"
                    continue
                hint = {401: f"set the key in ${c.api_key_env}", 404: f"check --base-url ({c.base_url}) and the "
                        f"model name ({c.model})"}.get(err.code, "check the request")
                raise LLMError(f"the LLM server at {url} answered HTTP {err.code}: {hint}") from err
            except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
                last = str(getattr(err, "reason", err))
                continue
            except json.JSONDecodeError as err:
                raise LLMError(f"the LLM server at {url} did not answer JSON: is it OpenAI-compatible?") from err
            try:
                text = data["choices"][0]["message"]["content"]
            except (KeyError, IndexError, TypeError) as err:
                raise LLMError(f"the LLM server at {url} answered without choices[0].message.content") from err
            if not isinstance(text, str):
                raise LLMError(f"the LLM server at {url} answered a non-text message")
            return text
        raise LLMError(f"no answer from the LLM server at {url} after {c.retries + 1} tries ({last}): start the "
                       "server or check --base-url")
