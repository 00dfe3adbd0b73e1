"""The bAbI text format (Weston et al. 2015), shared by the real-data task and the generated QA stories.

A file is stories of numbered lines: ``N statement.`` or ``N question?<TAB>answer<TAB>supporting ids``;
N restarts at 1 with each story. ``babi_line`` writes one line, ``parse_babi_lines`` reads them back into
one record per question, and ``WordTask`` is the word vocabulary both tasks answer in.
"""

from __future__ import annotations

import re
from typing import Iterable, Iterator, Sequence

from compare.errors import UserError
from compare.tasks.base import Task


def words(text: str) -> list[str]:
    """bAbI tokens: lower-cased words, with '.' and '?' as tokens of their own."""
    return re.sub(r"([.?!,])", r" \1 ", text.lower()).split()


def babi_line(line_id: int, text: str, answer: str | None = None, support: Sequence[int] = ()) -> str:
    """One line of a bAbI file: a statement, or (with ``answer``) a question with its supporting line ids."""
    if answer is None:
        return f"{line_id} {text}"
    return f"{line_id} {text}\t{answer}\t{' '.join(str(s) for s in support)}"


def parse_babi_lines(lines: Iterable[tuple[int, str]], source: str) -> Iterator[dict]:
    """Records (one per question) from (line_number, text) pairs; raises UserError at the first malformed line.

    A record holds its story's statements so far (``context``, with their line ids), the question, the
    answer, the supporting ids and ``support_offset``: tokens from the first supporting statement to the question.
    """
    story, statements, last_id, count = -1, {}, 0, 0
    for number, text in lines:
        text = text.rstrip("\r\n")
        if not text.strip():
            continue
        head, _, rest = text.partition(" ")
        if not head.isdigit():
            raise UserError(f"{source}:{number}: line id {head!r} is not a number (bAbI lines are 'N text')")
        line_id = int(head)
        if line_id == 1:
            story, statements = story + 1, {}
        elif line_id != last_id + 1:
            raise UserError(f"{source}:{number}: line id {line_id} does not follow {last_id} "
                            "(ids count up from 1 within each story)")
        last_id = line_id
        if "\t" not in rest:
            if "?" in rest:  # statements never ask; a question must carry its answer after a tab
                raise UserError(f"{source}:{number}: question without a tab-separated answer "
                                "(expected 'N question?<TAB>answer<TAB>supporting ids')")
            statements[line_id] = rest.strip()
            continue
        question, answer, support = question_fields(rest, statements, f"{source}:{number}")
        ids = sorted(statements)
        context = [statements[i] for i in ids]
        first = ids.index(min(support)) if support else len(ids)
        count += 1
        yield {"story": story, "line": number, "context": context, "context_ids": ids, "question": question,
               "answer": answer.lower(), "supporting": support,
               "support_offset": sum(len(words(s)) for s in context[first:])}
    if count == 0:
        raise UserError(f"{source}:1: no bAbI questions in this file (empty, or no 'N question?<TAB>answer' lines)")


def question_fields(rest: str, statements: dict[int, str], where: str) -> tuple[str, str, list[int]]:
    """(question, answer, supporting ids) of a question line's text after its id, checked against the story."""
    fields = rest.split("\t")
    question, answer = fields[0].strip(), fields[1].strip() if len(fields) > 1 else ""
    if not answer:
        raise UserError(f"{where}: question {question!r} has an empty answer")
    support_text = fields[2].strip() if len(fields) > 2 else ""
    if support_text and not all(s.isdigit() for s in support_text.split()):
        raise UserError(f"{where}: supporting ids {support_text!r} are not line numbers")
    support = [int(s) for s in support_text.split()]
    missing = [s for s in support if s not in statements]
    if missing:
        known = f"{min(statements)}..{max(statements)}" if statements else "none yet"
        raise UserError(f"{where}: supporting ids {missing} are not statements earlier in this story "
                        f"(its statements so far: {known})")
    return question, answer, support


class WordTask(Task):
    """A task whose tokens are the words of ``self.words`` (set by the subclass), answered with one word."""

    words: list[str]

    @property
    def num_tokens(self) -> int:
        return len(self.words)

    def token_names(self) -> list[str]:
        return list(self.words)
