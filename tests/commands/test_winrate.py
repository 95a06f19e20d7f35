"""`followkit winrate` with the real embedded SmolLM2 as judge, through load_backend and its request cache."""

from __future__ import annotations

import json

import pytest

from followkit.cli import main


@pytest.mark.slow
def test_winrate_cli_with_the_embedded_judge_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("FOLLOWKIT_CACHE", str(tmp_path / "cache.sqlite"))
    rows_a = [
        {"id": "1", "prompt": "Name a primary colour.", "response": "Red.", "model": "terse"},
        {"id": "2", "prompt": "What is 2 + 2?", "response": "4", "model": "terse"},
    ]
    rows_b = [
        {
            "id": "1",
            "prompt": "Name a primary colour.",
            "response": "Blue is a primary colour.",
            "model": "wordy",
        },
        {"id": "2", "prompt": "What is 2 + 2?", "response": "2 + 2 equals 4.", "model": "wordy"},
    ]
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text("".join(json.dumps(r) + "\n" for r in rows_a))
    b.write_text("".join(json.dumps(r) + "\n" for r in rows_b))
    args = [
        "winrate",
        "--responses",
        str(a),
        "--baseline",
        str(b),
        "--judge",
        "embedded",
        "--max-tokens",
        "24",
    ]
    assert main([*args, "--out", str(tmp_path / "o1")]) == 0
    first = json.loads((tmp_path / "o1" / "winrate.json").read_text())
    assert first["model"] == "terse" and first["baseline"] == "wordy" and first["n_pairs"] == 2
    assert first["cache"] == {"cached": 0, "new": 4, "failed": 0}
    judgments = [json.loads(x) for x in (tmp_path / "o1" / "judgments.jsonl").read_text().splitlines()]
    parsed = sum(o["winner"] is not None for j in judgments for o in j["orders"])
    assert parsed + first["n_unparsable_judgments"] == 4  # every judgment is parsed or counted
    assert main([*args, "--out", str(tmp_path / "o2")]) == 0
    second = json.loads((tmp_path / "o2" / "winrate.json").read_text())
    assert second["cache"] == {"cached": 4, "new": 0, "failed": 0}
    assert [j["orders"] for j in judgments] == [
        json.loads(x)["orders"] for x in (tmp_path / "o2" / "judgments.jsonl").read_text().splitlines()
    ]


@pytest.mark.slow
@pytest.mark.server
def test_winrate_with_a_judge_behind_a_real_openai_compatible_server(tmp_path, monkeypatch):
    pytest.importorskip("llama_cpp.server", reason="llama-cpp-python[server] is not installed")
    from followkit.models import embedded_gguf
    from tests.helpers.fault_proxy import llama_server

    monkeypatch.setenv("FOLLOWKIT_CACHE", str(tmp_path / "cache.sqlite"))
    monkeypatch.setenv("FOLLOWKIT_API_KEY", "winrate-test-key")
    rows = [
        ("1", "Name a fruit.", "Apple.", "An apple is a fruit that grows on trees."),
        ("2", "Say hi.", "Hi!", "Hello there, friend!"),
    ]
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text(
        "".join(json.dumps({"id": i, "prompt": p, "response": r, "model": "m"}) + "\n" for i, p, r, _ in rows)
    )
    b.write_text(
        "".join(
            json.dumps({"id": i, "prompt": p, "response": r, "model": "base"}) + "\n" for i, p, _, r in rows
        )
    )
    with llama_server(embedded_gguf(), api_key="winrate-test-key") as base_url:
        args = ["winrate", "--responses", str(a), "--baseline", str(b), "--judge", "openai:smollm2"]
        args += ["--base-url", base_url, "--max-tokens", "24", "--out", str(tmp_path / "o")]
        assert main(args) == 0
    doc = json.loads((tmp_path / "o" / "winrate.json").read_text())
    assert doc["judge"]["spec"] == "openai:smollm2" and doc["n_pairs"] == 2
    assert doc["cache"]["new"] == 4 and doc["cache"]["failed"] == 0
    judgments = [json.loads(x) for x in (tmp_path / "o" / "judgments.jsonl").read_text().splitlines()]
    assert all(o["raw"] for j in judgments for o in j["orders"])  # the server answered every judgment
