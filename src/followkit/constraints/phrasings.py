"""Alternative wordings of constraint sentences, so trained models learn the constraint, not one template.

Each id's `render` gives one fixed sentence; VARIANTS adds, per id and language, functions of the
same parsed kwargs that state exactly what the checker checks (same numbers, same relation, same
keywords and phrases verbatim) in other words and sentence shapes. `render_variant` draws among
the template and the variants with the caller's rng.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from followkit.constraints.base import ConstraintType
from followkit.constraints.ifeval import CONSTRAINED_RESPONSE_OPTIONS
from followkit.constraints.ifeval import LANGUAGES as LANGUAGE_NAMES
from followkit.constraints.text import NUMBER_WORDS

Variant = Callable[[Any], str]
"""A phrasing: parsed kwargs -> the constraint sentence."""

"""English number words; a variant may spell out a count up to twenty instead of writing digits."""

RELATION_WORDS: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "less than": ("less than", "fewer than", "under", "below"),
        "fewer than": ("less than", "fewer than", "under", "below"),
        "at least": ("at least", "or more", "a minimum of", "minimum"),
    },
    "zh": {
        "less than": ("少于", "不到", "低于"),
        "fewer than": ("少于", "不到", "低于"),
        "at least": ("至少", "最少", "或以上", "或更多"),
    },
}
"""Wordings each relation kwarg may take in a variant; all mean the checker's strict < or >=."""


def spell(n: int) -> str:
    """A count written out in words up to twenty, else in digits."""
    return NUMBER_WORDS[n] if 0 <= n < len(NUMBER_WORDS) else str(n)


def _lt(rel: str, n: int, lt: str, ge: str) -> str:
    """`lt` or `ge` (format strings over {n} and {w}, the number in digits and in words) by relation."""
    return (ge if rel == "at least" else lt).format(n=n, w=spell(n))


def _sq(words: list[str]) -> str:
    return ", ".join(f"'{w}'" for w in words)


def _dq(words: list[str]) -> str:
    return ", ".join(f'"{w}"' for w in words)


def _and(words: list[str], q: str = '"') -> str:
    quoted = [f"{q}{w}{q}" for w in words]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def _zq(words: list[str]) -> str:
    return "、".join(f"“{w}”" for w in words)


def _range(kw: Any, both: str, exact: str, lo: str, hi: str) -> str:
    """A RangeKwargs bound in English; each pattern is a format string over {lo} and {hi}."""
    a, b = kw.at_least, kw.at_most
    if a is not None and b is not None:
        return (exact if a == b else both).format(lo=a, hi=b)
    return (lo if a is not None else hi).format(lo=a, hi=b)


def _opts(sep: str = " / ") -> str:
    return sep.join(f'"{o}"' for o in CONSTRAINED_RESPONSE_OPTIONS)


_ZH_REL = {"less than": "少于", "fewer than": "少于", "at least": "至少"}
_ZH_REL2 = {"less than": "低于", "fewer than": "低于", "at least": "最少"}

