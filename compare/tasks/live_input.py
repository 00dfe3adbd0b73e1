"""What a task makes of a user's text in compare-lab: the tokens a model reads, how it answers, and the rule's answer.

Each task parses its own words (``Task.parse_text``) into a ``LiveInput``; the lab only runs the models on it.
The helpers here word the messages every parser shares, so an unknown word reads the same in every task.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from compare.errors import UserError

#: Answer kinds: one token read at the last position, or (GENERATE, as copy) a string written greedily after the
#: input, one token per input token before its last one (the separator), each fed back as the next input, or
#: (FILL, the transduction tasks of Delétang et al. 2023) a string read all at once at the blanks that end the
#: input, from ``answer_at`` on.
ONE_TOKEN, GENERATE, FILL = "one_token", "generate", "fill"
#: At most this many words are listed when an unknown word is reported.
LISTED_WORDS = 40


@dataclass
class LiveInput:
    """What a model reads, how it answers, and what the task's rule says the answer is (when it can tell)."""

    tokens: list[int]
    names: list[str]
    kind: str = ONE_TOKEN
    expected: list[int] | None = None
    # Index of the first question token (qa, babi); tokens before it are the story.
    question_at: int | None = None
    # Index of the sentence that decides the answer, as (first token, last token) (qa only).
    fact_span: tuple[int, int] | None = None
    note: str | None = None
    # Tokens inserted by the "move the fact back" control, as indices into ``tokens``.
    inserted: list[int] = field(default_factory=list)
    # Index of the first position the answer is read at (FILL; a ONE_TOKEN answer is read at the last position).
    answer_at: int | None = None


def listing(words: list[str]) -> str:
    """A word list for a message, cut to LISTED_WORDS."""
    shown = ", ".join(words[:LISTED_WORDS])
    return shown + (f", ... ({len(words)} in all)" if len(words) > LISTED_WORDS else "")


def token_ids(parts: list[str], index: dict[str, int], unknown) -> list[int]:
    """The id of each part; a UserError with ``unknown(sorted unknown parts)`` when some are not in ``index``."""
    bad = sorted({p for p in parts if p not in index})
    if bad:
        raise UserError(unknown(bad))
    return [index[p] for p in parts]


def unknown_words(kind: str, bad: list[str]) -> str:
    """ "unknown word 'x'" or "unknown words 'x', 'y'"."""
    return f"unknown {kind}{'s' if len(bad) > 1 else ''} {', '.join(map(repr, bad))}"
