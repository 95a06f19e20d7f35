"""followkit's own ids (zh_*, trace_*) and the Chinese text units they stand on."""

from __future__ import annotations

import random

import pytest

from followkit.constraints import extra, registry
from followkit.constraints.text import count_words, paragraphs, sentences_zh
from followkit.core.errors import ConstraintError

ZH_TEXT = "人工智能正在改变世界。它让生活更便利！你准备好了吗？"  # 3 sentences, 23 ideographs
TABLE = "| 城市 | 人口 |\n|---|:---:|\n| 北京 | 2189 |\n| 上海 | 2487 |\n| 广州 | 1868 |"

# id -> (kwargs, a response that follows, a response that does not)
CASES: dict[str, tuple[dict, str, str]] = {
    "zh_length:words": ({"at_least": 10, "at_most": 30}, ZH_TEXT, "太短了。"),
    "zh_length:characters": ({"at_most": 10}, "一二三 四五\n六七八九十", "一二三四五六七八九十一"),
    "zh_length:sentences": ({"at_least": 3}, ZH_TEXT, "只有一句话。"),
    "zh_length:paragraphs": ({"at_least": 2, "at_most": 2}, "第一段。\n\n第二段。", "第一段。\n第二段。"),
    "zh_keywords:include": ({"keywords": ["人工智能", "AI"]}, "人工智能（ai）很重要。", "人工智能很重要。"),
    "zh_keywords:exclude": (
        {"forbidden": ["但是", "However"]},
        "天气很好，我们出发。",
        "天气很好，however 下雨了。",
    ),
    "zh_keywords:frequency": (
        {"keyword": "创新", "frequency": 2, "relation": "at least"},
        "创新驱动发展，创新引领未来。",
        "创新驱动发展。",
    ),
    "zh_startend:starts_with": ({"phrase": "总的来说"}, "  总的来说，这是好事。", "这是好事，总的来说。"),
    "zh_startend:ends_with": (
        {"phrase": "希望对你有帮助。"},
        "答案是四十二。希望对你有帮助。\n",
        "希望对你有帮助。答案是四十二。",
    ),
    "zh_punctuation:no_comma": ({}, "我们出发吧。今天天气很好！", "我们出发吧，今天天气很好。"),
    "trace_format:json": ({}, '```json\n{"城市": "北京", "人口": 2189}\n```', '{"城市": "北京", 人口: 2189}'),
    "trace_format:markdown_table": (
        {"min_rows": 3},
        "数据如下：\n\n" + TABLE + "\n\n来源：统计局。",
        TABLE.rsplit("\n", 1)[0],
    ),
    "trace_format:headings": (
        {"min_headings": 2},
        "# 背景\n内容\n## 方法\n内容",
        "# 背景\n内容\n#没有空格\n```\n# 代码注释\n```",
    ),
    "trace_format:numbered_list": ({"num_items": 3}, "步骤：\n1. 准备\n2. 执行\n3. 检查", "1、准备\n2、执行"),
    "trace_format:bullet_list": ({"num_items": 2}, "- 苹果\n* 香蕉", "- 苹果\n- 香蕉\n- 橙子"),
    "trace_language:response_language": (
        {"language": "zh"},
        "Python 是一种流行的编程语言。",
        "Python is a popular language.",
    ),
}


def test_own_ids_use_their_own_prefixes_and_are_registered():
    ids = [c.id for c in extra.CONSTRAINTS]
    assert set(ids) == set(CASES)
    for cid in ids:
        assert cid.split(":")[0].startswith(("zh_", "trace_"))
        assert registry.get(cid).dimension in {
            "numerical",
            "inclusion",
            "exclusion",
            "template",
            "text_pattern",
            "output_format",
            "hierarchical_structure",
            "numbering_and_list",
            "multilingual",
        }


@pytest.mark.parametrize("cid", sorted(CASES))
def test_follows_and_fails(cid):
    ct = registry.get(cid)
    raw, good, bad = CASES[cid]
    kw = ct.parse_kwargs(raw)
    assert ct.check(good, kw) is True
    assert ct.check(bad, kw) is False


@pytest.mark.parametrize("cid", sorted(CASES))
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_render_names_the_kwargs(cid, lang):
    ct = registry.get(cid)
    raw = CASES[cid][0]
    text = ct.render(ct.parse_kwargs(raw), lang)
    assert text.strip()
    for v in raw.values():
        if isinstance(v, list):
            assert all(x in text for x in v)
        elif cid == "trace_language:response_language":
            assert ("Chinese" if lang == "en" else "中文") in text
        elif v in ("at least", "less than"):
            assert {"at least": ("at least", "至少"), "less than": ("fewer than", "少于")}[v][
                lang == "zh"
            ] in text
        else:
            assert str(v) in text, (v, text)


