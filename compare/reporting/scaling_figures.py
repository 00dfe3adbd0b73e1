"""The scaling figures of a task whose sweep varies model size: the headline metric against parameters and state
size, validation curves against training FLOPs and seconds with each model's frontier, and (text_lm) the loss by
position with its power-law fits. What they show and how: compare.reporting.scaling."""

from __future__ import annotations

from compare.reporting import figures
from compare.reporting.findings import Cell
from compare.reporting.scaling import (COMPUTE_AXES, by_position_panels, compute_panels, metric_name, params_of,
                                       scored_by, size_lines, size_panels, state_of)

ERROR_BARS = ("Error bars: 95% Student's t interval over seeds, cut to what the metric can take; none where a cell "
              "has 1 seed.")


def scaling_figures(out, task: str, by_model: dict[str, dict[int, Cell]]) -> None:
    """Write the scaling figures of ``task`` into ``out`` (a FigureSet) when some model has two or more sizes."""
    lines = size_lines(by_model)
    if not lines:
        return
    first = next(iter(next(iter(lines.values())).values()))[0]
    kind, ylabel = scored_by(first), metric_name(first)
    where = "held-out validation" if kind == "loss" else "exact-sequence"
    lr = " Each cell at its chosen learning rate where several were searched."
    out.save(f"{kind}_vs_params_{task}.png",
             figures.metric_vs_train_length(size_panels(lines, task, params_of), ylabel,
                                            f"{task}: {kind} against parameters", xlabel="trainable parameters",
                                            ylim=(-0.05, 1.05) if kind == "accuracy" else None,
                                            zero_based=kind == "accuracy"),
             f"{task}: {where} {kind} against trainable parameters (log scale), one line per model over the sizes "
             f"swept (Kaplan et al. 2020, Fig. 7 left).{lr} " + ERROR_BARS)
    if kind == "loss":  # accuracy against state size is the recall frontier's figure (compare.reporting.frontier)
        out.save(f"loss_vs_state_size_{task}.png",
                 figures.metric_vs_train_length(size_panels(lines, task, state_of), ylabel,
                                                f"{task}: loss against state size",
                                                xlabel="state size (numbers carried per sequence)", zero_based=False),
                 f"{task}: held-out validation loss against the state each model carries while reading one training "
                 "input (log scale): a transformer's key-value cache grows with the input, the recurrences keep a "
                 f"fixed state that a larger model widens.{lr} " + ERROR_BARS)
    for key, (name, xlabel) in COMPUTE_AXES.items():
        panels = compute_panels(lines, task, key)
        if panels:
            out.save(f"{kind}_vs_{name}_{task}.png",
                     figures.curves_vs_compute(panels, xlabel, ylabel, f"{task}: {kind} against {xlabel.split(' (')[0]}"),
                     f"{task}: {where} {kind} at each validation against the run's cumulative {xlabel} (log scale); "
                     "thin lines: each size (labelled by parameters, mean over seeds), thick step line: the model's "
                     "frontier, the best any of its sizes reached at or below that compute." + lr)
    if kind == "loss" and (panels := by_position_panels(lines, task)):
        out.save(f"loss_by_position_{task}.png", figures.loss_by_position(panels, f"{task}: loss against position"),
                 f"{task}: held-out loss at each position of the context (log scale; mean over seeds and 256 "
                 "windows), one line per model and size (darker: larger), dashed: the fit L(t) = a + b t^-c "
                 "(Kaplan et al. 2020, Fig. 20)." + lr)