_EN: dict[str, tuple[Variant, ...]] = {
    "change_case:capital_word_frequency": (
        lambda k: (
            f"Use {_lt(k.capital_relation, k.capital_frequency, 'fewer than {n}', 'at least {n}')} words written entirely in CAPITAL letters."
        ),
        lambda k: (
            f"Words in ALL CAPS should show up {_lt(k.capital_relation, k.capital_frequency, 'less than {n} times', '{n} times or more')}."
        ),
        lambda k: (
            f"Make sure the number of fully capitalized words is {_lt(k.capital_relation, k.capital_frequency, 'below {n}', 'at least {n}')}."
        ),
        lambda k: (
            f"All-caps words: {_lt(k.capital_relation, k.capital_frequency, 'fewer than {n}', 'a minimum of {n}')}."
        ),
        lambda k: (
            f"Your reply should contain {_lt(k.capital_relation, k.capital_frequency, 'under {n}', 'at least {n}')} words that are written in all uppercase letters, for emphasis."
        ),
    ),
    "change_case:english_capital": (
        lambda k: "Write everything in English, using only CAPITAL LETTERS.",
        lambda k: "Your whole answer should be in English and entirely uppercase.",
        lambda k: "Respond in English, and do not use a single lowercase letter.",
        lambda k: "Make sure your response is in English and in all caps from start to finish.",
        lambda k: "English only, ALL CAPS.",
    ),
    "change_case:english_lowercase": (
        lambda k: "Write your whole response in English using only lowercase letters.",
        lambda k: "Respond in English, and do not use any capital letters at all.",
        lambda k: (
            "Your answer should be in English and entirely in lowercase; no uppercase letters anywhere."
        ),
        lambda k: "English only, all lowercase.",
        lambda k: (
            "Make sure every letter of your English response is lowercase, even at the start of sentences."
        ),
    ),
    "combination:repeat_prompt": (
        lambda k: (
            f"Before you answer, repeat this request exactly as written, with nothing in front of it: {k.prompt_to_repeat}"
        ),
        lambda k: (
            "Start by copying the request word for word (leave out this instruction itself and say nothing before the copy), and only then respond."
        ),
        lambda k: (
            "Do not write anything before restating the request verbatim; this sentence is not part of what you repeat. After that, give your answer."
        ),
        lambda k: (
            f"Your response should begin with the request repeated without any change, namely: {k.prompt_to_repeat} Then answer it."
        ),
        lambda k: (
            "Repeat the request first, unchanged and with no preamble (not counting this sentence), then write your answer."
        ),
    ),
    "combination:two_responses": (
        lambda k: "Provide two different answers, separated by exactly six asterisks: ******",
        lambda k: (
            "Give me two distinct responses, and put ****** (six asterisks) between them and nowhere else."
        ),
        lambda k: (
            "Write two different versions of the answer; separate them with a line of six asterisks (******)."
        ),
        lambda k: (
            "I want two different responses. Split them with ****** and do not use that separator anywhere else."
        ),
        lambda k: "Two different responses, divided by six asterisks (******).",
    ),
    "detectable_content:number_placeholders": (
        lambda k: f"Use at least {k.num_placeholders} placeholders in square brackets, like [name].",
        lambda k: (
            f"Your response must include {spell(k.num_placeholders)} or more placeholders written in square brackets, such as [date]."
        ),
        lambda k: (
            f"Make sure there are at least {k.num_placeholders} bracketed placeholders, for example [city]."
        ),
        lambda k: (
            f"Leave a minimum of {k.num_placeholders} blanks for the reader to fill in, each written as a placeholder in square brackets like [company]."
        ),
        lambda k: f"Placeholders in [square brackets]: at least {k.num_placeholders}.",
    ),
    "detectable_content:postscript": (
        lambda k: f"At the end of your response, add a postscript starting with {k.postscript_marker}",
        lambda k: f"Please finish with a postscript that begins with {k.postscript_marker}",
        lambda k: f'Make sure to include a postscript at the end, starting with "{k.postscript_marker}".',
        lambda k: f"Close with a note marked {k.postscript_marker}",
        lambda k: f"Add a postscript at the very end; it should open with {k.postscript_marker}",
    ),
    "detectable_format:constrained_response": (
        lambda k: f"Your answer must be exactly one of the following: {_opts(', ')}.",
        lambda k: f"Reply with one of these phrases and nothing else: {_opts()}",
        lambda k: f"Choose from the following options to answer: {_opts(', ')}",
        lambda k: f"Respond only with {_opts(' or ')}",
        lambda k: f"Pick one option and answer with it: {_opts(', ')}",
    ),
    "detectable_format:json_format": (
        lambda k: "Your entire output should be in JSON format; you can use markdown code fences (```).",
        lambda k: "Format the whole response as JSON (wrapping it in ``` is fine).",
        lambda k: (
            "Make sure your answer is valid JSON from start to finish; a markdown ``` block around it is allowed."
        ),
        lambda k: "Respond in JSON only, optionally inside a ``` code block.",
        lambda k: (
            "Do not write anything outside of JSON; put the whole answer in JSON format, using ``` fences if you like."
        ),
    ),
    "detectable_format:multiple_sections": (
        lambda k: (
            f"Divide your response into {k.num_sections} sections, marking the start of each one with '{k.section_spliter} X', for example {k.section_spliter} 1, {k.section_spliter} 2."
        ),
        lambda k: (
            f"Organize the answer in {spell(k.num_sections)} parts. Begin each part with {k.section_spliter} followed by its number, such as {k.section_spliter} 1."
        ),
        lambda k: (
            f"Your answer should have {k.num_sections} sections; label them {k.section_spliter} 1, {k.section_spliter} 2, and so on."
        ),
        lambda k: (
            f"Split it into {k.num_sections} sections, each headed '{k.section_spliter} N' where N is the section number."
        ),
        lambda k: (
            f"Use {k.num_sections} sections. Mark the beginning of every section with {k.section_spliter} X, like this:\n{k.section_spliter} 1\n...\n{k.section_spliter} 2\n..."
        ),
    ),
    "detectable_format:number_bullet_lists": (
        lambda k: f"Use exactly {k.num_bullets} bullet points in markdown, such as:\n* This is a point.",
        lambda k: (
            f"Your response should contain exactly {spell(k.num_bullets)} markdown bullet points (lines starting with * )."
        ),
        lambda k: f"Include exactly {k.num_bullets} bullet points, formatted with markdown like * point one.",
        lambda k: (
            f"Make sure your answer has exactly {k.num_bullets} markdown bullets, no more and no fewer, e.g.\n* item\n* item"
        ),
        lambda k: f"Exactly {k.num_bullets} markdown bullet points (* like this).",
    ),
    "detectable_format:number_highlighted_sections": (
        lambda k: (
            f"Highlight at least {k.num_highlights} parts of your response with markdown, e.g. *important part*."
        ),
        lambda k: f"Use markdown to emphasize {spell(k.num_highlights)} or more sections, like *this one*.",
        lambda k: (
            f"Make sure at least {k.num_highlights} sections are highlighted with markdown asterisks, for example *key point*."
        ),
        lambda k: (
            f"Please italicize at least {k.num_highlights} sections using markdown, i.e. *highlighted section*."
        ),
        lambda k: f"At least {k.num_highlights} highlighted sections in markdown (*like this*).",
    ),
    "detectable_format:title": (
        lambda k: "Include a title in double angular brackets, like <<my title>>.",
        lambda k: (
            "Your answer must have a title, wrapped in double angular brackets such as <<a day at sea>>."
        ),
        lambda k: "Give it a title and put the title inside double angle brackets, e.g. <<title here>>.",
        lambda k: "Start with a title enclosed in << and >>, for example <<the long road>>.",
        lambda k: "Make sure there is a title in double angular brackets, i.e. <<title>>.",
    ),
    "keywords:existence": (
        lambda k: f"Make sure to include the words {_and(k.keywords, chr(39))}.",
        lambda k: f"Your response must mention {_and(k.keywords)}.",
        lambda k: f"Use the following keywords somewhere in your answer: {_sq(k.keywords)}.",
        lambda k: f"Be sure to work in the keywords {_dq(k.keywords)}.",
        lambda k: f"Include these keywords: {_sq(k.keywords)}.",
    ),
    "keywords:forbidden_words": (
        lambda k: f"Avoid the words {_and(k.forbidden_words, chr(39))} entirely.",
        lambda k: f"Do not include the keywords {_dq(k.forbidden_words)} in your response.",
        lambda k: f"Your answer must not contain any of these words: {_sq(k.forbidden_words)}.",
        lambda k: f"Never use {_and(k.forbidden_words)}.",
        lambda k: f"Make sure you don't say {_and(k.forbidden_words, chr(39))} anywhere in your reply.",
    ),
    "keywords:frequency": (
        lambda k: (
            f"Use the word '{k.keyword}' {_lt(k.relation, k.frequency, 'fewer than {n} times', 'at least {n} times')}."
        ),
        lambda k: (
            f'In your response, the word "{k.keyword}" should appear {_lt(k.relation, k.frequency, "less than {n} times", "{n} or more times")}.'
        ),
        lambda k: (
            f"Make sure the word {k.keyword} occurs {_lt(k.relation, k.frequency, 'fewer than {w} times', 'at least {w} times')}."
        ),
        lambda k: (
            f"Mention '{k.keyword}' {_lt(k.relation, k.frequency, 'under {n} times', 'a minimum of {n} times')}."
        ),
        lambda k: (
            f'The word "{k.keyword}": {_lt(k.relation, k.frequency, "fewer than {n} occurrences", "at least {n} occurrences")}.'
        ),
    ),
    "keywords:letter_frequency": (
        lambda k: (
            f"Use the letter '{k.letter}' {_lt(k.let_relation, k.let_frequency, 'fewer than {n} times', 'at least {n} times')}."
        ),
        lambda k: (
            f"In your response, the letter {k.letter} should appear {_lt(k.let_relation, k.let_frequency, 'less than {n} times', '{n} or more times')}."
        ),
        lambda k: (
            f'Make sure the letter "{k.letter}" shows up {_lt(k.let_relation, k.let_frequency, "under {n} times", "at least {n} times")}.'
        ),
        lambda k: (
            f"Count your '{k.letter}'s: the letter must occur {_lt(k.let_relation, k.let_frequency, 'fewer than {n} times', 'a minimum of {n} times')}."
        ),
        lambda k: (
            f"Letter '{k.letter}': {_lt(k.let_relation, k.let_frequency, 'less than {n} times', 'at least {n} times')}."
        ),
    ),
    "language:response_language": (
        lambda k: (
            f"Your ENTIRE response should be in {LANGUAGE_NAMES[k.language][0]}; no other language is allowed."
        ),
        lambda k: (
            f"Please respond only in {LANGUAGE_NAMES[k.language][0]}, without using any other language."
        ),
        lambda k: f"Answer in {LANGUAGE_NAMES[k.language][0]}, and only {LANGUAGE_NAMES[k.language][0]}.",
        lambda k: (
            f"Make sure the whole reply is written in the {LANGUAGE_NAMES[k.language][0]} language, with no other languages mixed in."
        ),
        lambda k: f"Language: {LANGUAGE_NAMES[k.language][0]} only.",
    ),
    "length_constraints:nth_paragraph_first_word": (
        lambda k: (
            f"There should be {k.num_paragraphs} paragraphs, separated from each other by two new lines. Paragraph {k.nth_paragraph} must start with the word {k.first_word}."
        ),
        lambda k: (
            f"Write exactly {spell(k.num_paragraphs)} paragraphs with a blank line between them, and begin paragraph number {k.nth_paragraph} with the word '{k.first_word}'."
        ),
        lambda k: (
            f'Your response must have {k.num_paragraphs} paragraphs; paragraphs are separated only by a blank line (two newlines). Paragraph number {k.nth_paragraph} has to start with "{k.first_word}".'
        ),
        lambda k: (
            f"Use {k.num_paragraphs} paragraphs (split by double line breaks) and make paragraph {k.nth_paragraph} open with the word {k.first_word}."
        ),
        lambda k: (
            f"{k.num_paragraphs} paragraphs, separated by blank lines; paragraph {k.nth_paragraph} starts with '{k.first_word}'."
        ),
    ),
    "length_constraints:number_paragraphs": (
        lambda k: (
            f"There should be exactly {k.num_paragraphs} paragraphs. Separate paragraphs with the markdown divider: ***"
        ),
        lambda k: (
            f"Your response must contain {spell(k.num_paragraphs)} paragraphs, with *** on its own between each pair."
        ),
        lambda k: f"Write {k.num_paragraphs} paragraphs and put the markdown divider *** between them.",
        lambda k: f"Make sure the answer has exactly {k.num_paragraphs} paragraphs, divided by ***.",
        lambda k: f"{k.num_paragraphs} paragraphs, separated by ***.",
    ),
    "length_constraints:number_sentences": (
        lambda k: f"Use {_lt(k.relation, k.num_sentences, 'fewer than {n}', 'at least {n}')} sentences.",
        lambda k: (
            f"Your answer must be {_lt(k.relation, k.num_sentences, 'under {n} sentences long', 'at least {n} sentences long')}."
        ),
        lambda k: (
            f"Make sure your response has {_lt(k.relation, k.num_sentences, 'less than {w}', '{w} or more')} sentences."
        ),
        lambda k: (
            f"Write {_lt(k.relation, k.num_sentences, 'fewer than {n} sentences', 'a minimum of {n} sentences')} in total."
        ),
        lambda k: f"Sentences: {_lt(k.relation, k.num_sentences, 'fewer than {n}', 'at least {n}')}.",
    ),
    "length_constraints:number_words": (
        lambda k: _lt(
            k.relation,
            k.num_words,
            "Keep your response under {n} words.",
            "Write a response of at least {n} words.",
        ),
        lambda k: (
            f"Your answer should be {_lt(k.relation, k.num_words, 'fewer than {n} words', 'at least {n} words')} long."
        ),
        lambda k: (
            f"Make sure to write {_lt(k.relation, k.num_words, 'less than {n} words', '{n} words or more')}."
        ),
        lambda k: (
            f"The response must contain {_lt(k.relation, k.num_words, 'fewer than {n}', 'a minimum of {n}')} words."
        ),
        lambda k: f"Word count: {_lt(k.relation, k.num_words, 'below {n}', 'at least {n}')}.",
    ),
    "punctuation:no_comma": (
        lambda k: "Refrain from using any commas in your response.",
        lambda k: "Your entire answer must be written without a single comma.",
        lambda k: "No commas allowed.",
        lambda k: "Make sure you do not use commas anywhere.",
        lambda k: "Write it without commas; use other punctuation instead.",
    ),
    "startend:end_checker": (
        lambda k: (
            f'End your response with the exact phrase "{k.end_phrase}". Nothing else should come after it.'
        ),
        lambda k: f"Finish with this exact phrase, and write nothing after it: {k.end_phrase}",
        lambda k: f"Make sure your answer ends with the words {k.end_phrase} with no other words following.",
        lambda k: f"Your last words must be exactly: {k.end_phrase}",
        lambda k: f'Conclude your reply with "{k.end_phrase}" and add nothing after that phrase.',
    ),
    "startend:quotation": (
        lambda k: "Put your entire response inside double quotation marks.",
        lambda k: 'Wrap the whole answer in double quotes, like "...".',
        lambda k: "Enclose your response in double quotation marks from beginning to end.",
        lambda k: "Make sure your answer starts and ends with a double quotation mark.",
        lambda k: "The full reply should be surrounded by double quotes.",
    ),
    "trace_format:bullet_list": (
        lambda k: f"Use a bullet list with exactly {k.num_items} items, each starting with '- '.",
        lambda k: (
            f"Format your answer as {spell(k.num_items)} bullet points, each line beginning with a dash and a space (- )."
        ),
        lambda k: f"Give exactly {k.num_items} bullet items, every one on its own line starting with '- '.",
        lambda k: f"Make sure the response is a dash bullet list ('- ') of exactly {k.num_items} items.",
        lambda k: f"Exactly {k.num_items} items as a '- ' bullet list.",
    ),
    "trace_format:headings": (
        lambda k: f"Use at least {k.min_headings} markdown headings (lines beginning with #).",
        lambda k: (
            f"Structure the answer with {spell(k.min_headings)} or more markdown headings, each a line starting with #."
        ),
        lambda k: (
            f"Make sure there are at least {k.min_headings} section headings in markdown, like # Heading."
        ),
        lambda k: f"Break your response up under a minimum of {k.min_headings} markdown headings (# ...).",
        lambda k: f"Headings: at least {k.min_headings}, written in markdown with #.",
    ),
    "trace_format:json": (
        lambda k: "Respond with valid JSON only; a ```json code block around it is fine.",
        lambda k: "Your whole answer must be valid JSON (you may put it in a ```json block).",
        lambda k: "Make sure the entire response parses as JSON; wrapping it in ```json fences is allowed.",
        lambda k: "Output valid JSON and nothing else, optionally inside ```json.",
        lambda k: "Give the answer as a valid JSON document, with ```json fences if you like.",
    ),
    "trace_format:numbered_list": (
        lambda k: f"Use a numbered list of exactly {k.num_items} items (1., 2., ...).",
        lambda k: f"Format your answer as {spell(k.num_items)} numbered points, written 1. 2. 3. and so on.",
        lambda k: (
            f"Give exactly {k.num_items} items as a numbered list, each line starting with its number and a period."
        ),
        lambda k: (
            f"Make sure your response is a numbered list of exactly {k.num_items} entries, like 1. first 2. second."
        ),
        lambda k: f"Exactly {k.num_items} numbered items (1. 2. 3. ...).",
    ),
    "zh_keywords:exclude": (
        lambda k: f"Avoid the words {_and(k.forbidden)} entirely.",
        lambda k: f"Your response must not contain any of these words: {_dq(k.forbidden)}.",
        lambda k: f"Never use {_and(k.forbidden, chr(39))}.",
        lambda k: f"Make sure the words {_dq(k.forbidden)} do not appear in your answer.",
        lambda k: f"Forbidden words: {_dq(k.forbidden)}.",
    ),
    "zh_keywords:frequency": (
        lambda k: (
            f'Use the word "{k.keyword.strip()}" {_lt(k.relation, k.frequency, "fewer than {n} times", "at least {n} times")}.'
        ),
        lambda k: (
            f'In your answer, "{k.keyword.strip()}" should occur {_lt(k.relation, k.frequency, "less than {n} times", "{n} or more times")}.'
        ),
        lambda k: (
            f"Make sure the word '{k.keyword.strip()}' appears {_lt(k.relation, k.frequency, 'under {w} times', 'at least {w} times')}."
        ),
        lambda k: (
            f'Mention "{k.keyword.strip()}" {_lt(k.relation, k.frequency, "fewer than {n} times", "a minimum of {n} times")}.'
        ),
        lambda k: (
            f"The word '{k.keyword.strip()}': {_lt(k.relation, k.frequency, 'below {n} occurrences', 'at least {n} occurrences')}."
        ),
    ),
    "zh_keywords:include": (
        lambda k: f"Make sure to include the words {_and(k.keywords)}.",
        lambda k: f"Your answer must mention {_and(k.keywords, chr(39))}.",
        lambda k: f"Use these keywords somewhere in the response: {_dq(k.keywords)}.",
        lambda k: f"Work in the keywords {_dq(k.keywords)}.",
        lambda k: f"Required keywords: {_dq(k.keywords)}.",
    ),
    "zh_punctuation:no_comma": (
        lambda k: "Use no commas at all: neither the English , nor the Chinese ，.",
        lambda k: "Your answer must not contain any comma, whether English (,) or Chinese (，).",
        lambda k: "No commas of any kind (, or ，).",
        lambda k: "Make sure there is not a single comma in your response; this includes both , and ，.",
        lambda k: "Write without commas; avoid both the English comma , and the Chinese comma ，.",
    ),
    "zh_startend:ends_with": (
        lambda k: f'Finish your answer with "{k.phrase}" and write nothing after it.',
        lambda k: f"Your response must end with the exact phrase {k.phrase} with nothing following.",
        lambda k: f'Make sure the last thing you write is "{k.phrase}".',
        lambda k: f'Close with "{k.phrase}"; no text may come after it.',
        lambda k: f"End with: {k.phrase}",
    ),
    "zh_startend:starts_with": (
        lambda k: f'Begin your answer with "{k.phrase}".',
        lambda k: f"Your response must start with the exact phrase {k.phrase}",
        lambda k: f'Make sure the first thing you write is "{k.phrase}".',
        lambda k: f'Open with "{k.phrase}".',
        lambda k: f"Start with: {k.phrase}",
    ),
}


