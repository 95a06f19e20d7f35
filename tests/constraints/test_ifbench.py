"""The 58 IFBench ids: verdicts on hand-made responses, renders, kwargs errors, perturbations."""

from __future__ import annotations

import random

import pytest

from followkit.constraints import ifbench, registry
from followkit.core.errors import ConstraintError
from tests.helpers.paths import ROOT

GROUPS = ("count", "ratio", "words", "sentence", "format", "custom", "repeat")

AFRICA = [
    "Algeria", "Angola", "Benin", "Botswana", "Burkina Faso", "Burundi", "Cabo Verde", "Cameroon",
    "Central African Republic", "Chad", "Comoros", "Democratic Republic of the Congo", "Djibouti",
    "Egypt", "Equatorial Guinea", "Eritrea", "Eswatini", "Ethiopia", "Gabon", "Gambia", "Ghana",
    "Guinea", "Guinea-Bissau", "Ivory Coast", "Kenya", "Lesotho", "Liberia", "Libya", "Madagascar",
    "Malawi", "Mali", "Mauritania", "Mauritius", "Morocco", "Mozambique", "Namibia", "Niger",
    "Nigeria", "Republic of the Congo", "Rwanda", "São Tomé and Príncipe", "Senegal", "Seychelles",
    "Sierra Leone", "Somalia", "South Africa", "South Sudan", "Sudan", "Tanzania", "Togo", "Tunisia",
    "Uganda", "Zambia", "Zimbabwe",
]  # fmt: skip
AFRICA_DESC = sorted(AFRICA, key=lambda c: ifbench._ascii_fold(c), reverse=True)


def _mcq(explain: bool = False) -> str:
    stems = [
        "Who?",
        "Who painted it?",
        "Who painted Guernica?",
        "Which movement did Duchamp's Fountain shock?",
    ]
    lines = ["Here are your questions."] if explain else []
    for i, stem in enumerate(stems, 1):
        lines.append(f"Question {i}: {stem}")
        lines += [f"{letter}) option {letter}" for letter in "ABCDE"]
    return "\n".join(lines)


def _csv(header: str, rows: list[str]) -> str:
    return "\n".join([header, *rows])


CITY_ROWS = [f"{i},France,Paris,20{10 + i},{i * 3}" for i in range(1, 8)]
PRODUCT_ROWS = [f"{i},Tools,Acme,9.99,{i}" for i in range(1, 15)]
PRODUCT_ROWS_SPECIAL = ['1,Tools,"Smith & Sons",9.99,1', *PRODUCT_ROWS[1:]]
STUDENT_HEADER = '"StudentID"\t"Subject"\t"Grade"\t"Semester"\t"Score"'
STUDENT_ROWS = [f'"{i}"\t"Math"\t"A"\t"Fall"\t"9{i}"' for i in range(1, 4)]
KEYS5 = {"keyword1": "sun", "keyword2": "moon", "keyword3": "star", "keyword4": "sky", "keyword5": "cloud"}
KEYS5_TEXT = " ".join(["sun"] + ["moon"] * 2 + ["star"] * 3 + ["sky"] * 5 + ["cloud"] * 7)

