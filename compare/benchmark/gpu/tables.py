"""The GPU suite's markdown (the tables the README's GPU section takes) and its log-log figure."""

from __future__ import annotations

from pathlib import Path

from compare.benchmark.gpu.settings import PARTS
from compare.runs.atomic import atomic_write_bytes


def _n(x, fmt: str = ",.0f", none: str = "-") -> str:
    return none if x is None else format(x, fmt)


def not_measured(rows: list[dict]) -> str:
    """Rows or points that did not run, each with its error or the reason it was skipped."""
    return "; ".join(f"{f['model']} T={f['seq_len']} ({f.get('error') or f.get('reason')})" for f in rows)


def header(suite: dict) -> list[str]:
    """Title, machine, versions, date and the command."""
    where = suite.get("gpu") or "CPU"
    lines = [f"## GPU suite on {where}", "",
             f"{suite.get('date', '?')}: {where}"
             + (f" ({suite['gpu_memory_gb']:.0f} GiB)" if suite.get("gpu_memory_gb") else "")
             + f", torch {suite.get('torch')}, CUDA {suite.get('cuda')}, cuDNN {suite.get('cudnn')}, "
               f"Python {suite.get('python')}, {suite.get('cpu_count')} CPU cores. "
               f"Command: `python scripts/gpu_suite.py {' '.join(suite.get('argv', []))}`.", ""]
    if suite.get("smoke"):
        lines += ["**`--smoke`: toy sizes on a CPU. These numbers only show that every code path ran; they say "
                  "nothing about GPU performance.**", ""]
    if suite.get("merged_from"):
        lines += [f"Merged from {', '.join(suite['merged_from'])}.", ""]
    return lines


def status_line(name: str, part: dict) -> list[str]:
    """The part's title and status, wall time and any reason it did not finish."""
    what = PARTS[name][1]
    line = f"### {name}: {what}"
    detail = f"Status: **{part.get('status')}**" + (f", {part['wall_s']:.0f} s" if part.get("wall_s") else "")
    for key in ("reason", "error"):
        if part.get(key):
            detail += f"; {key}: {part[key]}"
    return [line, "", detail + ".", ""]


def crossover_section(part: dict) -> list[str]:
    """Tokens/s by model and length, the exponents, and each model's crossover against the LSTM."""
    points = part.get("points", [])
    if not points:
        return []
    lengths = sorted({p["seq_len"] for p in points})
    models = list(dict.fromkeys(p["model"] for p in points))
    at = {(p["model"], p["seq_len"]): p for p in points}
    params = {p["model"]: p["params"] for p in points}
    settings = part.get("settings", {})
    lines = [f"Raw PyTorch loop (no framework), {settings.get('tokens_per_batch', 0):,} tokens per batch, every model "
             f"at a budget of {settings.get('param_budget', 0):,} parameters; tokens/s:", "",
             "| model | params | " + " | ".join(f"T={t:,}" for t in lengths) + " | k |",
             "| --- | ---: | " + " | ".join("---:" for _ in lengths) + " | ---: |"]
    exps = part.get("exponents", {})
    for m in models:
        cells = [_n(at[(m, t)]["raw_tokens_per_s"]) if (m, t) in at else "-" for t in lengths]
        lines.append(f"| {m} | {params[m]:,} | " + " | ".join(cells) + f" | {_n(exps.get(m), '.2f')} |")
    lines += ["", "k: time per sequence grows as T^k at a fixed number of tokens per batch (log-log slope); "
              "1 means tokens/s stays flat as sequences grow.", ""]
    if part.get("headline"):
        lines += [f"**Crossover (transformer vs cuDNN LSTM, equal parameters): {part['headline']['statement']}.**", ""]
    for m, c in part.get("crossovers", {}).items():
        if m != "transformer-sdpa":
            lines.append(f"- {c['statement']}")
    failed = part.get("failed", []) + part.get("skipped", [])
    if failed:
        lines += ["", "Not measured: " + not_measured(failed)]
    return lines + ["", "![tokens/s against sequence length](tokens_per_s_vs_length.png)", ""]