def _range_variants_en(unit: str) -> tuple[Variant, ...]:
    """English variants of a zh_length id, for its unit (the checker's counting rule is restated)."""
    return (
        lambda k: (
            f"Your answer should contain {_range(k, 'between {lo} and {hi}', 'exactly {lo}', 'at least {lo}', 'at most {hi}')} {unit}."
        ),
        lambda k: (
            f"Make sure the response has {_range(k, 'no fewer than {lo} and no more than {hi}', 'exactly {lo}', '{lo} or more', 'no more than {hi}')} {unit}."
        ),
        lambda k: (
            f"Keep the length to {_range(k, '{lo} to {hi}', 'exactly {lo}', 'a minimum of {lo}', 'at most {hi}')} {unit}."
        ),
        lambda k: (
            f"Length: {_range(k, '{lo}-{hi}', 'exactly {lo}', 'at least {lo}', 'at most {hi}')} {unit}."
        ),
        lambda k: (
            f"Aim for {_range(k, 'between {lo} and {hi}', 'exactly {lo}', 'at least {lo}', 'up to {hi}')} {unit}."
        ),
    )


def _range_variants_zh(unit: str) -> tuple[Variant, ...]:
    """Chinese variants of a zh_length id, for its unit."""
    return (
        lambda k: (
            f"请把回答的{unit}控制在{_range(k, '{lo} 到 {hi} 之间', '恰好 {lo}', '至少 {lo}', '最多 {hi}')}。"
        ),
        lambda k: f"{unit}要求：{_range(k, '{lo}～{hi}', '正好 {lo}', '{lo} 或以上', '不超过 {hi}')}。",
    )


