#!/usr/bin/python3
"""Rendezvous cost: K agents on loopback, one /bin/true rank each, from the
first agent's start to the last agent's exit; rlaunch (--rdzv tcp, each
agent on its own 127.x address) next to torchrun's c10d rendezvous.

    /usr/bin/python3 bench/rendezvous.py [--rlaunch 2,8,32,128,512,1024]
                                         [--torchrun 2,8,32] [--out FILE]

The floor column is what creating the processes alone costs here: K agents
+ K worker stages + K ranks, each a fork+exec of /bin/true through
build/bench_floor, run with the same parallelism (all at once).
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RLAUNCH = os.path.join(ROOT, "build", "rlaunch")
FLOOR = os.path.join(ROOT, "build", "bench_floor")


def addr(i):
    return f"127.1.{i // 250}.{i % 250 + 1}"


def port():
    # a port per run; the kernel's ephemeral range stays clear of it
    port.n = getattr(port, "n", 0) + 1
    return 21000 + (os.getpid() * 7 + port.n * 13) % 8000


def run_all(cmds, env):
    """Start every command at once; wall time until the last exits."""
    t0 = time.perf_counter()
    procs = [subprocess.Popen(c, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
             for c in cmds]
    failed = []
    for p in procs:
        _, err = p.communicate()
        if p.returncode != 0:
            failed.append((p.returncode, err.decode(errors="replace")[-300:]))
    elapsed = time.perf_counter() - t0
    if failed:
        raise RuntimeError(f"{len(failed)} of {len(cmds)} failed; first: {failed[0]}")
    return elapsed


def rlaunch_cmds(k):
    ep = f"127.0.0.1:{port()}"
    return [[RLAUNCH, "--rdzv-endpoint", ep, "--nodes", str(k), "--node-addr", addr(i),
             "--gpus-per-node", "1", "--rdzv-timeout", "120", "--", "/bin/true"] for i in range(k)]


def torchrun_cmds(k):
    ep = f"127.0.0.1:{port()}"
    tr = shutil.which("torchrun")
    # torch 1.13 on Python 3.11 crashes on the default "0" for --redirects/--tee
    return [["/usr/bin/python3", tr, "--nnodes", str(k), "--nproc_per_node", "1",
             "--rdzv_backend", "c10d", "--rdzv_endpoint", ep, "--rdzv_id", "bench",
             "--monitor_interval", "0.1", "--redirects", "1", "--tee", "1", "--no_python",
             "/bin/true"] for _ in range(k)]


def floor_cmds(k):
    return [[FLOOR, "3", "/bin/true"] for _ in range(k)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rlaunch", default="2,8,32,128,512,1024")
    ap.add_argument("--torchrun", default="2,8,32")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results-rendezvous.md"))
    args = ap.parse_args()
    for path in (RLAUNCH, FLOOR):
        if not os.access(path, os.X_OK):
            sys.exit(f"rendezvous.py: {path} is missing: run 'cmake --build build' first")
    env = dict(os.environ, RLAUNCH_TOKEN="bench-token")
    env.pop("CUDA_VISIBLE_DEVICES", None)

    ks_rl = [int(x) for x in args.rlaunch.split(",") if x]
    ks_tr = [int(x) for x in args.torchrun.split(",") if x] if shutil.which("torchrun") else []
    rows = []
    for k in sorted(set(ks_rl) | set(ks_tr)):
        runs = args.runs if k <= 32 else 1
        fl = statistics.median(run_all(floor_cmds(k), env) for _ in range(runs))
        rl = statistics.median(run_all(rlaunch_cmds(k), env) for _ in range(runs)) if k in ks_rl else None
        tr = run_all(torchrun_cmds(k), env) if k in ks_tr else None
        rows.append((k, fl, rl, tr))
        print(f"K={k:5d}  floor {fl:7.3f} s  rlaunch {rl if rl is None else f'{rl:7.3f} s'}"
              f"  torchrun {tr if tr is None else f'{tr:7.3f} s'}", flush=True)

    fmt = lambda v: "" if v is None else f"{v:.3f}"
    lines = [
        "# Rendezvous: K agents on loopback, one /bin/true rank each",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {os.uname().nodename} "
        f"({os.cpu_count()} cores) by `bench/rendezvous.py`: wall time from starting every agent "
        "to the last agent's exit. rlaunch: `--rdzv tcp`, each agent on its own 127.x address; "
        "torchrun: `--rdzv_backend c10d`. floor: creating the same 3K processes and nothing else.",
        "",
        "| agents K | floor s | rlaunch s | torchrun s | torchrun / rlaunch | rlaunch / floor | rlaunch s per agent |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for k, fl, rl, tr in rows:
        ratio = f"{tr / rl:.0f}x" if tr and rl else ""
        over = f"{rl / fl:.2f}" if rl else ""
        per = f"{rl / k * 1000:.2f} ms" if rl else ""
        lines.append(f"| {k} | {fmt(fl)} | {fmt(rl)} | {fmt(tr)} | {ratio} | {over} | {per} |")
    lines += ["", "Goals (issue 3): 32 agents under 0.25 s, 1024 under 3 s, no worse than linear.", ""]
    with open(args.out, "w") as f:
        f.write("\n".join(lines))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
