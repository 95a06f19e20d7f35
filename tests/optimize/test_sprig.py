"""SPRIG: the component corpus, the edit-based searches (beam and genetic) with a scripted model, outputs."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest

from followkit.backends.scripted import ScriptedBackend
from followkit.cli import main
from followkit.core.errors import InputError
from followkit.evaluate.base import Benchmark, EvalItem, mean_metric
from followkit.optimize.corpus import CATEGORIES, builtin_corpus_path, load_components, read_components
from followkit.optimize.sprig import (
    Rephraser,
    SprigConfig,
    clean_rephrase,
    run_sprig,
    split_items,
    sprig_search,
    with_system,
    write_outputs,
)
from tests.helpers.paths import FIXTURES

FIX = FIXTURES

# --- the corpus ---------------------------------------------------------------------------------


def test_builtin_corpus_size_categories_languages_no_duplicates():
    comps = load_components()
    assert len(comps) >= 300
    assert {c.category for c in comps} == set(CATEGORIES)
    by = Counter((c.category, c.lang) for c in comps)
    assert all(by[(cat, lang)] >= 10 for cat in CATEGORIES for lang in ("en", "zh"))
    assert len({c.id for c in comps}) == len(comps)
    assert len({c.text.strip().lower() for c in comps}) == len(comps)
    zh = [c for c in comps if c.lang == "zh"]
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in c.text) for c in zh)
    assert all(c.text.isascii() or c.lang == "zh" for c in comps)
    assert len(load_components(lang="zh")) == len(zh)


def test_user_components_extend_and_bad_files_fail(tmp_path):
    extra = tmp_path / "mine.jsonl"
    extra.write_text(
        json.dumps({"id": "mine-1", "category": "CoT", "lang": "en", "text": "Think in bullet points."})
        + "\n"
    )
    comps = load_components([extra])
    assert comps[-1].id == "mine-1" and len(comps) == len(read_components(builtin_corpus_path())) + 1

    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "x", "category": "cot", "lang": "en", "text": "Hi."}) + "\n")
    with pytest.raises(
        InputError, match=r"bad.jsonl:1: field 'category': unknown category 'cot' \(did you mean 'CoT'\?\)"
    ):
        load_components([bad])
    dup = tmp_path / "dup.jsonl"
    dup.write_text(
        json.dumps({"id": "y", "category": "CoT", "lang": "en", "text": "Let's think step by step"}) + "\n"
    )
    with pytest.raises(
        InputError, match="dup.jsonl:1: field 'text': component 'y' repeats the text of 'cot-en-001'"
    ):
        load_components([dup])
    nolang = tmp_path / "nolang.jsonl"
    nolang.write_text(json.dumps({"id": "z", "category": "CoT", "text": "Go."}) + "\n")
    with pytest.raises(InputError, match="nolang.jsonl:1: field 'lang': missing"):
        load_components([nolang])


# --- a benchmark and model whose compliance depends on one known component --------------------------

TARGET = (
    "behavioral-en-003"  # "If the request asks for a specific number of items, produce exactly that number."
)


class CountBench(Benchmark):
    """Each item asks for N items; an answer complies when it lists exactly N lines."""

    name = "count-bench"

    def load(self, path=None):
        return [
            EvalItem(
                f"q{i}", [{"role": "user", "content": f"List {2 + i % 4} fruits."}], meta={"n": 2 + i % 4}
            )
            for i in range(40)
        ]

    def score(self, items, responses, judge=None):
        return [
            {"followed": len(r.splitlines()) == it.meta["n"]} for it, r in zip(items, responses, strict=True)
        ]

    def metrics(self, samples):
        return {"accuracy": mean_metric([float(s["followed"]) for s in samples])}


def scripted_model(target_text: str):
    """A model that obeys the count only when its system prompt holds the target sentence.

    It also answers rephrase requests (with a sentence that is not the target), so the search's
    rephrase operation runs through the same backend, as in a real run.
    """

    def fn(chat, i):
        if chat[0]["role"] == "user" and chat[0]["content"].startswith("Rewrite the following"):
            return "Rewritten instruction: Please be brief."
        system = chat[0]["content"] if chat[0]["role"] == "system" else ""
        n = int(chat[-1]["content"].split()[1])
        return "\n".join(["apple"] * n) if target_text in system else "apple, pear"

    return ScriptedBackend(fn)


def _corpus():
    # 36 English components (4 of each category), the target among them.
    comps = [c for c in load_components(lang="en") if c.id.endswith(("-001", "-002", "-003", "-004"))]
    assert len(comps) == 36 and any(c.id == TARGET for c in comps)
    return comps


SETTINGS = {
    "beam": {"beam": 4, "rounds": 6, "n_add": 4},
    "ga": {"beam": 10, "rounds": 12},  # a population of 10, 12 generations
}


@pytest.mark.parametrize("algorithm", ["beam", "ga"])
def test_search_finds_the_component_that_makes_the_model_comply(tmp_path, algorithm):
    comps = _corpus()
    target_text = next(c.text for c in comps if c.id == TARGET)
    backend = scripted_model(target_text)
    bench = CountBench()
    cfg = SprigConfig(algorithm=algorithm, train=8, val=8, heldout=10, budget=3000, **SETTINGS[algorithm])
    res = sprig_search(backend, bench, bench.load(), comps, cfg)
    assert TARGET in res.best.components
    assert res.best.train == res.best.val == res.best.heldout == 1.0
    assert res.baseline.train == res.baseline.val == res.baseline.heldout == 0.0
    assert res.search_calls <= 3000
    # Adding the target always raised the score by 1, deleting it always lowered it: top credit.
    means = {cid: sum(v) / len(v) for cid, v in res.credits.items() if v}
    assert max(means, key=means.get) == TARGET and means[TARGET] == pytest.approx(1.0)

    paths = write_outputs(res, tmp_path)
    assert paths["best"].read_text(encoding="utf-8").strip() == res.best.text
    assert target_text in res.best.text
    rows = [json.loads(ln) for ln in paths["leaderboard_jsonl"].read_text().splitlines()]
    assert rows[0]["rank"] == 1 and rows[0]["val"] == 1.0 and TARGET in rows[0]["components"]
    assert len(rows) == len(res.candidates)
    assert {"prompt", "components", "train", "val", "round", "op"} <= set(rows[0])
    with paths["leaderboard_csv"].open() as fh:
        assert len(list(csv.DictReader(fh))) == len(rows)
    assert paths["plot"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = json.loads(paths["summary"].read_text())
    assert summary["best"]["heldout"] == 1.0 and summary["baseline_empty_prompt"]["heldout"] == 0.0
    assert summary["top_components_by_credit"][0]["id"] == TARGET
    assert summary["split_sizes"] == {"train": 8, "train_pool": 16, "val": 8, "heldout": 10}


def test_budget_caps_search_calls_and_is_reported():
    comps = _corpus()
    backend = scripted_model("never present")
    bench = CountBench()
    cfg = SprigConfig(beam=3, rounds=50, train=5, val=5, heldout=5, budget=42)
    res = sprig_search(backend, bench, bench.load(), comps, cfg)
    assert res.budget_exhausted and res.search_calls <= 42
    assert res.search_calls > 42 - 5 - 1  # it stopped only when the next candidate no longer fit
    # Nothing helps this model: the empty prompt (shortest on a tie) stays the winner.
    assert res.best.components == () and res.best.val == 0.0
    with pytest.raises(InputError, match="too small"):
        sprig_search(backend, bench, bench.load(), comps, SprigConfig(train=5, val=5, budget=4))


def test_rephrase_request_and_cleaning():
    comps = _corpus()
    seen = []

    def fn(chat, i):
        seen.append(chat)
        return "Rewritten instruction: “Be exact about every count.”\nExtra line."

    r = Rephraser(ScriptedBackend(fn))
    target = next(c for c in comps if c.id == TARGET)
    assert r(target) == "Be exact about every count."
    assert seen[0] == [
        {
            "role": "user",
            "content": "Rewrite the following instruction for an AI assistant so that it keeps exactly the same "
            "meaning but uses different words. Reply with the rewritten instruction only, as one sentence, "
            "with no quotation marks and no explanation.\n\nInstruction: " + target.text + "\n",
        }
    ]
    assert clean_rephrase("", "x") is None
    assert clean_rephrase("Let's think step by step.", "Let's think step by step.") is None
    assert clean_rephrase("指令：请逐步思考。", "让我们一步一步地思考。") == "请逐步思考。"


def test_split_is_disjoint_and_seeded():
    items = CountBench().load()
    tr, va, ho = split_items(items, 10, 5, 0, seed=1)
    ids = [i.id for i in tr + va + ho]
    assert len(ids) == len(set(ids)) == 40
    assert [i.id for i in split_items(items, 10, 5, 0, seed=1)[0]] == [i.id for i in tr]
    with pytest.raises(InputError, match="too few"):
        split_items(items, 30, 10, 0, seed=1)


def test_system_prompt_replaces_the_datas_system_turn_like_eval():
    msgs = [{"role": "system", "content": "old"}, {"role": "user", "content": "hi"}]
    assert with_system("new", msgs) == [
        {"role": "system", "content": "new"},
        {"role": "user", "content": "hi"},
    ]
    assert with_system("", msgs) == msgs


def test_cli_bad_inputs_fail_before_any_model_call(tmp_path, capsys):
    bad = tmp_path / "c.jsonl"
    bad.write_text(json.dumps({"id": "x", "category": "tone", "lang": "en", "text": "Hi."}) + "\n")
    rc = main(["sprig", "--components", str(bad), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and "c.jsonl:1: field 'category': unknown category 'tone'" in err
    rc = main(["sprig", "--algorithm", "annealing", "--out", str(tmp_path / "o")])
    assert rc == 2 and "--algorithm" in capsys.readouterr().err
    rc = main(["sprig", "--beam", "0", "--out", str(tmp_path / "o")])
    assert rc == 2 and "--beam: Input should be greater than or equal to 1" in capsys.readouterr().err
    rc = main(["sprig", "--benchmark", "ifevl", "--out", str(tmp_path / "o")])
    assert rc == 2 and "did you mean ifeval" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_rerun_over_the_request_cache_replays_the_same_search_without_model_calls(tmp_path):
    # Every call goes through the shared cache and the budget counts cached calls too, so a rerun
    # (e.g. after a kill) takes the same path and ends with the same winner and leaderboard.
    from followkit.backends.cache import CachedBackend, RequestCache

    comps = _corpus()
    target_text = next(c.text for c in comps if c.id == TARGET)
    bench = CountBench()
    cfg = SprigConfig(train=6, val=6, heldout=6, budget=400, **SETTINGS["beam"])
    first_inner = scripted_model(target_text)
    first = sprig_search(
        CachedBackend(first_inner, RequestCache(tmp_path / "c.sqlite")), bench, bench.load(), comps, cfg
    )
    assert first_inner.calls > 0

    def no_model(chat, i):
        raise AssertionError("the rerun must be served by the cache")

    again = CachedBackend(ScriptedBackend(no_model), RequestCache(tmp_path / "c.sqlite"))
    second = sprig_search(again, bench, bench.load(), comps, cfg)
    assert again.cache_stats["new"] == 0 and again.cache_stats["failed"] == 0
    assert [c.to_dict() for c in second.leaderboard()] == [c.to_dict() for c in first.leaderboard()]
    assert second.best.components == first.best.components and TARGET in second.best.components


def test_best_txt_is_what_eval_system_prompt_sends(tmp_path):
    # `followkit eval --system-prompt @best.txt` reads the file and builds the chat; it must be the
    # chat the search scored, so the score SPRIG reports is the one eval reproduces.
    from followkit.evaluate.runner import read_text_arg
    from followkit.evaluate.runner import with_system as eval_with_system

    comps = _corpus()
    target_text = next(c.text for c in comps if c.id == TARGET)
    bench = CountBench()
    cfg = SprigConfig(train=6, val=6, heldout=6, **SETTINGS["beam"])
    res = sprig_search(scripted_model(target_text), bench, bench.load(), comps, cfg)
    paths = write_outputs(res, tmp_path)
    sent = read_text_arg(f"@{paths['best']}")
    assert sent == res.best.text and len(res.best.components) >= 1
    msgs = [{"role": "system", "content": "data's own"}, {"role": "user", "content": "List 3 fruits."}]
    assert eval_with_system(msgs, sent) == with_system(res.best.text, msgs)


# --- following the authors' search (orange0629/prompting, scripts/sprig.py) ---------------------


def _only_target_model(target_text: str):
    """Complies only when the system prompt is exactly the target sentence (any extra spoils it)."""

    def fn(chat, i):
        if chat[0]["role"] == "user" and chat[0]["content"].startswith("Rewrite the following"):
            return "Please be brief."
        system = chat[0]["content"] if chat[0]["role"] == "system" else ""
        n = int(chat[-1]["content"].split()[1])
        return "\n".join(["apple"] * n) if system == target_text else "apple, pear"

    return ScriptedBackend(fn)


def test_add_inserts_each_ucb_pick_at_every_position():
    comps = _corpus()
    bench = CountBench()
    cfg = SprigConfig(
        beam=1, rounds=2, n_add=2, n_delete=0, n_swap=0, n_rephrase=0, train=4, val=4, heldout=4
    )
    res = sprig_search(scripted_model("never present"), bench, bench.load(), comps, cfg)
    (first,) = [c.components for c in res.candidates if c.round == 1 and c.components][:1]
    second = {c.components for c in res.candidates if c.round == 2}
    assert len(second) == 4  # 2 components x 2 positions around the one-component parent
    for new in {c for comps_ in second for c in comps_} - set(first):
        assert (new, *first) in second and (*first, new) in second


def test_training_sample_is_redrawn_each_round_under_the_seed():
    comps = _corpus()
    bench = CountBench()
    items = bench.load()

    def run(seed, pool=None):
        seen: dict[str, set[str]] = {}  # system prompt -> ids of the items answered under it
        inner = scripted_model("never present")

        def fn(chat, i):
            if chat[-1]["content"].startswith("List"):
                system = chat[0]["content"] if chat[0]["role"] == "system" else ""
                seen.setdefault(system, set()).add(by_text[chat[-1]["content"]])
            return inner.fn(chat, i)

        # Items with distinct questions, so that a question names its item.
        by_text = {}
        for it in items:
            it.messages[-1]["content"] = f"List {it.meta['n']} fruits ({it.id})."
            by_text[it.messages[-1]["content"]] = it.id
        cfg = SprigConfig(
            beam=2, rounds=3, n_add=1, n_rephrase=0, train=4, train_pool=pool, val=4, heldout=4, seed=seed
        )
        res = sprig_search(ScriptedBackend(fn), bench, items, comps, cfg)
        pool_items = {it.id for it in split_items(items, cfg.pool_size, cfg.val, cfg.heldout, seed)[0]}
        by_round: dict[int, set[frozenset[str]]] = {}
        for c in res.candidates:  # each prompt is scored once, in its round; val/held-out are apart
            by_round.setdefault(c.round, set()).add(frozenset(seen[c.text] & pool_items))
        return res, [by_round[r] for r in sorted(by_round)]

    res, rounds = run(seed=3)
    assert res.split_sizes["train_pool"] == 8 and res.split_sizes["train"] == 4
    assert len(rounds) == 4 and all(len(r) == 1 for r in rounds)  # one sample per round, all 4 items
    samples = [next(iter(r)) for r in rounds]
    assert all(len(x) == 4 for x in samples)
    assert len(set(samples)) > 1  # re-drawn between rounds
    assert samples == [next(iter(r)) for r in run(seed=3)[1]]  # the same draws under the same seed
    _, fixed = run(seed=3, pool=4)
    assert len({next(iter(r)) for r in fixed}) == 1  # train_pool == train: a fixed sample


def test_survivors_are_the_children_not_the_parents():
    comps = _corpus()
    target_text = next(c.text for c in comps if c.id == TARGET)
    bench = CountBench()
    # Round 1 finds the target alone (score 1); every child of it scores 0 (an extra component, or
    # none). The authors keep the best children, so the round-2 beam holds no 1.0.
    cfg = SprigConfig(beam=2, rounds=2, n_add=36, n_rephrase=0, train=4, val=4, heldout=4)
    res = sprig_search(_only_target_model(target_text), bench, bench.load(), comps, cfg)
    assert res.rounds[1]["best_train"] == 1.0 and res.rounds[1]["kept_mean_train"] == 0.5
    assert res.rounds[2]["kept_mean_train"] == 0.0
    assert res.best.components == (TARGET,)  # the finalists still come from every scored candidate


def test_rephrasings_are_credited_to_their_corpus_component():
    comps = _corpus()
    target_text = next(c.text for c in comps if c.id == TARGET)
    bench = CountBench()
    cfg = SprigConfig(train=6, val=6, heldout=6, budget=1500, n_rephrase=2, **SETTINGS["beam"])
    res = sprig_search(scripted_model(target_text), bench, bench.load(), comps, cfg)
    made = [c for c in res.candidates if c.op == "rephrase"]
    assert made  # rephrasings were made and scored
    corpus = {c.id for c in comps}
    assert set(res.credits) <= corpus  # no rephrasing is an arm of its own
    for cand in res.candidates:
        if cand.op == "add" and cand.parent is not None:
            (added,) = set(cand.components) - set(cand.parent)
            assert added in corpus  # add picks corpus components only


TRACE_ROWS = [
    {
        "id": f"t{i}",
        "messages": [
            {"role": "user", "content": f"List {2 + i % 3} fruits.\n1. One per line.\n2. Nothing else."}
        ],
        "constraints_splits": ["1. One per line.", "2. Nothing else."],
        "levels2": ["格式约束", "格式约束"],
    }
    for i in range(24)
]


def test_sprig_on_trace_with_a_scripted_judge(tmp_path):
    from followkit.evaluate.trace import TraceBenchmark

    path = tmp_path / "trace.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in TRACE_ROWS), encoding="utf-8")
    comps = _corpus()
    target_text = next(c.text for c in comps if c.id == TARGET)
    judged = []

    def judge_fn(chat, i):
        prompt = chat[-1]["content"]
        judged.append(prompt)
        ok = "apple\napple" in prompt  # the model complied: one fruit per line
        s = 10 if ok else 2
        return (
            f'Checked.\nFine Grained Score: [{{"1": {s}}}, {{"2": {s}}}]\nConstraints Overall Score: [[{s}]]'
        )

    bench = TraceBenchmark()
    cfg = SprigConfig(train=4, val=4, heldout=6, budget=600, **SETTINGS["beam"])
    res = sprig_search(
        scripted_model(target_text), bench, bench.load(str(path)), comps, cfg, judge=ScriptedBackend(judge_fn)
    )
    assert judged and res.metric == "if_acc"
    assert TARGET in res.best.components
    assert res.best.val == res.best.heldout == 1.0 and res.baseline.heldout == 0.0
    paths = write_outputs(res, tmp_path / "out")
    assert json.loads(paths["summary"].read_text())["metric"] == "if_acc"


# --- run_sprig from Python and the command over it -------------------------------------------------

SMALL = {
    "beam": 1,
    "rounds": 1,
    "n_add": 1,
    "n_delete": 0,
    "n_swap": 0,
    "n_rephrase": 1,
    "train": 2,
    "val": 2,
    "heldout": 2,
    "lang": "en",
}


def test_run_sprig_from_python_writes_its_outputs_and_manifest(tmp_path):
    out = tmp_path / "sprig"
    cfg = SprigConfig(benchmark="followkit-bench", out=str(out), **SMALL)
    model = ScriptedBackend(lambda chat, i: "ok")
    doc = run_sprig(cfg, model=model, progress=False)
    assert model.calls > 0
    names = {
        "best.txt",
        "leaderboard.jsonl",
        "leaderboard.csv",
        "score_by_round.png",
        "sprig.json",
        "manifest.json",
    }
    assert {p.name for p in out.iterdir()} == names
    assert sorted(Path(p).name for p in doc["outputs"].values()) == sorted(names)
    assert json.loads((out / "sprig.json").read_text()) == {k: v for k, v in doc.items() if k != "outputs"}
    assert (out / "best.txt").read_text(encoding="utf-8").strip() == doc["best"]["prompt"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["stage"] == "sprig" and manifest["config"] == cfg.model_dump()
    assert manifest["model"]["backend"] == "scripted" and manifest["judge"] is None


def test_sprig_command_gives_base_url_to_every_openai_role_the_judge_too(tmp_path, monkeypatch, capsys):
    path = tmp_path / "trace.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in TRACE_ROWS), encoding="utf-8")
    judged = []

    def judge_fn(chat, i):
        judged.append(chat)
        return 'Fine Grained Score: [{"1": 10}, {"2": 10}]\nConstraints Overall Score: [[10]]'

    backends = {
        "embedded": scripted_model("never present"),
        "openai:rephraser": ScriptedBackend(lambda chat, i: "Rewritten instruction: Be brief."),
        "openai:judge": ScriptedBackend(judge_fn, model_id="judge"),
    }
    calls = []

    def load(spec, *, base_url=None, cache=True, refresh_cache=False, **options):
        calls.append((spec, base_url))
        return backends[spec]

    monkeypatch.setattr("followkit.backends.load_backend", load)
    url = "http://127.0.0.1:8001/v1"
    out = tmp_path / "sprig"
    args = ["sprig", "--benchmark", f"trace:{path}", "--out", str(out), "--base-url", url, "--no-cache"]
    args += [f"--{k.replace('_', '-')}={v}" for k, v in {**SMALL, "heldout": 4}.items()]

    # A judged benchmark without --judge fails before any model is loaded.
    assert main(args) == 2 and "give --judge MODEL" in capsys.readouterr().err and calls == []

    rc = main([*args, "--judge", "openai:judge", "--rephrase-model", "openai:rephraser"])
    printed = capsys.readouterr().out
    assert rc == 0
    assert calls == [("embedded", None), ("openai:rephraser", url), ("openai:judge", url)]
    assert judged
    assert printed.startswith("best system prompt (") and f"wrote {out / 'best.txt'}; " in printed
    assert json.loads((out / "manifest.json").read_text())["judge"]["model"] == "judge"


def test_departures_from_the_authors_code_are_rows_of_the_deviations_table():
    import importlib

    from followkit.evaluate.deviations import METHOD_DEVIATIONS, render_markdown

    rows = [d for d in METHOD_DEVIATIONS if d.benchmark == "sprig"]
    assert {d.ids for d in rows} >= {"beam: add", "beam: delete, swap", "beam: rephrase", "scoring"}
    for d in rows:
        module, _, name = d.constant.rpartition(".")
        assert hasattr(importlib.import_module(module), name), d.constant
        assert d.reference in render_markdown() and d.followkit in render_markdown()