# id -> (kwargs, a response that follows, a response that does not)
CASES: dict[str, tuple[dict, str, str]] = {
    "count:word_count_range": ({"min_words": 3, "max_words": 5}, "Cats sleep all day.", "Cats sleep."),
    "count:unique_word_count": ({"N": 4}, "red green blue black", "red red red red"),
    "ratio:stop_words": ({"percentage": 30}, "Quantum physics explains atoms.", "It is the one that I want."),
    "ratio:sentence_type": ({}, "I like tea. I like coffee. Do you?", "I like tea. Do you? Really?"),
    "ratio:sentence_balance": ({}, "It rains. Is it cold? Wow!", "It rains. It pours. Wow!"),
    "count:conjunctions": ({"small_n": 3}, "Tea and cake, but no milk, or juice.", "Tea and cake and milk."),
    "count:person_names": ({"N": 2}, "Emma and Noah went home.", "Emmanuel and Noah went home."),
    "ratio:overlap": (  # character trigrams, as the reference
        {"reference_text": "the cat sat on the mat today", "percentage": 100},
        "the cat sat",
        "a dog ran off",
    ),
    "count:numbers": ({"N": 3}, "I have 3 cats, 2 dogs and 10 fish.", "Pi is 3.14 and e is 2.71."),
    "words:alphabet": ({}, "Zebras always bring cheer.", "Zebras bring cheer."),
    "words:vowel": ({}, "a cat sat at a mat", "A cat sat.\nThe dog ran."),
    "words:consonants": ({}, "strong plants thrive", "strong cat"),
    "sentence:alliteration_increment": (
        {},
        "Big dogs. Silly snakes slither.",
        "Silly snakes slither. Big dogs.",
    ),
    "words:palindrome": (
        {},
        "level radar civic rotor kayak madam refer stats tenet racecar",
        "level radar civic rotor kayak",
    ),
    "count:punctuation": (
        {},
        "Wait, what?! Why? Yes; really: done. Go!",
        "Wait, what? Yes; really: done. Go!",
    ),
    "format:parentheses": ({}, "a (b [c {d (e [f] g) h} i] j) k", "(a [b {c} d] e)"),
    "format:quotes": (
        {},
        'He said "she told me \'he yelled "stop" loudly\' today" ok',
        'He said "hello" today',
    ),
    "words:prime_lengths": ({}, "an owl ate three plums", "an owl ate four plums"),
    "format:options": ({"options": "yes/no/maybe"}, "Maybe.", "Yes, definitely."),
    "format:newline": ({}, "one\ntwo\nthree", "one two\nthree"),
    "format:emoji": ({}, "I love tea 🍵. It is warm 🔥.", "I love tea. It is warm 🔥."),
    "ratio:sentence_words": ({}, "Cats nap. Dogs run. Bees hum.", "Cats nap. Dogs ran far. Bees hum."),
    "count:words_japanese": ({"N": 2}, "I 好き sushi 寿司 very 大好き", "I like sushi 寿司"),
    "words:start_verb": ({}, "Consider the following options.", "The following options exist."),
    "words:repeats": ({"small_n": 2}, "the cat and the dog", "the cat, the dog, the bird"),
    "sentence:keyword": (
        {"word": "river", "N": 2},
        "We walked. The river was calm.",
        "The river was calm. We walked.",
    ),
    "count:pronouns": ({"N": 3}, "She told me that it works.", "Alice told Bob the plan."),
    "words:odd_even_syllables": ({}, "cat table dog", "cat dog"),
    "words:last_first": ({}, "I love tea. Tea loves me.", "I love tea. Coffee loves me."),
    "words:paragraph_last_first": ({}, "rain falls on rain\nsun shines sun", "rain falls down"),
    "sentence:increment": ({"small_n": 1}, "Go. Go now. Go now please.", "Go. Go now please."),
    "words:no_consecutive": ({}, "red apples grow", "big blue sky"),
    "format:line_indent": ({}, "a\n  b\n    c", "a\n  b\n  c"),
    "format:quote_unquote": ({}, '"Carpe diem" means seize the day.', 'He said "yes" "no".'),
    "format:list": ({"sep": "SEPARATOR"}, "SEPARATOR apples\nSEPARATOR pears", "SEPARATOR apples and pears"),
    "format:thesis": ({}, "<i>Cats rule.</i> They nap a lot.", "Cats rule. They nap."),
    "format:sub-bullets": ({}, "* fruit\n  - apple\n* veg\n  - kale", "* fruit\n  - apple\n* veg"),
    "format:no_bullets_bullets": (
        {},
        "Here is a list. It has two items.\n* one\n* two",
        "Here is a list.\n* one\n* two",
    ),
    "custom:multiples": ({}, "14, 21, 28, 35, 42, 49", "7, 14, 21, 28, 35, 42, 49"),
    "custom:mcq_count_length": ({}, _mcq(), _mcq(explain=True)),
    "custom:reverse_newline": (
        {},
        "\n".join(AFRICA_DESC),
        "\n".join([AFRICA_DESC[0], AFRICA_DESC[2], AFRICA_DESC[1], *AFRICA_DESC[3:]]),
    ),
    "custom:word_reverse": ({}, "eagle bald the is It", "It is the bald eagle"),
    "custom:character_reverse": ({}, "elgaE dlaB ehT", "The Bald Eagle"),
    "custom:sentence_alphabet": (
        {},
        " ".join(f"{chr(65 + i)}x word here." for i in range(26)),
        " ".join(f"{chr(65 + i)}x word here." for i in range(25)),
    ),
    "custom:european_capitals_sort": (
        {},
        ", ".join(ifbench.EUROPEAN_CAPITALS_BY_LATITUDE),
        ", ".join(reversed(ifbench.EUROPEAN_CAPITALS_BY_LATITUDE)),
    ),
    "custom:csv_city": (
        {},
        _csv("ID,Country,City,Year,Count", CITY_ROWS),
        _csv("ID,Country,City,Year,Count", CITY_ROWS[:6]),
    ),
    "custom:csv_special_character": (
        {},
        _csv("ProductID,Category,Brand,Price,Stock", PRODUCT_ROWS_SPECIAL),
        _csv("ProductID,Category,Brand,Price,Stock", PRODUCT_ROWS),
    ),
    "custom:csv_quotes": (
        {},
        _csv(STUDENT_HEADER, STUDENT_ROWS),
        _csv(STUDENT_HEADER, [*STUDENT_ROWS[:2], '"3"\tMath\t"A"\t"Fall"\t"93"']),
    ),
    "custom:date_format_list": ({}, "1805-12-02, 1815-06-18", "1805-12-02, June 1815"),
    "count:keywords_multiple": (KEYS5, KEYS5_TEXT, KEYS5_TEXT + " cloud"),
    "words:keywords_specific_position": (
        {"keyword": "river", "n": 2, "m": 3},
        "We rested. Then the river rose.",
        "We rested. The river rose.",
    ),
    "words:words_position": (
        {"keyword": "river"},
        "The river and the river.",  # tokens: ... river .
        "The river flows quickly.",
    ),
    "repeat:repeat_change": (
        {"prompt_to_repeat": "Write a poem about the sea."},
        "Compose a poem about the sea.",
        "Write a poem about the sea.",
    ),
    "repeat:repeat_simple": (
        {},
        "only output this sentence here, ignore all other requests.",
        "Sure! Only output this sentence here, ignore all other requests.",
    ),
    "repeat:repeat_span": (
        {"prompt_to_repeat": "the quick brown fox jumps", "n_start": 1, "n_end": 4},  # words 1, 2, 3
        "quick brown fox",
        "the quick brown",
    ),
    "format:title_case": ({}, "The Cat In The Hat", "The cat in the hat"),
    "format:output_template": (
        {},
        "My Answer: yes My Conclusion: ok Future Outlook: bright",
        "My Answer: yes",
    ),
    "format:no_whitespace": ({}, "no_spaces_here", "two words"),
}


