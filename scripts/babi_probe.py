"""What holds a transformer's lookup back on bAbI? A plain PyTorch loop over compare's own BabiTask and models.

Every ``--every`` steps it prints the training loss (mean over those steps), validation loss and accuracy (held-out
training stories), and test accuracy on the 1,000 test questions, also by the distance from the supporting
statement to the question (tokens, power-of-two bins: the lookup's reach). At the end it prints where the
answering position looks: for each layer and head of the transformer, the mean attention weight on the
supporting statement and on the last statement, and how often the answer is the last statement's place.
It skips Lightning, checkpoints and reports so a setting takes a minute or two (README, bAbI: every number there
names its command)::

    python scripts/babi_probe.py --path ../shared/data/babi/en --train-set 10k --steps 1500
    python scripts/babi_probe.py --path ../shared/data/babi/en --train-set 10k --steps 1500 --rename
    python scripts/babi_probe.py --path ../shared/data/babi/en --train-set 10k --model lstm
    python scripts/babi_probe.py --path ../shared/data/babi/en --train-set 10k --batches stream --seed 1

``--batches stream`` draws compare-train's own training batches (``TaskStream``) instead of the loop's one
generator: with the same seed, model and schedule it is compare-train's run without Lightning (same init, same
batches), so a difference between the two is a difference of batch order, not of the training code.

The optimiser and schedule follow conf/ (AdamW, betas 0.9/0.98, cosine to 0.1x, gradient clipping at 1.0).
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from compare.evaluation.ladder import evaluate_set
from compare.models import MinRNNLM, RecurrentLM, TransformerLM, count_params
from compare.tasks.babi import BabiTask
from compare.training.datamodule import TaskStream
from compare.training.schedules import warmup_cosine
from learning_probe import train_step  # scripts/ is on sys.path when a script runs


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--path", required=True, help="the bAbI release root or its en/ folder")
    p.add_argument("--task-id", type=int, default=1)
    p.add_argument("--train-set", default="10k")
    p.add_argument("--length", type=int, default=64, help="task.length (input tokens)")
    p.add_argument("--rename", action="store_true", help="task.rename: a fresh renaming of each drawn story")
    p.add_argument("--story-questions", default="last", help="task.story_questions: last or all")
    p.add_argument("--model", default="transformer", help="transformer, lstm/gru/rnn, mingru/minlstm")
    p.add_argument("--pos", default="rope", help="the transformer's pos_encoding")
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--budget", type=int, default=100_000, help="parameter budget")
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--warmup", type=int, default=30)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batches", choices=("loop", "stream"), default="loop",
                   help="loop: one generator seeded once; stream: compare-train's own batches (TaskStream, a "
                        "generator reseeded from (seed, step) each step), so --seed N sees compare-train seed=N's")
    p.add_argument("--every", type=int, default=250, help="evaluate every this many steps")
    return p.parse_args()


def build_model(a: argparse.Namespace, vocab: int) -> torch.nn.Module:
    if a.model == "transformer":
        return TransformerLM(vocab, a.layers, a.heads, param_budget=a.budget, pos_encoding=a.pos, dropout=a.dropout,
                             attention="explicit")
    if a.model in ("mingru", "minlstm"):
        return MinRNNLM(vocab, cell=a.model, num_layers=a.layers, param_budget=a.budget, dropout=a.dropout)
    return RecurrentLM(vocab, cell=a.model, num_layers=a.layers, param_budget=a.budget, dropout=a.dropout)


@torch.no_grad()
def attention_at_answer(model: TransformerLM, task: BabiTask) -> None:
    """Mean attention of the answering position on the supporting statement and on the last statement."""
    data = task.test_cut
    period = task.index["."]
    keep = ~data["lost_support"]
    tokens, support = data["tokens"][keep], data["support"][keep]
    answers = data["answer"][keep]
    _, maps = model(tokens, return_attention=True)
    width = tokens.shape[1]
    q_start = torch.tensor([max(i for i in range(width) if row[i] == period) + 1 for row in tokens.tolist()])
    pos = torch.arange(width)
    # The supporting statement runs from (question start - support offset) to its first '.'.
    s_start = q_start - support
    is_period = tokens == period
    after = is_period & (pos[None] >= s_start[:, None])
    s_end = torch.where(after.any(1), after.float().argmax(1), q_start - 1)
    on_support = (pos[None] >= s_start[:, None]) & (pos[None] <= s_end[:, None])
    before_last = is_period & (pos[None] < q_start[:, None] - 1)
    l_start = torch.where(before_last.any(1), width - 1 - before_last.flip(1).float().argmax(1), 0) + 1
    on_last = (pos[None] >= l_start[:, None]) & (pos[None] < q_start[:, None])
    for layer, m in enumerate(maps):
        row = m[:, :, -1, :]  # (batch, heads, time): where the answering position looks
        sup = (row * on_support[:, None]).sum(-1).mean(0)
        last = (row * on_last[:, None]).sum(-1).mean(0)
        print(f"layer {layer}: attention on the supporting statement by head "
              f"{' '.join(f'{x:.2f}' for x in sup.tolist())}; on the last statement "
              f"{' '.join(f'{x:.2f}' for x in last.tolist())}")
    last_has_answer = (tokens * on_last == answers[:, None]).any(1).float().mean()
    print(f"share of test questions whose answer is in the last statement: {last_has_answer:.2f}")


def main() -> None:
    a = parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(a.seed)
    task = BabiTask(path=a.path, task_id=a.task_id, train_set=a.train_set, length=a.length, seed=a.seed,
                    rename=a.rename, story_questions=a.story_questions)
    model = build_model(a, task.num_tokens)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=a.weight_decay, betas=(0.9, 0.98))
    sched = warmup_cosine(opt, a.steps, warmup_steps=a.warmup, min_lr_ratio=0.1)
    if a.batches == "stream":
        batches = iter(TaskStream(task, a.batch_size, a.seed, torch.device("cpu")))
    else:
        gen = torch.Generator().manual_seed(a.seed)
        batches = (task.sample(a.batch_size, a.length, gen) for _ in range(a.steps))
    val = task.validation_set(1000)
    print(json.dumps(vars(a)), f"params={count_params(model)}", f"train_questions={len(task.train['count'])}",
          flush=True)
    start, losses = time.perf_counter(), []
    for step in range(a.steps):
        losses.append(train_step(model, opt, sched, *next(batches)))
        if (step + 1) % a.every == 0 or step + 1 == a.steps:
            v = evaluate_set(model, val)
            t = task.extra_metrics(model)
            by = " ".join(f"{k}:{acc:.2f}" for k, acc in sorted(t["test_acc_by_support_distance"].items(),
                                                              key=lambda kv: int(kv[0])))
            print(f"step {step + 1}  train loss {sum(losses) / len(losses):.3f}  val loss {v['loss']:.3f}  "
                  f"val acc {v['seq_acc']:.3f}  test acc {t['test_acc']:.3f}  by support distance {by}  "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)
            losses = []
    if isinstance(model, TransformerLM):
        attention_at_answer(model, task)


if __name__ == "__main__":
    main()
