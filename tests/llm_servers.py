"""Tiny local servers that speak the Ollama and the OpenAI chat protocols, streaming, with a
real model behind them: what `DOCQA_LLM=ollama:…` and `openai:…` talk to in the tests.

    with serve(OllamaHandler, reply) as server:   # server.url, server.requests
        ...

`reply(messages, max_tokens)` yields the reply's pieces for the chat messages (dicts with
"role" and "content"); the tests back it with the SmolLM2 chat model.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Reply = Callable[[list[dict], int | None], Iterator[str]]


@dataclass
class Server:
    """A running server: its address and the JSON bodies of the requests it was sent."""

    url: str
    requests: list[dict] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    reply: Reply
    server_record: Server
    path_served = ""

    def log_message(self, format: str, *args: object) -> None:  # quiet in tests
        pass

    def do_POST(self) -> None:
        if self.path != self.path_served:
            self.send_error(404, f"only {self.path_served} is served here")
            return
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        self.server_record.requests.append(body)
        self.answer(body)

    def answer(self, body: dict) -> None:
        raise NotImplementedError

    def send_line(self, text: str) -> None:
        self.wfile.write(text.encode("utf-8"))
        self.wfile.flush()


class OllamaHandler(_Handler):
    """POST /api/chat: the reply as newline-delimited JSON, one message piece a line, then a
    last line with "done": true (Ollama's streaming chat)."""

    path_served = "/api/chat"

    def answer(self, body: dict) -> None:
        model = body.get("model", "")
        limit = (body.get("options") or {}).get("num_predict")
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.end_headers()
        count = 0
        for piece in type(self).reply(body["messages"], limit):
            count += 1
            self.send_line(json.dumps(self._line(model, piece, done=False)) + "\n")
        last = self._line(model, "", done=True)
        last.update(done_reason="stop", eval_count=count, prompt_eval_count=0)
        self.send_line(json.dumps(last) + "\n")

    @staticmethod
    def _line(model: str, content: str, done: bool) -> dict:
        return {
            "model": model,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "message": {"role": "assistant", "content": content},
            "done": done,
        }


class OpenAIHandler(_Handler):
    """POST /v1/chat/completions with "stream": true: the reply as server-sent events, one
    chat.completion.chunk a piece, then one with finish_reason "stop", then [DONE]."""

    path_served = "/v1/chat/completions"

    def answer(self, body: dict) -> None:
        model = body.get("model", "")
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        pieces = type(self).reply(body["messages"], limit)
        if not body.get("stream"):
            text = "".join(pieces)
            self._json(
                {
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": text},
                            "finish_reason": "stop",
                        }
                    ],
                    **self._head(model),
                }
            )
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        first = True
        for piece in pieces:
            delta = {"role": "assistant", "content": piece} if first else {"content": piece}
            first = False
            self._event({"choices": [{"index": 0, "delta": delta, "finish_reason": None}]}, model)
        self._event({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}, model)
        self.send_line("data: [DONE]\n\n")

    @staticmethod
    def _head(model: str) -> dict:
        return {"id": "chatcmpl-docqa", "created": int(time.time()), "model": model}

    def _event(self, chunk: dict, model: str) -> None:
        chunk = {**chunk, **self._head(model), "object": "chat.completion.chunk"}
        self.send_line(f"data: {json.dumps(chunk)}\n\n")

    def _json(self, payload: dict) -> None:
        data = json.dumps({**payload, "object": "chat.completion"}).encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@contextmanager
def serve(handler: type[_Handler], reply: Reply) -> Iterator[Server]:
    """Run `handler`'s protocol on a free port of 127.0.0.1, answering with `reply`, until the
    block ends."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    record = Server(f"http://127.0.0.1:{httpd.server_address[1]}")
    bound = type(
        handler.__name__, (handler,), {"reply": staticmethod(reply), "server_record": record}
    )
    httpd.RequestHandlerClass = bound
    thread = threading.Thread(target=httpd.serve_forever, name="llm-server", daemon=True)
    thread.start()
    try:
        yield record
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)