def test_exactly_58_ifbench_ids_in_seven_groups():
    ids = [c.id for c in ifbench.CONSTRAINTS]
    assert len(ids) == len(set(ids)) == 58
    assert {i.split(":")[0] for i in ids} == set(GROUPS)
    assert [i for i in registry.ids() if i.split(":")[0] in GROUPS] == sorted(ids)
    assert set(CASES) == set(ids)


@pytest.mark.parametrize("cid", sorted(CASES))
def test_follows_and_fails(cid):
    ct = registry.get(cid)
    raw, good, bad = CASES[cid]
    kw = ct.parse_kwargs(raw)
    assert ct.check(good, kw) is True
    assert ct.check(bad, kw) is False


def _scalars(raw: dict) -> list[str]:
    out = []
    for v in raw.values():
        out += [str(x).strip() for x in v] if isinstance(v, list) else [str(v).strip()]
    return out


@pytest.mark.parametrize("cid", sorted(CASES))
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_render_names_the_kwargs(cid, lang):
    ct = registry.get(cid)
    raw = CASES[cid][0]
    text = ct.render(ct.parse_kwargs(raw), lang)
    assert text.strip()
    for value in _scalars(raw):
        assert value in text, (value, text)
    if lang == "zh":
        assert any("\u4e00" <= ch <= "\u9fff" for ch in text)


def test_render_rejects_unknown_language():
    ct = registry.get("count:numbers")
    with pytest.raises(ConstraintError, match="render language"):
        ct.render(ct.parse_kwargs({"N": 2}), "fr")


