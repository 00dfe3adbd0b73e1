"""A task's input written in its own words, parsed into the tokens a model reads, and back.

    qa      sentences "mary drank water." / "cat went kitchen.", then "who drank water?" or "what cat drank?"
    babi    a bAbI story: sentences ending in ".", then one question ending in "?"
    copy    the symbols to copy, separated by spaces ("3 1 4 1 5"; "31415" when every symbol is one character)
    parity  a bit string ("0110 1011")
    text_lm any text, read as UTF-8 bytes; the answer is the model's next byte
    others  token names separated by spaces; the answer is the model's next token

Every mistake (an unknown word, an empty story, a sentence of the wrong shape) is a UserError whose one line
names the bad part and what is accepted; the page shows it instead of a traceback. The vocabulary is always
read from the task object, so a run trained with other words is parsed in its own words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import torch

from compare.errors import UserError
from compare.tasks import qa as qa_task

#: Answer kinds: one token read at the last position, or a string generated after the copy separator.
ONE_TOKEN, GENERATE = "one_token", "generate"
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


@dataclass
class QAStory:
    """A qa story as words: sentences of 3 words each (the "." left out), and a 3-word question."""

    sentences: list[list[str]]
    question: list[str]


def split_words(text: str) -> list[str]:
    """Lower-cased words, with '.', '?', '!' and ',' as words of their own."""
    return re.sub(r"([.?!,])", r" \1 ", text.lower()).split()


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


def parse_input(task, text: str, distractors: int = 0) -> LiveInput:
    """``text`` in ``task``'s own words -> a LiveInput; ``distractors`` sentences go before a qa question."""
    if task.name == "qa":
        story = parse_qa(task, text)
        return qa_input(task, with_distractors(task, story, distractors) if distractors else story,
                        inserted=distractors)
    if distractors:
        raise UserError(f"moving the fact back works on qa stories only, not on {task.name}")
    if task.name == "babi":
        return babi_input(task, text)
    if task.name == "copy":
        return copy_input(task, text)
    if task.name == "parity":
        return parity_input(task, text)
    if task.name == "text_lm":
        return text_input(task, text)
    return generic_input(task, text)


def input_help(task) -> str:
    """How to write an input for ``task``, with its vocabulary (Markdown, one paragraph)."""
    if task.name == "qa":
        return ("Sentences `<agent> <verb> <object>.` or `<agent> went <place>.`, one fact each, then one question "
                "`who <verb> <object>?` or `what <agent> <verb>?`. The latest matching fact answers it. "
                f"Agents: {', '.join(task.agents)}. Verbs: {', '.join(task.verbs)}. "
                f"Objects: {', '.join(task.objects)}. Places: {', '.join(task.places) or '(none)'}.")
    if task.name == "babi":
        vocab = [w for w in task.words[2:] if w not in ".?"]
        return ("A bAbI story: sentences ending in `.`, then one question ending in `?`. "
                f"Words the model knows: {listing(vocab)}.")
    if task.name == "copy":
        return (f"The symbols to copy, separated by spaces (symbols 0 to {task.vocab_size - 1}). The models read "
                "them and the separator, then write the copy one symbol at a time (greedy decoding).")
    if task.name == "parity":
        return "A string of bits (0 and 1; spaces are ignored). The answer: is the count of ones odd (1) or even (0)?"
    if task.name == "text_lm":
        return "Any text (read as UTF-8 bytes). The answer is each model's next byte."
    return (f"Token names separated by spaces ({listing(task.token_names())}). "
            "The answer is each model's next token after the last one.")


def example_text(task) -> str:
    """The task's probe example written as an input (the page starts from it)."""
    tokens, _ = task.probe()
    return format_tokens(task, tokens[0].tolist())


def format_tokens(task, tokens: list[int]) -> str:
    """Token ids as the text ``parse_input`` reads back."""
    names = task.token_names()
    if task.name == "qa":
        story = [names[t] for t in tokens if t != qa_task.FILL]
        lines = [" ".join(story[i:i + 3]) + story[i + 3] for i in range(0, len(story) - 3, qa_task.SENTENCE)]
        return "\n".join(lines)
    if task.name == "babi":
        text = " ".join(names[t] for t in tokens if t != 0)
        return re.sub(r" ([.?!,])", r"\1", text).replace(". ", ".\n")
    if task.name == "copy":
        return " ".join(names[t] for t in tokens[:tokens.index(task.sep)] if t != task.sep)
    if task.name == "parity":
        return "".join(names[t] for t in tokens)
    if task.name == "text_lm":
        return bytes(tokens).decode("utf-8", errors="replace")
    return " ".join(names[t] for t in tokens)


