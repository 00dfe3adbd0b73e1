"""Where trained qa models go wrong: accuracy by question type, and whether a wrong answer is another fact's.

For each finished qa run dir given (its scored checkpoint, as compare-lab loads it), draws ``--samples`` stories of
``--length`` tokens and prints the accuracy on "who" questions (the answer, the agent, comes before the key words
verb and object in its fact) and on "what" questions (the answer, the object, comes after the key words agent and
verb), and the share of wrong answers that are the answer word of another sentence of the story (the model picked
the wrong fact, rather than an unrelated word)::

    python scripts/qa_lookup_errors.py multirun/<time>/0_qa_lookup_rope_L16 multirun/<time>/1_qa_lookup_lstm_L16
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from compare.live.runs import load_model
from compare.runs.records import load_run
from compare.tasks.qa import AGENT, OBJECT, SENTENCE


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", type=Path, help="run dirs of qa runs (each with results.json and checkpoints/)")
    p.add_argument("--length", type=int, default=16, help="story length in tokens")
    p.add_argument("--samples", type=int, default=2048)
    p.add_argument("--seed", type=int, default=123)
    a = p.parse_args()
    torch.set_num_threads(1)
    for run in a.runs:
        live = load_model(load_run(run, run.parent))
        task, model = live.task, live.model
        if task.name != "qa":
            raise SystemExit(f"{run}: a {task.name} run; this script reads qa runs")
        x, y = task.sample(a.samples, a.length, torch.Generator().manual_seed(a.seed))
        with torch.no_grad():
            answer = model(x)[:, -1].argmax(-1)
        right = answer == y[:, -1]
        who = x[:, a.length] == task.words.index("who")
        sentences = x[:, :a.length - a.length % SENTENCE].view(len(x), -1, SENTENCE)
        # A wrong answer that is the answer column of some sentence (agent for who, object for what): a wrong fact.
        column = torch.where(who, AGENT, OBJECT).view(-1, 1, 1).expand(-1, sentences.shape[1], 1)
        other_fact = (sentences.gather(2, column).squeeze(2) == answer.view(-1, 1)).any(1) & ~right
        wrong = int((~right).sum())
        print(f"{run.name}: {right.float().mean():.3f} over {len(x)} stories of {a.length} tokens; "
              f"who {right[who].float().mean():.3f} ({int(who.sum())}), what {right[~who].float().mean():.3f} "
              f"({int((~who).sum())}); wrong answers that are another sentence's answer word: "
              f"{int(other_fact.sum())} of {wrong}")


if __name__ == "__main__":
    main()
