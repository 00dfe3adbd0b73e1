"""Byte-level language modelling on local text files, loaded with ``datasets.load_dataset("text")``.

"length" is the context window in bytes: in training and validation every position predicts the next
byte and is scored; on the length ladder only the last byte of each window is scored, so accuracy at
length L is next-byte accuracy after exactly L bytes of context.
By default the corpus is a fixed list of the Python standard library's own source files: real
text on every machine with Python, with long-range structure (brackets, indentation, names).
Each file's last ``validation_fraction`` of bytes is held out for validation and evaluation.

After training, ``task_metrics`` holds the validation loss by position in the context window (does
the model use far context?) and, for code, how well it predicts a closing bracket against the
distance to its opening bracket: ``bracket_acc`` (the closer is the top prediction) and
``bracket_type_acc`` (of ')', ']' and '}', the right one scores highest: memory of which bracket is
open, apart from knowing when to close it), next to ``bracket_type_majority_acc``, what always naming
the most common closer scores.
"""

from __future__ import annotations

import glob
import sysconfig
from pathlib import Path

import datasets
import torch
import torch.nn.functional as F
from torch import Tensor

from compare.errors import UserError
from compare.tasks.assoc_recall import power_of_two_bin
from compare.tasks.base import IGNORE, EvalSet, Task, check_positive, stream_seed
from compare.tasks.live_input import ONE_TOKEN, LiveInput

#: Standard-library modules present in every CPython >= 3.10 (paths relative to the stdlib folder).
STDLIB_FILES = (
    "textwrap.py", "string.py", "functools.py", "heapq.py", "bisect.py", "queue.py", "dataclasses.py",
    "argparse.py", "json/encoder.py", "json/decoder.py", "fractions.py", "shlex.py", "glob.py",
    "fnmatch.py", "calendar.py", "difflib.py",
)
#: What a folder in task.files contributes: its files with these suffixes (binary files would not decode).
TEXT_SUFFIXES = (".txt", ".md", ".rst", ".py")
OPENERS = {ord("("): ord(")"), ord("["): ord("]"), ord("{"): ord("}")}
CLOSERS = {v: k for k, v in OPENERS.items()}


#: The project's folder: a relative name in task.files that is not found from the working directory is looked up
#: here, so the shipped texts (data/text/) are found from anywhere.
PROJECT_ROOT = Path(__file__).resolve().parents[2]
#: task.files=stdlib: every module of this interpreter's standard library, without its tests and IDLE (about 12 MB
#: of Python on CPython 3.11): a corpus large enough for GPU-scale runs on every machine.
STDLIB = "stdlib"


def stdlib_files() -> list[str]:
    """The default corpus: STDLIB_FILES inside this interpreter's standard library."""
    root = Path(sysconfig.get_paths()["stdlib"])
    return [str(root / f) for f in STDLIB_FILES]


def whole_stdlib_files() -> list[str]:
    """task.files=stdlib: the standard library's *.py files, less tests, IDLE and installed packages."""
    root = Path(sysconfig.get_paths()["stdlib"])
    skip = {"test", "tests", "idlelib", "site-packages", "dist-packages"}
    return sorted(str(p) for p in root.rglob("*.py") if not skip & set(p.relative_to(root).parts) and p.is_file())


def resolve_files(files) -> list[str]:
    """Expand globs and folders (their text files, recursively) and ``stdlib``; every name must give at least one
    file. A relative name not found from the working directory is read from the project's folder (data/text/)."""
    if isinstance(files, str):
        files = [files]
    out = []
    for name in files:
        if name == STDLIB:
            out.extend(whole_stdlib_files())
            continue
        name = str(Path(name).expanduser())
        if not Path(name).is_absolute() and not glob.glob(name) and glob.glob(str(PROJECT_ROOT / name)):
            name = str(PROJECT_ROOT / name)
        if Path(name).is_dir():
            found = sorted(str(p) for p in Path(name).rglob("*") if p.suffix in TEXT_SUFFIXES and p.is_file())
            if not found:
                raise UserError(f"task.files: the folder {name} holds no text files (looked for "
                                f"{', '.join('*' + s for s in TEXT_SUFFIXES)}, in subfolders too)")
        else:
            found = sorted(glob.glob(name)) if glob.has_magic(name) else ([name] if Path(name).is_file() else [])
        if not found:
            raise UserError(f"task.files: {name} matches no file")
        out.extend(found)
    return out