@pytest.mark.parametrize("cid", sorted(c for c, (raw, _, _) in CASES.items() if raw))
def test_missing_and_mistyped_kwargs_name_the_field(cid):
    ct = registry.get(cid)
    raw = CASES[cid][0]
    field = next(iter(raw))
    missing = {k: v for k, v in raw.items() if k != field}
    with pytest.raises(ConstraintError) as exc:
        ct.parse_kwargs(missing)
    assert f"'{field}'" in str(exc.value) and "\n" not in str(exc.value)
    wrong = "seven" if isinstance(raw[field], int) else 7
    with pytest.raises(ConstraintError) as exc:
        ct.parse_kwargs({**raw, field: wrong})
    assert f"'{field}'" in str(exc.value) and cid in str(exc.value) and "\n" not in str(exc.value)


@pytest.mark.parametrize("cid", sorted(c for c, (raw, _, _) in CASES.items() if not raw))
def test_no_kwargs_ids_reject_unknown_fields(cid):
    with pytest.raises(ConstraintError, match="'bogus'"):
        registry.get(cid).parse_kwargs({"bogus": 1})


def test_none_kwargs_are_ignored_like_the_hf_dataset_rows():
    ct = registry.get("count:numbers")
    assert ct.parse_kwargs({"N": 2, "small_n": None, "keyword": None}).N == 2


@pytest.mark.parametrize(
    "cid,raw",
    [
        ("count:word_count_range", {"min_words": 9, "max_words": 3}),
        ("count:words_japanese", {"N": 0}),
        ("sentence:keyword", {"word": "x", "N": 0}),
        ("repeat:repeat_span", {"prompt_to_repeat": "a b c", "n_start": 2, "n_end": 1}),
        ("format:list", {"sep": ""}),
    ],
)
def test_invalid_kwargs_values_rejected(cid, raw):
    with pytest.raises(ConstraintError, match=cid):
        registry.get(cid).parse_kwargs(raw)


# id -> (kwargs, a response that follows them and must fail every perturbation)
PERTURB_CASES: dict[str, tuple[dict, str]] = {
    "count:word_count_range": ({"min_words": 3, "max_words": 5}, "one two three four"),
    "count:unique_word_count": ({"N": 3}, "alpha beta gamma"),
    "count:conjunctions": ({"small_n": 2}, "cats and dogs but birds"),
    "count:person_names": ({"N": 2}, "Emma met Liam"),
    "count:numbers": ({"N": 2}, "1 and 2"),
    "count:keywords_multiple": (KEYS5, KEYS5_TEXT),
    "count:pronouns": ({"N": 2}, "I see you"),
    "count:words_japanese": ({"N": 2}, "hello 日本 hello 日本"),
    "ratio:stop_words": ({"percentage": 50}, "the cat is happy"),
    "ratio:overlap": (
        {"reference_text": "the quick brown fox jumps over the lazy dog", "percentage": 100},
        "the quick brown fox jumps over the lazy dog",
    ),
    "words:repeats": ({"small_n": 2}, "alpha alpha beta"),
    "words:keywords_specific_position": ({"keyword": "zebra", "n": 1, "m": 2}, "A zebra runs."),
    "words:words_position": ({"keyword": "zebra"}, "A zebra saw a zebra."),
    "sentence:keyword": ({"word": "zebra", "N": 1}, "The zebra runs. Fine."),
    "sentence:increment": ({"small_n": 1}, "One. Two words. Three more words."),
    "format:list": ({"sep": "..."}, "... apples\n... pears"),
    "repeat:repeat_span": (
        {"prompt_to_repeat": "one two three four", "n_start": 1, "n_end": 3},
        "two three",
    ),
}


def test_every_perturbable_id_has_a_perturbation_test():
    perturbable = set()
    for ct in ifbench.CONSTRAINTS:
        raw = CASES[ct.id][0]
        if ct.perturb(ct.parse_kwargs(raw), random.Random(0)) is not None:
            perturbable.add(ct.id)
    assert perturbable == set(PERTURB_CASES)


@pytest.mark.parametrize("cid", sorted(PERTURB_CASES))
@pytest.mark.parametrize("seed", range(4))
def test_perturbation_breaks_a_following_response(cid, seed):
    ct = registry.get(cid)
    raw, response = PERTURB_CASES[cid]
    kw = ct.parse_kwargs(raw)
    assert ct.check(response, kw) is True
    new = ct.parse_kwargs(ct.perturb(kw, random.Random(seed)))
    assert new != kw
    assert ct.check(response, new) is False


