"""Per-image time of the `cpu` and `cpu-compile` builds of a preset, measured in one run.

Goal (issue 2): cpu-compile at least 1.4x faster per image than eager cpu on the `small` preset.
Builds are compiled (or reused) first; each build then makes one warm-up image and `--images`
timed ones with the same prompt and seeds, interleaved so both see the same machine load.

    python benchmarks/compile_speedup.py [--model small] [--images 3] [--out model_builds]
"""

from __future__ import annotations

import argparse
import statistics
import time

from accelctl.builds import compile_build, load_pipeline

PROMPT = "a photo of an astronaut riding a horse on the moon"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="small")
    parser.add_argument("--images", type=int, default=3)
    parser.add_argument("--steps", type=int, default=None, help="denoising steps (default: the preset's)")
    parser.add_argument("--out", default="model_builds")
    args = parser.parse_args()

    loaded = {}
    for target in ("cpu", "cpu-compile"):
        path = compile_build(args.model, target, out=args.out)
        loaded[target] = load_pipeline(path)
        print(
            f"{target:12s} build {path} (compile {loaded[target].manifest.compile_seconds:.0f} s)", flush=True
        )
        loaded[target].generate(PROMPT, seed=0, steps=args.steps)  # warm-up: first-call allocations

    times = {target: [] for target in loaded}
    for seed in range(1, args.images + 1):
        for target, build in loaded.items():
            started = time.perf_counter()
            build.generate(PROMPT, seed=seed, steps=args.steps)
            times[target].append(time.perf_counter() - started)

    steps = args.steps or loaded["cpu"].manifest.steps
    shape = loaded["cpu"].manifest.shape
    for target, values in times.items():
        print(
            f"{target:12s} {statistics.median(values):7.3f} s/image (median of {len(values)}, "
            f"{args.model} {shape}, {steps} steps)"
        )
    ratio = statistics.median(times["cpu"]) / statistics.median(times["cpu-compile"])
    print(f"speedup cpu-compile vs cpu: {ratio:.2f}x (goal >= 1.4x)")


if __name__ == "__main__":
    main()
