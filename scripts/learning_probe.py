"""How fast does a small model learn a qa or copy setting? A plain PyTorch loop over compare's own models and tasks.

The README's qa notes (Tasks) and the why_attention preset quote this script: the qa lookup by content
(``--place 0`` or 0.25) stays on a plateau for thousands of steps at the default 50k parameters, while the
one-fact default (``--place 1``) is learned in a few hundred (at ``--budget 200000`` the two-fact, one-verb lookup
leaves its plateau by step 3,000: the first stage of experiment=qa_lookup's curriculum); copy trained on lengths
1..16 needs ~3,000 steps to copy 16 symbols.
It skips Lightning, checkpoints and reports so that a setting takes seconds, and prints validation
exact-sequence accuracy every ``--every`` steps (256 samples per length; qa: lengths min..max in steps of 4;
copy: 1, 2, 4, ... up to twice the longest, and the longest)::

    python scripts/learning_probe.py --length 16 --place 1 --pos rope              # the demo's qa setting
    python scripts/learning_probe.py --length 8 --min-length 8 --questions who --place 0 \\
        --verbs drank --schedule constant --steps 1000                              # the simplest lookup
    python scripts/learning_probe.py --task copy --length 16 --min-length 1 --steps 3000 --every 500
    python scripts/learning_probe.py --task parity_check --model lstm --length 20 --steps 1000 --every 250
    python scripts/learning_probe.py --task text_lm --model lstm --budget 25000 --length 256 --batch-size 4 \\
        --lr 1e-2 --tokens 2000000 --every 500                                     # experiment=scaling's runs
    python scripts/learning_probe.py --task induction_heads --length 64 --steps 2000 --every 250   # issue 25
    python scripts/learning_probe.py --task mqar --model mamba --length 4 --seq-len 64 --keys 64 \\
        --batch-size 64 --lr 1e-2 --steps 1000 --every 250                        # experiment=recall_frontier

The transduction tasks of experiment=chomsky (``--task parity_check``, ``even_pairs``, ...; conf/task/<name>.yaml
with ``--length`` and ``--min-length``) are validated at 5 lengths over the training range and 8 over the next 3x
(up to 4x the longest), and also print the mean over each group: "in range" and "beyond".

``--task mqar`` (conf/task/mqar.yaml: Zoology's multi-query associative recall, ``--length`` pairs in ``--seq-len``
tokens, ``--keys`` keys and as many values) prints accuracy per query, Zoology's metric, on 256 fixed samples.
``--model`` also takes any conf/model/<name>.yaml (mamba, linear_attention, deltanet, ...), built from that yaml
with ``--set key=value`` overriding its settings (e.g. ``--set dt_max=1.0``).

``--task text_lm`` (byte-level language modelling of ``--files``, Tiny Shakespeare by default, windows of
``--length`` bytes) prints the held-out loss in nats per byte over 128 fixed validation windows instead, the
loss by position in the context over ``--position-windows`` windows spread over the held-out text (bins 1, 2,
3-4, ..., as task_metrics' loss_by_position), the training FLOPs
so far (compare.training.flops) and the process's CPU seconds spent training (user + system, about what the
run takes on an idle core whatever the machine's load). ``--tokens`` sets the steps from a number of training bytes.

The optimiser and schedule follow conf/ (AdamW, betas 0.9/0.98, weight decay 0.01 (``--weight-decay``), 30 warm-up
steps, cosine to 0.1x, gradient clipping at 1.0); compare-train itself also validates and checkpoints, so its curves
differ.
"""

from __future__ import annotations

import argparse
import json
import random
import time

import torch
import yaml

from hydra.utils import instantiate
from omegaconf import OmegaConf