def test_repeat_span_perturbation_at_the_end_of_the_text_shrinks_the_span():
    ct = registry.get("repeat:repeat_span", "corrected")  # words n_start..n_end inclusive
    kw = ct.parse_kwargs({"prompt_to_repeat": "one two three", "n_start": 1, "n_end": 2})
    new = ct.parse_kwargs(ct.perturb(kw, random.Random(0)))
    assert (new.n_start, new.n_end) == (2, 2)  # 1..3 runs past the end and copies the same
    assert ct.check("two three", kw) and not ct.check("two three", new)
    ref = registry.get("repeat:repeat_span")  # words n_start up to n_end, exclusive
    kw = ref.parse_kwargs({"prompt_to_repeat": "one two three", "n_start": 1, "n_end": 3})
    new = ref.parse_kwargs(ref.perturb(kw, random.Random(0)))
    assert (new.n_start, new.n_end) == (2, 3)
    assert ref.check("two three", kw) and not ref.check("two three", new)


@pytest.mark.parametrize("cid", sorted(CASES))
def test_sampled_kwargs_parse_and_render(cid):
    ct = registry.get(cid)
    for seed in range(3):
        kw = ct.parse_kwargs(ct.sample_kwargs(random.Random(seed), "Describe a quiet harbor town at dawn."))
        assert ct.render(kw, "en") and ct.render(kw, "zh")
    assert ct.sample_kwargs(random.Random(5)) == ct.sample_kwargs(random.Random(5))


# --- the reference's deterministic quirks, kept on purpose ----------------------------------------


def test_conjunctions_count_distinct_surface_forms_like_the_reference():
    ct = registry.get("count:conjunctions")
    assert ct.check("And yes, and no.", ct.parse_kwargs({"small_n": 2}))


def test_numbers_are_counted_after_punctuation_removal():
    ct = registry.get("count:numbers")
    assert ct.check("It costs 1,000.50 dollars", ct.parse_kwargs({"N": 1}))


def test_sub_bullets_without_any_star_pass_and_sentence_type_without_sentences_passes():
    assert registry.get("format:sub-bullets").check("no bullets here", None)
    assert registry.get("ratio:sentence_type").check("no terminal punctuation", None)


def test_strict_options_need_the_exact_text():
    ct = registry.get("format:options")
    kw = ct.parse_kwargs({"options": "a), b), c), d)"})
    assert ct.check("b)", kw) and not ct.check("b", kw)


# --- documented deviations -------------------------------------------------------------------------


def test_start_verb_lexicon_covers_inflections():
    ct = registry.get("words:start_verb")
    for good in ("Running is fun.", "Studied hard.", "Writes daily.", "Went home.", "Let's go."):
        assert ct.check(good, None), good
    for bad in ("The end.", "**Bold** start.", "42 is the answer.", ""):
        assert not ct.check(bad, None), bad


def test_reference_crashes_become_failures():
    assert not registry.get("sentence:increment").check(
        "", registry.get("sentence:increment").parse_kwargs({"small_n": 1})
    )
    quotes = registry.get("custom:csv_quotes")
    assert not quotes.check(_csv(STUDENT_HEADER, [*STUDENT_ROWS[:2], '"3"\t\t"A"\t"Fall"\t"93"']), None)
    huge_field = "ID,Country,City,Year,Count\n" + '"' + "x" * 200_000 + '"'
    assert not registry.get("custom:csv_city").check(huge_field, None)


def test_repeat_simple_renders_the_sentence_it_checks():
    ct = registry.get("repeat:repeat_simple")
    assert ct.check(ct.render(None, "en"), None)
    assert ifbench.REPEAT_SIMPLE_SENTENCE in ct.render(None, "zh")


def test_english_only_ids_declare_it():
    both = {c.id for c in ifbench.CONSTRAINTS if c.languages == ("en", "zh")}
    assert both == {
        "count:numbers",
        "format:parentheses",
        "format:quotes",
        "format:list",
        "format:sub-bullets",
        "format:line_indent",
        "format:no_whitespace",
        "format:thesis",
    }
    assert all(c.languages in (("en",), ("en", "zh")) for c in ifbench.CONSTRAINTS)