# --- qa ------------------------------------------------------------------------------------------------------
def parse_qa(task, text: str) -> QAStory:
    """Sentences and the question of a qa story, each checked against the task's word classes."""
    words = split_words(text)
    if not words:
        raise UserError("the story is empty: write sentences like 'mary drank water.' and a question like "
                        "'who drank water?'")
    known = set(task.words)
    unknown = sorted({w for w in words if w not in known and w not in ".?"})
    if unknown:
        raise UserError(f"unknown word{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}: this model "
                        f"knows only {listing([w for w in task.words if w not in qa_task.SPECIALS[:3]])}")
    sentences, current, question = [], [], None
    for w in words:
        if question is not None:
            raise UserError(f"'{' '.join(question)}?' must be the last thing in the story: the model answers "
                            "at the question mark")
        if w == ".":
            sentences.append(current)
            current = []
        elif w == "?":
            question, current = current, []
        else:
            current.append(w)
    if current:
        raise UserError(f"'{' '.join(current)}' does not end with '.' or '?': end sentences with '.' and the "
                        "question with '?'")
    if question is None:
        raise UserError("no question: end the story with 'who <verb> <object>?' or 'what <agent> <verb>?'")
    for n, s in enumerate(sentences, start=1):
        check_qa_sentence(task, s, n)
    check_qa_question(task, question)
    if not sentences:
        raise UserError("the story is empty: write at least one sentence like 'mary drank water.' before the question")
    return QAStory(sentences, question)


def check_qa_sentence(task, words: list[str], n: int) -> None:
    """A fact '<agent> <verb> <object>' or '<agent> went <place>'; a UserError naming sentence ``n`` otherwise."""
    fact = (len(words) == 3 and words[0] in task.agents and words[1] in task.verbs and words[2] in task.objects)
    place = (len(words) == 3 and words[0] in task.agents and words[1] == "went" and words[2] in task.places)
    if not (fact or place):
        raise UserError(f"sentence {n} '{' '.join(words)}.' is not '<agent> <verb> <object>.' or "
                        "'<agent> went <place>.' (3 words and a full stop)")


def check_qa_question(task, words: list[str]) -> None:
    """'who <verb> <object>' or 'what <agent> <verb>' (the two questions qa asks)."""
    who = len(words) == 3 and words[0] == "who" and words[1] in task.verbs and words[2] in task.objects
    what = len(words) == 3 and words[0] == "what" and words[1] in task.agents and words[2] in task.verbs
    if not (who or what):
        raise UserError(f"the question '{' '.join(words)}?' is not 'who <verb> <object>?' or "
                        "'what <agent> <verb>?'")
    if words[0] not in task.questions:
        raise UserError(f"this model was trained only on {' and '.join(repr(q) for q in task.questions)} questions, "
                        f"not on '{words[0]} ...?'")


def qa_input(task, story: QAStory, inserted: int = 0) -> LiveInput:
    """The tokens of a qa story as training lays them out: fill tokens, sentences, question."""
    index = {w: i for i, w in enumerate(task.words)}
    fill = [qa_task.FILL] * (task.length % qa_task.SENTENCE)
    body = [index[w] for s in story.sentences for w in [*s, "."]]
    question = [index[w] for w in [*story.question, "?"]]
    tokens = fill + body + question
    length = len(fill) + len(body)
    idx, answer = task.deciding_fact(torch.tensor([tokens]), length)
    fact, expected, note, span = int(idx[0]), None, None, None
    if fact < 0:
        note = "no sentence answers this question, so there is no right answer to score"
    else:
        expected = [int(answer[0])]
        start = len(fill) + qa_task.SENTENCE * fact
        span = (start, start + qa_task.SENTENCE - 1)
    question_at = len(fill) + len(body)
    extra = list(range(question_at - qa_task.SENTENCE * inserted, question_at))
    return LiveInput(tokens, [task.words[t] for t in tokens], ONE_TOKEN, expected, question_at, span, note, extra)


