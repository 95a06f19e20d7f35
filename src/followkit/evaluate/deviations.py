"""Every place followkit reads a compared benchmark differently from its authors' code: one table.

Benchmarks whose numbers people compare across papers (IFEval, IFBench, KCIF) score by default as
their authors' code does. A row with `when="corrected"` applies only under `--semantics corrected`;
a row with `when="always"` is a choice made in both modes, where the reference is random, needs a
download, or crashes. Each row names the constant (with its docstring) that holds the choice.
`docs/deviations.md` is rendered from this table (`followkit constraints deviations`); a test keeps
the two equal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

When = Literal["always", "corrected"]


@dataclass(frozen=True)
class Deviation:
    """One difference between a benchmark's reference code and followkit."""

    benchmark: str
    ids: str  # constraint ids (comma-separated), "*" for all, or a KCIF scoring step
    reference: str  # what the authors' code does
    followkit: str  # what followkit does instead
    constant: str  # dotted name of the constant that holds the choice
    when: When = "always"


_IFB = "followkit.constraints.ifbench."
_KCIF = "followkit.kcif.scoring."
_MIF = "followkit.evaluate.multi_if."

DEVIATIONS: list[Deviation] = [
    # --- Multi-IF, both modes ------------------------------------------------------------------
    Deviation(
        "multi-if",
        "length_constraints:number_words, length_constraints:number_sentences",
        "its own ifeval.py counts Chinese, Japanese and Korean characters as words and splits Thai with "
        "pythainlp",
        "IFEval's counting for every language (the same on the English file)",
        _MIF + "ENGLISH_COUNTING",
    ),
    Deviation(
        "multi-if",
        "* (rows)",
        "skips a row whose instruction list is not JSON",
        "refuses the file with one error naming the row, its key and the field",
        _MIF + "BAD_ROW_REFUSED",
    ),
    Deviation(
        "multi-if",
        "* (empty turn)",
        'asks a conversation whose turn prompt is empty the user message "None", then ignores the answer',
        "the conversation ends a turn early and nothing is asked (same scores)",
        _MIF + "ABSENT_TURN",
    ),
    Deviation(
        "multi-if",
        "* (context)",
        "puts the decoded output back into the chat as the assistant's earlier turn",
        "puts back the answer without its reasoning trace (--reasoning keep: the whole output)",
        "followkit.backends.turns.EARLIER_ANSWERS_WITHOUT_TRACE",
    ),
    Deviation(
        "multi-if",
        "* (uncertainty)",
        "bootstrap 95% intervals (10,000 resamples) of prompt-level accuracy and the mean per-turn "
        "instruction share",
        "standard errors of each accuracy; the per-turn overall (mean of four) has none",
        _MIF + "OVERALL_HAS_NO_STDERR",
    ),
    # --- IFBench, both modes -------------------------------------------------------------------
    Deviation(
        "ifbench",
        "*",
        "missing kwargs are drawn at random when the instruction is built",
        "missing or invalid kwargs raise a one-line ConstraintError; only synthesis samples",
        "followkit.constraints.ifeval.INVALID_KWARGS_REJECTED",
    ),
    Deviation(
        "ifbench",
        "ratio:stop_words",
        "downloads NLTK's English stop-word corpus at import",
        "ships the list; same verdicts on \\w+ tokens",
        _IFB + "STOPWORDS_EN",
    ),
    Deviation(
        "ifbench",
        "words:start_verb",
        "NLTK averaged-perceptron POS tag of the first token starts with VB (model download)",
        "first token (or its inflection stem) is in a verb lexicon",
        _IFB + "VERB_LEXICON",
    ),
    Deviation(
        "ifbench",
        "repeat:repeat_span",
        "n_start or n_end = 0 means a random index",
        "0 is the first word; sampling never draws 0",
        _IFB + "REPEAT_SPAN_ZERO_IS_INDEX",
    ),
    Deviation(
        "ifbench",
        "sentence:increment, custom:csv_city, custom:csv_special_character, custom:csv_quotes",
        "raises (IndexError, csv.Error) on empty text, empty CSV fields or huge fields",
        "the response fails",
        _IFB + "REFERENCE_ERROR_IS_FAILURE",
    ),
    Deviation(
        "ifbench",
        "sentence:keyword, words:keywords_specific_position",
        "a position of 0 means random (n, m) or the last sentence (N)",
        "positions must be >= 1",
        _IFB + "POSITIVE_INDEX_KWARGS",
    ),
    Deviation(
        "ifbench",
        "count:words_japanese",
        "N = 0 divides by zero",
        "N must be >= 1",
        _IFB + "POSITIVE_INDEX_KWARGS",
    ),
    Deviation(
        "ifbench",
        "ratio:sentence_type, ratio:sentence_balance, ratio:sentence_words",
        "newest code (since 6fffd61) splits with nltk.sent_tokenize, so '\"word.\" Next' gives a "
        "sentence ending in the quote; the published results used a regex splitter",
        "reference mode uses the regex splitter of the published results: cut after each . ? !, "
        "the mark moved out of a closing quote",
        _IFB + "RATIO_SENTENCES_PUBLISHED_SPLITTER",
    ),
    # --- KCIF, both modes (followkit's choices; the strict reading is reported as *_strict) -----
    Deviation(
        "kcif",
        "string:capitalize, numeric:thousands, numeric:scientific",
        "no such instructions (KCIF's capitalize_correct_answer upper-cases: string:uppercase here)",
        "extra instructions, scored in the closest KCIF category (String Manipulation, Format Correct Answer)",
        "followkit.kcif.instructions.EXTRAS_GROUPED",
    ),
    Deviation(
        "kcif",
        "numeric:in_words",
        "num2words on the option text: '1,234' raises and the answer is left as it is",
        "the option's parsed value in words ('one thousand, two hundred and thirty-four'); "
        "Chinese items in Chinese numerals",
        "followkit.kcif.numbers.WORDS_FROM_VALUE",
    ),
    Deviation(
        "kcif",
        "plain question (knowledge_accuracy)",
        "print_correct_answer matches the option's text only",
        "the option's label also counts",
        _KCIF + "PLAIN_ACCEPTS_LABEL",
    ),
    Deviation(
        "kcif",
        "error classes",
        "reasoning / instruction-following / unclassified, by candidate sets with a Levenshtein tolerance",
        "knowledge / instruction / other, by exact match with operations on the options",
        _KCIF + "ERROR_CLASSES_BY_OPERATION",
    ),
    # --- CFBench and ComplexBench (judged checklists), both modes --------------------------------
    Deviation(
        "cfbench, complexbench",
        "judge prompt",
        "the authors' Chinese prompts; CFBench asks for each criterion's text echoed with a TAB and 0/1 "
        "and rejects a differing echo, ComplexBench for a final '答案：是/否'",
        "followkit's own English prompts in the same structure; the response in a hash-named block, a "
        "hash marker line, then 'Checklist Scores: {\"<number>\": 0|1}' read after the marker",
        "followkit.evaluate.checklist.SCORES_KEYED_BY_NUMBER",
    ),
    Deviation(
        "cfbench, complexbench",
        "judge model",
        "gpt-4o at temperature 0.01 (CFBench), gpt-4-1106-preview at 0 (ComplexBench)",
        "any --judge model at temperature 0",
        "followkit.evaluate.checklist.JUDGE_TEMPERATURE",
    ),
    Deviation(
        "cfbench",
        "unparsable verdict",
        "up to 10 retries, then any 'text<TAB>0|1' lines are read leniently; none found scores 0",
        "one retry that shows the parse error; still unparsable scores CSR = ISR = PSR = 0 and is "
        "counted in judge_unparsable_rate",
        "followkit.evaluate.cfbench.UNPARSABLE_SCORES_ZERO",
    ),
    Deviation(
        "cfbench",
        "empty prompt (idx 810 of the published file)",
        "the data file holds the row; the evaluation asks and judges every row",
        "the row is kept: the empty prompt is sent as it is and its answer judged against its criteria",
        "followkit.evaluate.cfbench.EMPTY_PROMPT_ASKED",
    ),
    Deviation(
        "cfbench",
        "CSR, ISR, PSR",
        "benchmark means printed rounded to 2 decimals",
        "unrounded means with standard errors (per-item CSR rounded to 2 decimals, as the authors do)",
        "followkit.evaluate.cfbench.MEANS_UNROUNDED",
    ),
    Deviation(
        "complexbench",
        "rule-checked questions",
        "an LLM first extracts the part of the response the question is about, then con_rule.py checks it",
        "rules followkit maps are checked on the whole response; rules about a part (model_*, *_each) "
        "are judged",
        "followkit.evaluate.complexbench.RULES_ON_WHOLE_RESPONSE",
    ),
    Deviation(
        "complexbench",
        "keyword, forbidden_word, startswith, endswith, length, length_word, Json",
        "exact substrings after mapping ASCII punctuation to full width; len() of the text; "
        "whitespace-split words; Json with its required keys; match and constraint_punc by rule",
        "followkit's zh_keywords / zh_startend (casefolded), zh_length:characters (no whitespace), "
        "zh_length:words, trace_format:json (no keys); match, constraint_punc and Json with keys are judged",
        "followkit.evaluate.complexbench.RULE_MAP",
    ),
    Deviation(
        "complexbench",
        "unparsable verdict",
        "'yes' when the reply holds 是 and no 否, else not met",
        "one retry that shows the parse error; still unparsable is not met and counted in "
        "judge_unparsable_rate",
        "followkit.evaluate.complexbench.UNPARSABLE_IS_NOT_MET",
    ),
    Deviation(
        "complexbench",
        "judge input",
        "instruction cut to 6,000 and response to 4,000 characters",
        "the whole instruction and response",
        "followkit.evaluate.complexbench.FULL_TEXTS_TO_JUDGE",
    ),
    Deviation(
        "complexbench",
        "drfr_nested",
        "no such number (nested_methods_drfr per composition signature only)",
        "also DRFR over instructions with two or more distinct composition types",
        "followkit.evaluate.complexbench.NESTED_MIN_TYPES",
    ),
    # --- InFoBench (judged yes/no questions), both modes ----------------------------------------
    Deviation(
        "infobench",
        "*",
        "gpt-4-0314 at temperature 0 answers one question per turn of one conversation; the output "
        "is quoted in plain double quotes after the authors' YES/NO rules; the judge sees the input, "
        "not the instruction",
        "any --judge model at temperature 0 answers all questions in one request (followkit's prompt "
        "with the instruction and input, the response in a hash-named block, a hash marker, "
        "'Checklist Scores' keyed by question number, one retry)",
        "followkit.evaluate.infobench.ALL_QUESTIONS_ONE_REQUEST",
    ),
    Deviation(
        "infobench",
        "*",
        "a reply without a clear YES/NO stops the questioning: it counts as NO and the questions "
        "after it leave the denominator",
        "a verdict unreadable after one retry counts every question of the instruction as NO, "
        "and is counted in judge_unparsable_rate",
        "followkit.evaluate.infobench.UNPARSABLE_QUESTIONS_ARE_NO",
    ),
    # --- FollowBench, both modes -----------------------------------------------------------------
    Deviation(
        "followbench",
        "cnn_dailymail, xsum, samsum, gigaword, arxiv; format 22, 30",
        "hand-written per-level rules (sentence counts, word limits, given words)",
        "judged like the other items (those rules are not reimplemented yet)",
        "followkit.evaluate.followbench.RULES_BY_JUDGE",
    ),
    Deviation(
        "followbench",
        "judged items",
        "gpt-4 reads the seed, each evolved instruction and the answer, and ends with a Python list "
        "of k 'YES'/'NO'; an unparsable reply is -1 and must be fixed by hand",
        "any --judge model, the checklist judge (the same instructions in followkit's prompt, one "
        "point per added constraint, the response in a hash-named block, one retry); an unparsable "
        "verdict meets no constraint and is counted in judge_unparsable_rate",
        "followkit.evaluate.followbench.FollowBenchBenchmark",
    ),
    # --- IFBench, --semantics corrected --------------------------------------------------------
    Deviation(
        "ifbench",
        "ratio:overlap",
        "trigrams of characters (`nltk.ngrams` on the raw strings)",
        "trigrams of word tokens (NLTK's word_tokenize)",
        _IFB + "OVERLAP_WORD_TRIGRAMS",
        "corrected",
    ),
    Deviation(
        "ifbench",
        "repeat:repeat_span",
        "whitespace-split words n_start up to but not including n_end",
        "words n_start through n_end (inclusive), as the instruction says",
        _IFB + "REPEAT_SPAN_WORD_INDICES",
        "corrected",
    ),
    Deviation(
        "ifbench",
        "count:keywords_multiple",
        'counts substrings of the lowercased text ("rivers" counts as "river")',
        "counts whole words, case-insensitive",
        _IFB + "KEYWORDS_MULTIPLE_WHOLE_WORDS",
        "corrected",
    ),
    Deviation(
        "ifbench",
        "count:pronouns",
        "31 personal, possessive and reflexive pronouns",
        "also demonstrative, relative/interrogative and indefinite pronouns (this, who, someone)",
        _IFB + "PRONOUNS_EXTENDED",
        "corrected",
    ),
    Deviation(
        "ifbench",
        "format:quote_unquote",
        "its quote normalization maps a straight quote to itself: curly quotes are plain text",
        "maps curly double quotes to straight ones",
        _IFB + "QUOTE_UNQUOTE_CURLY_QUOTES",
        "corrected",
    ),
    Deviation(
        "ifbench",
        "words:keywords_specific_position, words:words_position",
        "positions count every word_tokenize token, punctuation included",
        "positions count word tokens only (with a letter or digit)",
        _IFB + "POSITION_COUNTS_WORDS_ONLY",
        "corrected",
    ),
    Deviation(
        "ifbench",
        "custom:sentence_alphabet",
        "first character of the first whitespace-split word, punctuation included",
        "skips punctuation before the first letter",
        _IFB + "SENTENCE_ALPHABET_SKIPS_PUNCTUATION",
        "corrected",
    ),
    Deviation(
        "ifbench",
        "ratio:sentence_words",
        "checks 3 sentences of equal stripped length only",
        "also requires all words to differ, as the instruction says",
        _IFB + "SENTENCE_WORDS_UNIQUE",
        "corrected",
    ),
    Deviation(
        "ifbench",
        "ratio:sentence_type, ratio:sentence_balance, ratio:sentence_words",
        'a punctuation-only piece is a sentence ("Hello there. . And then." has 3)',
        "a punctuation-only piece belongs to the sentence before it",
        _IFB + "RATIO_SENTENCES_ABSORB_PUNCTUATION",
        "corrected",
    ),
    Deviation(
        "ifbench",
        "format:line_indent",
        "removes blank lines while iterating, so a blank line after a removed one is kept",
        "drops every whitespace-only line",
        _IFB + "LINE_INDENT_DROPS_ALL_BLANK_LINES",
        "corrected",
    ),
]
"""The deviations table, rendered in docs/deviations.md."""


