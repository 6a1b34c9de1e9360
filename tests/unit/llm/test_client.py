"""The chat client against a fake OpenAI-compatible server on 127.0.0.1: answers, retries, the cache, errors."""

import http.server
import json
import threading

import pytest

from anthology.llm.client import ChatClient, ChatConfig, LLMError


class FakeServer:
    """Answers each POST from a script: ("ok", text), ("status", code) or ("garbage", body)."""

    def __init__(self, script):
        self.script, self.requests = list(script), []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append((self.path, body, self.headers.get("Authorization")))
                kind, value = outer.script.pop(0) if outer.script else ("ok", "default")
                if kind == "status":
                    self.send_response(value)
                    self.end_headers()
                    return
                payload = (json.dumps({"choices": [{"message": {"role": "assistant", "content": value}}]})
                           if kind == "ok" else value).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


@pytest.fixture
def server(request):
    fake = FakeServer(request.param)
    yield fake
    fake.close()


def client(url, tmp_path, **changes):
    return ChatClient(ChatConfig(base_url=url, model="fake", retries=2, backoff=0.01, timeout=5, **changes),
                      cache=tmp_path / "cache.jsonl", sleep=lambda s: None)


@pytest.mark.parametrize("server", [[("ok", "hello")]], indirect=True)
def test_an_answer_is_returned_and_cached_across_clients(server, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "secret")
    messages = [{"role": "user", "content": "hi"}]
    assert client(server.url, tmp_path).complete(messages) == "hello"
    path, body, auth = server.requests[0]
    assert path == "/v1/chat/completions" and body["model"] == "fake" and auth == "Bearer secret"
    again = client(server.url, tmp_path)  # a new process would read the same file
    assert again.complete(messages) == "hello" and again.calls == 0 and len(server.requests) == 1
    assert client(server.url, tmp_path, temperature=0.7).complete(messages) == "default"  # another request
    assert len((tmp_path / "cache.jsonl").read_text().splitlines()) == 2


@pytest.mark.parametrize("server", [[("status", 503), ("status", 429), ("ok", "third time")]], indirect=True)
def test_server_errors_and_rate_limits_are_retried(server, tmp_path):
    c = client(server.url, tmp_path)
    assert c.complete([{"role": "user", "content": "x"}]) == "third time" and c.calls == 3


@pytest.mark.parametrize("server", [[("status", 500)] * 3], indirect=True)
def test_retries_run_out_with_one_line(server, tmp_path):
    with pytest.raises(LLMError, match="after 3 tries"):
        client(server.url, tmp_path).complete([{"role": "user", "content": "x"}])
    assert not (tmp_path / "cache.jsonl").exists()  # a failure is not cached


@pytest.mark.parametrize("server", [[("status", 404)], [("garbage", "<html>")], [("garbage", "{}")]], indirect=True)
def test_a_wrong_url_or_a_non_openai_server_is_one_line(server, tmp_path):
    with pytest.raises(LLMError, match=r"check --base-url|did not answer JSON|without choices"):
        client(server.url, tmp_path).complete([{"role": "user", "content": "x"}])
    assert len(server.requests) == 1  # not retried


def test_nothing_listening_is_retried_then_one_line(tmp_path):
    with pytest.raises(LLMError, match="start the server"):
        client("http://127.0.0.1:9/v1", tmp_path).complete([{"role": "user", "content": "x"}])


def test_a_cache_line_cut_by_a_crash_is_skipped(tmp_path):
    (tmp_path / "cache.jsonl").write_text('{"key": "a", "answer": "kept"}\n{"key": "b", "ans')
    assert client("http://127.0.0.1:9/v1", tmp_path).cache == {"a": "kept"}