def bench_section(part: dict) -> list[str]:
    """compare-bench's table at GPU lengths, with the target verdict and the traces of slow rows."""
    rows = part.get("rows", [])
    lines = ["| model | T | batch | steps | (a) tok/s | (b) tok/s | (a)/(b) | pair spread | (a) step ms | peak MB "
             "| SDPA kernel | trace |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |"]
    for r in rows:
        trace = r.get("trace", {}).get("summary", "-") if r.get("trace") else "-"
        lines.append(f"| {r['model']} | {r['seq_len']:,} | {r['batch_size']} | {r.get('steps', '-')} | "
                     f"{_n(r['framework_tokens_per_s'])} | {_n(r['raw_tokens_per_s'])} | {r['ratio']:.3f} | "
                     f"{r['ratio_spread']:.3f} | {1000 * r['framework_step_s']:.1f} | {_n(r['peak_mem_mb'])} | "
                     f"{r.get('sdpa_kernel') or '-'} | {trace} |")
    low = part.get("below_target", [])
    target = part.get("target", 0.97)
    lines += ["", f"(a) the compare-train path, (b) a plain PyTorch loop over the same model and batches; (a)/(b) is "
              f"the median per-pair throughput ratio, target >= {target}. Peak MB: CUDA max allocated (process RSS on "
              f"a CPU). {len(rows) - len(low)} of {len(rows)} rows reach the target"
              + (f"; below it: {', '.join(low)} (profiler traces in traces/)." if low else ".")]
    failed = part.get("failed", []) + part.get("skipped", [])
    if failed:
        lines.append("Not measured: " + not_measured(failed) + ".")
    return lines + [""]


