#!/usr/bin/python3
"""The health check's all-reduce next to MPI's, in one run: 64 MiB between 2
processes over TCP loopback and through shared memory; and the whole check
(init and both phases) for 2 nodes x 2 ranks on loopback.

    /usr/bin/python3 bench/check.py [--bytes N] [--iters N] [--runs N] [--out FILE]

Needs build/rlaunch and build/bench_mpi_allreduce (cmake --build build; Open
MPI's development files); writes bench/results-check.md.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RLAUNCH = os.path.join(ROOT, "build", "rlaunch")
MPI_BENCH = os.path.join(ROOT, "build", "bench_mpi_allreduce")


def env():
    e = dict(os.environ, RLAUNCH_TOKEN="bench-check")
    e.pop("CUDA_VISIBLE_DEVICES", None)
    e.pop("FI_PROVIDER", None)
    return e


def mpi(btl, nbytes, iters):
    cmd = ["mpirun", "--allow-run-as-root", "-np", "2", "--mca", "btl", btl]
    if "tcp" in btl:
        cmd += ["--mca", "btl_tcp_if_include", "lo"]
    out = subprocess.run(cmd + [MPI_BENCH, str(nbytes), str(iters)], env=env(), check=True,
                         capture_output=True, text=True).stdout
    return float(out.split()[1])


def rlaunch_check(provider, nbytes, iters):
    with tempfile.TemporaryDirectory() as d:
        report = os.path.join(d, "r.json")
        subprocess.run([RLAUNCH, "--gpus-per-node", "2", "--check", "ofi", "--ofi-provider", provider,
                        "--check-bytes", str(nbytes), "--check-iters", str(iters), "--check-only",
                        "--report", report, "--", "true"], env=env(), check=True,
                       capture_output=True)
        r = json.load(open(report))
        return min(x["all_busbw_gbps"] for x in r["nodes"][0]["ranks"])


def whole_check_2x2():
    port = 23000 + os.getpid() % 5000
    t0 = time.perf_counter()
    procs = [subprocess.Popen([RLAUNCH, "--gpus-per-node", "2", "--node-addr", a, "--nodes", "2",
                               "--rdzv-endpoint", f"127.0.0.1:{port}", "--check", "ofi",
                               "--check-only", "--", "true"], env=env(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for a in ("127.0.0.1", "127.0.0.2")]
    codes = [p.wait() for p in procs]
    if any(codes):
        raise RuntimeError(f"check failed: {codes}")
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bytes", type=int, default=64 << 20)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results-check.md"))
    a = ap.parse_args()
    for p in (RLAUNCH, MPI_BENCH):
        if not os.access(p, os.X_OK):
            sys.exit(f"check.py: {p} is missing: run 'cmake --build build' first")
    med = lambda f: statistics.median(f() for _ in range(a.runs))
    rows = [
        ("MPI_Allreduce, Open MPI btl tcp (loopback)", med(lambda: mpi("tcp,self", a.bytes, a.iters))),
        ("rlaunch --check ofi, provider tcp (loopback)", med(lambda: rlaunch_check("tcp", a.bytes, a.iters))),
        ("MPI_Allreduce, Open MPI btl vader (shared memory)", med(lambda: mpi("vader,self", a.bytes, a.iters))),
        ("rlaunch --check ofi, provider shm", med(lambda: rlaunch_check("shm", a.bytes, a.iters))),
    ]
    for name, v in rows:
        print(f"{name:55s} {v:7.3f} GB/s", flush=True)
    whole = med(whole_check_2x2)
    print(f"whole check, 2 nodes x 2 ranks on loopback: {whole:.3f} s")
    lines = [
        "# Health check: all-reduce bus bandwidth next to MPI",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {os.uname().nodename} "
        f"({os.cpu_count()} cores) by `bench/check.py`: {a.bytes} bytes between 2 processes, "
        f"{a.iters} timed iterations after a warm-up, busbw = bytes/time * 2(n-1)/n, median of "
        f"{a.runs} runs.",
        "",
        "| all-reduce | busbw GB/s |",
        "|---|---:|",
    ]
    lines += [f"| {n} | {v:.3f} |" for n, v in rows]
    lines += [
        "",
        f"tcp: rlaunch / MPI = {rows[1][1] / rows[0][1]:.2f}; shared memory: rlaunch / MPI = "
        f"{rows[3][1] / rows[2][1]:.2f}.",
        "",
        f"Whole check (rendezvous, backend init, both phases at the default 8 MiB, verdict) for "
        f"2 nodes x 2 ranks on loopback: {whole:.3f} s (goal: under 2 s).",
        "",
        "Goal (issue 4): the check's busbw at least MPI's over the same transport.",
        "",
    ]
    with open(a.out, "w") as f:
        f.write("\n".join(lines))
    print(f"written to {a.out}")


if __name__ == "__main__":
    main()
