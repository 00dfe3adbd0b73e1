"""How big each part of the GPU suite runs: the sizes for one H100/H200, and the toy sizes of ``--smoke``."""

from __future__ import annotations

from dataclasses import dataclass

#: The parts in the order they run (the cheap claims first, so a call cut short at its deadline keeps them; the
#: crossover first of all, since its step times let the bench give its slowest rows fewer steps), each with its
#: estimated wall time on one H100/H200. No GPU was lent to the session that wrote this, so these are estimates
#: from FLOP and step counts, not measurements; the suite's JSON records each part's real wall time.
PARTS = {
    "crossover": (120, "raw-loop tokens/s of every model at T = 256 .. 16,384 (doubling); the length where the "
                       "transformer overtakes the cuDNN LSTM, exponents, a log-log figure"),
    "long": (60, "the transformer at 16,384 tokens per sequence, 20 steps of compare-train: no OOM, flash kernel, "
                 "peak memory"),
    "bench": (360, "compare-bench rows, every model at T = 256, 1,024, 4,096, 16,384 at 65,536 tokens per batch: "
                   "framework vs raw loop, step time, peak CUDA memory, SDPA kernel; a profiler trace of any row "
                   "under the target ratio"),
    "mfu": (180, "MFU of the transformer at the GPT-2-small shape (d=768, 12 layers, 12 heads, T=1,024, bf16), "
                 "with and without model.compile (the compile itself takes most of it)"),
    "demo": (900, "experiment=why_attention_gpu end to end (144 jobs, joblib with 8 at once), report figures for "
                  "data/readme"),
}

#: GPT-2 small as our TransformerLM: its width, depth, heads and MLP, and its 50,257-token vocabulary as the copy
#: task's symbols (the LM head is a large share of GPT-2's FLOPs). Positions stay sinusoidal (GPT-2 learns a
#: 1,024-row table; the difference in FLOPs is nil), and the head is not tied to the embedding.
GPT2_SMALL = ("model.num_layers=12", "model.n_heads=12", "model.d_model=768", "model.d_ff=3072",
              "task.vocab_size=50256")


@dataclass(frozen=True)
class Sizes:
    """Sizes and step counts of every part: one preset for a GPU, one for ``--smoke`` on a CPU."""

    smoke: bool
    trainer: str
    #: bench rows (framework vs raw) and crossover points (raw loop only), in tokens per sequence
    lengths: tuple[int, ...]
    crossover_lengths: tuple[int, ...]
    #: the models whose crossover points are measured: None for every model (--smoke: a few; bench covers the rest)
    crossover_models: tuple[str, ...] | None
    tokens_per_batch: int
    #: every model of bench and crossover is sized to this budget: equal parameters
    param_budget: int
    steps: int
    warmup: int
    pairs: int
    point_steps: int
    point_warmup: int
    #: a bench row's timed steps are cut so that the row takes about this long (from the crossover's step times)
    row_budget_s: float
    threads: int | None
    #: transformer widths a multiple of 8 x heads, so SDPA can use the flash kernel (which needs it)
    align_heads: bool
    extra_overrides: tuple[str, ...]
    mfu_shape: tuple[str, ...]
    mfu_seq_len: int
    mfu_tokens_per_batch: int
    mfu_steps: int
    mfu_pairs: int
    compile_backend: str | None
    long_seq_len: int
    long_steps: int
    demo_jobs: int
    demo_overrides: tuple[str, ...]


GPU = Sizes(
    smoke=False, trainer="gpu", lengths=(256, 1024, 4096, 16384),
    crossover_lengths=(256, 512, 1024, 2048, 4096, 8192, 16384), crossover_models=None, tokens_per_batch=65536,
    param_budget=5_000_000,
    steps=10, warmup=3, pairs=3, point_steps=5, point_warmup=2, row_budget_s=25.0, threads=None, align_heads=True,
    extra_overrides=(), mfu_shape=GPT2_SMALL, mfu_seq_len=1024, mfu_tokens_per_batch=16384, mfu_steps=10,
    mfu_pairs=2, compile_backend=None, long_seq_len=16384, long_steps=20, demo_jobs=8, demo_overrides=(),
)

SMOKE = Sizes(
    # Every model through every path, once: bench rows at one length, crossover points at two (for a slope).
    smoke=True, trainer="default", lengths=(32,), crossover_lengths=(16, 32),
    crossover_models=("lstm", "transformer-sdpa", "mingru"), tokens_per_batch=64,
    param_budget=20_000, steps=2, warmup=1, pairs=1, point_steps=2, point_warmup=1, row_budget_s=2.0, threads=1,
    align_heads=False,
    # A window the toy lengths outgrow, so the masked path runs as it does at GPU lengths.
    extra_overrides=("transformer-window:model.window=8",),
    mfu_shape=("model.num_layers=2", "model.n_heads=2", "model.d_model=32", "model.d_ff=64", "task.vocab_size=63"),
    mfu_seq_len=32, mfu_tokens_per_batch=64, mfu_steps=2, mfu_pairs=1, compile_backend="eager",
    long_seq_len=32, long_steps=3, demo_jobs=1,
    # Sweep overrides on the command line replace the experiment's own lists (model, task, rung).
    demo_overrides=("trainer=default", "model=lstm,transformer", "task=copy", "rung=short", "plan.copy.short=4",
                    "trainer.max_steps=4", "trainer.val_check_interval=4", "trainer.log_every_n_steps=2", "callbacks.throughput.warmup_steps=1",
                    "model.param_budget=20000", "data.batch_size=8", "data.val_size=8", "data.eval_batch_size=8",
                    "eval.num_samples=8", "threads=1"),
)
