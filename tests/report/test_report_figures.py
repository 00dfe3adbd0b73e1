"""The report's figures for one-range-per-task sweeps (the why_attention demo): every task on one page, and
accuracy by a second axis both at the training length and past it."""

from __future__ import annotations

from compare.reporting import figure_set
from compare.reporting.findings import cells_of, slice_sentences


def ladder_point(length: int, acc: float, train: tuple[int, int], by: dict | None = None) -> dict:
    return {"length": length, "tokens": 2 * length, "supported": True, "in_train_range": train[0] <= length <= train[1],
            "seq_acc": acc, "token_acc": acc, "samples": 512, "by": by or {}}


def row(task: str, model: str, seed: int, train: tuple[int, int], ladder: list[dict]) -> dict:
    """A finished results row with only what the figures read."""
    return {"task": task, "model": model, "train_length": train[1], "train_lengths": list(train), "seed": seed,
            "val_seq_acc": ladder[1]["seq_acc"], "val_loss": 0.1, "config": {"optimizer": {"lr": 3e-3}, "model": {}},
            "ladder": ladder}


class Kept(figure_set.FigureSet):
    """The report's own figure code, keeping each figure instead of writing a PNG."""

    def save(self, name, fig, caption):
        self.made[name] = (fig, caption)


def titles(fig) -> list[str]:
    return [ax.get_title() for ax in fig.axes if ax.get_visible() and ax.get_title()]


def test_every_task_on_one_page_and_the_second_axis_past_the_training_length(tmp_path):
    rows = []
    for model, near, far in (("lstm", 0.9, 0.2), ("transformer", 1.0, 0.6)):
        for seed in (0, 1):
            rows.append(row("copy", model, seed, (1, 8), [ladder_point(n, a, (1, 8)) for n, a in
                                                            ((4, near), (8, near), (16, far), (32, 0.0))]))
            qa = [ladder_point(16, near, (4, 32), {"fact_distance": {"4": near, "8": near}}),
                  ladder_point(32, near, (4, 32), {"fact_distance": {"4": near, "16": near, "32": near}}),
                  ladder_point(128, far, (4, 32), {"fact_distance": {"4": near, "32": far, "128": far / 2}})]
            rows.append(row("qa", model, seed, (4, 32), qa))
    cells = cells_of(rows)
    kept = Kept(tmp_path)
    for task in cells:
        figure_set.task_figures(kept, task, cells[task], [])
    figure_set.summary_figures(kept, cells)

    fig, caption = kept.made["accuracy_vs_length.png"]
    assert titles(fig) == ["copy: trained at lengths 1–8", "qa: trained at lengths 4–32"]
    assert "Every task at its longest training length" in caption

    fig, caption = kept.made["accuracy_by_fact_distance_qa.png"]
    assert titles(fig) == ["qa: trained at length 32", "qa: trained at length 32, evaluated at 128"]
    far_panel = fig.axes[1]
    transformer = next(line for line in far_panel.get_lines() if line.get_label() == "transformer")
    assert list(transformer.get_ydata()) == [1.0, 0.6, 0.3]  # the slices of the 128-token ladder point
    assert "past the lengths trained on" in caption
    # A task without a second axis gets no such figure.
    assert "accuracy_by_fact_distance_copy.png" not in kept.made
    # The findings say the same in words, at the training length and past it.
    at_train, past = slice_sentences("qa", cells["qa"])
    assert at_train.startswith("qa, exact-sequence accuracy by fact_distance: lstm 0.90 (both seeds) at 4 and "
                               "0.90 (both seeds) at 32")
    assert past == ("qa, by fact_distance past the lengths trained on: lstm 0.90 (both seeds) at 4 and 0.10 (both "
                    "seeds) at 128 (at length 128, trained up to 32); transformer 1.00 (both seeds) at 4 and 0.30 "
                    "(both seeds) at 128 (at length 128, trained up to 32).")