from compare.evaluation import sequence_correct
from compare.evaluation.metrics import masked_correct
from compare.models import MinRNNLM, RecurrentLM, TransformerLM, count_params
from compare.models.minrnn import CELLS as MIN_CELLS
from compare.tasks.assoc_recall import AssocRecallTask
from compare.tasks.copy import CopyTask
from compare.tasks.induction_heads import InductionHeadsTask
from compare.tasks.qa import QATask
from compare.tasks.text_lm import TextLMTask
from compare.training.flops import FlopsPerSequence
from compare.training.module import sequence_loss
from compare.training.schedules import warmup_cosine
from compare.train import CONF_DIR

#: The tasks of experiment=chomsky (Delétang et al. 2023), built from their conf/task yaml.
TRANSDUCTION = ("parity_check", "even_pairs", "cycle_navigation", "modular_arithmetic", "reverse_string",
                "stack_manipulation", "duplicate_string")


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--task", choices=("qa", "copy", "induction_heads", "text_lm", "mqar", *TRANSDUCTION),
                   default="qa")
    p.add_argument("--model", default="transformer",
                   help="transformer, a recurrent cell (lstm, gru, rnn), a minimal one (mingru, minlstm) or any "
                        "other conf/model/<name>.yaml (mamba, linear_attention, deltanet)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a conf/model/<name>.yaml model's setting (repeatable), e.g. --set dt_max=1.0")
    p.add_argument("--pos", default="rope", help="the transformer's pos_encoding")
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--hard-alibi-windows", default=None,
                   help="comma-separated, one per head, 'n' for a NoPE head (with --pos hard_alibi)")
    p.add_argument("--budget", type=int, default=50_000, help="parameter budget")
    p.add_argument("--length", type=int, default=16, help="longest training length (qa: story tokens; copy: symbols)")
    p.add_argument("--min-length", type=int, default=None, help="shortest training length (default: qa 4, copy 1)")
    p.add_argument("--place", type=float, default=1.0, help="qa: task.place_prob")
    p.add_argument("--questions", default="who,what", help="qa: task.questions")
    p.add_argument("--verbs", default=None, help="qa: comma-separated verbs (default: the task's five)")
    p.add_argument("--vocab", type=int, default=16, help="copy, induction_heads: task.vocab_size")
    p.add_argument("--seq-len", type=int, default=64, help="mqar: task.seq_len")
    p.add_argument("--keys", type=int, default=64, help="mqar: task.num_keys and task.num_values")
    p.add_argument("--quiet-gaps", action="store_true",
                   help="mqar: task.random_non_queries=false, the noise token between the queries (Zoology's Fig. 2)")
    p.add_argument("--files", default="data/text/tiny_shakespeare.txt", help="text_lm: task.files (comma-separated)")
    p.add_argument("--eval-lengths", default=None,
                   help="comma-separated lengths to validate at (default: the task's own choice)")
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--position-windows", type=int, default=1024,
                   help="text_lm: windows of the held-out text the loss by position is over (task.position_windows)")
    p.add_argument("--tokens", type=int, default=None, help="text_lm: train this many bytes (sets --steps)")
    p.add_argument("--warmup", type=int, default=30, help="warm-up steps")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--weight-decay", type=float, default=0.01, help="AdamW's (conf/optimizer: 0.01)")
    p.add_argument("--schedule", choices=("cosine", "constant"), default="cosine")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--every", type=int, default=100, help="validate every this many steps")
    a = p.parse_args()
    if a.min_length is None:
        a.min_length = {"qa": 4, "text_lm": a.length, "induction_heads": a.length, "mqar": a.length}.get(a.task, 1)
    if a.tokens is not None:
        a.steps = max(1, round(a.tokens / (a.batch_size * a.length)))
    return a


