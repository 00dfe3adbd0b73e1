"""What TensorBoard's dashboards need from one run: the HParams row and task-qualified scalars (and the final/
metrics, which every configured logger gets).

HParams: at the end of fit, the run's settings (model, task, length, params, plus any ``extra`` from
config) against its final metrics, so runs of a sweep can be sorted and filtered in the HParams tab.
Custom scalars charts select tags by regex only (not by run), so the curves are also written under
``by_task/<task>/...``; the sweep report's layout puts every model of one task on one chart from them.
"""

from __future__ import annotations

import lightning as L
from lightning.pytorch.loggers import TensorBoardLogger
from torch.utils.tensorboard.summary import hparams as hparams_summary

from compare.reporting.tensorboard_tags import task_tag
from compare.training.callbacks import LengthLadderCallback, ThroughputCallback
from compare.training.scored import check_choice, scored_validation

#: Final metrics shown in the HParams dashboard (tag -> what it is).
FINAL_METRICS = {
    "final/val_seq_acc": "exact-sequence accuracy on the validation set over the training range",
    "final/val_token_acc": "token accuracy on the validation set",
    "final/val_loss": "validation loss",
    "final/extrapolation_seq_acc": "mean exact-sequence accuracy at evaluated lengths beyond the training length",
    "final/longest_seq_acc": "exact-sequence accuracy at the longest evaluated length (0 if unsupported)",
    "final/train_tokens_per_s": "training throughput",
    "final/peak_mem_mb": "peak memory",
}


def _tensorboards(trainer):
    return [lg for lg in trainer.loggers if isinstance(lg, TensorBoardLogger)]


def _model_settings(model) -> dict:
    """The model's ``settings()`` as ``model.<key>`` columns; None (a setting left unset) is no HParams value."""
    return {f"model.{k}": v for k, v in model.settings().items() if isinstance(v, (int, float, str, bool))}


class DashboardCallback(L.Callback):
    """Write the HParams session and the ``by_task/`` scalars of one run; its final/ metrics are of the weights
    the run is scored with (``checkpoint``: eval.checkpoint), the same numbers as results.json."""

    def __init__(self, extra: dict | None = None, checkpoint: str = "best") -> None:
        self.extra = dict(extra or {})
        self.checkpoint = check_choice(checkpoint)

    def on_validation_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking or trainer.state.fn != "fit" or not trainer.is_global_zero:
            return
        task = trainer.datamodule.task.name
        for logger in _tensorboards(trainer):
            for what in ("seq_acc", "token_acc", "loss"):
                value = trainer.callback_metrics.get(f"val/{what}")
                if value is not None:
                    logger.experiment.add_scalar(task_tag(task, f"val_{what}"), float(value), trainer.global_step)

    def on_fit_end(self, trainer, pl_module) -> None:
        # The final/ metrics go to every logger (MLflow's and W&B's run tables show them); the HParams session
        # and the by_task/ curves are TensorBoard's.
        if not trainer.is_global_zero or not trainer.loggers:
            return
        task = trainer.datamodule.task
        model = pl_module.model
        hparams = {"model": model.name, "task": task.label,
                   "train_length": task.length, "params": int(pl_module.num_params), **_model_settings(model),
                   **{k: v for k, v in self.extra.items() if v is not None}}
        val = scored_validation(trainer, pl_module, self.checkpoint)
        metrics = {f"final/val_{what}": float(val[what]) for what in ("seq_acc", "token_acc", "loss")}
        for cb in trainer.callbacks:
            if isinstance(cb, LengthLadderCallback) and cb.results:
                # A supported length can still have nothing measured (an empty story-length bucket of real data).
                measured = [r for r in cb.results if r.seq_acc is not None]
                beyond = [r.seq_acc for r in measured if not r.in_train_range]
                if beyond:
                    metrics["final/extrapolation_seq_acc"] = sum(beyond) / len(beyond)
                longest = max(cb.results, key=lambda r: r.length)
                metrics["final/longest_seq_acc"] = longest.seq_acc if longest.seq_acc is not None else 0.0
                for logger in _tensorboards(trainer):
                    for r in measured:
                        logger.experiment.add_scalar(task_tag(task.name, "seq_acc_vs_length"), r.seq_acc, r.length)
            if isinstance(cb, ThroughputCallback) and cb.summary:
                for key in ("train_tokens_per_s", "peak_mem_mb"):
                    if cb.summary.get(key) is not None:
                        metrics[f"final/{key}"] = float(cb.summary[key])
        # Only the session summaries, not the experiment one: with none, TensorBoard builds the HParams
        # table from the union of all runs' sessions (an LSTM's hidden_size and a transformer's d_model both
        # show), where one experiment summary per run would let the first run found decide the columns.
        for logger in trainer.loggers:
            logger.log_metrics(metrics, step=trainer.global_step)
        _, start, end = hparams_summary(hparams, metrics)
        for logger in _tensorboards(trainer):
            writer = logger.experiment.file_writer
            writer.add_summary(start, trainer.global_step)
            writer.add_summary(end, trainer.global_step)
            logger.experiment.flush()