# --- Methods reimplemented from papers (SPRIG) ------------------------------------------------
# Not benchmark scoring: where a search or training method departs from its authors' code. Rows
# name constants in the method's module; `benchmark` holds the method and `ids` the step.

_SPRIG = "followkit.optimize.sprig."

METHOD_DEVIATIONS: list[Deviation] = [
    Deviation(
        "sprig",
        "beam: add",
        "inserts each of the 60 components of highest UCB at every position",
        "inserts each of the n_add (default 3) of highest UCB at every position (--n-add 60 matches)",
        _SPRIG + "AUTHORS_ADD_TOP_K",
    ),
    Deviation(
        "sprig",
        "beam: delete, swap",
        "every deletion and every swap of each beam member",
        "n_delete sampled deletions and n_swap sampled swaps per member",
        _SPRIG + "SAMPLED_DELETE_SWAP",
    ),
    Deviation(
        "sprig",
        "beam: rephrase",
        "10 Pegasus paraphrases of the component at every position",
        "one rewrite by an instruction model (temperature 0) at n_rephrase sampled positions",
        _SPRIG + "REPHRASE_BY_MODEL",
    ),
    Deviation(
        "sprig",
        "scoring",
        "a prompt proposed again in a later round is scored again on that round's sample",
        "a prompt is scored once, on the sample of the round that first proposed it",
        _SPRIG + "SCORE_ONCE",
    ),
    Deviation(
        "sprig",
        "final choice",
        "reports the beam's score on the test split every round",
        "picks the winner among the best training candidates on a validation sample; one held-out score",
        _SPRIG + "VALIDATED_WINNER",
    ),
    Deviation(
        "sprig",
        "genetic variant",
        "separate genetic-algorithm scripts",
        "follows the paper's description; not compared with those scripts",
        _SPRIG + "GA_FROM_THE_PAPER",
    ),
]
"""Where a reimplemented method departs from its authors' code; rendered in docs/deviations.md."""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown() -> str:
    """docs/deviations.md: the DEVIATIONS table as Markdown, one section per mode."""
    lines = [
        "# Deviations from the reference implementations",
        "",
        "Generated from `followkit.evaluate.deviations.DEVIATIONS` by `followkit constraints deviations`;"
        " do not edit by hand.",
        "",
        "By default followkit scores IFEval, IFBench and KCIF as their authors' code does, so that"
        " published numbers reproduce (`--semantics reference`). `--semantics corrected` applies the"
        " rows of the second table as well.",
        "",
    ]
    for when, title in (
        (
            "always",
            "In both modes (the reference is random, needs a download or crashes, or followkit extends it)",
        ),
        ("corrected", "Only with `--semantics corrected`"),
    ):
        lines += [
            f"## {title}",
            "",
            "| benchmark | ids | reference | followkit | constant |",
            "|---|---|---|---|---|",
        ]
        for d in DEVIATIONS:
            if d.when == when:
                cells = (d.benchmark, d.ids, d.reference, d.followkit, f"`{d.constant}`")
                lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        lines.append("")
    lines += [
        "## Methods reimplemented from papers",
        "",
        "| method | step | authors' code | followkit | constant |",
        "|---|---|---|---|---|",
    ]
    for d in METHOD_DEVIATIONS:
        cells = (d.benchmark, d.ids, d.reference, d.followkit, f"`{d.constant}`")
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    lines.append("")
    return "\n".join(lines)