def test_length_render_shapes():
    ct = registry.get("zh_length:words")
    assert "exactly 5" in ct.render(ct.parse_kwargs({"at_least": 5, "at_most": 5}), "en")
    assert "不超过 9" in ct.render(ct.parse_kwargs({"at_most": 9}), "zh")
    assert "between 2 and 9" in ct.render(ct.parse_kwargs({"at_least": 2, "at_most": 9}), "en")


@pytest.mark.parametrize(
    "cid,raw,field",
    [
        ("zh_length:words", {}, "kwargs"),
        ("zh_length:words", {"at_least": "ten"}, "at_least"),
        ("zh_length:sentences", {"at_least": 5, "at_most": 2}, "kwargs"),
        ("zh_keywords:include", {}, "keywords"),
        ("zh_keywords:include", {"keywords": "人工智能"}, "keywords"),
        ("zh_keywords:include", {"keywords": []}, "keywords"),
        ("zh_keywords:exclude", {"forbidden": [" "]}, "forbidden"),
        ("zh_keywords:frequency", {"keyword": "创新", "frequency": 2}, "relation"),
        ("zh_keywords:frequency", {"keyword": "创新", "frequency": 2, "relation": "more"}, "relation"),
        ("zh_startend:starts_with", {}, "phrase"),
        ("zh_startend:ends_with", {"phrase": 3}, "phrase"),
        ("trace_format:markdown_table", {"min_rows": "3"}, "min_rows"),
        ("trace_format:headings", {}, "min_headings"),
        ("trace_format:numbered_list", {"num_items": 0}, "num_items"),
        ("trace_format:bullet_list", {"num_items": 2.5}, "num_items"),
        ("trace_language:response_language", {"language": "fr"}, "language"),
        ("trace_format:json", {"indent": 2}, "indent"),
        ("zh_punctuation:no_comma", {"bogus": True}, "bogus"),
    ],
)
def test_bad_kwargs_name_the_field(cid, raw, field):
    with pytest.raises(ConstraintError) as exc:
        registry.get(cid).parse_kwargs(raw)
    msg = str(exc.value)
    assert f"'{field}'" in msg and cid in msg and "\n" not in msg


# id -> (kwargs, a response that follows them and must fail every perturbation)
PERTURB_CASES: list[tuple[str, dict, str]] = [
    ("zh_length:words", {"at_least": 23}, ZH_TEXT),
    ("zh_length:words", {"at_most": 23}, ZH_TEXT),
    ("zh_length:words", {"at_least": 20, "at_most": 23}, ZH_TEXT),
    ("zh_length:characters", {"at_least": 5, "at_most": 6}, "一二三四五六"),
    ("zh_length:sentences", {"at_most": 3}, ZH_TEXT),
    ("zh_length:paragraphs", {"at_least": 1}, "一段。"),
    ("zh_keywords:frequency", {"keyword": "创新", "frequency": 2, "relation": "at least"}, "创新，创新。"),
    ("zh_keywords:frequency", {"keyword": "创新", "frequency": 2, "relation": "less than"}, "创新。"),
    ("trace_format:markdown_table", {"min_rows": 3}, TABLE),
    ("trace_format:headings", {"min_headings": 1}, "# 标题\n正文"),
    ("trace_format:numbered_list", {"num_items": 1}, "1. 唯一"),
    ("trace_format:numbered_list", {"num_items": 2}, "1. 一\n2. 二"),
    ("trace_format:bullet_list", {"num_items": 2}, "- 一\n- 二"),
    ("trace_language:response_language", {"language": "zh"}, ZH_TEXT),
    ("trace_language:response_language", {"language": "en"}, "Plain English text."),
]


def test_every_perturbable_own_id_has_a_perturbation_test():
    perturbable = set()
    for ct in extra.CONSTRAINTS:
        if ct.perturb(ct.parse_kwargs(CASES[ct.id][0]), random.Random(0)) is not None:
            perturbable.add(ct.id)
    assert perturbable == {cid for cid, _, _ in PERTURB_CASES}


@pytest.mark.parametrize("cid,raw,response", PERTURB_CASES)
@pytest.mark.parametrize("seed", range(4))
def test_perturbation_breaks_a_following_response(cid, raw, response, seed):
    ct = registry.get(cid)
    kw = ct.parse_kwargs(raw)
    assert ct.check(response, kw) is True
    new = ct.parse_kwargs(ct.perturb(kw, random.Random(seed)))
    assert new != kw
    assert ct.check(response, new) is False


