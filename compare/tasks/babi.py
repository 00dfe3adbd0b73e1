"""bAbI QA (Weston et al. 2015) from local files in bAbI text format, or from the Hugging Face Hub.

Each question becomes one sample: the statements of its story before it, then the question; the
model answers with one word at the final position ("?"), like the synthetic ``qa`` task, and
``python -m compare.tasks.qa DIR`` writes generated stories this task reads the same way.

As published (MemN2N, Sukhbaatar et al. 2015): every training question is used. A story that does not fit
the model's input keeps its most recent statements: at most ``task.max_sentences`` of them (MemN2N's
memory of 50), and then as many as fit in ``task.length`` tokens with the question; shorter samples are
left-padded, so every sample is exactly ``task.length`` tokens. The shares of questions that lost a
statement, and that lost a supporting one, are in ``task_settings``. A seeded 10% of the training file's
stories (``validation_fraction``) is held out for validation; the test file is the evaluation set:
``task_metrics.test_acc`` is accuracy on every test question, cut by the same rule.

Two training options make learning the stories by heart pay less than looking the answer up (issue 25, README
bAbI): ``rename`` tells each drawn story with its people, places and objects permuted afresh (``entity_classes``
reads the classes from the data), and ``story_questions=all`` keeps the story's earlier questions in the input,
each in place and, in training, each scored at its own '?' (never with its answer in the input), as MQAR scores
every query. Validation and test are never renamed and score the last question only.

The length ladder asks a different question, generalisation to longer stories: at length L it uses the
whole test stories of L/2 < tokens <= L (nothing cut), padded to L, so lengths past ``task.length``
are stories longer than any the model read in training. Accuracy is also reported against the distance
from the first supporting fact to the question (key "support_distance", power-of-two bins).

Files are parsed into records by a generator that ``datasets.Dataset.from_generator`` caches as
Arrow (keyed on the file's path, size and modification time); a malformed file raises a UserError
naming the file and line, and a failed parse leaves no cached dataset behind.
"""

from __future__ import annotations

import os
import re
from itertools import accumulate
from pathlib import Path

import datasets
import numpy as np
import torch
from torch import Tensor

from compare.errors import UserError
from compare.evaluation import evaluate_set
from compare.tasks.assoc_recall import power_of_two_bin
from compare.tasks.babi_format import WordTask, babi_line, parse_babi_lines, words
from compare.tasks.base import IGNORE, EvalSet, check_positive, stream_seed
from compare.tasks.live_input import ONE_TOKEN, LiveInput, listing, token_ids, unknown_words

__all__ = ["BabiTask", "entity_classes", "load_babi_file", "parse_babi_lines", "read_babi_file", "words"]

PAD, UNK = "·", "<unk>"
TRAIN_SETS = ("1k", "10k")
#: Which questions of a story one input holds: last (MemN2N: the statements, then the one question asked) or all
#: (the story's earlier questions too, each in place, each scored in training; never their answers).
STORY_QUESTIONS = ("last", "all")
HUB_NAME = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
FEATURES = datasets.Features({
    "story": datasets.Value("int32"),
    "line": datasets.Value("int32"),
    "context": datasets.Sequence(datasets.Value("string")),
    "context_ids": datasets.Sequence(datasets.Value("int32")),
    "question": datasets.Value("string"),
    "answer": datasets.Value("string"),
    "supporting": datasets.Sequence(datasets.Value("int32")),
    "support_offset": datasets.Value("int32"),
})


def read_babi_file(path: str, stamp: str = ""):
    """Generator of records from one bAbI text file (``stamp`` only keys the cache to the file's version)."""
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise UserError(f"{path}:0: cannot read bAbI file ({e.strerror})") from None

    def decoded():
        for number, line in enumerate(raw.splitlines(), start=1):
            try:
                yield number, line.decode("utf-8")
            except UnicodeDecodeError as e:
                raise UserError(f"{path}:{number}: not UTF-8 text ({e.reason} at byte {e.start})") from None

    yield from parse_babi_lines(decoded(), path)