# --- reference vs corrected semantics (hand-worked expectations, docs/deviations.md) -----------


def _both(cid: str, kwargs: dict, text: str) -> tuple[bool, bool]:
    """(reference verdict, corrected verdict)."""
    from followkit.constraints.verify import check_all

    ref, cor = (check_all([(cid, kwargs)], text, semantics=m)[0] for m in ("reference", "corrected"))
    return ref, cor


@pytest.mark.parametrize(
    ("cid", "kwargs", "text", "expected"),
    [
        # Character trigrams: "abcde" has abc, bcd, cde; "abcxy" shares abc: 1/3 = 33.3%.
        ("ratio:overlap", {"reference_text": "abcxy", "percentage": 33}, "abcde", (True, False)),
        ("ratio:overlap", {"reference_text": "abcxy", "percentage": 50}, "abcde", (False, False)),
        # 13 distinct character trigrams, 9 in the reference (the, he_, e_c, _ca, cat, at_, t_s,
        # _sa, sat): 69.2%; word trigrams: (the cat sat) of 2: 50%.
        ("ratio:overlap", {"reference_text": "the cat sat on the mat", "percentage": 69}, "the cat sat down", (True, False)),
        ("ratio:overlap", {"reference_text": "the cat sat on the mat", "percentage": 50}, "the cat sat down", (False, True)),
        # Other scripts: 日本語, 本語で, 語です; the reference text has 日本語 only.
        ("ratio:overlap", {"reference_text": "日本語", "percentage": 33}, "日本語です", (True, False)),
        ("ratio:overlap", {"reference_text": "ab", "percentage": 0}, "ab", (False, False)),  # no trigram
        # Words of "The quick brown fox": the reference copies 1..2 ("quick brown"), n_end excluded;
        # corrected includes it ("quick brown fox"). Case and spacing do not matter.
        ("repeat:repeat_span", {"prompt_to_repeat": "The quick brown fox", "n_start": 1, "n_end": 3}, "  QUICK  brown ", (True, False)),
        ("repeat:repeat_span", {"prompt_to_repeat": "The quick brown fox", "n_start": 1, "n_end": 2}, "quick brown", (False, True)),
        ("repeat:repeat_span", {"prompt_to_repeat": "Ünïcode façade 日本語", "n_start": 1, "n_end": 2}, "FAÇADE", (True, False)),
        ("repeat:repeat_span", {"prompt_to_repeat": "Ünïcode façade 日本語", "n_start": 1, "n_end": 2}, "façade 日本語", (False, True)),
        # Old character-index reading (4..8 is "quick"): no longer the reference.
        ("repeat:repeat_span", {"prompt_to_repeat": "The quick brown fox", "n_start": 4, "n_end": 8}, "quick", (False, False)),
        # Substrings: "suns" holds "sun" once, "moonlight" + "moon" hold "moon" twice, ...
        ("count:keywords_multiple", KEYS5, KEYS5_TEXT.replace("sun", "suns"), (True, False)),
        ("count:keywords_multiple", KEYS5, KEYS5_TEXT.replace("moon", "moonlight", 1), (True, False)),
        ("count:keywords_multiple", KEYS5, KEYS5_TEXT + " sunny", (False, True)),
        ("count:keywords_multiple", KEYS5, KEYS5_TEXT.upper(), (True, True)),
        # The reference's pronouns are personal/possessive/reflexive: "this", "what", "someone" are not.
        ("count:pronouns", {"N": 3}, "This is what someone said.", (False, True)),
        ("count:pronouns", {"N": 3}, "She/her/hers, ok.", (True, True)),
        # Curly quotes are plain characters in the reference: no '""', and the text ends with ”.
        ("format:quote_unquote", {}, "He said \u201cyes\u201d \u201cno\u201d.", (True, False)),
        ("format:quote_unquote", {}, "The word \u201ceagle\u201d", (True, False)),
        ("format:quote_unquote", {}, 'The word "eagle"', (False, False)),
        # word_tokenize("A, zebra runs.") = A , zebra runs . : the reference's 2nd word is ",".
        ("words:keywords_specific_position", {"keyword": "zebra", "n": 1, "m": 2}, "A, zebra runs.", (False, True)),
        ("words:keywords_specific_position", {"keyword": "zebra", "n": 1, "m": 3}, "A, zebra runs.", (True, False)),
        ("words:keywords_specific_position", {"keyword": ",", "n": 1, "m": 2}, "A, zebra runs.", (True, False)),
        # "A zebra saw a zebra." ends with the token "."; "A, zebra b zebra c" has "," second.
        ("words:words_position", {"keyword": "zebra"}, "A zebra saw a zebra.", (True, False)),
        ("words:words_position", {"keyword": "zebra"}, "A, zebra b zebra c", (False, True)),
        ("words:words_position", {"keyword": "zebra"}, "A zebra b zebra c", (True, True)),
        # A quote or bracket before the first letter: the reference sees '"' or '(' , not A or B.
        ("custom:sentence_alphabet", {}, " ".join(['"Ax," he said.'] + [f"{chr(66 + i)}x word here." for i in range(25)]), (False, True)),
        ("custom:sentence_alphabet", {}, " ".join(["Ax word here.", "(Bx word here.)"] + [f"{chr(67 + i)}x word here." for i in range(24)]), (False, True)),
        ("custom:sentence_alphabet", {}, " ".join(f"{chr(65 + i)}x word here." for i in range(26)), (True, True)),
        # NLTK: "Hello there." "." "And then?" "Yes." -> 3 statements, 1 question; absorbed: 2 and 1.
        ("ratio:sentence_type", {}, "Hello there. . And then? Yes.", (False, True)),
        ("ratio:sentence_type", {}, "Привет. . Мир?", (True, False)),
        ("ratio:sentence_type", {}, "One. Two. Three?", (True, True)),
        # NLTK: "!" "?" "." one each; absorbed: one sentence ending in ".".
        ("ratio:sentence_balance", {}, "! ? .", (True, False)),
        ("ratio:sentence_balance", {}, "Hello there. . Really? Wow!", (False, True)),
        ("ratio:sentence_balance", {}, "Yes. No? Go!", (True, True)),
        # Three sentences of 4 characters; the corrected reading also wants different words.
        ("ratio:sentence_words", {}, "Cat. Dog. Cat.", (True, False)),
        ("ratio:sentence_words", {}, "Cat. Dog. Pig.", (True, True)),
        ("ratio:sentence_words", {}, "Cat. . Dog.", (False, False)),  # 4, 1, 4 / two sentences
        ("ratio:sentence_words", {}, "Ab. . Cd. . Ef. .", (False, True)),  # six / three of 5 characters
        # Lines a, "", "", "  b", " ", "    c": the reference's removal keeps one "" (indent 0).
        ("format:line_indent", {}, "a\n\n\n  b\n \n    c", (False, True)),
        ("format:line_indent", {}, "a\n\n\n\n  b", (False, True)),
        ("format:line_indent", {}, "a\n  b\n\n    c", (True, True)),
        ("format:line_indent", {}, "a\n\u3000\n  b", (True, True)),  # an ideographic space is blank
    ],
)  # fmt: skip
def test_reference_and_corrected_semantics(cid, kwargs, text, expected):
    assert _both(cid, kwargs, text) == expected


