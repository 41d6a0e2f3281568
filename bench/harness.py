"""What bench/startup.py and bench/output.py share: running a launcher through
build/bench_measure, finding the built binaries, the environment launchers
run in, and timing a list of candidates side by side."""
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MEASURE = os.path.join(ROOT, "build", "bench_measure")
RLAUNCH = os.path.join(ROOT, "build", "rlaunch")
FLOOR = os.path.join(ROOT, "build", "bench_floor")

# torchrun leaves a torchelastic_* directory in $TMPDIR per run: give it one we remove
_scratch = tempfile.TemporaryDirectory(prefix="rlaunch-bench-")


def require_built(script):
    """Exit with a hint when build/rlaunch, bench_floor or bench_measure is missing."""
    for path in (RLAUNCH, FLOOR, MEASURE):
        if not os.access(path, os.X_OK):
            sys.exit(f"{script}: {path} is missing: run 'cmake --build build' first")


def launcher_env():
    """The environment every candidate runs in: no CUDA_VISIBLE_DEVICES, a scratch TMPDIR."""
    env = dict(os.environ, TMPDIR=_scratch.name)
    env.pop("CUDA_VISIBLE_DEVICES", None)
    return env


def measure(argv, env):
    """One run through build/bench_measure: (seconds, peak RSS MiB)."""
    out = subprocess.run([MEASURE] + argv, env=env, check=True, capture_output=True, text=True)
    ns, kib = out.stdout.split()
    return int(ns) / 1e9, int(kib) / 1024.0


def run_candidates(candidates, runs, warm=False):
    """Time each (name, argv, env, share) max(3, runs * share) times, optionally
    after one warm-up run: [(name, median s, max peak RSS MiB, runs)]."""
    rows = []
    for name, argv, env, share in candidates:
        n = max(3, int(runs * share))
        if warm:
            measure(argv, env)  # warm the page cache
        times, rss = [], []
        for _ in range(n):
            t, m = measure(argv, env)
            times.append(t)
            rss.append(m)
        rows.append((name, statistics.median(times), max(rss), n))
        print(f"{name:30s} {rows[-1][1] * 1000:10.2f} ms  {rows[-1][2]:7.1f} MiB  ({n} runs)",
              flush=True)
    return rows