def load_babi_file(path: Path, cache_dir: str | None = None) -> datasets.Dataset:
    """The parsed records of a local bAbI file, through the ``datasets`` Arrow cache."""
    if not path.is_file():
        raise UserError(f"{path}:0: no such bAbI file")
    st = path.stat()
    try:
        return datasets.Dataset.from_generator(
            read_babi_file, features=FEATURES, cache_dir=cache_dir,
            gen_kwargs={"path": str(path.resolve()), "stamp": f"{st.st_size}-{st.st_mtime_ns}"})
    except Exception as e:  # datasets wraps the generator's error; surface a UserError as itself
        cause = e
        while cause is not None and not isinstance(cause, UserError):
            cause = cause.__cause__ or cause.__context__
        if cause is not None:
            raise cause from None
        raise


def find_split_file(directory: Path, task_id: int, split: str) -> Path | None:
    """``qa{task_id}_*_{split}.txt`` in ``directory``, if there is exactly one."""
    found = sorted(directory.glob(f"qa{task_id}_*_{split}.txt"))
    return found[0] if len(found) == 1 else None


def local_files(path: Path, task_id: int, train_set: str) -> tuple[Path, Path]:
    """(train file, test file) for a local file or directory in the layout of the bAbI release."""
    if path.is_file():
        test = path.with_name(path.name.replace("_train", "_test"))
        if "_train" not in path.name or not test.is_file():
            raise UserError(f"task.path={path} is a file, so its test file must sit beside it with '_train' "
                            f"replaced by '_test' ({test.name}); it does not")
        return path, test
    # Accept the release root (holding en/ and en-10k/) or one of its language folders.
    base = path / "en" if (path / "en").is_dir() and not find_split_file(path, task_id, "test") else path
    train_dir = base
    if train_set == "10k":
        candidates = [base.with_name(base.name + "-10k"), base / "en-10k"]
        train_dir = next((c for c in candidates if c.is_dir()), None)
        if train_dir is None:
            raise UserError(f"task.train_set=10k: no 10k folder found; looked for {[str(c) for c in candidates]}")
    train = find_split_file(train_dir, task_id, "train")
    # The 10k release's test files are the 1k ones; fall back to them when the 10k folder has none.
    test = find_split_file(train_dir, task_id, "test") or find_split_file(base, task_id, "test")
    if train is None or test is None:
        raise UserError(f"task.path={path}: expected one qa{task_id}_*_train.txt in {train_dir} and one "
                        f"qa{task_id}_*_test.txt in {train_dir} or {base} (task.task_id={task_id})")
    return train, test


