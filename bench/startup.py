#!/usr/bin/python3
"""Start-up cost of launching 8 ranks of /bin/true, side by side in one run:
the fork+exec floor, rlaunch, mpirun and torchrun.

    /usr/bin/python3 bench/startup.py [--runs N] [--out bench/results-startup.md]

Wall time is measured by build/bench_measure from forking the launcher to
reaping it (median of several runs); peak memory is ru_maxrss from wait4,
i.e. the largest of the launcher and the processes it waited for. Needs
build/rlaunch, build/bench_floor and build/bench_measure (cmake --build
build); mpirun and torchrun are measured when installed.
"""
import argparse
import os
import shutil
import time

from harness import FLOOR, RLAUNCH, ROOT, launcher_env, require_built, run_candidates

RANKS = 8


def candidates():
    require_built("startup.py")
    env = launcher_env()
    yield "fork+exec floor", [FLOOR, str(RANKS), "/bin/true"], env, 1.0
    yield "rlaunch", [RLAUNCH, "--gpus-per-node", str(RANKS), "--", "/bin/true"], env, 1.0
    mpirun = shutil.which("mpirun")
    if mpirun:
        yield "mpirun (Open MPI)", [mpirun, "--allow-run-as-root", "--oversubscribe", "-np",
                                    str(RANKS), "/bin/true"], env, 1.0
    torchrun = shutil.which("torchrun")
    if torchrun and os.path.exists("/usr/bin/python3"):
        yield "torchrun", ["/usr/bin/python3", torchrun, "--standalone", "--nproc_per_node",
                           str(RANKS), "--monitor_interval", "0.1",
                           # torch 1.13 on Python 3.11 crashes on the default "0" for
                           # these (enum iteration changed); "1" works and adds tee'ing
                           "--redirects", "1", "--tee", "1", "--no_python",
                           "/bin/true"], env, 0.25


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results-startup.md"))
    args = ap.parse_args()

    rows = [(name, sec * 1000, rss, runs)
            for name, sec, rss, runs in run_candidates(candidates(), args.runs, warm=True)]

    floor_ms = rows[0][1]
    rl_ms = rows[1][1]
    lines = [
        "# Start-up: 8 ranks of /bin/true",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {os.uname().nodename} "
        f"({os.cpu_count()} cores) by `bench/startup.py`; median wall time from spawning the "
        "launcher to reaping it, peak RSS from wait4 (largest of the launcher and what it waited for).",
        "",
        "| launcher | median ms | x floor | x rlaunch | peak RSS MiB | runs |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, ms, rss, runs in rows:
        lines.append(f"| {name} | {ms:.2f} | {ms / floor_ms:.1f} | {ms / rl_ms:.1f} | {rss:.1f} | {runs} |")
    lines += [
        "",
        "Goals (issue 2): rlaunch within 3x of the floor, 100x faster than torchrun, peak memory under 8 MiB.",
        "",
    ]
    with open(args.out, "w") as f:
        f.write("\n".join(lines))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
