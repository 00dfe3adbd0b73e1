"""QA, "who drank the water": a story of short sentences, then one question answered with one word.

Named after "Hunden drakk vann. Hvem drakk vannet?" ("The dog drank water. Who drank the water?").

A story of ``length`` tokens is F = length // 4 four-token sentences ("cat drank water ."  or
"mary went kitchen ."), after length % 4 filler tokens, so every length is exact. The question
"who drank water ?" (answer: the agent) or "what cat drank ?" (answer: the object) follows; the
model answers at the "?" position, the only scored position. Exactly one fact (the *deciding*
fact) answers it: every other sentence that matches the question is either an earlier fact the
deciding one overwrites ("later the dog drank the water": the latest fact wins) or is rewritten so
it does not match. Distractor facts share one of the question's words or the answer word, so the
answer needs binding (which agent goes with which verb and object), not counting words.

Accuracy is also reported against the distance from the deciding fact to the question (key
"fact_distance": tokens from the start of the fact to the question, in power-of-two bins named
by their lower edge).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from torch import Tensor

from compare.errors import UserError
from compare.tasks.assoc_recall import power_of_two_bin
from compare.tasks.base import IGNORE, Task, check_positive, stream_seed

SPECIALS = ["·", ".", "?", "who", "what", "went"]
FILL, DOT, QMARK, WHO, WHAT, WENT = range(len(SPECIALS))
POSITIONS = ("random", "start", "end", "distance")
QUESTIONS = ("who", "what")
SENTENCE = 4  # tokens per sentence and per question


class QATask(Task):
    """Stories of exact token length with one deciding fact, distractors, overwrites and a one-word answer."""

    name = "qa"

    def __init__(self, length: int = 32, agents=("mary", "john", "sandra", "daniel", "dog", "cat", "bird", "fox"),
                 verbs=("drank", "ate", "took", "dropped", "found"),
                 objects=("water", "milk", "apple", "bread", "ball", "key", "book", "box"),
                 places=("kitchen", "garden", "office", "hallway", "bedroom", "bathroom"),
                 fact_position: str = "random", fact_distance: int = 0, num_distractors: int = 2,
                 overwrite_prob: float = 0.25, place_prob: float = 0.25, questions=("who", "what"),
                 seed: int = 0) -> None:
        super().__init__(length, seed)
        if length < SENTENCE:
            raise UserError(f"task.length={length} is too short for a qa story: it needs at least {SENTENCE} tokens")
        self.agents, self.verbs, self.objects, self.places = (list(w) for w in (agents, verbs, objects, places))
        for what, words in (("agents", self.agents), ("verbs", self.verbs), ("objects", self.objects)):
            if len(words) < 2:
                raise UserError(f"task.{what} needs at least 2 words (distractors must differ); got {words}")
        words = SPECIALS + self.agents + self.verbs + self.objects + self.places
        if len(set(words)) != len(words):
            raise UserError("task.agents/verbs/objects/places must be distinct words, also from "
                            f"the reserved {SPECIALS}")
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
        self.words = words
        # First token id of each word class.
        self.agent0 = len(SPECIALS)
        self.verb0 = self.agent0 + len(self.agents)
        self.object0 = self.verb0 + len(self.verbs)
        self.place0 = self.object0 + len(self.objects)

    def supports(self, length: int) -> bool:
        return length >= SENTENCE  # at least one sentence

    @property
    def num_tokens(self) -> int:
        return len(self.words)

    def token_names(self) -> list[str]:
        return list(self.words)

    def sequence_length(self, length: int) -> int:
        return length + SENTENCE

    def sample(self, batch_size: int, length: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        if length < SENTENCE:
            raise UserError(f"a qa story needs at least {SENTENCE} tokens; asked for {length}")
        g, dev, b, f = generator, generator.device, batch_size, length // SENTENCE
        sizes = torch.tensor([len(self.agents), len(self.verbs), len(self.objects)], device=dev)
        rows = torch.arange(b, device=dev)

        def rand_int(high, shape):
            return (torch.rand(shape, generator=g, device=dev) * high).long()

        def shifted(x, n):
            """A value of the same class that differs from x (n values in the class)."""
            return (x + 1 + rand_int(n - 1, x.shape)) % n

        facts = rand_int(sizes, (b, f, 3))  # columns: agent, verb, object (indices within each class)
        is_place = torch.rand(b, f, generator=g, device=dev) < self.place_prob
        place = rand_int(max(1, len(self.places)), (b, f))

        # Which fact decides the answer.
        if self.fact_position == "start":
            decide = torch.zeros(b, dtype=torch.long, device=dev)
        elif self.fact_position == "end":
            decide = torch.full((b,), f - 1, dtype=torch.long, device=dev)
        elif self.fact_position == "distance":
            decide = torch.full((b,), max(0, f - 1 - self.fact_distance), dtype=torch.long, device=dev)
        else:
            decide = rand_int(f, (b,))
        # who: key columns (verb, object), answer column agent. what: key (agent, verb), answer object.
        qtype = torch.tensor([QUESTIONS.index(q) for q in self.questions], device=dev)[rand_int(len(self.questions), (b,))]
        key_a = torch.where(qtype == 0, 1, 0)
        key_b = torch.where(qtype == 0, 2, 1)
        ans_c = torch.where(qtype == 0, 0, 2)
        cols = torch.stack([key_a, key_b, ans_c], 1)  # (b, 3)
        key = facts[rows, decide]  # (b, 3)
        is_place[rows, decide] = False

        # An earlier fact with the same key and another answer, which the deciding fact overwrites.
        over = (torch.rand(b, generator=g, device=dev) < self.overwrite_prob) & (decide > 0)
        older = rand_int(decide.clamp(min=1), (b,))
        ans_val = key.gather(1, ans_c[:, None])[:, 0]
        older_fact = key.clone()
        older_fact.scatter_(1, ans_c[:, None], shifted(ans_val, sizes[ans_c])[:, None])
        facts[rows[over], older[over]] = older_fact[over]
        is_place[rows[over], older[over]] = False

        # Distractors: other facts sharing one key word (or the answer word) with the deciding fact.
        special = torch.zeros(b, f, dtype=torch.bool, device=dev)
        special[rows, decide] = True
        special[rows[over], older[over]] = True
        order = torch.rand(b, f, generator=g, device=dev).masked_fill(special, 2.0).argsort(1).argsort(1)
        distract = (order < self.num_distractors) & ~special
        is_place &= ~distract
        shares = rand_int(3, (b, f))  # 0: first key word, 1: second key word, 2: answer word
        share_col = cols.gather(1, shares)
        facts.scatter_(2, share_col[..., None],
                       torch.where(distract[..., None], key.gather(1, share_col)[..., None],
                                   facts.gather(2, share_col[..., None])))

        # No other fact may match the question: rewrite a key word of any accidental match.
        ka, kb = cols[:, 0:1].expand(b, f), cols[:, 1:2].expand(b, f)
        match = ((facts.gather(2, ka[..., None])[..., 0] == key.gather(1, cols[:, 0:1]))
                 & (facts.gather(2, kb[..., None])[..., 0] == key.gather(1, cols[:, 1:2]))
                 & ~is_place & ~special)
        # Keep the shared word of a distractor; rewrite the other key word.
        fix_col = torch.where(distract & (shares == 1), ka, kb)
        old = facts.gather(2, fix_col[..., None])[..., 0]
        new = shifted(old, sizes[fix_col])
        facts.scatter_(2, fix_col[..., None], torch.where(match, new, old)[..., None])

        offsets = torch.tensor([self.agent0, self.verb0, self.object0], device=dev)
        tok = facts + offsets
        sentence = torch.stack([
            tok[..., 0],
            torch.where(is_place, torch.full_like(tok[..., 1], WENT), tok[..., 1]),
            torch.where(is_place, self.place0 + place, tok[..., 2]),
            torch.full_like(tok[..., 0], DOT),
        ], dim=2).reshape(b, f * SENTENCE)
        key_tok = key + offsets
        question = torch.stack([
            torch.where(qtype == 0, WHO, WHAT),
            torch.where(qtype == 0, key_tok[:, 1], key_tok[:, 0]),
            torch.where(qtype == 0, key_tok[:, 2], key_tok[:, 1]),
            torch.full_like(qtype, QMARK),
        ], dim=1)
        fill = torch.full((b, length % SENTENCE), FILL, dtype=torch.long, device=dev)
        inputs = torch.cat([fill, sentence, question], dim=1)
        targets = torch.full_like(inputs, IGNORE)
        targets[:, -1] = key_tok.gather(1, ans_c[:, None])[:, 0]
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
            n = 0
            for s in range(0, len(story), SENTENCE):
                n += 1
                lines.append(f"{n} {' '.join(self.words[t] for t in story[s:s + 3])}.")
            question = " ".join(self.words[t] for t in row[length:length + 3])
            lines.append(f"{n + 1} {question}?\t{self.words[target]}\t{fact + 1}")
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