def build_task(a: argparse.Namespace):
    """The task and the lengths it is validated at."""
    if a.task in TRANSDUCTION:
        cfg = OmegaConf.load(f"{CONF_DIR}/task/{a.task}.yaml")
        cfg.update(length=a.length, min_length=a.min_length, seed=a.seed)
        inside = sorted({1 + round(i * (a.length - a.min_length) / 4) + a.min_length - 1 for i in range(5)})
        beyond = [a.length + 1 + round(i * (3 * a.length - 1) / 7) for i in range(8)]
        return instantiate(cfg), inside + beyond
    if a.task == "text_lm":
        return TextLMTask(length=a.length, files=a.files.split(","), seed=a.seed), [a.length]
    if a.task == "mqar":
        task = AssocRecallTask(length=a.length, min_length=a.min_length, placement="power_law", num_queries=None,
                               seq_len=a.seq_len, num_keys=a.keys, num_values=a.keys,
                               random_non_queries=not a.quiet_gaps, seed=a.seed)
        return task, [a.length]
    if a.task == "induction_heads":
        task = InductionHeadsTask(length=a.length, vocab_size=a.vocab, seed=a.seed, min_length=a.min_length)
        return task, [a.length * m for m in (1, 2, 4)]
    if a.task == "copy":
        task = CopyTask(length=a.length, vocab_size=a.vocab, seed=a.seed, min_length=a.min_length)
        powers = [2 ** k for k in range(0, (2 * a.length).bit_length()) if 2 ** k <= 2 * a.length]
        return task, sorted(set(powers + [a.length]))
    settings = dict(length=a.length, min_length=a.min_length, place_prob=a.place, questions=a.questions.split(","),
                    seed=a.seed)
    if a.verbs:
        settings["verbs"] = a.verbs.split(",")
    return QATask(**settings), list(range(max(4, a.min_length), a.length + 1, 4))


def model_from_conf(a: argparse.Namespace, vocab_size: int):
    """The model of conf/model/<a.model>.yaml at ``--budget`` and ``--layers``, its settings overridden by ``--set``."""
    cfg = OmegaConf.load(f"{CONF_DIR}/model/{a.model}.yaml")
    if "defaults" in cfg:  # a variant of another yaml (short_conv/linear_attention): name the base and --set
        raise SystemExit(f"--model {a.model} builds on another model's yaml; use that one with --set "
                         f"(e.g. --model linear_attention --set conv_size=4)")
    cfg.update(param_budget=a.budget, num_layers=a.layers)
    cfg.pop("compile", None)  # compare-train's switch, not the model's
    for item in a.set:
        key, _, value = item.partition("=")
        cfg[key] = yaml.safe_load(value)
    return instantiate(cfg, vocab_size=vocab_size)


def main() -> None:
    a = parse_args()
    torch.set_num_threads(1)  # as in the demo's jobs
    torch.manual_seed(a.seed)
    task, lengths = build_task(a)
    if a.eval_lengths:
        lengths = [int(n) for n in a.eval_lengths.split(",")]
    if a.model == "transformer":
        windows = None
        if a.hard_alibi_windows:
            windows = [None if w == "n" else int(w) for w in a.hard_alibi_windows.split(",")]
        model = TransformerLM(task.num_tokens, a.layers, a.heads, param_budget=a.budget, pos_encoding=a.pos,
                              hard_alibi_windows=windows)
    elif a.model in MIN_CELLS:
        model = MinRNNLM(task.num_tokens, cell=a.model, num_layers=a.layers, param_budget=a.budget)
    elif a.model in ("lstm", "gru", "rnn"):
        model = RecurrentLM(task.num_tokens, cell=a.model, num_layers=a.layers, param_budget=a.budget)
    else:
        model = model_from_conf(a, task.num_tokens)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=a.weight_decay, betas=(0.9, 0.98))
    # conf/scheduler/warmup_cosine.yaml's schedule; `constant` holds the base rate after the warm-up.
    sched = warmup_cosine(opt, a.steps, warmup_steps=a.warmup, min_lr_ratio=1.0 if a.schedule == "constant" else 0.1)
    train_gen = torch.Generator().manual_seed(a.seed)
    val_gen = torch.Generator().manual_seed(1000 + a.seed)
    if a.task == "text_lm":
        text_lm_probe(a, task, model, opt, sched)
        return
    val = [task.sample(256, n, val_gen) for n in lengths]
    pick_length = random.Random(a.seed)
    print(json.dumps(vars(a)), f"params={count_params(model)}",
          f"state={model.mechanism(task.sequence_length(a.length))['state_size']}", flush=True)
    start, cpu = time.perf_counter(), time.process_time()
    losses = []
    for step in range(a.steps):
        losses.append(train_step(model, opt, sched, *task.sample(
            a.batch_size, pick_length.randint(a.min_length, a.length), train_gen)))
        if (step + 1) % a.every == 0:
            model.eval()
            with torch.no_grad():
                accs = [per_query(model(vx), vy) if a.task == "mqar" else
                        sequence_correct(model(vx), vy)[0].float().mean().item() for vx, vy in val]
            model.train()
            by_length = " ".join(f"{n}:{acc:.2f}" for n, acc in zip(lengths, accs))
            split = ""
            if a.task in TRANSDUCTION:
                inside = [acc for n, acc in zip(lengths, accs) if n <= a.length]
                beyond = [acc for n, acc in zip(lengths, accs) if n > a.length]
                split = f"  in range {sum(inside) / len(inside):.3f}  beyond {sum(beyond) / len(beyond):.3f}"
            print(f"step {step + 1}  train loss {sum(losses) / len(losses):.3f}  val {sum(accs) / len(accs):.3f}{split}"
                  f"  by length {by_length}", flush=True)
            losses = []
    print(f"{time.perf_counter() - start:.0f} s wall, {time.process_time() - cpu:.0f} s CPU")


