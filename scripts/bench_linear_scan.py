"""How compare.models.scan runs h_t = a_t h_{t-1} + b_t: forward and backward, four ways side by side.

    python scripts/bench_linear_scan.py              # Mamba-sized shapes, 1 torch thread, ~2 min on a 2-core CPU

Each shape is timed for (1) a Python loop over time under autograd, (2) recursive doubling under autograd
(Hillis-Steele: log2 T rounds, T log2 T combines, what minGRU's chunk scan used before), (3)
``linear_scan(chunk=1)`` (Blelloch over every position, 2 log2 T rounds), (4) ``linear_scan`` (16-position chunks
stepped, Blelloch over the chunks), in interleaved rounds (the median of each, CPU seconds of this process); each
checks its output against a float64 loop first. Ratios are against the loop.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from compare.models.scan import linear_scan


def python_loop(a, b):
    h, out = torch.zeros_like(b[:, 0]), []
    for t in range(b.shape[1]):
        h = a[:, t] * h + b[:, t]
        out.append(h)
    return torch.stack(out, dim=1)


def recursive_doubling(a, h):
    step = 1
    while step < a.shape[1]:
        h = torch.cat([h[:, :step], a[:, step:] * h[:, :-step] + h[:, step:]], dim=1)
        a = torch.cat([a[:, :step], a[:, step:] * a[:, :-step]], dim=1)
        step *= 2
    return h


ARMS = {"python loop": python_loop, "recursive doubling": recursive_doubling,
        "linear_scan chunk=1 (Blelloch)": lambda a, b: linear_scan(a, b, chunk=1),
        "linear_scan (chunks of 16)": linear_scan}


def train_step_ms(fn, a, b) -> float:
    a, b = a.detach().requires_grad_(), b.detach().requires_grad_()
    start = time.process_time()  # CPU time: on a shared machine other jobs barely move it
    fn(a, b).square().sum().backward()
    return 1000 * (time.process_time() - start)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", default="64x64x68x16,64x64x150x16,16x256x64x16,8x1024x64x16",
                        help="batch x time x channels x states, comma-separated")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s); forward + backward, CPU ms, median of {args.rounds} "
          "rounds")
    print("| batch x time x channels x states | arm | ms | x loop | max error vs float64 |")
    print("| --- | --- | ---: | ---: | ---: |")
    for shape in args.shapes.split(","):
        dims = [int(n) for n in shape.split("x")]
        gen = torch.Generator().manual_seed(0)
        a, b = torch.rand(*dims, generator=gen), torch.randn(*dims, generator=gen)
        reference = python_loop(a.double(), b.double())
        errors = {name: (fn(a, b).double() - reference).abs().max().item() for name, fn in ARMS.items()}
        times: dict[str, list[float]] = {name: [] for name in ARMS}
        for r in range(args.rounds):
            order = list(ARMS) if r % 2 == 0 else list(reversed(ARMS))
            for name in order:
                times[name].append(train_step_ms(ARMS[name], a, b))
        loop = statistics.median(times["python loop"])
        for name in ARMS:
            ms = statistics.median(times[name])
            print(f"| {shape} | {name} | {ms:,.1f} | {loop / ms:.1f} | {errors[name]:.1e} |")


if __name__ == "__main__":
    main()