def hub_offline() -> bool:
    """True when the user or the environment switched the Hugging Face Hub off."""
    flags = [os.environ.get(v, "") for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")]
    return any(f.upper() in ("1", "ON", "YES", "TRUE") for f in flags) or bool(datasets.config.HF_HUB_OFFLINE)


def hub_records(rows):
    """Records from the Hub's ``facebook/babi_qa`` layout (one story per row) in the local parser's format."""
    def lines():
        number = 0
        for row in rows:
            s = row["story"]
            for line_id, kind, text, support, answer in zip(s["id"], s["type"], s["text"], s["supporting_ids"],
                                                            s["answer"]):
                number += 1
                yield number, babi_line(line_id, text, answer if kind == 1 else None, support)
    return lines()


def load_hub(name: str, task_id: int, train_set: str, cache_dir: str | None) -> tuple[datasets.Dataset, datasets.Dataset]:
    """(train, test) records from a Hub dataset in the ``facebook/babi_qa`` layout."""
    how = ("download the bAbI tasks (http://www.thespermwhale.com/jaseweston/babi/tasks_1-20_v1-2.tar.gz) "
           "and pass the folder, e.g. task.path=/data/tasks_1-20_v1-2/en")
    if hub_offline():
        raise UserError(f"task.path={name!r} is not a local file or folder, and the Hugging Face Hub is switched "
                        f"off (HF_HUB_OFFLINE / HF_DATASETS_OFFLINE): cannot fetch it. To work offline, {how}")
    config = f"{'en-10k' if train_set == '10k' else 'en'}-qa{task_id}"
    try:
        hub = datasets.load_dataset(name, config, cache_dir=cache_dir)
    except Exception as e:
        raise UserError(f"task.path={name!r} is not a local file or folder, and loading it from the Hugging Face "
                        f"Hub (config {config}) failed: {type(e).__name__}: {e}. To work offline, {how}") from None
    out = []
    for split in ("train", "test"):
        records = list(parse_babi_lines(hub_records(hub[split]), f"{name}[{config}/{split}]"))
        out.append(datasets.Dataset.from_list(records, features=FEATURES))
    return out[0], out[1]


def entity_classes(records: list[dict]) -> dict[str, list[str]]:
    """The words a story may rename, by class, read from the training records: people (the words that start
    statements: every statement of bAbI tasks 1-3 starts with its actor), places (words after "the" that are
    also answers) and objects (the other words after "the"). A word in two classes is left out of both."""
    people, nouns, answers = set(), set(), {r["answer"] for r in records}
    for text in {s for r in records for s in r["context"]}:  # each story prefix repeats: every sentence once
        w = words(text)
        people.add(w[0])
        nouns.update(b for a, b in zip(w, w[1:]) if a == "the")
    places = nouns & answers
    classes = {"people": people, "places": places, "objects": nouns - places}
    shared = {w for a in classes for b in classes if a < b for w in classes[a] & classes[b]}
    return {name: sorted(group - shared) for name, group in classes.items()}


def fit_width(rows: Tensor, length: int, pad: int) -> Tensor:
    """``rows`` cut to their last ``length`` columns, or left-padded with ``pad`` to it."""
    rows = rows[:, max(0, rows.shape[1] - length):]
    if rows.shape[1] < length:
        rows = torch.cat([torch.full((len(rows), length - rows.shape[1]), pad, dtype=rows.dtype), rows], 1)
    return rows


def split_stories(records: list[dict], fraction: float, seed: int) -> tuple[list[dict], list[dict]]:
    """(training, validation) records: a seeded ``fraction`` of the stories held out whole (no shared prefixes)."""
    stories = sorted({r["story"] for r in records})
    if len(stories) < 2:
        raise UserError(f"task.validation_fraction={fraction}: the training file has {len(stories)} story, "
                        "and validation holds out whole stories: it needs at least 2")
    held = min(len(stories) - 1, max(1, round(len(stories) * fraction)))
    order = torch.randperm(len(stories), generator=torch.Generator().manual_seed(stream_seed(seed, -300)))
    valid = {stories[i] for i in order[:held].tolist()}
    return [r for r in records if r["story"] not in valid], [r for r in records if r["story"] in valid]


class BabiTask(WordTask):
    """bAbI questions as one-word answers at the final position; stories cut to their most recent statements."""

    name = "babi"

    def __init__(self, path: str | None = None, task_id: int = 1, train_set: str = "1k", length: int = 64,
                 max_sentences: int | None = 50, validation_fraction: float = 0.1, cache_dir: str | None = None,
                 rename: bool = False, story_questions: str = "last", seed: int = 0) -> None:
        super().__init__(length, seed, min_length=length)  # every sample is padded or cut to exactly `length`
        check_positive("task.task_id", task_id)
        if max_sentences is not None:
            check_positive("task.max_sentences", max_sentences)
        if train_set not in TRAIN_SETS:
            raise UserError(f"task.train_set={train_set!r} is not accepted; choose one of {list(TRAIN_SETS)}")
        if not 0.0 < validation_fraction < 1.0:
            raise UserError(f"task.validation_fraction={validation_fraction} must be between 0 and 1")
        if story_questions not in STORY_QUESTIONS:
            raise UserError(f"task.story_questions={story_questions!r} is not accepted; choose one of "
                            f"{list(STORY_QUESTIONS)}")
        if path is None or str(path).strip() == "":
            raise UserError("task.path is not set: pass a bAbI folder or file, e.g. task.path=data/babi/en")
        self.path, self.task_id, self.train_set = str(path), task_id, train_set
        self.max_sentences, self.validation_fraction = max_sentences, validation_fraction
        self.rename, self.story_questions = bool(rename), story_questions
        train, test = (data.to_list() for data in self._load(cache_dir))
        # Vocabulary from the training file only; test words never seen in training become <unk>.
        texts = {s for r in train for s in [*r["context"], r["question"]]}
        self.words = [PAD, UNK] + sorted({w for s in texts for w in words(s)} | {r["answer"] for r in train})
        self.index = {w: i for i, w in enumerate(self.words)}
        self._ids: dict[str, list[int]] = {}
        self.entities = entity_classes(train)
        self._classes = [torch.tensor([self.index[w] for w in group]) for group in self.entities.values()
                         if len(group) > 1]
        train_records, valid_records = split_stories(train, validation_fraction, seed)
        test_records = test
        self.train = self._encode(train_records, "train", cut=True)
        self.valid = self._encode(valid_records, "train", cut=True)
        self.test_cut = self._encode(test_records, "test", cut=True)
        self.test = self._encode(test_records, "test", cut=False)

    def _load(self, cache_dir: str | None) -> tuple[datasets.Dataset, datasets.Dataset]:
        """(train, test) records of a local file or folder, or of a Hub dataset; sets ``self.source``."""
        local = Path(os.path.expanduser(self.path))
        if local.exists():
            train_file, test_file = local_files(local, self.task_id, self.train_set)
            self.source = {"train": str(train_file), "test": str(test_file)}
            return load_babi_file(train_file, cache_dir), load_babi_file(test_file, cache_dir)
        if HUB_NAME.match(self.path) and self.path.count("/") <= 1 and not self.path.startswith("."):
            self.source = {"hub": self.path}
            return load_hub(self.path, self.task_id, self.train_set, cache_dir)
        raise UserError(f"task.path={self.path}: no such file or folder")

    def _sentence_ids(self, text: str) -> list[int]:
        if text not in self._ids:  # bAbI repeats its sentences a great deal
            self._ids[text] = [self.index.get(w, 1) for w in words(text)]
        return self._ids[text]

    def _lines(self, record: dict, earlier: list[dict]) -> list[tuple[list[int], tuple | None, int | None]]:
        """The record's story up to its question as (token ids, (answer id, supporting ids) or None, statement id or
        None) lines: its statements, with the story's ``earlier`` questions in place when ``story_questions`` is all."""
        def asked(q: dict) -> tuple[list[int], tuple, None]:
            return self._sentence_ids(q["question"]), (self.index.get(q["answer"], 1), q["supporting"]), None

        after: dict[int, list[dict]] = {}
        if self.story_questions == "all":
            for q in earlier:  # a question follows every statement its own context holds
                after.setdefault(max(q["context_ids"], default=0), []).append(q)
        lines = [asked(q) for q in after.get(0, [])]
        for line_id, text in zip(record["context_ids"], record["context"]):
            lines.append((self._sentence_ids(text), None, line_id))
            lines += [asked(q) for q in after.get(line_id, [])]
        return lines + [asked(record)]

    def _fit(self, record: dict, lines: list, split: str, cut: bool) -> tuple[list[int], list[int], bool, bool, int]:
        """(tokens, targets, lost a statement, lost a supporting one, support distance) of one question.

        ``cut``: keep at most ``max_sentences`` of the most recent statements (and the questions after the first
        of them), then as many lines as fit in ``task.length`` tokens with the question. targets: the record's
        answer at the last '?', and the answer of every earlier question kept whose supporting statements were
        all kept at its own '?' (one the cut made unanswerable is not scored); IGNORE elsewhere.
        """
        question = lines[-1][0]
        if cut and len(question) > self.length:
            raise UserError(f"task.length={self.length} is too short for bAbI: the question at "
                            f"{self.source.get(split, self.path)}:{record['line']} alone has {len(question)} tokens")
        # Support distance in the whole story: tokens from the first supporting statement to the question.
        sids = [sid for _, _, sid in lines]
        starts = [0, *accumulate(len(t) for t, _, _ in lines)]
        first_support = min(record["supporting"], default=None)
        at = starts[sids.index(first_support)] if first_support in sids else starts[-2]
        distance = starts[-2] - at
        kept = lines
        if cut:
            statements = [i for i, sid in enumerate(sids) if sid is not None]
            first = 0
            if self.max_sentences is not None and len(statements) > self.max_sentences:
                first = statements[-self.max_sentences]
            while starts[-1] - starts[first] > self.length:  # the oldest lines go first
                first += 1
            kept = lines[first:]
        kept_ids = {sid for _, _, sid in kept if sid is not None}
        tokens, targets = [], []
        for i, (ids, asked, _) in enumerate(kept):
            answerable = asked is not None and (i == len(kept) - 1 or all(s in kept_ids for s in asked[1]))
            tokens += ids
            targets += [IGNORE] * (len(ids) - 1) + [asked[0] if answerable else IGNORE]
        lost = len(kept_ids) < len(record["context_ids"])
        lost_support = any(s not in kept_ids for s in record["supporting"])
        return tokens, targets, lost, lost_support, distance

    def _encode(self, records: list[dict], split: str, cut: bool) -> dict[str, Tensor]:
        """Left-padded token rows, their targets, full token counts, answer ids, support distances, what the cut lost.

        ``cut``: each story keeps its most recent statements that fit (rows of exactly ``length``); else whole.
        """
        rows, target_rows, lost, lost_support, distance, full = [], [], [], [], [], []
        earlier: dict[int, list[dict]] = {}
        for r in records:  # in file order: a story's earlier questions come first
            lines = self._lines(r, earlier.setdefault(r["story"], []))
            tokens, targets, dropped, dropped_support, d = self._fit(r, lines, split, cut)
            earlier[r["story"]].append(r)
            rows.append(tokens)
            target_rows.append(targets)
            lost.append(dropped)
            lost_support.append(dropped_support)
            distance.append(d)
            full.append(sum(len(t) for t, _, _ in lines))
        width = self.length if cut else max((len(r) for r in rows), default=1)
        # Filled row by row in numpy: a torch.tensor per row, or of all rows at once, is several times slower.
        tokens, targets = np.zeros((len(rows), width), dtype=np.int64), np.full((len(rows), width), IGNORE)
        for i, (r, t) in enumerate(zip(rows, target_rows)):
            tokens[i, width - len(r):] = r
            targets[i, width - len(t):] = t
        tokens, targets = torch.from_numpy(tokens), torch.from_numpy(targets)
        return {"tokens": tokens, "targets": targets, "count": torch.tensor(full, dtype=torch.long),
                "answer": targets[:, -1].clone(), "support": torch.tensor(distance, dtype=torch.long),
                "lost": torch.tensor(lost, dtype=torch.bool), "lost_support": torch.tensor(lost_support, dtype=torch.bool)}

    def sequence_length(self, length: int) -> int:
        return length

    def in_training_range(self, length: int) -> bool:
        # Training reads every story, cut to `length` tokens: shorter stories are inside the range.
        return length <= self.length

    def _batch(self, data: dict[str, Tensor], which: Tensor, length: int,
               every_question: bool = False) -> tuple[Tensor, Tensor]:
        """The rows ``which`` left-cut or left-padded to ``length``; targets: the last question's answer, or with
        ``every_question`` the answer of every question in the row at its own '?'."""
        inputs = fit_width(data["tokens"][which], length, 0)
        if every_question:
            return inputs, fit_width(data["targets"][which], length, IGNORE)
        targets = torch.full_like(inputs, IGNORE)
        targets[:, -1] = data["answer"][which]
        return inputs, targets

    def sample(self, batch_size: int, length: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """Training questions drawn with replacement, each story cut as in ``_fit`` (``length``: the training length);
        with ``story_questions=all`` every question in the row is scored, and with ``rename`` each row's people,
        places and objects are renamed afresh (``renamed``)."""
        device = generator.device
        pick = torch.randint(0, len(self.train["count"]), (batch_size,), generator=generator, device=device)
        inputs, targets = self._batch(self.train, pick.cpu(), length, every_question=self.story_questions == "all")
        inputs, targets = inputs.to(device), targets.to(device)
        return self.renamed(inputs, targets, generator) if self.rename else (inputs, targets)

    def renamed(self, inputs: Tensor, targets: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """Each row with its own random permutation of every entity class (``entities``) applied to its tokens and
        answers alike: the same story with other names, so a story learned by heart no longer answers it."""
        device, b = generator.device, len(inputs)
        mapping = torch.arange(self.num_tokens, device=device).repeat(b, 1)
        for ids in self._classes:
            ids = ids.to(device)
            order = torch.rand(b, len(ids), generator=generator, device=device).argsort(1)
            mapping[:, ids] = ids[order]
        scored = targets != IGNORE
        return mapping.gather(1, inputs), torch.where(scored, mapping.gather(1, targets.clamp(min=0)), targets)

    def _fixed(self, data: dict[str, Tensor], mask: Tensor, length: int, size: int, salt: int) -> EvalSet:
        which = torch.nonzero(mask)[:, 0]
        if len(which) > size:  # a fixed seeded subset
            g = torch.Generator().manual_seed(stream_seed(self.seed, -1 - salt, length))
            which = which[torch.randperm(len(which), generator=g)[:size]].sort().values
        inputs, targets = self._batch(data, which, length)
        return EvalSet(length, inputs, targets, {"support_distance": power_of_two_bin(data["support"][which])})

    def validation_set(self, size: int) -> EvalSet:
        """The held-out training stories' questions (a seeded subset of ``size`` if there are more), cut as in training."""
        return self._fixed(self.valid, torch.ones_like(self.valid["lost"]), self.length, size, salt=0)

    def eval_set(self, length: int, size: int, salt: int = 1) -> EvalSet:
        """Whole test stories of length/2 < tokens <= length (a story-length bucket), padded to ``length``."""
        check_positive("evaluation length", length)
        count = self.test["count"]
        return self._fixed(self.test, (count > length // 2) & (count <= length), length, size, salt)

    @torch.no_grad()
    def extra_metrics(self, model: torch.nn.Module, batch_size: int = 128) -> dict:
        """Accuracy on every question of the test file, each story cut as in training (the published protocol)."""
        n = len(self.test_cut["count"])
        scores = evaluate_set(model, self._fixed(self.test_cut, torch.ones_like(self.test_cut["lost"]), self.length,
                                                 n, salt=5), batch_size)
        return {"test_acc": scores["seq_acc"], "test_questions": n,
                "test_acc_by_support_distance": scores["by"].get("support_distance", {}),
                **self._cut_shares(self.test_cut, "test")}

    @staticmethod
    def _cut_shares(data: dict[str, Tensor], split: str) -> dict[str, float]:
        return {f"{split}_truncated_share": float(data["lost"].float().mean()),
                f"{split}_support_lost_share": float(data["lost_support"].float().mean())}

    # --- compare-lab: a story as text -----------------------------------------------------------
    def _story_words(self) -> list[str]:
        """The words a story may use (no padding, unknown-word or punctuation tokens)."""
        return [w for w in self.words[2:] if w not in ".?"]

    def parse_words(self, text: str) -> LiveInput:
        """A bAbI story (sentences, then a question ending in '?'), left-padded to the training length."""
        story = words(text)
        if not story:
            raise UserError("the story is empty: write sentences ending in '.' and a question ending in '?'")
        known = self._story_words()
        ids = token_ids(story, self.index,
                        lambda bad: f"{unknown_words('word', bad)}: this model knows only {listing(known)}")
        if story[-1] != "?" or "?" in story[:-1]:
            raise UserError("end the story with one question ending in '?' (and no other '?' before it)")
        start = max((i for i, w in enumerate(story[:-1]) if w == "."), default=-1) + 1
        if start == 0:
            raise UserError("the story is empty: write at least one sentence ending in '.' before the question")
        pad = max(0, self.length - len(ids))  # training left-pads every question to the training length
        tokens = [0] * pad + ids
        return LiveInput(tokens, [self.words[t] for t in tokens], ONE_TOKEN, None, pad + start)

    def format_tokens(self, tokens: list[int]) -> str:
        """A story one sentence a line, padding left out."""
        text = " ".join(self.words[t] for t in tokens if t != 0)
        return re.sub(r" ([.?!,])", r"\1", text).replace(". ", ".\n")

    def input_help(self) -> str:
        return ("A bAbI story: sentences ending in `.`, then one question ending in `?`. "
                f"Words the model knows: {listing(self._story_words())}.")

    @property
    def label(self) -> str:
        return f"babi_qa{self.task_id}" + ("_10k" if self.train_set == "10k" else "")

    def describe(self) -> dict:
        return {**super().describe(), "path": self.path, "task_id": self.task_id, "train_set": self.train_set,
                "source": self.source, "max_sentences": self.max_sentences, "rename": self.rename,
                "story_questions": self.story_questions, "entities": self.entities,
                "validation_fraction": self.validation_fraction, "train_questions": len(self.train["count"]),
                "validation_questions": len(self.valid["count"]), "test_questions": len(self.test["count"]),
                **self._cut_shares(self.train, "train"), **self._cut_shares(self.test_cut, "test")}
