"""The openai backend and `eval --model openai:...` against a local server that returns reasoning traces.

The server is a tiny `http.server` on 127.0.0.1 that stands in for a reasoning model behind vLLM or
SGLang: one variant writes the trace into `content` as `<think>...</think>` (no reasoning parser),
the other returns it apart in `reasoning_content` (a reasoning parser on).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from followkit.backends import SamplingParams, load_backend

TRACE = "Hmm, THE USER asks; Ich denke, dass ich Kommas brauche, viele, VIELE."
ROWS = [
    {
        "key": 1,
        "prompt": "Reply in lowercase.",
        "instruction_id_list": ["change_case:english_lowercase"],
        "kwargs": [{}],
    },
    {
        "key": 2,
        "prompt": "No commas please.",
        "instruction_id_list": ["punctuation:no_comma"],
        "kwargs": [{}],
    },
    {
        "key": 3,
        "prompt": "Lowercase and no commas.",
        "instruction_id_list": ["change_case:english_lowercase", "punctuation:no_comma"],
        "kwargs": [{}, {}],
    },
]
ANSWERS = {
    "Reply in lowercase.": "all lowercase here",
    "No commas please.": "Sure, here it is",  # breaks no_comma on its own
    "Lowercase and no commas.": "nothing to see here",
}


@contextlib.contextmanager
def reasoning_server(style: str) -> Iterator[str]:
    """A chat-completions server answering ANSWERS[prompt] with TRACE: in content ("think") or apart ("field")."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def _send(self, doc: dict) -> None:
            body = json.dumps(doc).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            self._send({"object": "list", "data": [{"id": "reasoner", "object": "model"}]})

        def do_POST(self) -> None:
            req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            answer = ANSWERS[req["messages"][-1]["content"]]
            if style == "think":
                message = {"role": "assistant", "content": f"<think>\n{TRACE}\n</think>\n\n{answer}"}
            elif style == "unclosed":
                message = {"role": "assistant", "content": f"<think>\n{TRACE} {answer}"}
            else:
                message = {"role": "assistant", "content": answer, "reasoning_content": TRACE}
            self._send({"choices": [{"index": 0, "message": message, "finish_reason": "stop"}]})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


def test_reasoning_content_is_kept_apart() -> None:
    with reasoning_server("field") as base:
        be = load_backend("openai:reasoner", base_url=base, cache=False)
        (comp,) = be.complete([[{"role": "user", "content": "No commas please."}]], SamplingParams(n=2))
    assert comp.texts == ["Sure, here it is"] * 2
    assert comp.reasoning == [TRACE] * 2 and comp.reasoning_of(1) == TRACE


def test_reasoning_content_survives_the_cache(tmp_path: Path) -> None:
    chat = [[{"role": "user", "content": "No commas please."}]]
    with reasoning_server("field") as base:
        be = load_backend("openai:reasoner", base_url=base, cache_path=tmp_path / "c.sqlite")
        first = be.complete(chat, SamplingParams())[0]
        again = be.complete(chat, SamplingParams())[0]
    assert again.cached and again.reasoning == first.reasoning == [TRACE]


def _eval(base: str, out: Path, data: Path, *extra: str) -> tuple[subprocess.CompletedProcess, dict]:
    cmd = [sys.executable, "-m", "followkit.cli", "eval", "-b", f"ifeval:{data}", "-m", "openai:reasoner"]
    cmd += ["--base-url", base, "--no-cache", "--out", str(out), *extra]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    results = json.loads((out / "results.json").read_text()) if (out / "results.json").exists() else {}
    return done, results


@pytest.mark.parametrize("style", ["think", "field"])
def test_eval_against_a_reasoning_server_scores_the_answer(style: str, tmp_path: Path) -> None:
    data = tmp_path / "input_data.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    with reasoning_server(style) as base:
        done, res = _eval(base, tmp_path / "o", data)
    assert done.returncode == 0, done.stderr
    block = res["results"]["ifeval"]
    # the answers alone: lowercase ok, "Sure, here it is" has a comma, the third follows both
    assert block["prompt_level_strict_acc"] == pytest.approx(2 / 3)
    assert block["inst_level_strict_acc"] == pytest.approx(3 / 4)
    assert res["reasoning"]["with_trace_share"] == 1.0 and res["reasoning"]["unclosed"] == 0
    samples = [json.loads(line) for line in (tmp_path / "o" / "samples.jsonl").read_text().splitlines()]
    assert [s["response"] for s in samples] == [ANSWERS[r["prompt"]] for r in ROWS]
    assert all(s["reasoning"] == TRACE for s in samples)


def test_eval_unclosed_trace_and_keep(tmp_path: Path) -> None:
    data = tmp_path / "input_data.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    with reasoning_server("unclosed") as base:
        done, res = _eval(base, tmp_path / "u", data)
    assert done.returncode == 0, done.stderr
    assert res["results"]["ifeval"]["inst_level_loose_acc"] == 0.0
    assert res["reasoning"]["unclosed_share"] == 1.0
    with reasoning_server("think") as base:
        done, res = _eval(base, tmp_path / "k", data, "--reasoning", "keep")
    assert done.returncode == 0, done.stderr
    assert "3 of 3 answers hold a reasoning trace" in done.stderr
    assert res["results"]["ifeval"]["prompt_level_strict_acc"] == 0.0  # the trace has capitals and commas
    assert res["config"]["reasoning"] == "keep"
