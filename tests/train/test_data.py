"""Training data: record validation (file:line:field errors or counted skips) and truncation."""

from __future__ import annotations

import json

import pytest

from followkit.core.errors import InputError
from followkit.train.data import DataStats, TokenizedItem, load_items, truncate_item


@pytest.fixture(scope="module")
def tok():
    from transformers import AutoTokenizer

    from followkit.models import embedded_dir

    return AutoTokenizer.from_pretrained(embedded_dir())


def _write(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


GOOD = {"id": "g", "x1": "Say hi.", "y1": "hi", "x2": "Say bye.", "y2": "bye"}


@pytest.mark.parametrize(
    ("bad", "where"),
    [
        ({k: v for k, v in GOOD.items() if k != "y2"}, ":2: field 'y2': missing"),
        ({**GOOD, "y1": "   "}, ":2: field 'y1': empty text"),
        ({**GOOD, "x2": [{"role": "user"}]}, ":2: field 'x2[0]'"),
        ({**GOOD, "y1": 3}, ":2: field 'y1'"),
    ],
)
def test_bad_iopo_record_names_file_line_field(tmp_path, tok, bad, where):
    path = _write(tmp_path / "d.jsonl", [GOOD, bad])
    with pytest.raises(InputError) as exc:
        load_items(path, "iopo", tok, max_length=512, response_budget=64)
    assert str(exc.value).startswith(str(path)) and where in str(exc.value)


def test_bad_dpo_and_sft_records(tmp_path, tok):
    dpo = _write(
        tmp_path / "p.jsonl",
        [{"prompt": "q", "chosen": [{"role": "assistant", "content": ""}], "rejected": "r"}],
    )
    with pytest.raises(InputError, match=r"p.jsonl:1: field 'chosen\[0\].content': empty response"):
        load_items(dpo, "dpo", tok, max_length=512, response_budget=64)
    sft = _write(tmp_path / "s.jsonl", [{"messages": [{"role": "user", "content": "q"}]}])
    with pytest.raises(
        InputError, match=r"s.jsonl:1: field 'messages': the last message must be the assistant"
    ):
        load_items(sft, "sft", tok, max_length=512, response_budget=64)


def test_skip_bad_records_counts_them(tmp_path, tok):
    path = _write(tmp_path / "d.jsonl", [GOOD, {**GOOD, "y2": ""}, {"id": "z"}])
    items, stats = load_items(path, "iopo", tok, max_length=512, response_budget=64, skip_bad_records=True)
    assert len(items) == 1 and stats.skipped_bad_record == 2 and stats.records == 3
    assert "d.jsonl:2: field 'y2'" in stats.bad_records[0]


def test_prompt_longer_than_max_length_is_a_counted_skip(tmp_path, tok):
    long = {**GOOD, "id": "long", "x1": "word " * 400}
    path = _write(tmp_path / "d.jsonl", [GOOD, long])
    items, stats = load_items(path, "iopo", tok, max_length=128, response_budget=16)
    assert [it.key for it in items] == ["g"] and stats.skipped_prompt_too_long == 1
    only_long = _write(tmp_path / "e.jsonl", [long])
    with pytest.raises(InputError, match="no usable training records"):
        load_items(only_long, "iopo", tok, max_length=128, response_budget=16)


def test_tokenization_uses_chat_template_and_response_only(tmp_path, tok):
    path = _write(tmp_path / "d.jsonl", [GOOD])
    (item,), _ = load_items(path, "iopo", tok, max_length=512, response_budget=64)
    assert tok.decode(item.prompts[0]).endswith(
        "<|im_start|>user\nSay hi.<|im_end|>\n<|im_start|>assistant\n"
    )
    assert tok.decode(item.responses[0]) == "hi<|im_end|>\n"
    assert item.sequences == ((0, 0), (0, 1), (1, 1), (1, 0))


def test_truncation_keeps_response_budget_and_counts_cuts():
    stats = DataStats()
    item = TokenizedItem(
        "k", [list(range(90)), list(range(50))], [list(range(40)), list(range(5))], ((0, 0),)
    )
    assert truncate_item(item, max_length=100, response_budget=30, stats=stats)
    # room after the longest prompt is 10 < budget 30: the long response keeps 30 tokens
    assert [len(r) for r in item.responses] == [30, 5]
    # prompts cut from the left to 100 - 30 = 70, so the generation prompt stays next to the response
    assert [len(p) for p in item.prompts] == [70, 50] and item.prompts[0][-1] == 89
    assert stats.response_tokens_cut == 10 and stats.prompt_tokens_cut == 20 and stats.truncated_items == 1
    short = TokenizedItem("s", [[1, 2]], [[3, 4]], ((0, 0),))
    assert truncate_item(short, 100, 30, stats) and stats.truncated_items == 1


def test_iopo_reads_message_lists_with_a_system_turn_and_old_strings(tmp_path, tok):
    system = {"role": "system", "content": "You are terse."}
    new = {
        "id": "n",
        "x1": [system, {"role": "user", "content": "Say hi."}],
        "y1": "hi",
        "x2": [system, {"role": "user", "content": "Say bye."}],
        "y2": "bye",
    }
    as_list = {**GOOD, "id": "l", "x1": [{"role": "user", "content": "Say hi."}]}
    path = _write(tmp_path / "d.jsonl", [GOOD, new, as_list])
    old_item, new_item, list_item = load_items(path, "iopo", tok, max_length=512, response_budget=64)[0]
    # The system turn reaches both prompts; the responses are the same tokens.
    for prompt in new_item.prompts:
        assert "<|im_start|>system\nYou are terse.<|im_end|>" in tok.decode(prompt)
    assert tok.decode(new_item.prompts[1]).endswith(
        "<|im_start|>user\nSay bye.<|im_end|>\n<|im_start|>assistant\n"
    )
    assert new_item.responses == old_item.responses
    # A bare string is one user message: the same tokens as the one-message list.
    assert list_item.prompts[0] == old_item.prompts[0]
    assert "You are terse." not in tok.decode(old_item.prompts[0])


def test_several_files_joined_by_commas_keep_every_key_distinct(tmp_path, tok):
    a = _write(tmp_path / "a.jsonl", [{"id": "p", "prompt": "q", "chosen": "yes", "rejected": "no"}])
    b = _write(
        tmp_path / "b.jsonl",
        [
            {"id": "p", "prompt": "q", "chosen": "sure", "rejected": "nah"},
            {"prompt": "q2", "chosen": "y", "rejected": "n"},
        ],
    )
    items, stats = load_items(f"{a}, {b}", "dpo", tok, max_length=512, response_budget=64)
    assert stats.records == 3 and len(items) == 3
    # The same id on line 1 of both files: the second gets the file's place in the list.
    assert [i.key for i in items][:2] == ["p", "p@1:line1"]
    assert len({i.key for i in items}) == 3
    # A bad record in the second file is named by that file, line and field.
    c = _write(tmp_path / "c.jsonl", [{"prompt": "q", "chosen": "", "rejected": "r"}])
    with pytest.raises(InputError, match=r"c.jsonl:1: field 'chosen'"):
        load_items(f"{a},{c}", "dpo", tok, max_length=512, response_budget=64)
    with pytest.raises(InputError, match="no training file"):
        load_items(" , ", "dpo", tok, max_length=512, response_budget=64)


def test_check_data_names_a_missing_file_in_a_list(tmp_path):
    from types import SimpleNamespace

    from followkit.commands.train import check_data

    a = _write(tmp_path / "a.jsonl", [{"prompt": "q", "chosen": "yes", "rejected": "no"}])
    check_data(SimpleNamespace(method="dpo", data=f"{a},{a}", mix=[]))
    with pytest.raises(InputError, match="missing.jsonl"):
        check_data(SimpleNamespace(method="dpo", data=f"{a},{tmp_path / 'missing.jsonl'}", mix=[]))
