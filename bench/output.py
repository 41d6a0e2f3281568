#!/usr/bin/python3
"""Output forwarding: 4 ranks each print 250,000 lines of 60 bytes (60 MB in
all), side by side in one run: the ranks writing straight to the console (the
floor), rlaunch with its "[rankN]:" prefixes (every line passes through the
agent and its console writer), mpirun --tag-output and torchrun --tee 1
(both prefix every line too).

    /usr/bin/python3 bench/output.py [--runs N] [--out bench/results-output.md]

Wall time is measured by build/bench_measure (spawn to reap, the console is
/dev/null, so what is timed is the forwarding, not a terminal); peak RSS is
the largest of the launcher and what it waited for. Needs build/rlaunch,
build/bench_floor and build/bench_measure; mpirun and torchrun are measured
when installed.
"""
import argparse
import os
import shutil
import time

from harness import FLOOR, RLAUNCH, ROOT, launcher_env, require_built, run_candidates

RANKS = 4
LINES = 250000
PRINT = f"yes 'a line of rank output, sixty bytes long with its newline..' | head -n {LINES}"


def candidates():
    require_built("output.py")
    env = launcher_env()
    yield "ranks write directly (floor)", [FLOOR, str(RANKS), "sh", "-c", PRINT], env, 1.0
    yield "rlaunch (prefixed)", [RLAUNCH, "--gpus-per-node", str(RANKS), "--", "sh", "-c", PRINT], env, 1.0
    mpirun = shutil.which("mpirun")
    if mpirun:
        yield "mpirun --tag-output", [mpirun, "--allow-run-as-root", "--oversubscribe", "-np",
                                      str(RANKS), "--tag-output", "sh", "-c", PRINT], env, 1.0
    torchrun = shutil.which("torchrun")
    if torchrun and os.path.exists("/usr/bin/python3"):
        # --tee 1 prefixes stdout, which is all the ranks print (torch 1.13 on
        # Python 3.11 crashes on "3" for these: enum iteration changed)
        yield "torchrun --tee 1", ["/usr/bin/python3", torchrun, "--standalone", "--nproc_per_node",
                                   str(RANKS), "--monitor_interval", "0.1", "--redirects", "1",
                                   "--tee", "1", "--no_python", "sh", "-c", PRINT], env, 0.5


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=6)
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results-output.md"))
    args = ap.parse_args()

    rows = run_candidates(candidates(), args.runs)

    mb = RANKS * LINES * 60 / 1e6
    floor_s, rl_s = rows[0][1], rows[1][1]
    lines = [
        f"# Output forwarding: {RANKS} ranks x {LINES} lines of 60 bytes ({mb:.0f} MB)",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {os.uname().nodename} "
        f"({os.cpu_count()} cores) by `bench/output.py`; median wall time from spawning the "
        "launcher to reaping it, console on /dev/null; peak RSS from wait4.",
        "",
        "| launcher | median s | MB/s | x floor | x rlaunch | peak RSS MiB | runs |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, s, rss, runs in rows:
        lines.append(f"| {name} | {s:.2f} | {mb / s:.0f} | {s / floor_s:.1f} | {s / rl_s:.1f} | "
                     f"{rss:.1f} | {runs} |")
    lines += [
        "",
        "rlaunch reads each rank's pipe in its event loop and hands whole lines to a console",
        "writer thread (one write per 16 KiB or so), so a console that stops reading never",
        "stalls supervision; above 1 MiB queued the ranks feel backpressure.",
        "",
    ]
    with open(args.out, "w") as f:
        f.write("\n".join(lines))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