def test_at_least_zero_has_no_perturbation():
    ct = registry.get("zh_length:paragraphs")
    assert ct.perturb(ct.parse_kwargs({"at_least": 0}), random.Random(0)) is None


@pytest.mark.parametrize("cid", sorted(CASES))
def test_sampled_kwargs_parse_and_render(cid):
    ct = registry.get(cid)
    for seed in range(5):
        for task in (None, "介绍一下你的家乡。", "Describe your home town."):
            kw = ct.parse_kwargs(ct.sample_kwargs(random.Random(seed), task))
            assert ct.render(kw, "en") and ct.render(kw, "zh")


def test_sampled_language_and_keywords_follow_the_task_language():
    lang = registry.get("trace_language:response_language")
    assert lang.sample_kwargs(random.Random(0), "介绍一下你的家乡。") == {"language": "zh"}
    assert lang.sample_kwargs(random.Random(0), "Describe your home town.") == {"language": "en"}
    inc = registry.get("zh_keywords:include")
    assert all(
        k in extra.EN_KEYWORDS for k in inc.sample_kwargs(random.Random(0), "Describe it.")["keywords"]
    )


# --- Chinese text units ----------------------------------------------------------------------


def test_cjk_character_is_one_word_unit_in_mixed_text():
    assert count_words("我爱Python和AI编程", "zh") == 7  # 我 爱 Python 和 AI 编 程
    assert count_words("版本3.14发布了", "zh") == 7  # 版 本 3 14 发 布 了: a decimal is two \w runs
    assert count_words("Hello, world!", "zh") == count_words("Hello, world!", "en") == 2
    assert count_words("，。！？“”", "zh") == 0


def test_chinese_sentences_end_at_full_stops_and_lines():
    assert sentences_zh(ZH_TEXT) == ["人工智能正在改变世界。", "它让生活更便利！", "你准备好了吗？"]
    assert sentences_zh("他说：“好的。”然后走了。") == ["他说：“好的。”", "然后走了。"]
    assert sentences_zh("标题没有标点\n正文一句。") == ["标题没有标点", "正文一句。"]
    assert sentences_zh("圆周率约为3.14。Pi is pi. 对吧？！") == ["圆周率约为3.14。", "Pi is pi.", "对吧？！"]
    assert sentences_zh("---\n😀\n") == []


def test_blank_line_paragraphs():
    assert paragraphs("第一段。\n \n第二段。\n第二段续。\n\n\n第三段。") == [
        "第一段。",
        "第二段。\n第二段续。",
        "第三段。",
    ]
    assert paragraphs("\n\n") == []


def test_keyword_matching_is_substring_and_case_insensitive_for_latin():
    ct = registry.get("zh_keywords:frequency")
    kw = ct.parse_kwargs({"keyword": "AI", "frequency": 3, "relation": "at least"})
    assert ct.check("ai、Ai和AI都算。", kw)
    assert not ct.check("ai和AI。", kw)


def test_no_comma_covers_both_commas_but_not_the_enumeration_comma():
    ct = registry.get("zh_punctuation:no_comma")
    assert ct.check("苹果、香蕉和橙子。", None)
    assert not ct.check("apples, pears", None)


def test_language_detection_on_mixed_and_other_scripts():
    ct = registry.get("trace_language:response_language")
    zh, en = ct.parse_kwargs({"language": "zh"}), ct.parse_kwargs({"language": "en"})
    assert ct.check("我们用 PyTorch 和 CUDA 训练模型。", zh)
    assert ct.check("The dish is called 麻婆豆腐 in Sichuan.", en)
    assert not ct.check("Это русский текст.", en) and not ct.check("Это русский текст.", zh)
    assert ct.check("12345 !!!", zh) and ct.check("12345 !!!", en)  # UNDETECTABLE_LANGUAGE_FOLLOWS


def test_json_edge_cases():
    ct = registry.get("trace_format:json")
    assert ct.check("[1, 2, 3]", None)
    assert not ct.check("```\nnot json\n```", None)
    assert not ct.check("[" * 100_000 + "]" * 100_000, None)  # too deep: fails, never raises


def test_table_needs_matching_delimiter_row():
    ct = registry.get("trace_format:markdown_table")
    kw = ct.parse_kwargs({"min_rows": 1})
    assert ct.check("a | b\n--|--\n1 | 2", kw)
    assert not ct.check("| a | b |\n| 1 | 2 |\n| 3 | 4 |", kw)
    assert not ct.check("| a | b |\n|---|\n| 1 | 2 |", kw)