class TextLMTask(Task):
    """Next-byte prediction over windows of ``length`` bytes drawn from local text files."""

    name = "text_lm"

    def __init__(self, length: int = 128, files=None, validation_fraction: float = 0.1,
                 cache_dir: str | None = None, seed: int = 0, position_windows: int = 256) -> None:
        super().__init__(length, seed, min_length=length)  # training windows are all `length` bytes
        if not 0.0 < validation_fraction < 1.0:
            raise UserError(f"task.validation_fraction={validation_fraction} must be between 0 and 1")
        if isinstance(position_windows, bool) or not isinstance(position_windows, int) or position_windows < 2:
            raise UserError(f"task.position_windows={position_windows!r} must be an integer >= 2")
        self.position_windows = position_windows
        self.files = resolve_files(files) if files else stdlib_files()
        missing = [f for f in self.files if not Path(f).is_file()]
        if missing:
            raise UserError(f"text_lm: no such files {missing}")
        try:
            docs = datasets.load_dataset("text", data_files={"train": self.files}, sample_by="document",
                                         cache_dir=cache_dir)["train"]["text"]
        except Exception as e:
            raise UserError(f"text_lm: cannot read {self.files} as UTF-8 text: {type(e).__name__}: {e}") from None
        train, valid = [], []
        for doc in docs:
            data = doc.encode("utf-8")
            cut = int(len(data) * (1 - validation_fraction))
            train.append(data[:cut])
            valid.append(data[cut:])
        self.validation_fraction = validation_fraction
        self.train_bytes = torch.frombuffer(bytearray(b"\n".join(train)), dtype=torch.uint8)
        self.valid_bytes = torch.frombuffer(bytearray(b"\n".join(valid)), dtype=torch.uint8)
        self._on: dict[tuple[str, torch.device], Tensor] = {}
        self._check_fits(self.train_bytes, length, "training")

    def _check_fits(self, data: Tensor, length: int, what: str) -> None:
        if len(data) < length + 2:
            raise UserError(f"text_lm: the {what} text has {len(data)} bytes, too few for windows of {length}; "
                            f"use more or larger task.files or a shorter task.length")

    @property
    def num_tokens(self) -> int:
        return 256

    def token_names(self) -> list[str]:
        return [chr(i) if 32 <= i < 127 else f"\\x{i:02x}" for i in range(256)]

    # --- compare-lab: any text, as UTF-8 bytes --------------------------------------------------
    samples_text = True

    def parse_words(self, text: str) -> LiveInput:
        """Text as UTF-8 bytes; the answer is the next byte."""
        tokens = list(text.encode("utf-8"))
        if not tokens:
            raise UserError("the text is empty: type some text for the models to continue")
        names = self.token_names()
        return LiveInput(tokens, [names[t] for t in tokens], ONE_TOKEN)

    def format_tokens(self, tokens: list[int]) -> str:
        return bytes(tokens).decode("utf-8", errors="replace")

    def input_help(self) -> str:
        return "Any text (read as UTF-8 bytes). The answer is each model's next byte."

    def sequence_length(self, length: int) -> int:
        return length

    def in_training_range(self, length: int) -> bool:
        # Every position of a training window is scored, so each context up to `length` bytes was trained on.
        return length <= self.length

    def _windows(self, split: str, batch_size: int, length: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        device = generator.device
        if (split, device) not in self._on:  # one copy of the corpus per device, not one per batch
            self._on[split, device] = (self.train_bytes if split == "training" else self.valid_bytes).to(device)
        data = self._on[split, device]
        self._check_fits(data, length, split)
        starts = torch.randint(0, len(data) - length - 1, (batch_size, 1), generator=generator, device=device)
        window = data[starts + torch.arange(length + 1, device=device)].long()
        return window[:, :-1], window[:, 1:]

    def spread_windows(self, split: str, count: int) -> tuple[Tensor, Tensor]:
        """``count`` windows of the training length whose starts are evenly spread over the split's whole text
        (``training`` or ``evaluation``): every position of the window scores a sample of the same text."""
        data = self.train_bytes if split == "training" else self.valid_bytes
        self._check_fits(data, self.length, split)
        last = len(data) - self.length - 1
        starts = torch.div(torch.arange(count) * last, max(1, count - 1), rounding_mode="floor")
        window = data[starts[:, None] + torch.arange(self.length + 1)].long()
        return window[:, :-1], window[:, 1:]

    def sample(self, batch_size: int, length: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        return self._windows("training", batch_size, length, generator)

    def validation_set(self, size: int) -> EvalSet:
        """Fixed windows of the training length from the held-out text, every position scored."""
        g = torch.Generator().manual_seed(stream_seed(self.seed, -1, self.length))
        inputs, targets = self._windows("evaluation", size, self.length, g)
        return EvalSet(self.length, inputs, targets)

    def eval_set(self, length: int, size: int, salt: int = 1) -> EvalSet:
        """Fixed held-out windows scored at their last byte only: next-byte accuracy after ``length`` bytes.

        Exact accuracy over a whole window is ~0 for any language model, so the length ladder asks the
        question that has an answer: does a longer context (past the trained window) help or hurt?
        """
        check_positive("evaluation length", length)
        g = torch.Generator().manual_seed(stream_seed(self.seed, -1 - salt, length))
        inputs, targets = self._windows("evaluation", size, length, g)
        targets = targets.clone()
        targets[:, :-1] = IGNORE
        return EvalSet(length, inputs, targets)

    @torch.no_grad()
    def extra_metrics(self, model: torch.nn.Module, batch_size: int = 128) -> dict:
        """Loss by context position on held-out and on training windows, and closing-bracket accuracy by distance.

        The two curves side by side tell using far context from memorising the text: a model that has read its
        training text many times can recognise a passage from a long context and recall how it goes on, so its
        loss on training windows keeps falling with position while its held-out loss rises (the transformer of
        issue 23: 29.7 passes over the 413 KB default corpus, loss at positions 129-256 of 1.45 on training
        windows and 1.86 held out).

        Both curves are over ``position_windows`` windows spread evenly over the held-out text and over the
        training text (``spread_windows``). Each position scores other bytes, so the curve carries the text's own
        variation: with 128 windows the loss of byte frequencies alone (a model that uses no context) moved by
        0.1 nats between bins of positions on Tiny Shakespeare, as much as far context gains; with 1,024 by 0.03.
        """
        data = self.validation_set(256)
        _, logits = self._losses(model, data.inputs, data.targets, batch_size)
        loss, _ = self._losses(model, *self.spread_windows("evaluation", self.position_windows), batch_size,
                               keep_logits=False)
        train_loss, _ = self._losses(model, *self.spread_windows("training", self.position_windows), batch_size,
                                     keep_logits=False)
        return {"loss_by_position": self.by_position(loss), "train_loss_by_position": self.by_position(train_loss),
                # Every position, for fitting L(t) = a + b t^-c (compare.reporting.scaling).
                "loss_at_position": [round(float(v), 5) for v in loss.mean(dim=0)],
                "train_loss_at_position": [round(float(v), 5) for v in train_loss.mean(dim=0)],
                **bracket_accuracy(data.inputs, data.targets, logits)}

    def by_position(self, loss: Tensor) -> dict[str, float]:
        """Mean loss of (windows, length) per power-of-two bin of context size, named by its upper edge: the
        position with t bytes of context is in bin 2^ceil(log2 t), so bin "16" is the positions with 9 to 16
        bytes and bin "256" those with 129 to 256 (named by the lower edge, "256" was the last position alone)."""
        bins = 2 ** torch.ceil(torch.log2(torch.arange(1, loss.shape[1] + 1).double())).long()
        return {str(int(b)): float(loss[:, bins == b].mean()) for b in bins.unique()}

    @staticmethod
    def _losses(model: torch.nn.Module, inputs: Tensor, targets: Tensor, batch_size: int,
                keep_logits: bool = True) -> tuple[Tensor, Tensor | None]:
        """Per-position loss (windows, length) and logits of ``model`` on fixed windows (None without
        ``keep_logits``: 1,024 windows of 256 bytes have 268 MB of them)."""
        was_training = model.training
        model.eval()
        device = next(model.parameters()).device
        losses, logits_all = [], []
        for start in range(0, len(inputs), batch_size):
            x = inputs[start:start + batch_size].to(device)
            y = targets[start:start + batch_size].to(device)
            logits = model(x).float()
            losses.append(F.cross_entropy(logits.transpose(1, 2), y, reduction="none").cpu())
            if keep_logits:
                logits_all.append(logits.cpu())
        model.train(was_training)
        return torch.cat(losses), torch.cat(logits_all) if keep_logits else None

    def describe(self) -> dict:
        # scored_by: the report's headline for this task is the validation loss (whole-window accuracy is ~0).
        return {**super().describe(), "files": self.files, "train_bytes": len(self.train_bytes),
                "validation_bytes": len(self.valid_bytes), "scored_by": "loss"}


def bracket_accuracy(inputs: Tensor, targets: Tensor, logits: Tensor) -> dict:
    """Accuracy at positions whose next byte closes a bracket opened inside the window, by distance to the opener."""
    closer_ids = torch.tensor(sorted(CLOSERS))
    found = []  # (distance, top-1 right, type right)
    for x, y, lg in zip(inputs.tolist(), targets.tolist(), logits):
        full = [x[0], *y]
        stack: list[tuple[int, int]] = []
        for pos, byte in enumerate(full):
            if byte in OPENERS:
                stack.append((byte, pos))
            elif byte in CLOSERS:
                if stack and stack[-1][0] == CLOSERS[byte]:
                    _, opened = stack.pop()
                    if pos >= 1:  # predicted at position pos-1 of the inputs
                        scores = lg[pos - 1]
                        top = int(scores.argmax()) == byte
                        kind = int(closer_ids[scores[closer_ids].argmax()]) == byte
                        found.append((pos - opened, top, kind, byte))
                else:
                    stack.clear()  # unbalanced inside this window (e.g. a bracket in a string): start over
    if not found:  # e.g. prose: no bracket metric rather than a row of zeros in the report
        return {}
    dist = power_of_two_bin(torch.tensor([d for d, _, _, _ in found]))
    top = torch.tensor([t for _, t, _, _ in found], dtype=torch.float)
    kind = torch.tensor([k for _, _, k, _ in found], dtype=torch.float)
    closer = torch.tensor([c for _, _, _, c in found])
    # What always naming the most common closer would score: type accuracy below this has learned nothing.
    majority = (closer == closer.mode().values).float()
    return {
        "brackets": len(found), "bracket_acc": float(top.mean()), "bracket_type_acc": float(kind.mean()),
        "bracket_acc_by_distance": {str(int(b)): float(top[dist == b].mean()) for b in dist.unique()},
        "bracket_type_acc_by_distance": {str(int(b)): float(kind[dist == b].mean()) for b in dist.unique()},
        "bracket_type_majority_acc": float(majority.mean()),
        "bracket_type_majority_acc_by_distance": {str(int(b)): float(majority[dist == b].mean()) for b in dist.unique()},
        "brackets_by_distance": {str(int(b)): int((dist == b).sum()) for b in dist.unique()},
    }