def mfu_section(part: dict) -> list[str]:
    """MFU with and without compile, against the peak used (and the measured matrix-product ceiling)."""
    if not part.get("arms"):
        return []
    peak = part.get("peak_flops")
    lines = ["| model.compile | step ms | tokens/s | TFLOP/s | MFU | of measured bf16 matmul rate |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for a in part["arms"]:
        lines.append(f"| {str(a['compile']).lower()} | {1000 * a['step_s']:.1f} | {_n(a['tokens_per_s'])} | "
                     f"{_n(a['achieved_flops'] and a['achieved_flops'] / 1e12, '.3g')} | "
                     f"{_n(a['mfu'] and 100 * a['mfu'], '.1f')}{'%' if a['mfu'] else ''} | "
                     f"{_n(a['of_matmul_ceiling'] and 100 * a['of_matmul_ceiling'], '.1f')}"
                     f"{'%' if a['of_matmul_ceiling'] else ''} |")
    ceiling = part.get("matmul_ceiling_flops")
    gpt2 = "task.vocab_size=50256" in part["shape"]
    lines += ["", f"Shape: {' '.join(part['shape'])}, T={part['seq_len']:,}, batch {part['batch_size']}, "
              f"{part['params']:,} parameters"
              + (" (the 50,257-token head is not tied to the embedding, as GPT-2's is)" if gpt2 else "")
              + f", {part.get('precision', 'bf16-mixed')}. FLOPs per step: "
              f"{_n(part['flops_per_step'] and part['flops_per_step'] / 1e12, '.3g')} T, counted by "
              f"torch's FlopCounterMode (matmuls and attention). Peak: "
              + (f"{peak / 1e12:,.0f} TFLOP/s ({part['peak_source']})" if peak else part["peak_source"])
              + (f"; measured bf16 8192^3 matmul: {ceiling / 1e12:,.0f} TFLOP/s" if ceiling else "")
              + f". Compile backend: {part['compile_backend']}; gain {part['compile_speedup']:.2f}x. "
              "nanoGPT reports about 40% MFU for this shape on an A100 with compile.", ""]
    return lines


def long_section(part: dict) -> list[str]:
    """Did the transformer train at 16,384 tokens, with which kernel and how much memory."""
    rows = part.get("rows", [])
    if not rows:
        return []
    lines = [f"T = {part['seq_len']:,} tokens per sequence, batch 1, compare-train path "
             f"(trainer={part.get('trainer', 'gpu')}):", "",
             "| shape | params | steps | status | peak MB | tokens/s | SDPA kernel | flash |",
             "| --- | ---: | ---: | --- | ---: | ---: | --- | --- |"]
    for r in rows:
        flash = r.get("flash_skipped") or ("yes" if r.get("flash") else "no") if r.get("status") != "skipped" else "-"
        lines.append(f"| {r['shape']} | {_n(r.get('params'))} | {r.get('steps', '-')} | {r['status']} | "
                     f"{_n(r.get('peak_mem_mb'))} | {_n(r.get('train_tokens_per_s'))} | {r.get('sdpa_kernel') or '-'} "
                     f"| {flash} |")
    return lines + [""]


def demo_section(part: dict) -> list[str]:
    """The demo sweep's jobs and the figures it left for data/readme/."""
    if "jobs" not in part:
        return [f"Command: `{part['command']}`", ""] if part.get("command") else []
    jobs = ", ".join(f"{n} {s}" for s, n in part["jobs"].items()) or "no jobs"
    stopped = " (stopped at the deadline; the report covers the jobs that finished)"
    lines = [f"`{part['command']}` ({part.get('launcher', '?')} launcher): {jobs} in {part['wall_s']:.0f} s"
             + (stopped if part.get("stopped_at_deadline") else "") + "."]
    if part.get("figures"):
        lines += ["", f"Figures, named for data/readme/ (in {part['figures_dir']}/): "
                  + ", ".join(part["figures"]) + "."]
    return lines + [""]


SECTIONS = {"crossover": crossover_section, "bench": bench_section, "mfu": mfu_section, "long": long_section,
            "demo": demo_section}


def markdown(data: dict) -> str:
    """The whole markdown: header, then each part that has run, in the suite's order."""
    lines = header(data.get("suite", {}))
    for name in PARTS:
        part = data.get("parts", {}).get(name)
        if part:
            lines += status_line(name, part) + SECTIONS[name](part)
    return "\n".join(lines).rstrip() + "\n"


def crossover_figure(part: dict, path: Path) -> None:
    """Tokens/s against sequence length, log-log, one line per model, the transformer's crossover marked."""
    from matplotlib.ticker import NullLocator

    from compare.reporting.figures import plt, png_bytes

    points = part["points"]
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for model in dict.fromkeys(p["model"] for p in points):
        mine = sorted((p["seq_len"], p["raw_tokens_per_s"]) for p in points if p["model"] == model)
        ax.plot([t for t, _ in mine], [v for _, v in mine], marker="o", label=model,
                linewidth=2.4 if model in ("lstm", "transformer-sdpa") else 1.2)
    headline = part.get("headline") or {}
    if headline.get("length"):
        ax.axvline(headline["length"], color="grey", linestyle="--", linewidth=1)
        ax.annotate(f"crossover ~{headline['length']:,.0f}", (headline["length"], ax.get_ylim()[0]),
                    rotation=90, va="bottom", ha="right", fontsize=8, color="grey")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    lengths = sorted({p["seq_len"] for p in points})
    ax.xaxis.set_minor_locator(NullLocator())  # only the measured lengths, labelled in full
    ax.set_xticks(lengths, [f"{t:,}" for t in lengths], fontsize=8)
    ax.set_xlabel("tokens per sequence T")
    ax.set_ylabel("training tokens/s (raw loop)")
    settings = part.get("settings", {})
    ax.set_title(f"Equal parameters ({settings.get('param_budget', 0):,}), {settings.get('tokens_per_batch', 0):,} "
                 f"tokens per batch, {settings.get('gpu') or settings.get('device', '')}", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    atomic_write_bytes(path, png_bytes(fig))
