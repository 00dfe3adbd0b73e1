"""QA, "who drank the water": a story of short sentences, then one question answered with one word.

Named after "Hunden drakk vann. Hvem drakk vannet?" ("The dog drank water. Who drank the water?").

A story of ``length`` tokens is F = length // 4 four-token sentences ("cat drank water ."  or
"mary went kitchen ."), after length % 4 filler tokens, so every length is exact. The question
"who drank water ?" (answer: the agent) or "what cat drank ?" (answer: the object) follows; the
model answers at the "?" position, the only scored position. Exactly one fact (the *deciding*
fact) answers it; any other sentence that happens to match the question is rewritten so it does not.

By default every other sentence is "<agent> went <place> ." (``place_prob=1``), as in the seed's
"the dog drank water" told inside a longer story: the question asks for the story's one fact, at
some distance. With ``place_prob < 1`` the other sentences are random facts that do not match the
question, so finding the deciding one is a lookup by content. Two more knobs make it another task: distractor facts
(``num_distractors``) share one of the question's words or the answer word with the deciding fact,
so the answer needs binding (which agent goes with which verb and object), not spotting a word; and
overwrites (``overwrite_prob``) put an earlier fact with the same question and another answer
before the deciding one ("later the dog drank the water": the latest fact wins).

Accuracy is also reported against the distance from the deciding fact to the question (key
"fact_distance": tokens from the start of the fact to the question, in power-of-two bins named
by their lower edge).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch
from torch import Tensor

from compare.errors import UserError
from compare.tasks.assoc_recall import power_of_two_bin
from compare.tasks.babi_format import WordTask, babi_line
from compare.tasks.base import IGNORE, check_positive, stream_seed
from compare.tasks.live_input import LiveInput

SPECIALS = ["·", ".", "?", "who", "what", "went"]
FILL, DOT, QMARK, WHO, WHAT, WENT = range(len(SPECIALS))
POSITIONS = ("random", "start", "end", "distance")
QUESTIONS = ("who", "what")
SENTENCE = 4  # tokens per sentence and per question
AGENT, VERB, OBJECT = range(3)  # columns of a fact
#: qa's words, one list per class (the task's defaults; ``task.agents=[...]`` and the like replace them).
AGENTS = ("mary", "john", "sandra", "daniel", "dog", "cat", "bird", "fox")
VERBS = ("drank", "ate", "took", "dropped", "found")
OBJECTS = ("water", "milk", "apple", "bread", "ball", "key", "book", "box")
PLACES = ("kitchen", "garden", "office", "hallway", "bedroom", "bathroom")


@dataclass
class Draft:
    """One batch of stories while it is built: the facts (word indices within each class) and their roles."""

    facts: Tensor      # (b, f, 3) agent, verb, object
    is_place: Tensor   # (b, f) rendered as "<agent> went <place> ." (never matches a question)
    place: Tensor      # (b, f) the place of such a sentence
    decide: Tensor     # (b,) index of the deciding fact
    qtype: Tensor      # (b,) 0: who (key verb, object; answer agent), 1: what (key agent, verb; answer object)
    cols: Tensor       # (b, 3) the two key columns and the answer column of each row's question
    key: Tensor        # (b, 3) the deciding fact
    special: Tensor    # (b, f) the deciding fact and the fact it overwrites: kept as they are
    distract: Tensor | None = None  # (b, f) distractor facts
    shares: Tensor | None = None    # (b, f) the column a distractor shares: 0, 1 key words, 2 the answer word


class Draws:
    """Random draws on one generator and device."""

    def __init__(self, generator: torch.Generator) -> None:
        self.g, self.dev = generator, generator.device

    def uniform(self, shape) -> Tensor:
        return torch.rand(shape, generator=self.g, device=self.dev)

    def below(self, high, shape) -> Tensor:
        """Integers in [0, high) (``high`` may be a tensor broadcast over ``shape``)."""
        return (self.uniform(shape) * high).long()

    def other_than(self, x: Tensor, n: Tensor) -> Tensor:
        """A value of the same class that differs from x (n values in the class)."""
        return (x + 1 + self.below(n - 1, x.shape)) % n


class QATask(WordTask):
    """Stories of exact token length with one deciding fact and a one-word answer (distractors and overwrites opt-in)."""

    name = "qa"
    supports_distractors = True

    def __init__(self, length: int = 32, agents: Sequence[str] | None = None, verbs: Sequence[str] | None = None,
                 objects: Sequence[str] | None = None, places: Sequence[str] | None = None,
                 fact_position: str = "random", fact_distance: int = 0, num_distractors: int = 0,
                 overwrite_prob: float = 0.0, place_prob: float = 1.0, questions=("who", "what"),
                 seed: int = 0, min_length: int | None = None) -> None:
        if length < SENTENCE:
            raise UserError(f"task.length={length} is too short for a qa story: it needs at least {SENTENCE} tokens")
        super().__init__(length, seed, min_length, smallest=SENTENCE)  # at least one sentence
        # None: qa's own words (AGENTS, ...); the yaml leaves them null so they are written down once, here.
        self.agents, self.verbs, self.objects, self.places = (
            list(default if w is None else w) for w, default in
            ((agents, AGENTS), (verbs, VERBS), (objects, OBJECTS), (places, PLACES)))
        self.words = self._check_words()
        if fact_position not in POSITIONS:
            raise UserError(f"task.fact_position={fact_position!r} is not accepted; choose one of {list(POSITIONS)}")
        check_positive("task.fact_distance", fact_distance, minimum=0)
        check_positive("task.num_distractors", num_distractors, minimum=0)
        for what, p in (("overwrite_prob", overwrite_prob), ("place_prob", place_prob)):
            if not 0.0 <= float(p) <= 1.0:
                raise UserError(f"task.{what}={p} must be a probability in [0, 1]")
        if not self.places and place_prob > 0:
            raise UserError("task.place_prob > 0 needs at least one word in task.places")
        self.questions = list(questions)
        if not self.questions or any(q not in QUESTIONS for q in self.questions):
            raise UserError(f"task.questions={self.questions} must be a non-empty list from {list(QUESTIONS)}")
        self.fact_position, self.fact_distance = fact_position, int(fact_distance)
        self.num_distractors = int(num_distractors)
        self.overwrite_prob, self.place_prob = float(overwrite_prob), float(place_prob)
        # First token id of each word class.
        self.agent0 = len(SPECIALS)
        self.verb0 = self.agent0 + len(self.agents)
        self.object0 = self.verb0 + len(self.verbs)
        self.place0 = self.object0 + len(self.objects)

    def _check_words(self) -> list[str]:
        """The vocabulary: specials, then agents, verbs, objects and places, all distinct."""
        # Answers must be able to differ (agents, objects); one verb is the seed's "who drank X ?" alone.
        for what, words, least in (("agents", self.agents, 2), ("verbs", self.verbs, 1), ("objects", self.objects, 2)):
            if len(words) < least:
                raise UserError(f"task.{what} needs at least {least} word(s) (other facts must differ); got {words}")
        words = SPECIALS + self.agents + self.verbs + self.objects + self.places
        if len(set(words)) != len(words):
            raise UserError("task.agents/verbs/objects/places must be distinct words, also from "
                            f"the reserved {SPECIALS}")
        return words

    def supports(self, length: int) -> bool:
        return length >= SENTENCE  # at least one sentence

    def sequence_length(self, length: int) -> int:
        return length + SENTENCE

    def sample(self, batch_size: int, length: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        if length < SENTENCE:
            raise UserError(f"a qa story needs at least {SENTENCE} tokens; asked for {length}")
        draws = Draws(generator)
        draft = self._draw_story(draws, batch_size, length // SENTENCE)
        self._add_overwrites(draws, draft)
        self._add_distractors(draws, draft)
        self._unmatch_other_facts(draws, draft)
        return self._render(draft, length)

    def _class_sizes(self, device) -> Tensor:
        return torch.tensor([len(self.agents), len(self.verbs), len(self.objects)], device=device)

    def _draw_story(self, draws: Draws, b: int, f: int) -> Draft:
        """Random facts, which of them are place sentences, the deciding fact and the question asked of it."""
        dev = draws.dev
        facts = draws.below(self._class_sizes(dev), (b, f, 3))
        is_place = draws.uniform((b, f)) < self.place_prob
        place = draws.below(max(1, len(self.places)), (b, f))
        if self.fact_position == "start":
            decide = torch.zeros(b, dtype=torch.long, device=dev)
        elif self.fact_position == "end":
            decide = torch.full((b,), f - 1, dtype=torch.long, device=dev)
        elif self.fact_position == "distance":
            decide = torch.full((b,), max(0, f - 1 - self.fact_distance), dtype=torch.long, device=dev)
        else:
            decide = draws.below(f, (b,))
        asked = torch.tensor([QUESTIONS.index(q) for q in self.questions], device=dev)
        qtype = asked[draws.below(len(self.questions), (b,))]
        cols = torch.stack([torch.where(qtype == 0, VERB, AGENT), torch.where(qtype == 0, OBJECT, VERB),
                            torch.where(qtype == 0, AGENT, OBJECT)], 1)
        rows = torch.arange(b, device=dev)
        is_place[rows, decide] = False
        special = torch.zeros(b, f, dtype=torch.bool, device=dev)
        special[rows, decide] = True
        return Draft(facts, is_place, place, decide, qtype, cols, facts[rows, decide], special)

    def _add_overwrites(self, draws: Draws, d: Draft) -> None:
        """With overwrite_prob, an earlier fact with the same key and another answer, which the deciding fact overwrites."""
        b = len(d.decide)
        rows = torch.arange(b, device=draws.dev)
        over = (draws.uniform(b) < self.overwrite_prob) & (d.decide > 0)
        older = draws.below(d.decide.clamp(min=1), (b,))
        ans_c = d.cols[:, 2]
        older_fact = d.key.clone()
        older_fact.scatter_(1, ans_c[:, None],
                            draws.other_than(d.key.gather(1, ans_c[:, None])[:, 0], self._class_sizes(draws.dev)[ans_c])[:, None])
        d.facts[rows[over], older[over]] = older_fact[over]
        d.is_place[rows[over], older[over]] = False
        d.special[rows[over], older[over]] = True

    def _add_distractors(self, draws: Draws, d: Draft) -> None:
        """num_distractors other facts per story that share one key word (or the answer word) with the deciding fact."""
        b, f = d.special.shape
        order = draws.uniform((b, f)).masked_fill(d.special, 2.0).argsort(1).argsort(1)
        d.distract = (order < self.num_distractors) & ~d.special
        d.is_place &= ~d.distract
        d.shares = draws.below(3, (b, f))
        col = d.cols.gather(1, d.shares)[..., None]
        shared = torch.where(d.distract[..., None], d.key.gather(1, col[..., 0])[..., None], d.facts.gather(2, col))
        d.facts.scatter_(2, col, shared)

    def _unmatch_other_facts(self, draws: Draws, d: Draft) -> None:
        """No fact but the deciding one (and the one it overwrites) may match the question: rewrite a key word."""
        b, f = d.special.shape
        ka, kb = d.cols[:, 0:1].expand(b, f), d.cols[:, 1:2].expand(b, f)
        match = ((d.facts.gather(2, ka[..., None])[..., 0] == d.key.gather(1, d.cols[:, 0:1]))
                 & (d.facts.gather(2, kb[..., None])[..., 0] == d.key.gather(1, d.cols[:, 1:2]))
                 & ~d.is_place & ~d.special)
        # Keep the shared word of a distractor; rewrite the other key word (a class of one word cannot be rewritten).
        sizes = self._class_sizes(draws.dev)
        fix_col = torch.where(d.distract & (d.shares == 1), ka, kb)
        fix_col = torch.where(sizes[fix_col] > 1, fix_col, ka + kb - fix_col)
        old = d.facts.gather(2, fix_col[..., None])[..., 0]
        new = draws.other_than(old, sizes[fix_col])
        d.facts.scatter_(2, fix_col[..., None], torch.where(match, new, old)[..., None])

    def _render(self, d: Draft, length: int) -> tuple[Tensor, Tensor]:
        """Token rows: filler, the sentences, the question; the answer is the target at the last position."""
        b, f = d.special.shape
        offsets = torch.tensor([self.agent0, self.verb0, self.object0], device=d.facts.device)
        tok = d.facts + offsets
        sentence = torch.stack([
            tok[..., AGENT],
            torch.where(d.is_place, torch.full_like(tok[..., VERB], WENT), tok[..., VERB]),
            torch.where(d.is_place, self.place0 + d.place, tok[..., OBJECT]),
            torch.full_like(tok[..., AGENT], DOT),
        ], dim=2).reshape(b, f * SENTENCE)
        key_tok = d.key + offsets
        who = d.qtype == 0
        question = torch.stack([
            torch.where(who, WHO, WHAT),
            torch.where(who, key_tok[:, VERB], key_tok[:, AGENT]),
            torch.where(who, key_tok[:, OBJECT], key_tok[:, VERB]),
            torch.full_like(d.qtype, QMARK),
        ], dim=1)
        fill = torch.full((b, length % SENTENCE), FILL, dtype=torch.long, device=d.facts.device)
        inputs = torch.cat([fill, sentence, question], dim=1)
        targets = torch.full_like(inputs, IGNORE)
        targets[:, -1] = key_tok.gather(1, d.cols[:, 2:3])[:, 0]
        return inputs, targets

    def deciding_fact(self, inputs: Tensor, length: int) -> tuple[Tensor, Tensor]:
        """(index of the last sentence matching the question, its answer token) for each row; index -1 if none."""
        f = length // SENTENCE
        story = inputs[:, length % SENTENCE:length].reshape(len(inputs), f, SENTENCE)
        q = inputs[:, length:]
        who = (q[:, 0] == WHO)[:, None]
        match = torch.where(who, (story[..., 1] == q[:, 1:2]) & (story[..., 2] == q[:, 2:3]),
                            (story[..., 0] == q[:, 1:2]) & (story[..., 1] == q[:, 2:3]))
        idx = torch.where(match, torch.arange(f, device=inputs.device), -1).max(1).values
        fact = story[torch.arange(len(inputs), device=inputs.device), idx.clamp(min=0)]
        answer = torch.where(who[:, 0], fact[:, 0], fact[:, 2])
        return idx, answer

    def eval_slices(self, inputs: Tensor, targets: Tensor, length: int) -> dict[str, Tensor]:
        idx, _ = self.deciding_fact(inputs, length)
        distance = SENTENCE * (length // SENTENCE - idx)  # tokens from the fact's first word to the question
        return {"fact_distance": power_of_two_bin(distance).cpu()}

    def to_babi(self, inputs: Tensor, targets: Tensor, length: int) -> str:
        """The stories in bAbI text format (``N sentence.`` lines; ``N question?<TAB>answer<TAB>support``)."""
        idx, _ = self.deciding_fact(inputs, length)
        lines = []
        for row, target, fact in zip(inputs.tolist(), targets[:, -1].tolist(), idx.tolist()):
            story = row[length % SENTENCE:length]
            sentences = [" ".join(self.words[t] for t in story[s:s + 3]) + "." for s in range(0, len(story), SENTENCE)]
            lines += [babi_line(n, text) for n, text in enumerate(sentences, start=1)]
            question = " ".join(self.words[t] for t in row[length:length + 3]) + "?"
            lines.append(babi_line(len(sentences) + 1, question, self.words[target], [fact + 1]))
        return "\n".join(lines) + "\n"

    def write_babi(self, path: str | Path, size: int, length: int | None = None, salt: int = 0) -> Path:
        """Write ``size`` seeded stories at ``length`` to ``path`` in bAbI format (readable by task=babi)."""
        length = length or self.length
        g = torch.Generator().manual_seed(stream_seed(self.seed, -100 - salt, length))
        inputs, targets = self.sample(size, length, g)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_babi(inputs, targets, length), encoding="utf-8")
        return path

    # compare-lab: stories as text (compare/tasks/qa_text.py, which imports this module: imported when used).
    def parse_text(self, text: str, distractors: int = 0) -> LiveInput:
        """A story in qa's words -> its LiveInput; ``distractors`` non-answering sentences go before the question."""
        from compare.tasks import qa_text

        return qa_text.parse_text(self, text, distractors)

    def format_tokens(self, tokens: list[int]) -> str:
        from compare.tasks import qa_text

        return qa_text.format_story(self, tokens)

    def input_help(self) -> str:
        from compare.tasks import qa_text

        return qa_text.input_help(self)

    def summary(self) -> str:
        asked = " and ".join(f'"{q}"' for q in self.questions)
        words = f"{len(self.verbs)} verb{'s' if len(self.verbs) != 1 else ''}, {asked} questions"
        if self.place_prob == 1.0:
            what = ("one fact per story, every other sentence \"<agent> went <place> .\" (task.place_prob=1): "
                    "reaching that fact across distance, not a lookup among facts")
        else:
            share = ("every other sentence is a fact" if self.place_prob == 0 else
                     f"{1 - self.place_prob:.0%} of the other sentences are facts")
            what = (f"a lookup by content among facts: {share}, none answering the question "
                    f"(task.place_prob={self.place_prob:g})")
        extra = [f"{self.num_distractors} distractor facts"] * bool(self.num_distractors)
        extra += [f"an earlier fact overwritten with chance {self.overwrite_prob:g}"] * bool(self.overwrite_prob)
        return f"qa, {what}; {', '.join([words] + extra)}."

    def describe(self) -> dict:
        return {**super().describe(), "fact_position": self.fact_position, "fact_distance": self.fact_distance,
                "num_distractors": self.num_distractors, "overwrite_prob": self.overwrite_prob,
                "place_prob": self.place_prob, "questions": self.questions}


def main(argv=None) -> None:
    """Write generated stories as a bAbI train/test pair: ``python -m compare.tasks.qa DIR``."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--length", type=int, default=32, help="story length in tokens")
    parser.add_argument("--train", type=int, default=1000, help="questions in the training file")
    parser.add_argument("--test", type=int, default=1000, help="questions in the test file")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    task = QATask(length=args.length, seed=args.seed)
    for split, size, salt in (("train", args.train, 0), ("test", args.test, 1)):
        print(task.write_babi(args.out_dir / f"qa_who_drank_{split}.txt", size, salt=salt))


if __name__ == "__main__":
    main()