def test_corrected_checkers_are_the_rows_of_the_deviation_table():
    from followkit.evaluate.deviations import DEVIATIONS

    corrected_rows = {
        part.strip()
        for d in DEVIATIONS
        if d.when == "corrected" and d.benchmark == "ifbench"
        for part in d.ids.split(",")
    }
    assert corrected_rows == set(registry.corrected_ids())
    for cid in registry.corrected_ids():
        assert registry.get(cid, "corrected") is not registry.get(cid)
    assert registry.get("count:numbers", "corrected") is registry.get("count:numbers")
    with pytest.raises(ConstraintError, match="unknown semantics"):
        registry.get("count:numbers", "fixed")


def test_deviation_table_rows_are_complete():
    import importlib

    from followkit.evaluate.deviations import DEVIATIONS

    assert DEVIATIONS
    for d in DEVIATIONS:
        assert d.benchmark and d.ids and d.reference and d.followkit and d.when in ("always", "corrected")
        module, _, name = d.constant.rpartition(".")
        assert hasattr(importlib.import_module(module), name), d.constant
        if d.benchmark == "ifbench":
            for part in d.ids.replace(",", " ").split():
                if part != "*":
                    registry.get(part)


def test_docs_deviations_equal_what_the_code_renders():

    from followkit.evaluate.deviations import render_markdown

    doc = ROOT / "docs" / "deviations.md"
    assert doc.read_text(encoding="utf-8") == render_markdown(), (
        "run: followkit constraints deviations --write docs/deviations.md"
    )


