"""Conversations asked turn by turn: each later user turn goes with the model's own earlier answers.

Used by `followkit eval` on multi-turn benchmarks (Multi-IF) and by `synth respond` on multi-turn
instructions (`synth compose --turns N`), so both build the context the same way.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from followkit.backends.base import Backend, Chat, SamplingParams
from followkit.core.reasoning import DEFAULT_MARKERS, Setting, split_completion

EARLIER_ANSWERS_WITHOUT_TRACE = True
"""Policy: in a multi-turn conversation the model's earlier answers go back into the chat as the answer
alone (the trace removed, as Qwen3's and DeepSeek-R1's chat templates drop earlier thinking); with
--reasoning keep, as the whole completion. Without a trace the two are the same text."""

ONE_HISTORY_PER_CONVERSATION = True
"""Policy: with n samples per conversation, the earlier turns are answered once (n=1, the given seed)
and only the last turn is sampled n times, so the n answers reply to one chat: a preference pair or a
GRPO group built from them shares its prompt. With n=1 (evaluation) every turn is asked alike."""


@dataclass(frozen=True)
class Reply:
    """One sampled reply: the text as it came, and the answer, trace and trace status read from it."""

    text: str
    answer: str
    trace: str | None
    status: str


@dataclass
class Talk:
    """One conversation asked turn by turn: the replies per turn answered, or the turn that failed.

    `chat` is the chat the last turn was asked with (earlier answers in it, the last user turn at its
    end); `replies[k]` holds turn k's replies: one for an earlier turn, params.n for the last.
    """

    chat: Chat
    replies: list[list[Reply]] = field(default_factory=list)
    error: str | None = None
    failed_turn: int | None = None  # 1-based

    def answers(self) -> list[Reply]:
        """The first reply of each turn answered (n=1: every reply)."""
        return [r[0] for r in self.replies]


def converse(
    backend: Backend,
    chats: list[Chat],
    later: list[list[dict[str, str]]],
    params: SamplingParams,
    reasoning: Setting = "strip",
    markers: tuple[str, str] = DEFAULT_MARKERS,
) -> list[Talk]:
    """Ask each chat, then its later user messages one by one, each with the conversation so far.

    Turn k of every conversation still going is one backend call (two when params.n > 1: earlier and
    last turns differ in n, ONE_HISTORY_PER_CONVERSATION). A failed request stops its conversation.
    """
    talks = [Talk([dict(m) for m in chat]) for chat in chats]
    once = dataclasses.replace(params, n=1)
    for k in range(1 + max((len(x) for x in later), default=0)):
        live = [i for i, t in enumerate(talks) if t.error is None and k <= len(later[i])]
        if not live:
            break
        if k > 0:
            for i in live:
                talks[i].chat.append(dict(later[i][k - 1]))
        if params.n == 1:
            groups = [(params, live)]
        else:
            groups = [
                (once, [i for i in live if k < len(later[i])]),
                (params, [i for i in live if k == len(later[i])]),
            ]
        for p, idx in groups:
            if not idx:
                continue
            comps = backend.complete([list(talks[i].chat) for i in idx], p)  # copies: the chats grow
            for i, c in zip(idx, comps, strict=True):
                t = talks[i]
                if not c.ok:
                    t.error, t.failed_turn = c.error, k + 1
                    continue
                t.replies.append(
                    [
                        Reply(text, *split_completion(text, c.reasoning_of(s), reasoning, markers))
                        for s, text in enumerate(c.texts or [])
                    ]
                )
                if k < len(later[i]):
                    first = t.replies[-1][0]
                    context = (
                        first.answer if reasoning == "strip" else first.text
                    )  # EARLIER_ANSWERS_WITHOUT_TRACE
                    t.chat.append({"role": "assistant", "content": context})
    return talks
