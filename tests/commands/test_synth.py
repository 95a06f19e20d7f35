"""The whole chain with the real embedded SmolLM2 on CPU: compose -> respond -> DPO pairs and IOPO groups.

The compose config is biased toward constraints a 135M model can meet either way (length and
frequency bounds whose relation IOPO's modify operator flips), one per instruction, English seeds,
short replies: the point is the pipeline, not the model's skill.
"""

from __future__ import annotations

import json

import pytest

from followkit.cli import main
from followkit.constraints.verify import check_all

pytestmark = pytest.mark.slow

EASY = [
    "length_constraints:number_words",
    "length_constraints:number_sentences",
    "keywords:letter_frequency",
]


def read(p):
    return [json.loads(x) for x in p.read_text(encoding="utf-8").splitlines()]


def follows(cons: list[dict], text: str) -> bool:
    return all(check_all([(c["id"], c["kwargs"]) for c in cons], text, mode="strict"))


@pytest.fixture
def one_torch_thread():
    """Decode on one intra-op thread: on this project's 2 shared cores, torch's default of one
    thread per core spins against the other jobs and decodes about 10x slower (measured)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_embedded_chain_gives_dpo_pairs_and_iopo_groups(tmp_path, monkeypatch, capsys, one_torch_thread):
    monkeypatch.setenv("FOLLOWKIT_CACHE", str(tmp_path / "cache.sqlite"))  # a real run, not a cached one
    out = tmp_path / "run"
    inc = [a for cid in EASY for a in ("--include", cid)]
    args = ["--out", str(out)]
    assert (
        main(
            [
                "synth",
                "compose",
                "--n",
                "30",
                "--seed",
                "7",
                "--language",
                "en",
                "--k",
                "fixed:1",
                *inc,
                *args,
            ]
        )
        == 0
    )
    assert len(read(out / "instructions.jsonl")) == 30

    respond = [
        "synth",
        "respond",
        "--n",
        "4",
        "--temperature",
        "1.0",
        "--max-tokens",
        "80",
        "--dtype",
        "auto",
    ]
    assert main([*respond, *args]) == 0  # auto: bfloat16 where the CPU has it, twice as fast here
    resp = read(out / "responses.jsonl")
    man = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert man["stage"] == "synth.respond" and man["models"]["student"]["model"] == "SmolLM2-135M-Instruct"
    assert man["counts"]["responses"] + man["counts"]["failed"] == 120
    for r in resp[:20]:  # the stored verdicts are the verifier's
        assert [v["strict"] for v in r["verdicts"]] == check_all(
            [(c["id"], c["kwargs"]) for c in r["constraints"]], r["response"]
        )

    assert main(["synth", "pairs", "--format", "dpo", *args]) == 0
    pairs = read(out / "pairs_dpo.jsonl")
    assert len(pairs) >= 1
    by_key = {r["key"]: r for r in resp}
    for p in pairs:
        c = by_key[p["meta"]["chosen_key"]]["constraints"]
        assert follows(c, p["chosen"][0]["content"]) and not follows(c, p["rejected"][0]["content"])

    assert (
        main(
            [
                "synth",
                "pairs",
                "--format",
                "iopo",
                "--max-tokens",
                "80",
                "--temperature",
                "1.0",
                "--n",
                "2",
                "--set",
                "operators=[modify]",
                *args,
            ]
        )
        == 0
    )
    groups = read(out / "groups_iopo.jsonl")
    assert len(groups) >= 1
    print(f"\nembedded chain: {len(resp)} responses, {len(pairs)} DPO pairs, {len(groups)} IOPO groups")

    # Re-check the four properties with `followkit verify` on rows (id, constraints, prompt, response).
    rows = []
    for g in groups:
        c1, c2 = g["meta"]["x1_constraints"], g["meta"]["x2_constraints"]
        x1, x2 = g["x1"][-1]["content"], g["x2"][-1]["content"]  # the user turns
        rows += [
            {"id": f"{g['id']}/y1x1", "constraints": c1, "prompt": x1, "response": g["y1"]},
            {"id": f"{g['id']}/y2x2", "constraints": c2, "prompt": x2, "response": g["y2"]},
            {"id": f"{g['id']}/y1x2", "constraints": c2, "prompt": x2, "response": g["y1"]},
            {"id": f"{g['id']}/y2x1", "constraints": c1, "prompt": x1, "response": g["y2"]},
        ]
    (tmp_path / "recheck.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    capsys.readouterr()
    assert (
        main(["verify", str(tmp_path / "recheck.jsonl"), "--mode", "strict", "--out", str(tmp_path / "v")])
        == 0
    )
    verdicts = {r["id"]: r["follow_all_instructions"] for r in read(tmp_path / "v" / "verdicts_strict.jsonl")}
    for g in groups:
        assert verdicts[f"{g['id']}/y1x1"] is True
        assert verdicts[f"{g['id']}/y2x2"] is True
        assert verdicts[f"{g['id']}/y1x2"] is False
        assert verdicts[f"{g['id']}/y2x1"] is False