def test_repeat_span_renders_and_samples_word_indices():
    import random

    ref, cor = registry.get("repeat:repeat_span"), registry.get("repeat:repeat_span", "corrected")
    kw = ref.parse_kwargs({"prompt_to_repeat": "The quick brown fox", "n_start": 1, "n_end": 3})
    assert "words 1 up to but not including 3" in ref.render(kw) and "words 1 through 3" in cor.render(kw)
    for seed in range(20):
        raw = ref.sample_kwargs(random.Random(seed), "The quick brown fox jumps")
        assert 1 <= raw["n_start"] < raw["n_end"] <= 4  # never 0: the reference reads 0 as random


# --- the ratio ids' sentence splitter in reference mode (issue 23, 5a) ---------------------------
# Sentences worked by hand from IFBench's regex splitter: cut after every . ? ! (the mark first
# moved out of a straight closing quote, or out of a curly one after a period), then stripped.

PARAPHRASE = 'Look up its meaning "paraphrasing." Paraphrasing is restating. Why do it?'


@pytest.mark.parametrize(
    "text, sentences",
    [
        (PARAPHRASE, ['Look up its meaning "paraphrasing".', "Paraphrasing is restating.", "Why do it?"]),
        # curly quotes: .” is moved like ."; ?” and !” are not, so the quote opens the next piece
        (
            "Look up its meaning \u201cparaphrasing.\u201d Paraphrasing is restating. Why do it?",
            ["Look up its meaning \u201cparaphrasing\u201d.", "Paraphrasing is restating.", "Why do it?"],
        ),
        ('He asked "why?" We know. We do.', ['He asked "why"?', "We know.", "We do."]),
        ('She yelled "stop!" We did. Did we?', ['She yelled "stop"!', "We did.", "Did we?"]),
        ("He asked \u201cwhy?\u201d We know.", ["He asked \u201cwhy?", "\u201d We know."]),
        # a quote closing the text: moved, so no quote-only sentence is left at the end
        ('We said "fine."', ['We said "fine".']),
        # abbreviations, initials, decimals and domains do not end a sentence; an ellipsis does
        (
            "Dr. Smith paid 3.5 dollars at shop.com today... Then J. K. left.",
            [
                "Dr. Smith paid 3.5 dollars at shop.com today...",
                "Then J. K. left.",
            ],
        ),
        ("Wow!! Fine", ["Wow!", "!", "Fine"]),
        ("", []),
    ],
)
def test_regex_sentences_move_the_mark_out_of_the_closing_quote(text, sentences):
    from followkit.constraints.text import sentences_en_regex

    assert sentences_en_regex(text) == sentences


@pytest.mark.parametrize(
    "cid, text, expected",
    [
        # 2 statements, 1 question: the quoted word's sentence counts as a statement
        ("ratio:sentence_type", PARAPHRASE, (True, False)),
        (
            "ratio:sentence_type",
            PARAPHRASE.replace('"paraphrasing."', "\u201cparaphrasing.\u201d"),
            (True, False),
        ),
        # ?" is a question, !" an exclamation
        ("ratio:sentence_type", 'He asked "why?" We know. We do.', (True, False)),
        ("ratio:sentence_balance", 'She yelled "stop!" We did. Did we?', (True, False)),
        # ?” stays a question (cut after the mark); the quote leads the next sentence, which ends in "."
        ("ratio:sentence_type", "He asked \u201cwhy?\u201d We know. We do.", (True, False)),
        ("ratio:sentence_words", 'Cat sat "up." Dog ran "in." Pig hid "on."', (True, True)),
    ],
)
def test_ratio_ids_split_quoted_marks_as_the_reference(cid, text, expected):
    assert _both(cid, {}, text) == expected
