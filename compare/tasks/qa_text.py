"""A qa story written as text, for compare-lab: parsed into the tokens training lays out, and written back.

    mary drank water.
    john went kitchen.
    who drank water?

Sentences "<agent> <verb> <object>." or "<agent> went <place>.", then "who <verb> <object>?" or
"what <agent> <verb>?". Every word is checked against the task's own word classes, so a run trained with
other words is parsed in its own words; every mistake is a one-line UserError naming the bad part.
``QATask.parse_text`` and its siblings call these (this module imports ``compare.tasks.qa``, not the reverse).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from compare.errors import UserError
from compare.tasks.babi_format import words as split_words
from compare.tasks.live_input import ONE_TOKEN, LiveInput, listing
from compare.tasks.qa import FILL, SENTENCE, SPECIALS, QATask


@dataclass
class QAStory:
    """A qa story as words: sentences of 3 words each (the "." left out), and a 3-word question."""

    sentences: list[list[str]]
    question: list[str]


def parse_story(task: QATask, text: str) -> QAStory:
    """Sentences and the question of a qa story, each checked against the task's word classes."""
    words = split_words(text)
    if not words:
        raise UserError("the story is empty: write sentences like 'mary drank water.' and a question like "
                        "'who drank water?'")
    known = set(task.words)
    unknown = sorted({w for w in words if w not in known and w not in ".?"})
    if unknown:
        raise UserError(f"unknown word{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}: this model "
                        f"knows only {listing([w for w in task.words if w not in SPECIALS[:3]])}")
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
        check_sentence(task, s, n)
    check_question(task, question)
    if not sentences:
        raise UserError("the story is empty: write at least one sentence like 'mary drank water.' before the question")
    return QAStory(sentences, question)


def check_sentence(task: QATask, words: list[str], n: int) -> None:
    """A fact '<agent> <verb> <object>' or '<agent> went <place>'; a UserError naming sentence ``n`` otherwise."""
    fact = (len(words) == 3 and words[0] in task.agents and words[1] in task.verbs and words[2] in task.objects)
    place = (len(words) == 3 and words[0] in task.agents and words[1] == "went" and words[2] in task.places)
    if not (fact or place):
        raise UserError(f"sentence {n} '{' '.join(words)}.' is not '<agent> <verb> <object>.' or "
                        "'<agent> went <place>.' (3 words and a full stop)")


def check_question(task: QATask, words: list[str]) -> None:
    """'who <verb> <object>' or 'what <agent> <verb>' (the two questions qa asks)."""
    who = len(words) == 3 and words[0] == "who" and words[1] in task.verbs and words[2] in task.objects
    what = len(words) == 3 and words[0] == "what" and words[1] in task.agents and words[2] in task.verbs
    if not (who or what):
        raise UserError(f"the question '{' '.join(words)}?' is not 'who <verb> <object>?' or "
                        "'what <agent> <verb>?'")
    if words[0] not in task.questions:
        raise UserError(f"this model was trained only on {' and '.join(repr(q) for q in task.questions)} questions, "
                        f"not on '{words[0]} ...?'")


def story_input(task: QATask, story: QAStory, inserted: int = 0) -> LiveInput:
    """The tokens of a qa story as training lays them out: fill tokens, sentences, question."""
    index = {w: i for i, w in enumerate(task.words)}
    fill = [FILL] * (task.length % SENTENCE)
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
        start = len(fill) + SENTENCE * fact
        span = (start, start + SENTENCE - 1)
    question_at = len(fill) + len(body)
    extra = list(range(question_at - SENTENCE * inserted, question_at))
    return LiveInput(tokens, [task.words[t] for t in tokens], ONE_TOKEN, expected, question_at, span, note, extra)


def with_distractors(task: QATask, story: QAStory, count: int) -> QAStory:
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


def parse_text(task: QATask, text: str, distractors: int = 0) -> LiveInput:
    """A qa story -> its LiveInput; ``distractors`` sentences that do not answer go just before the question."""
    story = parse_story(task, text)
    return story_input(task, with_distractors(task, story, distractors) if distractors else story,
                       inserted=distractors)


def format_story(task: QATask, tokens: list[int]) -> str:
    """Token ids of a qa story as the text ``parse_text`` reads back: one sentence a line, fill tokens left out."""
    story = [task.words[t] for t in tokens if t != FILL]
    return "\n".join(" ".join(story[i:i + 3]) + story[i + 3] for i in range(0, len(story) - 3, SENTENCE))


def input_help(task: QATask) -> str:
    """How to write a qa story, with this task's word classes (Markdown, one paragraph)."""
    return ("Sentences `<agent> <verb> <object>.` or `<agent> went <place>.`, one fact each, then one question "
            "`who <verb> <object>?` or `what <agent> <verb>?`. The latest matching fact answers it. "
            f"Agents: {', '.join(task.agents)}. Verbs: {', '.join(task.verbs)}. "
            f"Objects: {', '.join(task.objects)}. Places: {', '.join(task.places) or '(none)'}.")