def with_distractors(task, story: QAStory, count: int) -> QAStory:
    """``story`` with ``count`` sentences that do not answer its question inserted just before the question."""
    if count < 0:
        raise UserError(f"distractors={count} is not accepted: it must be >= 0")
    q = story.question
    matches = (lambda s: s[1] == q[1] and s[2] == q[2]) if q[0] == "who" else (lambda s: s[0] == q[1] and s[1] == q[2])
    pool: list[list[str]] = []
    # A fixed, varied order (agents, verbs and objects each cycle at their own pace), so the curve is repeatable.
    # Like the stories the models trained on: only "<agent> went <place>" when every other sentence was one
    # (place_prob 1, qa's default), else places and non-matching facts in turn.
    only_places = bool(task.places) and task.place_prob >= 1.0
    for i in range(len(task.agents) * len(task.verbs) * len(task.objects)):
        if len(pool) >= count:
            break
        if task.places and (only_places or i % 2):
            pool.append([task.agents[i % len(task.agents)], "went", task.places[i % len(task.places)]])
            continue
        s = [task.agents[i % len(task.agents)], task.verbs[(i // 2) % len(task.verbs)],
             task.objects[(i // 3) % len(task.objects)]]
        if not matches(s):
            pool.append(s)
    return QAStory(story.sentences + [list(s) for s in pool[:count]], list(q))


# --- babi, copy, parity, the rest -------------------------------------------------------------------------------
def babi_input(task, text: str) -> LiveInput:
    """A bAbI story (sentences, then a question ending in '?'), left-padded to the training length."""
    from compare.tasks.babi import words as babi_words

    words = babi_words(text)
    if not words:
        raise UserError("the story is empty: write sentences ending in '.' and a question ending in '?'")
    known = [w for w in task.words[2:] if w not in ".?"]
    ids = token_ids(words, task.index,
                    lambda bad: f"{unknown_words('word', bad)}: this model knows only {listing(known)}")
    if words[-1] != "?" or "?" in words[:-1]:
        raise UserError("end the story with one question ending in '?' (and no other '?' before it)")
    start = max((i for i, w in enumerate(words[:-1]) if w == "."), default=-1) + 1
    if start == 0:
        raise UserError("the story is empty: write at least one sentence ending in '.' before the question")
    pad = max(0, task.length - len(ids))  # training left-pads every question to the training length
    tokens = [0] * pad + ids
    return LiveInput(tokens, [task.words[t] for t in tokens], ONE_TOKEN, None, pad + start)


def copy_input(task, text: str) -> LiveInput:
    """Symbols to copy, then the separator; the model generates the copy."""
    names = task.token_names()[:task.vocab_size]
    parts = text.replace(",", " ").split()
    if len(parts) == 1 and all(len(n) == 1 for n in names):
        parts = list(parts[0])
    if not parts:
        raise UserError(f"nothing to copy: type symbols 0 to {task.vocab_size - 1} separated by spaces, e.g. 3 1 4 1 5")
    tokens = token_ids(parts, {n: i for i, n in enumerate(names)}, lambda bad: (
        f"{', '.join(map(repr, bad))} {'is not a symbol' if len(bad) == 1 else 'are not symbols'} of this copy "
        f"task: it copies {names[0]} to {names[-1]}, separated by spaces"))
    tokens.append(task.sep)
    return LiveInput(tokens, [*parts, "SEP"], GENERATE, tokens[:-1])


def parity_input(task, text: str) -> LiveInput:
    """Bits; the answer is the parity of the whole string, read at the last bit."""
    bits = "".join(text.split())
    if not bits:
        raise UserError("no bits: type a string of 0 and 1, e.g. 0110")
    bad = sorted(set(bits) - {"0", "1"})
    if bad:
        raise UserError(f"{', '.join(map(repr, bad))} {'is not a bit' if len(bad) == 1 else 'are not bits'}: "
                        "parity reads a string of 0 and 1")
    tokens = [int(b) for b in bits]
    return LiveInput(tokens, list(bits), ONE_TOKEN, [sum(tokens) % 2])


def text_input(task, text: str) -> LiveInput:
    """Text as UTF-8 bytes; the answer is the next byte."""
    tokens = list(text.encode("utf-8"))
    if not tokens:
        raise UserError("the text is empty: type some text for the models to continue")
    names = task.token_names()
    return LiveInput(tokens, [names[t] for t in tokens], ONE_TOKEN)


def generic_input(task, text: str) -> LiveInput:
    """Token names separated by spaces; the answer is the next token."""
    names = task.token_names()
    parts = text.split()
    if not parts:
        raise UserError(f"the input is empty: type {task.name} tokens separated by spaces")
    tokens = token_ids(parts, {n: i for i, n in enumerate(names)},
                       lambda bad: f"{unknown_words('token', bad)}: {task.name} has {listing(names)}")
    return LiveInput(tokens, parts, ONE_TOKEN)
