"""General-data mixing (followkit.train.mix): specs, formats, the draw and interleave, the losses, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from followkit.cli import main
from followkit.core.errors import InputError
from followkit.train.data import TokenizedItem, load_items
from followkit.train.mix import (
    BUILTIN_MIX,
    builtin_path,
    draw,
    interleave,
    mix_items,
    parse_general_record,
    parse_mix_spec,
    read_general,
)
from tests.helpers.train_support import DPO, IOPO, SFT


@pytest.fixture(scope="module")
def tok(tiny):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny)


def _write(path: Path, records: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def _general(n: int) -> list[dict]:
    return [
        {
            "id": f"g{i}",
            "messages": [{"role": "user", "content": f"Q{i}?"}, {"role": "assistant", "content": f"A{i}."}],
        }
        for i in range(n)
    ]


def _items(n: int) -> list[TokenizedItem]:
    return [TokenizedItem(f"c{i}", [[1, 2]], [[3]], ((0, 0),)) for i in range(n)]


# --------------------------------------------------------------------------- specs and formats


def test_spec_parsing():
    assert parse_mix_spec("data/x.jsonl:0.5").path == "data/x.jsonl"
    assert parse_mix_spec("data/x.jsonl:2").ratio == 2.0
    assert parse_mix_spec("builtin:general:0.25").path == str(builtin_path("builtin:general"))
    for bad, why in [
        ("x.jsonl", "expected FILE:RATIO"),
        ("x.jsonl:abc", "RATIO 'abc' is not a number"),
        ("x.jsonl:0", "positive"),
        ("x.jsonl:-1", "positive"),
        (":1", "expected FILE:RATIO"),
        ("builtin:nope:1", "unknown built-in source 'builtin:nope'"),
    ]:
        with pytest.raises(ValueError, match=why):
            parse_mix_spec(bad)


def test_sharegpt_and_messages_read_alike():
    share = {
        "conversations": [
            {"from": "system", "value": "Be brief."},
            {"from": "human", "value": "Hi?"},
            {"from": "gpt", "value": "Hello."},
        ]
    }
    msgs = {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi?"},
            {"role": "assistant", "content": "Hello."},
        ]
    }
    assert parse_general_record(share, "f", 1) == parse_general_record(msgs, "f", 1)
    prompt, response = parse_general_record(share, "f", 1)
    assert prompt[-1] == {"role": "user", "content": "Hi?"} and response == [
        {"role": "assistant", "content": "Hello."}
    ]


@pytest.mark.parametrize(
    ("rec", "where"),
    [
        (
            {"conversations": [{"from": "human", "value": "q"}, {"from": "bot", "value": "a"}]},
            "conversations[1].from",
        ),
        (
            {"conversations": [{"from": "human", "value": 3}, {"from": "gpt", "value": "a"}]},
            "conversations[0].value",
        ),
        (
            {"conversations": [{"from": "gpt", "value": "a"}, {"from": "human", "value": "q"}]},
            "conversations[1]",
        ),
        (
            {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": " "}]},
            "messages[1]",
        ),
        ({"messages": [{"role": "robot", "content": "q"}]}, "messages[0].role"),
        ({"text": "q"}, "conversations"),
    ],
)
def test_bad_general_record_names_file_line_field(tmp_path, rec, where):
    path = _write(tmp_path / "g.jsonl", [_general(1)[0], rec])
    with pytest.raises(InputError) as exc:
        read_general(parse_mix_spec(f"{path}:1"))
    assert str(exc.value).startswith(f"{path}:2: field '{where}': ")


def test_general_records_read_through_the_record_layer(tmp_path):
    from followkit.core.records import GeneralRecord

    rows = [
        {
            "messages": [
                {"role": "user", "content": "Q?"},
                {"role": "assistant", "content": "A.", "name": "x"},
            ]
        },
        {**_general(1)[0], "id": "same"},
        {"id": "same", "conversations": [{"from": "human", "value": "Hi?"}, {"from": "gpt", "value": "Yo."}]},
    ]
    path = _write(tmp_path / "g.jsonl", rows)
    got = read_general(parse_mix_spec(f"{path}:1"))
    # rows may lack ids (keyed by line) and repeat them; a turn's extra keys are kept
    assert [key for key, _, _ in got] == ["line1", "same", "same"]
    assert got[0][2] == [{"role": "assistant", "content": "A.", "name": "x"}]
    assert got[2][1:] == ([{"role": "user", "content": "Hi?"}], [{"role": "assistant", "content": "Yo."}])
    row = GeneralRecord.model_validate(rows[2])
    assert (
        row.messages[-1] == {"role": "assistant", "content": "Yo."} and "conversations" not in row.model_extra
    )
    empty = tmp_path / "e.jsonl"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"e\.jsonl: no GeneralRecord records \(empty file\)"):
        read_general(parse_mix_spec(f"{empty}:1"))


def test_builtin_sets_are_readable():
    assert len(read_general(parse_mix_spec("builtin:general:1"))) >= 60
    assert set(BUILTIN_MIX) == {"builtin:general"}
    from followkit.synth.common import read_instructions

    prompts = list(read_instructions(builtin_path("builtin:general").parent / "heldout_prompts.jsonl"))
    assert len(prompts) >= 40 and all(not p.constraints for p in prompts)


# --------------------------------------------------------------------------- the draw and the order


def test_draw_is_without_replacement_while_records_last():
    import random

    picks = draw(3, 8, random.Random(0))
    assert sorted(picks[:3]) == sorted(picks[3:6]) == [0, 1, 2]  # two full permutations
    assert len(set(picks[6:])) == 2  # then two distinct ones
    assert draw(5, 3, random.Random(1)) == draw(5, 3, random.Random(1))


def test_interleave_places_round_i_times_ratio_after_item_i():
    c = _items(4)
    g = [TokenizedItem(f"g{i}", [[1]], [[2]], ((0, 0),), general=True) for i in range(6)]
    # ratio 0.5: after items 1..4, round_half_up(0.5, 1, 1.5, 2) = 1, 1, 2, 2 general items
    assert [it.key for it in interleave(c, [(0.5, g[:2])])] == ["c0", "g0", "c1", "c2", "g1", "c3"]
    # two sources, each spread on its own, in source order after an item: 0.25 (1 item, due once
    # round_half_up(2 * 0.25) = 1, after c1) and 1.0 (4 items, one after each)
    keys = [it.key for it in interleave(c, [(0.25, g[:1]), (1.0, g[2:6])])]
    assert keys == ["c0", "g2", "c1", "g0", "g3", "c2", "g4", "c3", "g5"]


def test_mix_items_counts_and_is_deterministic_under_the_seed(tmp_path, tok):
    path = _write(tmp_path / "g.jsonl", _general(3))
    items, _ = load_items(SFT, "sft", tok, max_length=512, response_budget=64)
    n = len(items)
    assert n == 6
    mixed, stats = mix_items(items, [parse_mix_spec(f"{path}:0.5")], tok, 7, 512, 64)
    # 0.5 * 6 = 3 general records, one permutation of the 3-record file, one after items 1, 3, 5
    assert [it.general for it in mixed] == [False, True, False, False, True, False, False, True, False]
    assert sorted(it.key for it in mixed if it.general) == ["general0:g0", "general0:g1", "general0:g2"]
    (src,) = stats["sources"]
    assert (src["records"], src["drawn"], src["distinct"], src["realised_ratio"]) == (3, 3, 3, 0.5)
    assert src["tokens"] == sum(it.num_tokens() for it in mixed if it.general)
    assert stats["constraint"] == {"items": 6, "tokens": sum(it.num_tokens() for it in items)}
    # ratio 2 with 3 records: 12 draws, each record exactly 4 times
    mixed2, stats2 = mix_items(items, [parse_mix_spec(f"{path}:2")], tok, 7, 512, 64)
    keys = [it.key for it in mixed2 if it.general]
    assert len(keys) == 12 and {keys.count(k) for k in set(keys)} == {4}
    assert stats2["realised_ratio"] == 2.0 and stats2["sources"][0]["distinct"] == 3
    # the same seed draws the same records; another seed another draw (62 built-in records, 3 drawn)
    spec = [parse_mix_spec("builtin:general:0.5")]
    a = [it.key for it in mix_items(items, spec, tok, 1, 512, 64)[0]]
    b = [it.key for it in mix_items(items, spec, tok, 1, 512, 64)[0]]
    c = [it.key for it in mix_items(items, spec, tok, 2, 512, 64)[0]]
    assert a == b and a != c


def test_batches_same_seed_same_order_other_seed_other_order(tmp_path, tiny, tok):
    from transformers import AutoModelForCausalLM

    from followkit.train.config import TrainConfig
    from followkit.train.trainer import ItemDataset

    items, _ = load_items(DPO, "dpo", tok, max_length=512, response_budget=64)
    mixed, _ = mix_items(items, [parse_mix_spec("builtin:general:1")], tok, 42, 512, 64)
    model = AutoModelForCausalLM.from_pretrained(tiny)

    def batches(seed: int, shuffle: bool = True) -> list[list[bool]]:
        from transformers import TrainingArguments

        from followkit.train.trainer import FollowkitTrainer, PackingCollator

        settings = TrainConfig(
            method="dpo", data=DPO, out=str(tmp_path), sft_weight=1.0, seed=seed, shuffle=shuffle
        )
        trainer = FollowkitTrainer(
            model=model,
            args=TrainingArguments(
                output_dir=str(tmp_path / "t"),
                report_to="none",
                use_cpu=True,
                seed=seed,
                per_device_train_batch_size=2,
            ),
            settings=settings,
            train_dataset=ItemDataset(mixed),
            data_collator=PackingCollator(tok.pad_token_id, True, 2),
        )
        out = []
        for batch in trainer.get_train_dataloader():
            out.append(batch["general"].tolist() + batch["targets"][:3].tolist())
        return out

    # shuffle=false: the interleaved list itself, 2 items a batch: [c, g], [c, g], ...
    assert [b[:2] for b in batches(1, shuffle=False)] == [[False, True]] * 6
    assert batches(1) == batches(1)
    assert batches(1) != batches(2)
    # every epoch still holds all 6 pairs and 6 general records
    assert sum(sum(b[:2]) for b in batches(3)) == 6


# --------------------------------------------------------------------------- the losses


def _policy_and_ref(path):
    from transformers import AutoModelForCausalLM

    ref = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float64).eval()
    policy = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float64).eval()
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for p in policy.parameters():
            p.add_(0.005 * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return policy, ref


def _loss_parts(policy, ref, settings, items, n_seq):
    from followkit.train.packing import collate, sequence_logps
    from followkit.train.trainer import batch_loss

    batch = collate(items, packed=True, pad_id=0, n_seq=n_seq)
    with torch.no_grad():
        logps, token_logps = sequence_logps(policy, batch, len(items), n_seq)
        ref_logps, _ = sequence_logps(ref, batch, len(items), n_seq)
        loss, metrics = batch_loss(settings, logps, token_logps, ref_logps, batch)
    return loss.item(), {k: v for k, v in metrics.items()}, logps, token_logps, batch


@pytest.mark.parametrize("method", ["dpo", "iopo"])
def test_preference_loss_unchanged_and_sft_term_includes_general(tmp_path, tiny, tok, method):
    from followkit.train.config import TrainConfig

    data = {"dpo": DPO, "iopo": IOPO}[method]
    n_seq = {"dpo": 2, "iopo": 4}[method]
    weight = {"dpo": {"sft_weight": 0.7}, "iopo": {"pref_ftx": 0.7}}[method]
    settings = TrainConfig(method=method, data=data, out=str(tmp_path), **weight)
    items, _ = load_items(data, method, tok, max_length=512, response_budget=64)
    items = items[:3]
    gpath = _write(tmp_path / "g.jsonl", _general(2))
    mixed, _ = mix_items(items, [parse_mix_spec(f"{gpath}:0.5")], tok, 0, 512, 64)
    assert [it.general for it in mixed] == [False, True, False, False, True]
    policy, ref = _policy_and_ref(tiny)

    plain_loss, plain, logps, token_logps, batch = _loss_parts(policy, ref, settings, items, n_seq)
    mix_loss, mixm, mlogps, _, mbatch = _loss_parts(policy, ref, settings, mixed, n_seq)
    # the preference loss and its metrics on the preference items: unchanged by the general items
    assert mixm["loss/preference"].item() == pytest.approx(plain["loss/preference"].item(), abs=1e-9)
    for name in ("rewards/margins", "rewards/accuracies", "logps/policy"):
        assert torch.allclose(mixm[name], plain[name], atol=1e-9), name
    # general items' log-probs, each on its own (an SFT batch of one)
    gen = [it for it in mixed if it.general]
    g_sum, g_tok = [], []
    for it in gen:
        _, _, lp, tl, _ = _loss_parts(policy, ref, TrainConfig(method="sft", data=data, out="x"), [it], 1)
        g_sum.append(lp[0, 0].item())
        g_tok.append(len(tl))
    if method == "dpo":  # token mean over chosen and general tokens
        chosen = batch["slots"] % 2 == 0
        expected = -(token_logps[chosen].sum().item() + sum(g_sum)) / (int(chosen.sum()) + sum(g_tok))
    else:  # item mean of -(A/|y1| + C/|y2|) per group and -logp/|y| per general item
        lengths = batch["lengths"].double()
        per_group = -(logps[:, 0] / lengths[:, 0] + logps[:, 2] / lengths[:, 2])
        expected = (per_group.sum().item() + sum(-s / n for s, n in zip(g_sum, g_tok, strict=True))) / 5
    assert mixm["loss/sft"].item() == pytest.approx(expected, abs=1e-9)
    assert mixm["loss/sft"].item() != pytest.approx(plain["loss/sft"].item(), abs=1e-6)
    assert mix_loss == pytest.approx(mixm["loss/preference"].item() + 0.7 * expected, abs=1e-9)
    assert plain_loss == pytest.approx(
        plain["loss/preference"].item() + 0.7 * plain["loss/sft"].item(), abs=1e-9
    )


def test_general_only_batch_has_sft_term_only(tmp_path, tiny, tok):
    from followkit.train.config import TrainConfig

    settings = TrainConfig(method="dpo", data=DPO, out=str(tmp_path), sft_weight=1.0)
    gpath = _write(tmp_path / "g.jsonl", _general(2))
    items, _ = load_items(DPO, "dpo", tok, max_length=512, response_budget=64)
    gen = [
        it for it in mix_items(items[:2], [parse_mix_spec(f"{gpath}:1")], tok, 0, 512, 64)[0] if it.general
    ]
    policy, ref = _policy_and_ref(tiny)
    loss, metrics, *_ = _loss_parts(policy, ref, settings, gen, 2)
    # no preference term, and no preference metrics (a logged mean over micro-batches would be diluted)
    assert "loss/preference" not in metrics and "rewards/margins" not in metrics
    assert loss == pytest.approx(metrics["loss/sft"].item()) and loss > 0


# --------------------------------------------------------------------------- the CLI


def test_cli_bad_mix_spec_or_file_exits_2_before_writing(tmp_path, capsys):
    out = tmp_path / "o"
    base = ["train", "--method", "sft", "--data", SFT, "--out", str(out)]
    assert main([*base, "mix=nofile"]) == 2
    err = capsys.readouterr().err.strip()
    assert "field 'mix'" in err and "mix 'nofile'" in err and len(err.splitlines()) == 1
    assert main([*base, "--mix", str(tmp_path / "missing.jsonl") + ":1"]) == 2
    assert "missing.jsonl" in capsys.readouterr().err
    bad = _write(tmp_path / "bad.jsonl", [*_general(2), {"conversations": [{"from": "human", "value": "q"}]}])
    assert main([*base, f"mix={bad}:1"]) == 2
    err = capsys.readouterr().err.strip()
    assert f"{bad}:3: field 'conversations[0]'" in err and len(err.splitlines()) == 1
    assert main(["train", "--method", "dpo", "--data", DPO, "--out", str(out), "mix=builtin:general:1"]) == 2
    assert "set sft_weight above 0" in capsys.readouterr().err
    assert not out.exists()  # nothing written, no model loaded


def test_cli_dpo_mix_writes_counts(tmp_path, tiny, capsys):
    out = tmp_path / "run"
    gpath = _write(
        tmp_path / "share.jsonl",
        [
            {"conversations": [{"from": "human", "value": f"Q{i}?"}, {"from": "gpt", "value": f"A{i}."}]}
            for i in range(4)
        ],
    )
    code = main(
        [
            "train",
            "--method",
            "dpo",
            "--model",
            str(tiny),
            "--data",
            DPO,
            "--out",
            str(out),
            "--sft-weight",
            "1",
        ]
        + ["--mix", f"{gpath}:0.5", "mix=builtin:general:1", "max_steps=2", "gradient_accumulation_steps=2"]
        + ["precompute_ref_logps=true", "merge=false", "save_steps=100"]
    )
    assert code == 0, capsys.readouterr().err
    stats = json.loads((out / "data_stats.json").read_text())["mix"]
    assert [s["drawn"] for s in stats["sources"]] == [3, 6]
    assert stats["general_items"] == 9 and stats["realised_ratio"] == 1.5
    assert stats["constraint"]["items"] == 6
    # only the 6 pairs need reference log-probs
    assert len((out / "ref_logps.jsonl").read_text().splitlines()) == 6
    log = [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines() if '"loss"' in x]
    assert log and all("loss/sft" in r and "loss/preference" in r for r in log)