def per_query(logits, targets) -> float:
    """Accuracy over the scored positions (mqar: per query, Zoology's metric)."""
    correct, scored = masked_correct(logits, targets)
    return (correct.sum() / scored.sum()).item()


def train_step(model, opt, sched, x, y) -> float:
    """One optimiser step as compare-train takes it: AdamW, gradients clipped at 1.0, the schedule advanced;
    returns the batch's loss."""
    loss = sequence_loss(model(x), y)
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    sched.step()
    return loss.item()


def text_lm_probe(a: argparse.Namespace, task: TextLMTask, model, opt, sched) -> None:
    """Train on fresh windows; print the held-out loss, by position too, against training bytes, FLOPs and CPU."""
    val = task.validation_set(128)
    flops = FlopsPerSequence(model)(a.length) * a.batch_size  # every step has the same length
    train_gen = torch.Generator().manual_seed(a.seed)
    print(json.dumps(vars(a)), f"params={count_params(model)}", f"flops_per_step={flops:.3g}",
          f"total_flops={flops * a.steps:.3g}", flush=True)
    cpu, start, eval_cpu = time.process_time(), time.perf_counter(), 0.0
    for step in range(a.steps):
        train_step(model, opt, sched, *task.sample(a.batch_size, a.length, train_gen))
        if (step + 1) % a.every == 0 or step + 1 == a.steps:
            train_cpu = time.process_time() - cpu - eval_cpu
            tick = time.process_time()
            with torch.no_grad():
                held_out, _ = task._losses(model, val.inputs, val.targets, 128, keep_logits=False)
                by_position, _ = task._losses(model, *task.spread_windows("evaluation", a.position_windows), 128,
                                              keep_logits=False)
            eval_cpu += time.process_time() - tick
            bins = task.by_position(by_position)
            shown = " ".join(f"{k}:{v:.2f}" for k, v in bins.items())
            print(f"step {step + 1}  bytes {(step + 1) * a.batch_size * a.length:.3g}  flops "
                  f"{(step + 1) * flops:.3g}  cpu {train_cpu:.0f} s  val {held_out.mean():.3f}  "
                  f"by position {shown}", flush=True)
    print(f"{time.perf_counter() - start:.0f} s wall, {time.process_time() - cpu:.0f} s CPU "
          f"({eval_cpu:.0f} s of it validating)")


if __name__ == "__main__":
    main()
