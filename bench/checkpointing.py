"""Gradient checkpointing: peak memory vs step time of one training step as the context grows.

Each (setting, context) runs in a fresh Python process, so that its peak resident memory
(`resource.getrusage(...).ru_maxrss`, which only grows) belongs to that setting alone: the
process builds the model, takes one short warm-up step, records its resident memory, then
takes `--steps` forward + backward passes at the context and reports the peak above that
baseline (the activations and gradients a step needs) and the best step time (process CPU
time with one torch thread: the machine is shared, and CPU time is disturbed less than wall
time). Plain blocks
are the peer measured in the same run; the table gives checkpointed / plain.

    .venv/bin/python bench/checkpointing.py [--contexts 256,512,1024,2048] [--steps 2]
                  [--layers 4] [--width 256] [--heads 4] [--threads 1] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from results import write_section

CHILD = """
import json, resource, sys, time
import torch
from attento.models.gpt import GPT, GPTConfig

layers, width, heads, T, steps, recompute, threads = json.loads(sys.argv[1])
torch.set_num_threads(threads)
torch.manual_seed(0)
model = GPT(GPTConfig(65, T, layers, heads, width, pos_encoding="rope", norm="rmsnorm",
                      bias=False)).train()
model.checkpoint_blocks = recompute

def step(n):
    idx = torch.randint(0, 65, (1, n + 1))
    _, loss = model(idx[:, :-1], idx[:, 1:])
    loss.backward()
    model.zero_grad(set_to_none=False)  # the gradients' memory is part of the baseline

step(16)
with open("/proc/self/statm") as f:
    base = int(f.read().split()[1]) * resource.getpagesize()
times = []
for _ in range(steps):
    t0 = time.process_time()
    step(T)
    times.append(time.process_time() - t0)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"extra_bytes": peak - base, "step_s": min(times)}))
"""


def measure(args: argparse.Namespace, T: int, recompute: bool) -> dict[str, float]:
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
    env = {**os.environ, "PYTHONPATH": src}
    settings = [args.layers, args.width, args.heads, T, args.steps, recompute, args.threads]
    out = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(settings)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contexts", default="256,512,1024,2048")
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = parser.parse_args()
    load_at_start = os.getloadavg()[0]
    rows = []
    for T in (int(n) for n in args.contexts.split(",")):
        plain, ckpt = measure(args, T, False), measure(args, T, True)
        mib = [r["extra_bytes"] / 2**20 for r in (plain, ckpt)]
        rows.append(
            f"| {T} | {mib[0]:.1f} | {mib[1]:.1f} | {mib[1] / max(mib[0], 1e-9):.2f}x "
            f"| {plain['step_s']:.3f} | {ckpt['step_s']:.3f} "
            f"| {ckpt['step_s'] / plain['step_s']:.2f}x |"
        )
        print(rows[-1], flush=True)
    body = "\n".join(
        [
            f"Command: `python bench/checkpointing.py {' '.join(sys.argv[1:])}` "
            f"({time.strftime('%Y-%m-%d')}, {args.threads} torch thread(s), 2-CPU machine shared "
            f"with other jobs, load average {load_at_start:.1f} at the start, "
            f"{os.getloadavg()[0]:.1f} at the end)",
            "",
            f"GPT {args.layers} layers x {args.width}, {args.heads} heads (RoPE, RMSNorm, no "
            f"biases, SDPA attention), batch 1, one forward + backward; memory: peak resident "
            f"memory of the step above the process's after a warm-up (one process per cell); "
            f"time: CPU seconds, best of {args.steps}.",
            "",
            "| context | plain MiB | checkpointed MiB | memory ratio | plain s/step "
            "| checkpointed s/step | time ratio |",
            "|---:|---:|---:|---:|---:|---:|---:|",
            *rows,
        ]
    )
    print(body)
    if not args.no_write:
        write_section("checkpointing.py", body)


if __name__ == "__main__":
    main()
