"""compare-bench's printed output: the ratio table, the exponents and a verdict against the target."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

EXPONENT_NOTE = (
    "Exponent k: time per sequence grows as T^k at a fixed number of tokens per batch (log-log slope over the "
    "lengths run). A recurrent model takes T sequential steps, so k is about 1 and its tokens/s stays flat. "
    "A transformer's attention costs T^2 per sequence (k -> 2 once attention dominates the MLPs); on a GPU the "
    "T positions run in parallel, so wall time can grow more slowly than the FLOPs (k < 2) until compute or "
    "memory binds. On a CPU there is no parallel hardware to hide it."
)


def print_report(rows: list[dict], exponents: dict[str, float], target: float, console: Console) -> None:
    """The ratio table, the cost-vs-length exponents and a verdict against the target ratio."""
    compiled = any("compile_speedup" in r for r in rows)
    table = Table(title=f"compare-bench on {rows[0]['device']}: framework (a) vs raw PyTorch loop (b), medians")
    for col in ("model", "T", "batch", "(a) tok/s", "(b) tok/s", "(a)/(b)", "pair spread", "CPU-time (a)/(b)", "(a) step ms",
                "faults/step (a)/(b)", "data %", "peak MB", "GFLOP/s", "MFU", "SDPA kernel"):
        table.add_column(col, justify="left" if col in ("model", "SDPA kernel") else "right")
    if compiled:
        table.add_column("compile gain", justify="right")
    for r in rows:
        ok = r["ratio"] >= target
        cells = [
            r["model"], str(r["seq_len"]), str(r["batch_size"]), f"{r['framework_tokens_per_s']:,.0f}",
            f"{r['raw_tokens_per_s']:,.0f}", f"[{'green' if ok else 'red'}]{r['ratio']:.3f}[/]",
            f"{r['ratio_spread']:.3f}", f"{r['cpu_ratio']:.3f}", f"{1000 * r['framework_step_s']:.1f}",
            "{framework:.0f}/{raw:.0f}".format(**r["page_faults_per_step"]), f"{100 * r['data_share']:.2f}",
            f"{r['peak_mem_mb']:,.0f}", f"{r['achieved_flops'] / 1e9:.2f}" if r["achieved_flops"] else "-",
            f"{100 * r['mfu']:.1f}%" if r["mfu"] else "-", r["sdpa_kernel"] or "-",
        ]
        if compiled:
            cells.append(f"{r['compile_speedup']:.2f}x" if "compile_speedup" in r else "-")
        table.add_row(*cells)
    console.print(table)
    mem = "CUDA max allocated" if rows[0]["mem_kind"] == "cuda_max_allocated" else "peak RSS of the row's own process"
    console.print(f"(a)/(b): raw step time / framework step time per interleaved pair, median; >= {target} is the "
                  f"target. Pair spread: max - min of the per-pair ratios (machine noise). CPU-time (a)/(b): the same ratio in CPU seconds of the benchmark process, which other jobs on a shared machine barely move. Peak MB: {mem}. "
                  "faults/step: minor page faults per step, per arm (memory mapped afresh; see --system-malloc). "
                  "data %: time to make one batch / raw step time.")
    console.print("Measured exponents k (time per sequence ~ T^k): "
                  + ", ".join(f"{m} {k:.2f}" for m, k in exponents.items()))
    console.print(EXPONENT_NOTE)
    slow_attention = [r for r in rows if r["device"].startswith("cuda") and r["sdpa_kernel"]
                      and "flash" not in r["sdpa_kernel"]]
    if slow_attention:
        console.print("[yellow]SDPA did not pick the flash kernel: it needs bf16/fp16 (trainer=gpu) and a head size "
                      "(d_model / n_heads) that is a multiple of 8, e.g. transformer-sdpa:model.d_model=256.[/]")
    low = [r for r in rows if r["ratio"] < target]
    worst = min(rows, key=lambda r: r["ratio"])
    console.print(f"Worst row: {worst['model']} T={worst['seq_len']} at {worst['ratio']:.3f}. "
                  + (f"{len(low)} row(s) below {target}." if low else f"Every row >= {target}."))