# The unit wordings restate each checker's counting rule, as the templates do.
_ZH_LENGTH_UNITS = {
    "zh_length:characters": ("characters (whitespace not counted)", "字符数（不计空白字符）"),
    "zh_length:words": (
        "words (each Chinese character counts as one word)",
        "字数（每个汉字或每个英文单词计为一个字）",
    ),
    "zh_length:sentences": (
        "sentences (a sentence ends with 。！？ or a line break)",
        "句子数（以。！？或换行结束一句）",
    ),
    "zh_length:paragraphs": ("paragraphs, separated by blank lines", "段落数（段落之间用空行分隔）"),
}
for _cid, (_en, _zh) in _ZH_LENGTH_UNITS.items():
    _EN[_cid] = _range_variants_en(_en)

_ZH: dict[str, tuple[Variant, ...]] = {
    "change_case:capital_word_frequency": (
        lambda k: f"全大写的英文单词要{_ZH_REL[k.capital_relation]} {k.capital_frequency} 个。",
        lambda k: (
            f"请注意：整段回答里字母全部大写的单词，出现次数{_ZH_REL2[k.capital_relation]} {k.capital_frequency} 次。"
        ),
    ),
    "change_case:english_capital": (
        lambda k: "请用英文作答，所有字母一律大写。",
        lambda k: "回答只能是英语，而且不能出现任何小写字母。",
    ),
    "change_case:english_lowercase": (
        lambda k: "请用英文作答，所有字母一律小写。",
        lambda k: "回答只能是英语，而且不能出现任何大写字母。",
    ),
    "combination:repeat_prompt": (
        lambda k: f"作答前先原样重复下面这个请求，前面不要加任何内容：{k.prompt_to_repeat}",
        lambda k: "请先把请求逐字照抄一遍（不包括这句话，照抄之前什么也不要写），再给出回答。",
    ),
    "combination:two_responses": (
        lambda k: "请写出两个不同的回答，中间用六个星号 ****** 隔开，其他地方不要出现这个分隔符。",
        lambda k: "提供两种不同的回答，用 ****** （6 个星号）分隔。",
    ),
    "detectable_content:number_placeholders": (
        lambda k: f"请在回答中留出至少 {k.num_placeholders} 个方括号占位符，比如 [姓名]。",
        lambda k: f"方括号占位符（如 [日期]）至少要有 {k.num_placeholders} 个。",
    ),
    "detectable_content:postscript": (
        lambda k: f"回答最后请附上一段附言，以 {k.postscript_marker} 开头。",
        lambda k: f"结尾加上附言，附言开头写“{k.postscript_marker}”。",
    ),
    "detectable_format:constrained_response": (
        lambda k: f"请从下列选项中选一个作为回答：{_opts('、')}",
        lambda k: f"回答只能是以下之一：{_opts(' 或 ')}",
    ),
    "detectable_format:json_format": (
        lambda k: "请用 JSON 格式输出全部内容（可以放在 markdown 代码块 ``` 中）。",
        lambda k: "整个回答都要是 JSON，允许用 ``` 包起来。",
    ),
    "detectable_format:multiple_sections": (
        lambda k: (
            f"请把回答分成 {k.num_sections} 个部分，每个部分开头写“{k.section_spliter} 编号”，如 {k.section_spliter} 1、{k.section_spliter} 2。"
        ),
        lambda k: (
            f"回答共 {k.num_sections} 部分，各部分依次以 {k.section_spliter} 1、{k.section_spliter} 2 这样的标记开头。"
        ),
    ),
    "detectable_format:number_bullet_lists": (
        lambda k: f"请使用正好 {k.num_bullets} 个 markdown 项目符号（如 * 要点）。",
        lambda k: f"回答中的 markdown 列表项（以 * 开头）必须恰好是 {k.num_bullets} 个。",
    ),
    "detectable_format:number_highlighted_sections": (
        lambda k: f"请用 markdown 标出至少 {k.num_highlights} 处重点，格式如 *重点*。",
        lambda k: f"至少有 {k.num_highlights} 处内容要用 markdown 星号突出显示（*像这样*）。",
    ),
    "detectable_format:title": (
        lambda k: "请给回答加一个标题，并用双尖括号括起来，比如 <<春天>>。",
        lambda k: "标题要放在 << 和 >> 之间，例如 <<我的家乡>>。",
    ),
    "keywords:existence": (
        lambda k: f"回答里一定要用到这些词：{_zq(k.keywords)}。",
        lambda k: f"请在文中提到 {'、'.join(k.keywords)}。",
    ),
    "keywords:forbidden_words": (
        lambda k: f"请避免使用这些词：{_zq(k.forbidden_words)}。",
        lambda k: f"回答中不要出现 {'、'.join(k.forbidden_words)}。",
    ),
    "keywords:frequency": (
        lambda k: f"“{k.keyword}”这个词要出现{_ZH_REL[k.relation]} {k.frequency} 次。",
        lambda k: f"请注意，单词 {k.keyword} 在回答中的出现次数应{_ZH_REL2[k.relation]} {k.frequency} 次。",
    ),
    "keywords:letter_frequency": (
        lambda k: f"字母“{k.letter}”要出现{_ZH_REL[k.let_relation]} {k.let_frequency} 次。",
        lambda k: (
            f"请注意，字母 {k.letter} 在回答中的出现次数应{_ZH_REL2[k.let_relation]} {k.let_frequency} 次。"
        ),
    ),
    "language:response_language": (
        lambda k: f"请只用{LANGUAGE_NAMES[k.language][1]}回答，不要使用其他语言。",
        lambda k: f"回答语言：仅限{LANGUAGE_NAMES[k.language][1]}。",
    ),
    "length_constraints:nth_paragraph_first_word": (
        lambda k: (
            f"请写 {k.num_paragraphs} 段，段与段之间空一行（两个换行符），第 {k.nth_paragraph} 段的第一个词必须是“{k.first_word}”。"
        ),
        lambda k: (
            f"回答共 {k.num_paragraphs} 段，用空行分段；第 {k.nth_paragraph} 段以 {k.first_word} 开头。"
        ),
    ),
    "length_constraints:number_paragraphs": (
        lambda k: f"请写 {k.num_paragraphs} 段，段与段之间用 *** 分隔。",
        lambda k: f"回答共 {k.num_paragraphs} 段，每两段之间插入 markdown 分隔线 ***。",
    ),
    "length_constraints:number_sentences": (
        lambda k: f"回答要{_ZH_REL[k.relation]} {k.num_sentences} 句话。",
        lambda k: f"请注意，句子总数应{_ZH_REL2[k.relation]} {k.num_sentences} 句。",
    ),
    "length_constraints:number_words": (
        lambda k: f"回答的英文单词数要{_ZH_REL[k.relation]} {k.num_words} 个。",
        lambda k: f"请控制篇幅：英文单词数{_ZH_REL2[k.relation]} {k.num_words} 个。",
    ),
    "punctuation:no_comma": (
        lambda k: "回答中不要出现英文逗号（,）。",
        lambda k: "请勿使用英文逗号 “,”。",
    ),
    "startend:end_checker": (
        lambda k: f"请以这句话收尾，后面不要再写任何内容：{k.end_phrase}",
        lambda k: f"回答的最后一句必须是 {k.end_phrase} 之后不能再有别的文字。",
    ),
    "startend:quotation": (
        lambda k: '请把整个回答放在一对英文双引号 " 之中。',
        lambda k: '回答的开头和结尾都必须是英文双引号 "。',
    ),
    "trace_format:bullet_list": (
        lambda k: f"请用 {k.num_items} 个项目符号列出，每行以“- ”开头，不多不少。",
        lambda k: f"以列表形式回答：正好 {k.num_items} 项，每项开头是“- ”。",
    ),
    "trace_format:headings": (
        lambda k: f"请至少用 {k.min_headings} 个 markdown 标题（以 # 开头）组织回答。",
        lambda k: f"回答中以 # 开头的标题行最少 {k.min_headings} 个。",
    ),
    "trace_format:json": (
        lambda k: "请只输出合法的 JSON，可以用 ```json 代码块包起来。",
        lambda k: "回答整体要是有效的 JSON（允许放在 ```json 中）。",
    ),
    "trace_format:numbered_list": (
        lambda k: f"请用编号列表回答，正好 {k.num_items} 条（1. 2. 3. ……）。",
        lambda k: f"分 {k.num_items} 点作答，按 1. 2. 3. 的格式编号，不多不少。",
    ),
    "zh_keywords:exclude": (
        lambda k: f"请避免使用这些词：{_zq(k.forbidden)}。",
        lambda k: f"回答里不要出现 {'、'.join(k.forbidden)}。",
    ),
    "zh_keywords:frequency": (
        lambda k: f"“{k.keyword.strip()}”这个词要出现{_ZH_REL[k.relation]} {k.frequency} 次。",
        lambda k: (
            f"请注意，“{k.keyword.strip()}”在回答中出现的次数应{_ZH_REL2[k.relation]} {k.frequency} 次。"
        ),
    ),
    "zh_keywords:include": (
        lambda k: f"回答里一定要用到这些词：{_zq(k.keywords)}。",
        lambda k: f"请在文中提到 {'、'.join(k.keywords)}。",
    ),
    "zh_punctuation:no_comma": (
        lambda k: "请不要使用任何逗号，中文的“，”和英文的“,”都不行。",
        lambda k: "回答中不得出现逗号（，或 ,）。",
    ),
    "zh_startend:ends_with": (
        lambda k: f"请以“{k.phrase}”作为回答的结尾，之后不要再写任何内容。",
        lambda k: f"回答最后必须是：{k.phrase}",
    ),
    "zh_startend:starts_with": (
        lambda k: f"请以“{k.phrase}”开头作答。",
        lambda k: f"回答的开头必须是：{k.phrase}",
    ),
}
for _cid, (_en, _zh) in _ZH_LENGTH_UNITS.items():
    _ZH[_cid] = _range_variants_zh(_zh)

VARIANTS: dict[str, dict[str, tuple[Variant, ...]]] = {
    cid: {"en": _EN[cid], **({"zh": _ZH[cid]} if cid in _ZH else {})} for cid in _EN
}
"""id -> language -> alternative phrasings (the template itself not included)."""


def variants(cid: str, lang: str) -> tuple[Variant, ...]:
    """The alternative phrasings of an id in a language (empty where there are none)."""
    return VARIANTS.get(cid, {}).get(lang, ())


def render_variant(ct: ConstraintType, kw: Any, lang: str, rng: random.Random) -> str:
    """The constraint sentence in a wording drawn by rng among the template and the id's variants."""
    options = variants(ct.id, lang)
    i = rng.randrange(len(options) + 1)
    return ct.render(kw, lang) if i == 0 else options[i - 1](kw)
