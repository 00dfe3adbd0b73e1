"""bAbI QA (Weston et al. 2015) from local files in bAbI text format, or from the Hugging Face Hub.

Each question becomes one sample: every statement of its story before it, then the question; the
model answers with one word at the final position ("?"), like the synthetic ``qa`` task, and
``python -m compare.tasks.qa DIR`` writes generated stories this task reads the same way.

What "length" means for real data: a sample's length is its number of tokens (story so far plus
question). Training draws questions of at most ``task.length`` tokens, left-padded to exactly that
length. Evaluation at ladder length L uses the *test* questions of L/2 < tokens <= L, padded to L,
so the ladder is a set of story-length buckets and lengths past ``task.length`` are stories longer
than any the model trained on. Accuracy within a bucket is also reported against the distance from
the first supporting fact to the question (key "support_distance", power-of-two bins). The
accuracy over the whole test file is reported under ``task_metrics``.

Files are parsed into records by a generator that ``datasets.Dataset.from_generator`` caches as
Arrow (keyed on the file's path, size and modification time); a malformed file raises a UserError
naming the file and line, and a failed parse leaves no cached dataset behind.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import datasets
import torch
from torch import Tensor

from compare.errors import UserError
from compare.evaluation import evaluate_set
from compare.tasks.assoc_recall import power_of_two_bin
from compare.tasks.base import IGNORE, EvalSet, Task, check_positive, stream_seed

PAD, UNK = "·", "<unk>"
TRAIN_SETS = ("1k", "10k")
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


def words(text: str) -> list[str]:
    """bAbI tokens: lower-cased words, with '.' and '?' as tokens of their own."""
    return re.sub(r"([.?!,])", r" \1 ", text.lower()).split()


def parse_babi_lines(lines, source: str):
    """Records (one per question) from (line_number, text) pairs; raises UserError at the first malformed line."""
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
        fields = rest.split("\t")
        question, answer = fields[0].strip(), fields[1].strip() if len(fields) > 1 else ""
        if not answer:
            raise UserError(f"{source}:{number}: question {question!r} has an empty answer")
        support_text = fields[2].strip() if len(fields) > 2 else ""
        if support_text and not all(s.isdigit() for s in support_text.split()):
            raise UserError(f"{source}:{number}: supporting ids {support_text!r} are not line numbers")
        support = [int(s) for s in support_text.split()]
        missing = [s for s in support if s not in statements]
        if missing:
            raise UserError(f"{source}:{number}: supporting ids {missing} are not statements earlier in this story")
        ids = sorted(statements)
        context = [statements[i] for i in ids]
        # Tokens from the start of the first supporting statement to the question (the memory span needed).
        first = ids.index(min(support)) if support else len(ids)
        offset = sum(len(words(s)) for s in context[first:])
        count += 1
        yield {"story": story, "line": number, "context": context, "context_ids": ids, "question": question,
               "answer": answer.lower(), "supporting": support, "support_offset": offset}
    if count == 0:
        raise UserError(f"{source}:1: no bAbI questions in this file (empty, or no 'N question?<TAB>answer' lines)")


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
                if kind == 1:
                    yield number, f"{line_id} {text}\t{answer}\t{' '.join(map(str, support))}"
                else:
                    yield number, f"{line_id} {text}"
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


class BabiTask(Task):
    """bAbI questions as one-word answers at the final position; lengths are story-length buckets in tokens."""

    name = "babi"

    def __init__(self, path: str | None = None, task_id: int = 1, train_set: str = "1k", length: int = 64,
                 validation_fraction: float = 0.1, cache_dir: str | None = None, seed: int = 0) -> None:
        super().__init__(length, seed)
        check_positive("task.task_id", task_id)
        if train_set not in TRAIN_SETS:
            raise UserError(f"task.train_set={train_set!r} is not accepted; choose one of {list(TRAIN_SETS)}")
        if not 0.0 < validation_fraction < 1.0:
            raise UserError(f"task.validation_fraction={validation_fraction} must be between 0 and 1")
        if path is None or str(path).strip() == "":
            raise UserError("task.path is not set: pass a bAbI folder or file, e.g. task.path=data/babi/en")
        self.path, self.task_id, self.train_set = str(path), task_id, train_set
        local = Path(os.path.expanduser(self.path))
        if local.exists():
            train_file, test_file = local_files(local, task_id, train_set)
            train, test = load_babi_file(train_file, cache_dir), load_babi_file(test_file, cache_dir)
            self.source = {"train": str(train_file), "test": str(test_file)}
        elif HUB_NAME.match(self.path) and self.path.count("/") <= 1 and not self.path.startswith("."):
            train, test = load_hub(self.path, task_id, train_set, cache_dir)
            self.source = {"hub": self.path}
        else:
            raise UserError(f"task.path={self.path}: no such file or folder")

        # Vocabulary from the training data only; test words never seen in training become <unk>.
        vocab = sorted({w for r in train for s in [*r["context"], r["question"]] for w in words(s)}
                       | set(train["answer"]))
        self.words = [PAD, UNK] + vocab
        self.index = {w: i for i, w in enumerate(self.words)}
        # Hold out the last stories of the training file for validation (bAbI has no validation split).
        stories = train["story"]
        cut = max(stories) + 1 - max(1, round((max(stories) + 1) * validation_fraction))
        self.train = self._encode([r for r in train if r["story"] < cut])
        self.valid = self._encode([r for r in train if r["story"] >= cut])
        self.test = self._encode(list(test))
        self.validation_fraction = validation_fraction
        fits = int((self.train["count"] <= length).sum())
        if fits == 0:
            raise UserError(f"task.length={length}: no training question fits in {length} tokens; the shortest "
                            f"has {int(self.train['count'].min())}. Raise task.length.")
        self._fitting = torch.nonzero(self.train["count"] <= length)[:, 0]

    def _encode(self, records: list[dict]) -> dict[str, Tensor]:
        """Left-padded token rows (N, longest), token counts, answer ids and support offsets."""
        rows = [[self.index.get(w, 1) for s in [*r["context"], r["question"]] for w in words(s)] for r in records]
        width = max((len(r) for r in rows), default=1)
        tokens = torch.zeros(len(rows), width, dtype=torch.long)
        for i, r in enumerate(rows):
            tokens[i, width - len(r):] = torch.tensor(r, dtype=torch.long)
        return {"tokens": tokens, "count": torch.tensor([len(r) for r in rows], dtype=torch.long),
                "answer": torch.tensor([self.index.get(r["answer"], 1) for r in records], dtype=torch.long),
                "support": torch.tensor([r["support_offset"] for r in records], dtype=torch.long)}

    @property
    def num_tokens(self) -> int:
        return len(self.words)

    def token_names(self) -> list[str]:
        return list(self.words)

    def sequence_length(self, length: int) -> int:
        return length

    def _batch(self, data: dict[str, Tensor], which: Tensor, length: int) -> tuple[Tensor, Tensor]:
        tokens = data["tokens"][which]
        width = tokens.shape[1]
        inputs = tokens[:, max(0, width - length):]
        if inputs.shape[1] < length:
            inputs = torch.cat([torch.zeros(len(inputs), length - inputs.shape[1], dtype=torch.long), inputs], 1)
        targets = torch.full_like(inputs, IGNORE)
        targets[:, -1] = data["answer"][which]
        return inputs, targets

    def sample(self, batch_size: int, length: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """Training questions of at most ``length`` tokens, drawn with replacement, left-padded to ``length``."""
        fitting = self._fitting if length == self.length else torch.nonzero(self.train["count"] <= length)[:, 0]
        if len(fitting) == 0:
            raise UserError(f"no bAbI training question fits in {length} tokens")
        pick = torch.randint(0, len(fitting), (batch_size,), generator=generator, device=generator.device)
        inputs, targets = self._batch(self.train, fitting[pick.cpu()], length)
        return inputs.to(generator.device), targets.to(generator.device)

    def _fixed(self, data: dict[str, Tensor], mask: Tensor, length: int, size: int, salt: int) -> EvalSet:
        which = torch.nonzero(mask)[:, 0]
        if len(which) > size:  # a fixed seeded subset
            g = torch.Generator().manual_seed(stream_seed(self.seed, -1 - salt, length))
            which = which[torch.randperm(len(which), generator=g)[:size]].sort().values
        inputs, targets = self._batch(data, which, length)
        return EvalSet(length, inputs, targets, {"support_distance": power_of_two_bin(data["support"][which])})

    def validation_set(self, size: int) -> EvalSet:
        """Held-out training stories whose questions fit in the training length."""
        return self._fixed(self.valid, self.valid["count"] <= self.length, self.length, size, salt=0)

    def eval_set(self, length: int, size: int, salt: int = 1) -> EvalSet:
        """Test questions of length/2 < tokens <= length (a story-length bucket), padded to ``length``."""
        check_positive("evaluation length", length)
        count = self.test["count"]
        return self._fixed(self.test, (count > length // 2) & (count <= length), length, size, salt)

    @torch.no_grad()
    def extra_metrics(self, model: torch.nn.Module, batch_size: int = 128) -> dict:
        """Accuracy on the whole test file (in power-of-two length buckets, each padded to its top)."""
        limit = getattr(model, "max_positions", None)
        count = self.test["count"]
        hits = total = hits_in = total_in = skipped = 0
        top = 1
        while top < int(count.max()):
            top *= 2
        edges = [0] + [2 ** k for k in range(top.bit_length())]
        for lo, hi in zip(edges[:-1], edges[1:]):
            mask = (count > lo) & (count <= hi)
            n = int(mask.sum())
            if n == 0:
                continue
            if limit is not None and hi > limit:
                skipped += n
                continue
            # Within the training length, pad to exactly the training length as in training.
            pad = self.length if hi <= self.length else hi
            acc = evaluate_set(model, self._fixed(self.test, mask, pad, n, salt=5), batch_size)["seq_acc"]
            hits, total = hits + acc * n, total + n
            if hi <= self.length:
                hits_in, total_in = hits_in + acc * n, total_in + n
        return {"test_acc": hits / total if total else None, "test_questions": total,
                "test_acc_in_train_range": hits_in / total_in if total_in else None,
                "test_questions_in_train_range": total_in, "test_questions_too_long_for_model": skipped,
                "train_questions": len(self.train["count"]), "train_questions_fitting": len(self._fitting)}

    def describe(self) -> dict:
        return {**super().describe(), "path": self.path, "task_id": self.task_id, "train_set": self.train_set,
                "source": self.source, "train_questions": len(self.train["count"]),
                "train_questions_fitting": len(self._fitting), "test_questions": len(self.test["count"])}
