#!/usr/bin/env python3
"""The benchmark suite behind scripts/bench.sh (run that, not this: it installs nats-server,
raises `ulimit -n` and builds the binaries first).

Runs, on this machine and in one go: decoding per protocol (criterion), the JetStream ceiling
(js-ceiling), gateway acked throughput and ack latency at 1k and 10k connections (loadgen),
idle connections and memory per connection (idle-conns), end-to-end latency at fixed offered
loads (loadgen --nats against gateway + decoder-worker + event-worker), and decoder scaling
with 1 and 2 replicas with the CPU each tier used. Every service runs as a real process on
127.0.0.1 against a fresh nats-server (temporary store) per section. Writes BENCHMARKS.md and
its SVG charts (drawn here by hand, no plotting library), plus every raw result as JSON in
target/bench/.

    scripts/bench.sh            # the full run (~15 min after the release build)
    scripts/bench.sh --smoke    # seconds: every section tiny, report to target/bench/smoke/
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import json
import math
import os
import resource
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NPROC = os.cpu_count() or 1
CLK_TCK = os.sysconf("SC_CLK_TCK")

# Targets of the performance issue.
TARGET_DECODE = 2_000_000  # records/s/core
TARGET_GATEWAY_SHARE = 0.70  # of the JetStream ceiling
TARGET_CONNECTIONS = 100_000
TARGET_BYTES_PER_CONN = 4096
TARGET_E2E_P99_MS = 25.0
TARGET_E2E_LOAD = 10_000
SLO_P99_MS = 50.0


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 20) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port} after {timeout}s")


def http_get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, ""
    except OSError:
        return 0, ""


def metric_sum(port: int, name: str) -> float:
    """Sum of every sample of a Prometheus metric (all label sets)."""
    _, text = http_get(port, "/metrics")
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and (len(line) > len(name) and line[len(name)] in " {"):
            try:
                total += float(line.rsplit(" ", 1)[1])
            except ValueError:
                pass
    return total


def rel(p: Path) -> str:
    try:
        return str(p.relative_to(ROOT))
    except ValueError:
        return str(p)


class Proc:
    """A service started by the bench; stopped (SIGTERM, then SIGKILL) by pid."""

    def __init__(self, name: str, argv: list[str], logdir: Path, log_level: str | None = None):
        self.name = name
        self.argv = argv
        self.log = open(logdir / f"{name}.log", "ab")
        env = dict(os.environ, RUST_LOG=log_level or os.environ.get("RUST_LOG", "warn"))
        self.p = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        self.pid = self.p.pid

    def cpu(self) -> float:
        """utime + stime in seconds (/proc/<pid>/stat fields 14 and 15)."""
        try:
            stat = Path(f"/proc/{self.pid}/stat").read_text()
        except OSError:
            return 0.0
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def rss_kib(self) -> int:
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        except OSError:
            pass
        return 0

    def nofile(self) -> str:
        try:
            for line in Path(f"/proc/{self.pid}/limits").read_text().splitlines():
                if line.startswith("Max open files"):
                    return line.split()[3]
        except OSError:
            pass
        return "?"

    def alive(self) -> bool:
        return self.p.poll() is None

    def stop(self, timeout: float = 5) -> None:
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.log.close()


class Stack:
    """A fresh nats-server (temporary store) and any of the services, all on 127.0.0.1."""

    def __init__(self, bench: "Bench", name: str):
        self.bench = bench
        self.name = name
        self.dir = Path(tempfile.mkdtemp(prefix=f"astra-bench-{name}-"))
        self.logdir = bench.results / "logs" / name
        self.logdir.mkdir(parents=True, exist_ok=True)
        self.procs: list[Proc] = []
        self.nats_port = free_port()
        self.nats = self._start(
            "nats-server",
            [bench.nats_bin, "-js", "-a", "127.0.0.1", "-p", str(self.nats_port), "-sd", str(self.dir / "store")],
        )
        wait_port(self.nats_port)
        self.url = f"nats://127.0.0.1:{self.nats_port}"
        self.gateway: Proc | None = None
        self.gateway_port = 0
        self.gateway_admin = 0
        self.decoders: list[tuple[Proc, int]] = []
        self.event_worker: tuple[Proc, int] | None = None

    def _start(self, name: str, argv: list[str], log_level: str | None = None) -> Proc:
        p = Proc(name, argv, self.logdir, log_level)
        self.procs.append(p)
        return p

    def start_gateway(self, extra: list[str] | None = None, log_level: str | None = None) -> Proc:
        self.gateway_port = free_port()
        self.gateway_admin = free_port()
        argv = [
            self.bench.bin("gateway"), "--nats-url", self.url,
            "--listen", f"127.0.0.1:{self.gateway_port}",
            "--admin-addr", f"127.0.0.1:{self.gateway_admin}",
            "--grpc-addr", f"127.0.0.1:{free_port()}",
            "--instance-id", "bench-gw",
            "--max-connections", "0", "--max-connections-per-ip", "0", "--max-bytes-per-sec", "0",
        ] + (extra or [])
        self.gateway = self._start("gateway", argv, log_level)
        self._ready(self.gateway, self.gateway_admin)
        return self.gateway

    def start_decoder(self, geocoder: str, lag_interval: str = "1s") -> Proc:
        i = len(self.decoders)
        admin = free_port()
        argv = [
            self.bench.bin("decoder-worker"), "run", "--nats-url", self.url,
            "--admin-addr", f"127.0.0.1:{admin}", "--no-grpc",
            "--instance-id", f"bench-decoder-{i}", "--geocoder", geocoder, "--lag-interval", lag_interval,
        ]
        p = self._start(f"decoder-worker-{i}", argv)
        self.decoders.append((p, admin))
        self._ready(p, admin)
        return p

    def start_event_worker(self) -> Proc:
        admin = free_port()
        argv = [
            self.bench.bin("event-worker"), "--nats-url", self.url,
            "--admin-addr", f"127.0.0.1:{admin}", "--grpc-addr", f"127.0.0.1:{free_port()}",
            "--instance-id", "bench-ew", "--speed-limit-kmh", "100",
        ]
        p = self._start("event-worker", argv)
        self.event_worker = (p, admin)
        self._ready(p, admin)
        # Ready once it holds every partition.
        deadline = time.time() + 60
        while time.time() < deadline and metric_sum(admin, "astra_event_worker_partitions_owned") < 64:
            time.sleep(0.2)
        return p

    def _ready(self, p: Proc, admin: int, timeout: float = 60) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if not p.alive():
                raise RuntimeError(f"{p.name} exited at start; see {rel(self.logdir)}/{p.name}.log")
            if http_get(admin, "/readyz")[0] == 200:
                return
            time.sleep(0.1)
        raise RuntimeError(f"{p.name} not ready after {timeout}s")

    def services(self) -> list[Proc]:
        return list(self.procs)

    def cpu(self) -> dict[str, float]:
        return {p.name: p.cpu() for p in self.procs}

    def wait_idle(self, quiet: float = 2.0, timeout: float = 120) -> None:
        """Waits until decoders and event-worker stop making progress (backlog drained)."""

        def progress() -> float:
            total = sum(metric_sum(a, "astra_decoder_frames_consumed_total") for _, a in self.decoders)
            if self.event_worker:
                total += metric_sum(self.event_worker[1], "astra_event_worker_positions_total")
                total += metric_sum(self.event_worker[1], "astra_event_worker_session_events_total")
            return total

        last, since, deadline = progress(), time.time(), time.time() + timeout
        while time.time() < deadline:
            time.sleep(0.5)
            now = progress()
            if now != last:
                last, since = now, time.time()
            elif time.time() - since >= quiet:
                return

    def close(self) -> None:
        for p in reversed(self.procs):
            p.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "Stack":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def cpu_delta(before: dict[str, float], after: dict[str, float], seconds: float) -> dict[str, float]:
    """Cores used per process over `seconds`."""
    return {k: round((after.get(k, 0) - v) / seconds, 2) for k, v in before.items() if seconds > 0}


class Bench:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.smoke = args.smoke
        self.bin_dir = Path(args.bin_dir).resolve()
        self.nats_bin = args.nats_bin
        self.results = Path(args.results).resolve()
        self.results.mkdir(parents=True, exist_ok=True)
        self.charts = Path(args.charts).resolve()
        self.charts.mkdir(parents=True, exist_ok=True)
        self.data: dict = {"sections": {}}
        self.started = time.time()

    def bin(self, name: str) -> str:
        p = self.bin_dir / name
        if not p.exists():
            raise SystemExit(f"{p} not built (scripts/bench.sh builds it)")
        return str(p)

    def cmd(self, argv: list[str]) -> str:
        """A command as shown in the report (binaries relative to the repository)."""
        shown = [rel(Path(a)) if a.startswith(str(ROOT)) else a for a in argv]
        return shlex.join(shown)

    def run_tool(self, argv: list[str], name: str, timeout: float = 900) -> tuple[dict, float, float]:
        """Runs a tool whose last stdout line is JSON; returns (result, wall s, its CPU s)."""
        log(f"$ {self.cmd(argv)}")
        errlog = open(self.results / "logs" / f"{name}.stderr", "ab")
        start = time.time()
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out_lines: list[bytes] = []
        # stderr to the terminal and the log as it comes; stdout kept.
        import threading

        def pump_err() -> None:
            for line in p.stderr:  # type: ignore[union-attr]
                errlog.write(line)
                sys.stderr.write("    " + line.decode(errors="replace"))
                sys.stderr.flush()

        t = threading.Thread(target=pump_err, daemon=True)
        t.start()
        for line in p.stdout:  # type: ignore[union-attr]
            out_lines.append(line)
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        t.join(5)
        errlog.close()
        wall = time.time() - start
        cpu = usage.ru_utime + usage.ru_stime
        result: dict = {}
        for line in reversed(out_lines):
            try:
                result = json.loads(line)
                break
            except ValueError:
                continue
        if not result:
            raise RuntimeError(f"{name}: no JSON result (exit {p.returncode})")
        result["exit_code"] = p.returncode
        result["command"] = self.cmd(argv)
        return result, wall, cpu

    # ---------------------------------------------------------------- sections

    def section(self, name: str, fn) -> None:
        if self.args.only and name not in self.args.only.split(","):
            return
        log(f"== {name} (load average {loadavg()})")
        before = loadavg()
        t = time.time()
        try:
            data = fn()
        except Exception as e:  # noqa: BLE001 - one failed section must not lose the others
            log(f"!! {name} failed: {e}")
            data = {"error": str(e)}
        data["load_before"] = before
        data["load_after"] = loadavg()
        data["seconds"] = round(time.time() - t, 1)
        data["ran_at"] = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        if self.args.only:
            data["rerun"] = True
        self.data["sections"][name] = data
        (self.results / "results.json").write_text(json.dumps(self.data, indent=1))

    def environment(self) -> dict:
        def out(argv: list[str]) -> str:
            try:
                return subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=20).stdout.strip()
            except (OSError, subprocess.TimeoutExpired):
                return "?"

        model = "?"
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        return {
            "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "nproc": NPROC,
            "cpu": model,
            "memory_gib": round(mem_kib / 1024 / 1024, 1),
            "kernel": os.uname().release,
            "ulimit_n": f"{soft} (hard {hard})",
            "port_range": Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split(),
            "nats_server": out([self.nats_bin, "--version"]),
            "rustc": out(["rustc", "-V"]),
            "commit": out(["git", "rev-parse", "--short", "HEAD"]),
            "dirty": bool(out(["git", "status", "--porcelain", "--untracked-files=no"])),
            "load_start": loadavg(),
            "profile": self.bin_dir.name,
        }

    def decode(self) -> dict:
        if self.smoke:
            return {"skipped": "smoke run: criterion not run"}
        meta = json.loads(subprocess.run(
            ["cargo", "metadata", "--format-version", "1", "--no-deps"],
            capture_output=True, text=True, cwd=ROOT, check=True).stdout)
        crit = Path(meta["target_directory"]) / "criterion"
        for old in crit.glob("decode-*"):
            shutil.rmtree(old, ignore_errors=True)
        argv = ["cargo", "bench", "-p", "astra-codec", "--bench", "decode", "--",
                "--warm-up-time", "1", "--measurement-time", "3", "--noplot"]
        log("$ " + shlex.join(argv))
        subprocess.run(argv, cwd=ROOT, check=True, stdout=open(self.results / "logs" / "criterion.log", "wb"))
        cases = []
        for bj in sorted(crit.glob("decode-*/*/new/benchmark.json")):
            b = json.loads(bj.read_text())
            e = json.loads((bj.parent / "estimates.json").read_text())
            records = (b.get("throughput") or {}).get("Elements", 1)
            mean_ns = e["mean"]["point_estimate"]
            median_ns = e["median"]["point_estimate"]
            cases.append({
                "group": b["group_id"], "case": b["function_id"], "records": records,
                "ns_per_frame": round(mean_ns, 1), "ns_per_record": round(mean_ns / records, 1),
                "records_per_s": round(records / (mean_ns * 1e-9)),
                "records_per_s_median": round(records / (median_ns * 1e-9)),
            })
        return {"command": shlex.join(argv), "cases": cases}

    def ceiling(self) -> dict:
        with Stack(self, "ceiling") as st:
            n = "5k" if self.smoke else "200k"
            runs = []
            for pubs, windows in ((1, "256,1024"), (4, "256")):
                argv = [self.bin("js-ceiling"), "--nats", st.url, "--messages", n,
                        "--window", windows, "--publishers", str(pubs)]
                c0 = st.cpu()
                t0 = time.time()
                r, wall, cpu = self.run_tool(argv, "js-ceiling")
                used = cpu_delta(c0, st.cpu(), wall)
                for run in r["runs"]:
                    run["command"] = r["command"]
                    run["cores"] = {"nats-server": used.get("nats-server"), "js-ceiling": round(cpu / wall, 2)}
                    runs.append(run)
                _ = t0
        best = {}
        for mode in ("plain", "msgid"):
            rs = [x for x in runs if x["mode"] == mode]
            if rs:
                best[mode] = max(rs, key=lambda x: x["msgs_per_s"])
        return {"runs": runs, "best": best, "payload_bytes": 150}

    def gateway(self) -> dict:
        runs = []
        with Stack(self, "gateway") as st:
            st.start_gateway()
            plans = [(20, "tcp", 0)] if self.smoke else [(1000, "tcp", 0), (10000, "tcp", 20000), (1000, "udp", 40000)]
            dur, warm = ("2s", "1s") if self.smoke else ("15s", "3s")
            for devices, mix, first in plans:
                argv = [self.bin("loadgen"), "--gateway", f"127.0.0.1:{st.gateway_port}",
                        "--devices", str(devices), "--mix", mix, "--duration", dur, "--warmup", warm,
                        "--first-device", str(first), "--sources", "2", "--label", f"gateway-{devices}-{mix}"]
                c0 = st.cpu()
                r, wall, cpu = self.run_tool(argv, "loadgen-gateway")
                r["cores"] = cpu_delta(c0, st.cpu(), wall)
                r["cores"]["loadgen"] = round(cpu / wall, 2)
                r["gateway_rss_kib"] = st.gateway.rss_kib() if st.gateway else 0
                runs.append(r)
                time.sleep(1)
        return {"runs": runs}

    def connections(self) -> dict:
        with Stack(self, "connections") as st:
            # At its descriptor limit the gateway logs a warning per failed accept, in a tight
            # loop (see the analysis): keep that log small.
            gw = st.start_gateway(log_level="error")
            steps = "200,500" if self.smoke else "10k,30k,60k,100k"
            argv = [self.bin("idle-conns"), "--gateway", f"127.0.0.1:{st.gateway_port}", "--steps", steps,
                    "--pid", f"gateway={gw.pid}", "--pid", f"nats-server={st.nats.pid}",
                    "--settle", "1s" if self.smoke else "5s", "--source-base", "10"]
            c0 = st.cpu()
            r, wall, cpu = self.run_tool(argv, "idle-conns", timeout=1800)
            r["cores"] = cpu_delta(c0, st.cpu(), wall)
            r["gateway_nofile"] = gw.nofile()
            r["gateway_alive"] = gw.alive()
            r["connections_gauge"] = metric_sum(st.gateway_admin, "astra_gateway_connections")
            return r

    def _e2e_run(self, st: Stack, load: int, first: int, label: str, devices: int, dur: str, warm: str) -> dict:
        argv = [self.bin("loadgen"), "--gateway", f"127.0.0.1:{st.gateway_port}", "--devices", str(devices),
                "--mix", "all", "--rate", str(load), "--duration", dur, "--warmup", warm,
                "--first-device", str(first), "--nats", st.url, "--label", label,
                "--drain", "5s" if self.smoke else "30s"]
        c0 = st.cpu()
        r, wall, cpu = self.run_tool(argv, "loadgen-e2e")
        r["cores"] = cpu_delta(c0, st.cpu(), wall)
        r["cores"]["loadgen"] = round(cpu / wall, 2)
        st.wait_idle()
        return r

    def end_to_end(self) -> dict:
        out = {}
        loads = [200] if self.smoke else [1000, 2000, 5000, 10000]
        dur, warm = ("2s", "1s") if self.smoke else ("15s", "3s")
        # About one frame per second per device (a busy fleet reports every few seconds; one frame
        # in flight per device), between 1 000 and 10 000 connections.
        def devices(load: int) -> int:
            return 50 if self.smoke else min(10_000, max(1_000, load))

        for geocoder in ("offline",) if self.smoke else ("offline", "none"):
            runs = []
            with Stack(self, f"e2e-{geocoder}") as st:
                st.start_gateway()
                st.start_decoder(geocoder)
                st.start_event_worker()
                first = 100_000
                for load in loads:
                    n = devices(load)
                    runs.append(self._e2e_run(st, load, first, f"e2e-{geocoder}-{load}", n, dur, warm))
                    first += n
                # The highest load with p99 frame → event under the SLO: go up while it holds,
                # otherwise bisect between the last load that held and the first that did not.
                if not self.smoke and geocoder == "offline":
                    for _ in range(3):
                        ok = [r["rate_offered"] for r in runs if passes(r)]
                        bad = [r["rate_offered"] for r in runs if not passes(r)]
                        hi_ok = max(ok, default=0)
                        lo_bad = min((b for b in bad if b > hi_ok), default=None)
                        if lo_bad is None:
                            nxt = int(hi_ok * 1.5)
                        else:
                            nxt = int(round((hi_ok + lo_bad) / 2 / 250) * 250)
                            if lo_bad - hi_ok <= 500 or nxt in (hi_ok, lo_bad):
                                break
                        n = devices(nxt)
                        runs.append(self._e2e_run(st, nxt, first, f"e2e-{geocoder}-{nxt}", n, dur, warm))
                        first += n
            runs.sort(key=lambda r: r["rate_offered"])
            out[geocoder] = runs
        return out

    def cost(self) -> dict:
        """CPU each process spends per frame at fixed offered loads (issue 15's product figure)."""
        runs = []
        loads = [50] if self.smoke else [100, 300, 1000, 3000]
        dur, warm = ("3s", "1s") if self.smoke else ("30s", "5s")
        with Stack(self, "cost") as st:
            st.start_gateway()
            # The default lag interval: each refresh asks for the info of every partition's consumer.
            st.start_decoder("none", lag_interval="5s")
            st.start_event_worker()
            first = 500_000
            for load in loads:
                # Devices report every ~10 s, as a busy fleet does (9 000 trackers every 30 s
                # is 300 frames/s); at least 100 devices, at most 10 000.
                n = max(100, min(10_000, load * 10))
                argv = [self.bin("loadgen"), "--gateway", f"127.0.0.1:{st.gateway_port}", "--devices", str(n),
                        "--mix", "all", "--rate", str(load), "--duration", dur, "--warmup", warm,
                        "--first-device", str(first), "--nats", st.url, "--label", f"cost-{load}",
                        "--drain", "5s" if self.smoke else "20s"]
                first += n
                c0 = st.cpu()
                r, wall, cpu = self.run_tool(argv, "loadgen-cost")
                st.wait_idle()
                c1 = st.cpu()
                frames = max(1, int(r.get("acked_total") or 0))
                per_frame = {k: round((c1.get(k, 0) - v) * 1000 / frames, 3) for k, v in c0.items()}
                per_frame["all"] = round(sum(per_frame.values()), 3)
                runs.append({"rate_offered": load, "devices": n, "frames": frames,
                             "acked_per_s": r.get("acked_per_s"), "ms_per_frame": per_frame,
                             "event_p99_ms": p99_event(r), "loadgen_cores": round(cpu / wall, 2)})
        return {"runs": runs}

    def scaling(self) -> dict:
        drains = []
        frames = 20 if self.smoke else 60
        devices = 50 if self.smoke else 1000
        for geocoder in ("none",) if self.smoke else ("none", "offline"):
            for replicas in (1, 2):
                with Stack(self, f"drain-{geocoder}-{replicas}") as st:
                    st.start_gateway()
                    argv = [self.bin("loadgen"), "--gateway", f"127.0.0.1:{st.gateway_port}", "--devices", str(devices),
                            "--mix", "all", "--frames", str(frames), "--duration", "120s", "--warmup", "0s",
                            "--label", "fill"]
                    fill, _, _ = self.run_tool(argv, "loadgen-fill")
                    total = fill["acked_total"]
                    c0 = st.cpu()
                    t_start = time.time()
                    for _ in range(replicas):
                        st.start_decoder(geocoder)
                    marks = {}
                    cpu_marks = {}
                    deadline = time.time() + 300
                    while time.time() < deadline:
                        done = sum(metric_sum(a, "astra_decoder_records_decoded_total") for _, a in st.decoders)
                        now = time.time()
                        for q in (0.1, 0.9, 1.0):
                            if q not in marks and done >= q * total:
                                marks[q] = now
                                cpu_marks[q] = st.cpu()
                        if 1.0 in marks:
                            break
                        time.sleep(0.1)
                    if 0.1 in marks and 0.9 in marks and marks[0.9] > marks[0.1]:
                        span = marks[0.9] - marks[0.1]
                        rate = 0.8 * total / span
                        cores = cpu_delta(cpu_marks[0.1], cpu_marks[0.9], span)
                    else:
                        rate, cores = None, {}
                    drains.append({
                        "geocoder": geocoder, "replicas": replicas, "frames": total,
                        "records_per_s": round(rate) if rate else None,
                        "total_s": round(marks.get(1.0, time.time()) - t_start, 2),
                        "cores": cores, "fill_command": fill["command"],
                        "command": " ; ".join(shlex.join(["decoder-worker", "run", "--geocoder", geocoder, "--no-grpc"]) for _ in range(replicas)),
                    })
                    _ = c0
                    log(f"drain geocoder={geocoder} replicas={replicas}: {drains[-1]['records_per_s']} records/s, cores {cores}")
        pipeline = []
        dur, warm = ("2s", "1s") if self.smoke else ("15s", "3s")
        for replicas in (1,) if self.smoke else (1, 2):
            with Stack(self, f"pipeline-{replicas}") as st:
                st.start_gateway()
                for _ in range(replicas):
                    st.start_decoder("offline")
                st.start_event_worker()
                argv = [self.bin("loadgen"), "--gateway", f"127.0.0.1:{st.gateway_port}", "--devices", str(devices),
                        "--mix", "all", "--duration", dur, "--warmup", warm, "--nats", st.url,
                        "--label", f"pipeline-{replicas}", "--drain", "5s" if self.smoke else "30s"]
                c0 = st.cpu()
                r, wall, cpu = self.run_tool(argv, "loadgen-pipeline")
                r["cores"] = cpu_delta(c0, st.cpu(), wall)
                r["cores"]["loadgen"] = round(cpu / wall, 2)
                r["replicas"] = replicas
                pipeline.append(r)
        return {"drain": drains, "pipeline": pipeline}

    def run(self) -> None:
        previous = self.results / "results.json"
        if self.args.only and previous.exists():
            # Re-running some sections: keep the others of the last run.
            self.data = json.loads(previous.read_text())
            self.data.setdefault("reruns", []).append(
                {"sections": self.args.only, "why": self.args.note, **self.environment()})
            for name in self.args.only.split(","):
                self.section(name, getattr(self, name))
            (self.results / "results.json").write_text(json.dumps(self.data, indent=1))
            Report(self.data, self.charts, Path(self.args.out).resolve(), self.smoke).write()
            return
        self.data["environment"] = self.environment()
        log(f"machine: {NPROC} cores, load average {loadavg()}")
        self.section("decode", self.decode)
        self.section("ceiling", self.ceiling)
        self.section("gateway", self.gateway)
        self.section("connections", self.connections)
        self.section("end_to_end", self.end_to_end)
        self.section("scaling", self.scaling)
        self.section("cost", self.cost)
        self.data["environment"]["load_end"] = loadavg()
        self.data["environment"]["total_s"] = round(time.time() - self.started)
        (self.results / "results.json").write_text(json.dumps(self.data, indent=1))
        Report(self.data, self.charts, Path(self.args.out).resolve(), self.smoke).write()
        log(f"done in {self.data['environment']['total_s']}s: {rel(Path(self.args.out).resolve())}")


def p99_event(r: dict) -> float | None:
    e = r.get("end_to_end") or {}
    return (e.get("event_ms") or {}).get("p99")


def passes(r: dict) -> bool:
    """p99 frame → event under the 50 ms objective, with the offered load actually carried."""
    p99 = p99_event(r)
    return p99 is not None and p99 < SLO_P99_MS and r["acked_per_s"] >= 0.95 * r["rate_offered"]


# ------------------------------------------------------------------------------------ SVG


PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf"]


class Svg:
    def __init__(self, w: int, h: int):
        self.w, self.h = w, h
        self.parts: list[str] = []

    def add(self, s: str) -> None:
        self.parts.append(s)

    def text(self, x: float, y: float, s: str, size: int = 12, anchor: str = "start", **kw) -> None:
        extra = " ".join(f'{k.replace("_", "-")}="{v}"' for k, v in kw.items())
        self.add(f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" {extra}>{html.escape(s)}</text>')

    def line(self, x1, y1, x2, y2, color="#000", width=1.0, dash="") -> None:
        d = f' stroke-dasharray="{dash}"' if dash else ""
        self.add(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{color}" stroke-width="{width}"{d}/>')

    def save(self, path: Path) -> None:
        body = "\n".join(self.parts)
        path.write_text(
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.w}" height="{self.h}" '
            f'viewBox="0 0 {self.w} {self.h}" font-family="Helvetica, Arial, sans-serif">\n'
            f'<rect width="100%" height="100%" fill="#fff"/>\n{body}\n</svg>\n')


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    span = hi - lo if hi > lo else 1
    step = 10 ** math.floor(math.log10(span / n))
    for m in (1, 2, 2.5, 5, 10):
        if span / (step * m) <= n:
            step *= m
            break
    start = math.floor(lo / step) * step
    ticks = []
    v = start
    while v <= hi + step * 0.001:
        if v >= lo - step * 0.001:
            ticks.append(round(v, 10))
        v += step
    return ticks


def fmt_num(v: float) -> str:
    if v >= 1e6:
        return f"{v / 1e6:g}M"
    if v >= 1e3:
        return f"{v / 1e3:g}k"
    return f"{v:g}"


def fmt_short(v: float) -> str:
    """Three significant digits: 1.29M, 622k, 38.1k, 8.86k."""
    for scale, suffix in ((1e6, "M"), (1e3, "k"), (1, "")):
        if v >= scale:
            x = v / scale
            return (f"{x:.3g}" if x < 1000 else f"{x:.0f}") + suffix
    return f"{v:.3g}"


def line_chart(path: Path, title: str, xlabel: str, ylabel: str, series: list[dict],
               hlines: list[tuple[float, str]] = (), logy: bool = False) -> None:
    W, H, L, R, T, B = 720, 400, 70, 170, 40, 50
    svg = Svg(W, H)
    pts = [p for s in series for p in s["points"] if p[1] is not None and (not logy or p[1] > 0)]
    if not pts:
        return
    xs = [p[0] for p in pts]
    ys = [p[1] for p in pts] + [h[0] for h in hlines]
    xlo, xhi = 0, max(xs) * 1.05
    if logy:
        ylo = 10 ** math.floor(math.log10(min(ys)))
        yhi = 10 ** math.ceil(math.log10(max(ys)))
        fy = lambda v: T + (H - T - B) * (1 - (math.log10(v) - math.log10(ylo)) / (math.log10(yhi) - math.log10(ylo)))  # noqa: E731
        yt = [10 ** k for k in range(int(math.log10(ylo)), int(math.log10(yhi)) + 1)]
    else:
        ylo, yhi = 0, max(ys) * 1.1
        fy = lambda v: T + (H - T - B) * (1 - (v - ylo) / (yhi - ylo))  # noqa: E731
        yt = nice_ticks(ylo, yhi)
    fx = lambda v: L + (W - L - R) * (v - xlo) / (xhi - xlo)  # noqa: E731
    svg.text(W / 2, 22, title, 15, "middle", font_weight="bold")
    for v in yt:
        svg.line(L, fy(v), W - R, fy(v), "#ddd")
        svg.text(L - 6, fy(v) + 4, fmt_num(v), 11, "end")
    for v in nice_ticks(xlo, xhi):
        svg.line(fx(v), H - B, fx(v), H - B + 4, "#000")
        svg.text(fx(v), H - B + 17, fmt_num(v), 11, "middle")
    svg.line(L, H - B, W - R, H - B)
    svg.line(L, T, L, H - B)
    svg.text((L + W - R) / 2, H - 12, xlabel, 12, "middle")
    svg.add(f'<text x="16" y="{(T + H - B) / 2:.0f}" font-size="12" text-anchor="middle" '
            f'transform="rotate(-90 16 {(T + H - B) / 2:.0f})">{html.escape(ylabel)}</text>')
    for y, label in hlines:
        if ylo < y < yhi:
            svg.line(L, fy(y), W - R, fy(y), "#888", 1, "6 4")
            svg.text(W - R - 4, fy(y) - 4, label, 10, "end", fill="#555")
    for i, s in enumerate(series):
        color = s.get("color", PALETTE[i % len(PALETTE)])
        p = [(fx(x), fy(y)) for x, y in s["points"] if y is not None and (not logy or y > 0)]
        if not p:
            continue
        d = " ".join(f"{x:.1f},{y:.1f}" for x, y in p)
        dash = f' stroke-dasharray="{s["dash"]}"' if s.get("dash") else ""
        svg.add(f'<polyline points="{d}" fill="none" stroke="{color}" stroke-width="2"{dash}/>')
        for x, y in p:
            svg.add(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}"/>')
        ly = T + 16 + i * 18
        svg.line(W - R + 12, ly - 4, W - R + 34, ly - 4, color, 2, s.get("dash", ""))
        svg.text(W - R + 40, ly, s["name"], 11)
    svg.save(path)


def bar_chart(path: Path, title: str, unit: str, bars: list[tuple[str, float, str]],
              ref: tuple[float, str] | None = None) -> None:
    """Horizontal bars: (label, value, color)."""
    bars = [b for b in bars if b[1] is not None]
    if not bars:
        return
    row, L, R, T = 24, 290, 90, 40
    W, H = 760, T + row * len(bars) + 40
    svg = Svg(W, H)
    vmax = max([b[1] for b in bars] + ([ref[0]] if ref else [])) * 1.05
    fx = lambda v: L + (W - L - R) * v / vmax  # noqa: E731
    svg.text(W / 2, 22, title, 15, "middle", font_weight="bold")
    for i, (label, value, color) in enumerate(bars):
        y = T + i * row
        svg.add(f'<rect x="{L}" y="{y + 3}" width="{fx(value) - L:.1f}" height="{row - 8}" fill="{color}"/>')
        svg.text(L - 6, y + row / 2 + 3, label, 11, "end")
        svg.text(fx(value) + 4, y + row / 2 + 3, f"{fmt_short(value)} {unit}", 11)
    svg.line(L, T, L, T + row * len(bars))
    if ref:
        svg.line(fx(ref[0]), T - 4, fx(ref[0]), T + row * len(bars) + 4, "#d62728", 1.5, "6 4")
        svg.text(fx(ref[0]), T + row * len(bars) + 18, ref[1], 10, "middle", fill="#d62728")
    svg.save(path)


# --------------------------------------------------------------------------------- report


def f0(v) -> str:
    return "–" if v is None else f"{v:,.0f}".replace(",", " ")


def f1(v) -> str:
    return "–" if v is None else (f"{v:.1f}" if v < 100 else f"{v:,.0f}".replace(",", " "))


def f2(v) -> str:
    return "–" if v is None else (f"{v:.2f}" if v < 10 else f1(v))


def pct(v) -> str:
    return "–" if v is None else f"{100 * v:.0f} %"


def commands(w, cmds: list[str]) -> None:
    seen = []
    for c in cmds:
        if c not in seen:
            seen.append(c)
    if seen:
        w("Command" + ("s" if len(seen) > 1 else "") + ":")
        w("")
        w("```sh")
        for c in seen:
            w(c)
        w("```")
        w("")


def cores_str(c: dict) -> str:
    order = ["nats-server", "gateway", "decoder-worker-0", "decoder-worker-1", "event-worker", "loadgen", "js-ceiling"]
    keys = [k for k in order if k in c] + [k for k in c if k not in order]
    return ", ".join(f"{k} {c[k]:.2f}" for k in keys if c[k] is not None)


class Report:
    def __init__(self, data: dict, charts: Path, out: Path, smoke: bool):
        self.d = data
        self.charts = charts
        self.out = out
        self.smoke = smoke
        self.s = data["sections"]
        self.env = data["environment"]

    def chart_link(self, name: str) -> str:
        return os.path.relpath(self.charts / name, self.out.parent)

    def write(self) -> None:
        env = self.env
        n = env["nproc"]
        lines: list[str] = []
        w = lines.append
        w("# Benchmarks")
        w("")
        w("Generated by `scripts/bench.sh` (raw results: `target/bench/results.json`; charts: "
          f"`{os.path.relpath(self.charts, self.out.parent)}/`). Do not edit by hand: run the script again. "
          "The analysis at the end is kept in `scripts/bench.py`.")
        if self.smoke:
            w("")
            w("**Smoke run**: every section tiny, to check the harness. These numbers mean nothing.")
        w("")
        w(f"**Machine**: {n} cores (`nproc` = {n}), {env['cpu']}, {env['memory_gib']} GiB, Linux {env['kernel']}; "
          f"{env['nats_server']}; {env['rustc']}; commit `{env['commit']}`{' (with uncommitted changes)' if env['dirty'] else ''}; "
          f"{env['date']}; binaries `target/{env['profile']}`. `ulimit -n` {env['ulimit_n']}; ephemeral ports "
          f"{'–'.join(env['port_range'])}. Every process (nats-server with a file store in /tmp, gateway, decoder-worker, "
          "event-worker and the load generator) ran on this one machine over loopback, so the load generator's own CPU "
          "is taken from the services' cores.")
        w("")
        busy = self.machine_busy()
        w(f"**Other work on the machine**: load average {env['load_start']} at the start and {env.get('load_end', '?')} "
          f"at the end (1, 5, 15 min); per section below. {busy}")
        w(f"The full run took {env.get('total_s', 0) // 60} min {env.get('total_s', 0) % 60} s.")
        for again in self.d.get("reruns", []):
            w(f"Section(s) `{again['sections']}` were run again alone on {again['date']} (commit `{again['commit']}`, load "
              f"average {again['load_start']} at its start){': ' + again['why'] if again.get('why') else ''}.")
        w("")
        self.targets(w)
        self.decode(w)
        self.ceiling(w)
        self.gateway(w)
        self.connections(w)
        self.e2e(w)
        self.scaling(w)
        self.cost(w)
        w(ANALYSIS.strip())
        w("")
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.out.write_text("\n".join(lines))

    def machine_busy(self) -> str:
        loads = []
        for sec in self.s.values():
            for k in ("load_before", "load_after"):
                if k in sec:
                    loads.append(float(sec[k].split()[0]))
        loads.append(float(self.env["load_start"].split()[0]))
        if max(loads, default=0) > self.env["nproc"]:
            return (f"The 1-minute load average exceeded the {self.env['nproc']} cores at times: other work (builds and "
                    "tests of other developers) was running on the machine during this run, so read every figure "
                    "as a floor.")
        return "Part of that load is the benchmark itself."

    def load_line(self, sec: dict) -> str:
        again = " (this section was run again alone, see the note at the top)" if sec.get("rerun") else ""
        when = f", {sec['ran_at']}" if sec.get("ran_at") else ""
        return (f"*{sec.get('seconds', '?')} s{when}{again}; load average before "
                f"{sec.get('load_before', '?')}, after {sec.get('load_after', '?')}; {self.env['nproc']} cores.*")

    # The figures behind the targets.
    def ceiling_msgid(self) -> float | None:
        b = self.s.get("ceiling", {}).get("best", {})
        return (b.get("msgid") or {}).get("msgs_per_s")

    def ceiling_plain(self) -> float | None:
        b = self.s.get("ceiling", {}).get("best", {})
        return (b.get("plain") or {}).get("msgs_per_s")

    def gateway_run(self, devices: int, mix: str = "tcp") -> dict | None:
        for r in self.s.get("gateway", {}).get("runs", []):
            if r.get("devices") == devices and r.get("mix") == mix:
                return r
        return None

    def e2e_at(self, load: int, geocoder: str = "offline") -> dict | None:
        for r in self.s.get("end_to_end", {}).get(geocoder, []) or []:
            if r.get("rate_offered") == load:
                return r
        return None

    def targets(self, w) -> None:
        w("## Targets")
        w("")
        w("| target | measured | met |")
        w("|---|---|---|")
        cases = self.s.get("decode", {}).get("cases", [])
        if cases:
            worst = min(cases, key=lambda c: c["records_per_s"])
            best = max(cases, key=lambda c: c["records_per_s"])
            met = all(c["records_per_s"] >= TARGET_DECODE for c in cases)
            w(f"| decoding ≥ 2 M records/s per core, every protocol | {f0(worst['records_per_s'])} ({worst['group'][7:]}, {worst['case']}) "
              f"to {f0(best['records_per_s'])} ({best['group'][7:]}, {best['case']}) records/s | {'yes' if met else 'no'} |")
        ceil = self.ceiling_msgid()
        for dev in (1000, 10000):
            g = self.gateway_run(dev)
            if g and ceil:
                share = g["acked_per_s"] / ceil
                w(f"| gateway acked throughput ≥ 70 % of the JetStream ceiling ({dev // 1000}k connections) | "
                  f"{f0(g['acked_per_s'])} frames/s = {pct(share)} of {f0(ceil)} msgs/s (publish with Nats-Msg-Id; "
                  f"{pct(g['acked_per_s'] / self.ceiling_plain()) if self.ceiling_plain() else '–'} of {f0(self.ceiling_plain())} without) | "
                  f"{'yes' if share >= TARGET_GATEWAY_SHARE else 'no'} |")
        c = self.s.get("connections", {})
        if c.get("steps"):
            top = max(c["steps"], key=lambda s: s.get("open", 0))
            per = (top.get("bytes_per_connection") or {}).get("gateway")
            met = top.get("open", 0) >= TARGET_CONNECTIONS and per is not None and per <= TARGET_BYTES_PER_CONN
            limit = ""
            if top.get("open", 0) < TARGET_CONNECTIONS and any("Too many open files" in e for e in c.get("errors", {})):
                limit = f" (stopped by the {c.get('gateway_nofile')} descriptors a process may open here)"
            w(f"| 100 000 concurrent connections per gateway at ≤ 4 KiB each | {f0(top.get('open'))} held{limit}, "
              f"{f1(per / 1024 if per else None)} KiB of gateway RSS each | {'yes' if met else 'no'} |")
        r = self.e2e_at(TARGET_E2E_LOAD)
        if r:
            e = r["end_to_end"]
            p99 = e["event_ms"]["p99"]
            met = p99 is not None and p99 < TARGET_E2E_P99_MS and r["acked_per_s"] >= 0.95 * TARGET_E2E_LOAD
            w(f"| end-to-end p99 frame → event < 25 ms at 10 000 frames/s on {self.env['nproc']} cores | "
              f"p99 {f1(p99)} ms (frame → position {f1(e['position_ms']['p99'])} ms) at {f0(r['acked_per_s'])} frames/s acked "
              f"of 10 000 offered | {'yes' if met else 'no'} |")
        hi = self.highest_under_slo()
        runs = self.s.get("end_to_end", {}).get("offline") or []
        if hi is not None:
            w(f"| (highest measured load with p99 frame → event < 50 ms) | {f0(hi)} frames/s offered (offline geocoder) | – |")
        elif runs:
            low = min(runs, key=lambda r: r["rate_offered"])
            w(f"| (highest measured load with p99 frame → event < 50 ms) | none: even at {f0(low['rate_offered'])} frames/s "
              f"p99 was {f1(p99_event(low))} ms | – |")
        w("")

    def highest_under_slo(self) -> float | None:
        ok = [r["rate_offered"] for r in self.s.get("end_to_end", {}).get("offline", []) or [] if passes(r)]
        return max(ok) if ok else None

    def decode(self, w) -> None:
        sec = self.s.get("decode", {})
        w("## Decoding")
        w("")
        if "cases" not in sec:
            w(f"Not measured: {sec.get('skipped') or sec.get('error')}.")
            w("")
            return
        w(f"Criterion, one thread (= one core), `{sec['command']}` (mean of the estimate; records/s = records "
          "in the frame ÷ time per frame). " + self.load_line(sec))
        w("")
        w("| protocol | frame | records | time per frame | per record | records/s on one core |")
        w("|---|---|---|---|---|---|")
        for c in sec["cases"]:
            w(f"| {c['group'][7:]} | {c['case']} | {c['records']} | {c['ns_per_frame'] / 1000:.2f} µs | "
              f"{c['ns_per_record']:.0f} ns | {f0(c['records_per_s'])} |")
        w("")
        bars = [(f"{c['group'][7:]}: {c['case']}", c["records_per_s"], PALETTE[0] if c["records_per_s"] >= TARGET_DECODE else PALETTE[3])
                for c in sec["cases"]]
        bar_chart(self.charts / "decode.svg", f"Decoding, records/s on one core ({self.env['nproc']}-core machine)",
                  "rec/s", bars, (TARGET_DECODE, "target 2 M/s"))
        w(f"![decoding records per second]({self.chart_link('decode.svg')})")
        w("")

    def ceiling(self, w) -> None:
        sec = self.s.get("ceiling", {})
        w("## The NATS ceiling")
        w("")
        if "runs" not in sec:
            w(f"Not measured: {sec.get('error')}.")
            w("")
            return
        w("JetStream publish-with-ack from this machine to the same nats-server build the services use (fresh "
          "single server, file storage, a stream configured like `ASTRA_RAW`: 2-minute duplicate window, 1 000 "
          f"subjects), {sec['payload_bytes']}-byte payloads (a RawFrame of a one-record frame), asynchronous publishes "
          "with a window of outstanding acks, async-nats like the services. " + self.load_line(sec))
        w("")
        w("| Nats-Msg-Id | publishers × window | msgs/s | ack p50 / p99 ms | cores used (nats-server + client) |")
        w("|---|---|---|---|---|")
        for r in sec["runs"]:
            a = r["ack_ms"]
            w(f"| {'yes' if r['msg_id'] else 'no'} | {r['publishers']} × {r['window']} | {f0(r['msgs_per_s'])} | "
              f"{f1(a['p50'])} / {f1(a['p99'])} | {r['cores']['nats-server']} + {r['cores']['js-ceiling']} |")
        w("")
        commands(w, [r["command"] for r in sec["runs"]])
        w(f"Ceiling used below: **{f0(self.ceiling_plain())} msgs/s without and {f0(self.ceiling_msgid())} msgs/s with "
          "Nats-Msg-Id** (best of the runs). DESIGN expected about 85k/s and 52k/s on a 2-core machine.")
        w("")

    def gateway(self, w) -> None:
        sec = self.s.get("gateway", {})
        w("## Gateway: acked frames per second")
        w("")
        if "runs" not in sec:
            w(f"Not measured: {sec.get('error')}.")
            w("")
            return
        w("Gateway and nats-server only (no decoder), so this is the device-facing tier alone: every frame is "
          "stored in `ASTRA_RAW` before its 0x06. Devices pipeline like trackers (one frame in flight each, the next "
          "sent when the ack arrives), as fast as acks allow, protocols mixed round robin (`tcp` = K, M, V, C, X "
          "mode 4, X mode 6 with login, Z; `udp` = K, C, X over UDP), connections spread over 2 loopback source "
          "addresses. " + self.load_line(sec))
        w("")
        ceil = self.ceiling_msgid()
        w("| connections | mix | acked frames/s | of ceiling (with Msg-Id) | ack p50 | p99 | p99.9 | cores used |")
        w("|---|---|---|---|---|---|---|---|")
        for r in sec["runs"]:
            a = r["ack_ms"]
            share = pct(r["acked_per_s"] / ceil) if ceil else "–"
            w(f"| {f0(r['devices'])} | {r['mix']} | {f0(r['acked_per_s'])} | {share} | {f1(a['p50'])} ms | {f1(a['p99'])} ms | "
              f"{f1(a['p999'])} ms | {cores_str(r['cores'])} |")
        w("")
        w(f"Measured over {f0(sec['runs'][0]['window_s'])} s after {f0(sec['runs'][0]['warmup_s'])} s of warm-up.")
        commands(w, [r["command"] for r in sec["runs"]])
        bars = []
        if self.ceiling_plain():
            bars.append(("JetStream ceiling, no Msg-Id", self.ceiling_plain(), "#999"))
        if ceil:
            bars.append(("JetStream ceiling, Msg-Id", ceil, "#777"))
        for r in sec["runs"]:
            bars.append((f"gateway, {f0(r['devices'])} {r['mix']} devices", r["acked_per_s"], PALETTE[0]))
        for r in self.s.get("scaling", {}).get("pipeline", []):
            bars.append((f"whole pipeline, {r['replicas']} decoder(s)", r["acked_per_s"], PALETTE[2]))
        bar_chart(self.charts / "throughput.svg", f"Acked frames/s against the JetStream ceiling ({self.env['nproc']} cores)",
                  "/s", bars, (TARGET_GATEWAY_SHARE * ceil, "70 % of ceiling") if ceil else None)
        w(f"![throughput against the ceiling]({self.chart_link('throughput.svg')})")
        w("")

    def connections(self, w) -> None:
        sec = self.s.get("connections", {})
        w("## Connections: idle devices one gateway holds")
        w("")
        if "steps" not in sec:
            w(f"Not measured: {sec.get('error')}.")
            w("")
            return
        w(f"`{sec['command']}` against one gateway (`--max-connections 0 --max-connections-per-ip 0`; its "
          f"`ulimit -n` was {sec.get('gateway_nofile')}). Each connection is a K device that sends one frame (so the "
          "gateway identifies it and publishes its session events, as a tracker that logged in and stays quiet) "
          f"and waits for its ack; connections are spread over {sec.get('sources')} loopback source addresses "
          "(~28k ephemeral ports each). Memory per connection = growth of VmRSS over the idle baseline "
          f"(gateway {f0(sec['baseline_rss_kib'].get('gateway'))} KiB, nats-server "
          f"{f0(sec['baseline_rss_kib'].get('nats-server'))} KiB) ÷ open connections. " + self.load_line(sec))
        w("")
        w("| target | open | failed | opened in | gateway RSS | gateway per connection | nats-server RSS | nats-server per connection |")
        w("|---|---|---|---|---|---|---|---|")
        for s in sec["steps"]:
            rss = s["rss_kib"]
            per = s["bytes_per_connection"]
            w(f"| {f0(s['target'])} | {f0(s['open'])} | {f0(s['failed'])} | {f1(s['ramp_s'])} s | "
              f"{f1((rss.get('gateway') or 0) / 1024)} MiB | {f2((per.get('gateway') or 0) / 1024)} KiB | "
              f"{f1((rss.get('nats-server') or 0) / 1024)} MiB | {f2((per.get('nats-server') or 0) / 1024)} KiB |")
        w("")
        if sec.get("errors"):
            w("Connection errors: " + ", ".join(f"{k} × {v}" for k, v in sec["errors"].items()) + ".")
            w("")
        pts_g = [(s["open"], (s["rss_kib"].get("gateway") or 0) / 1024) for s in sec["steps"]]
        pts_n = [(s["open"], (s["rss_kib"].get("nats-server") or 0) / 1024) for s in sec["steps"]]
        pts_t = [(s["open"], s["open"] * TARGET_BYTES_PER_CONN / 1024 / 1024 + (sec["baseline_rss_kib"].get("gateway") or 0) / 1024)
                 for s in sec["steps"]]
        line_chart(self.charts / "connections.svg", f"Resident memory against idle connections ({self.env['nproc']} cores)",
                   "open connections", "RSS (MiB)",
                   [{"name": "gateway", "points": [(0, (sec['baseline_rss_kib'].get('gateway') or 0) / 1024)] + pts_g},
                    {"name": "nats-server", "points": [(0, (sec['baseline_rss_kib'].get('nats-server') or 0) / 1024)] + pts_n},
                    {"name": "target 4 KiB/conn", "points": [(0, (sec['baseline_rss_kib'].get('gateway') or 0) / 1024)] + pts_t,
                     "color": "#888", "dash": "6 4"}])
        w(f"![memory against connections]({self.chart_link('connections.svg')})")
        w("")

    def e2e(self, w) -> None:
        sec = self.s.get("end_to_end", {})
        w("## End to end: frame → position → event")
        w("")
        if "offline" not in sec:
            w(f"Not measured: {sec.get('error')}.")
            w("")
            return
        r0 = (sec.get("offline") or [{}])[0]
        w("gateway + one decoder-worker + one event-worker (`--speed-limit-kmh 100`) + nats-server. The load "
          "generator runs devices of every kind (TCP and UDP, all protocols; as many devices as frames/s, "
          "1 000 to 10 000, so about one frame per second each) at a fixed total offered load, each device on "
          "its own schedule with one frame in flight, and subscribes with core NATS to "
          "`astra.position.>` and `astra.event.>`. Each frame carries one report of the scripted journey (standing, "
          "40 km/h, 120 km/h → OVERSPEED, panic → ALARM, journey stop → STOPPED, ignition off → IGNITION_OFF) with "
          "a device time that identifies it, so every position and every event is matched to the frame that "
          "caused it (IMEI + device time): latency = arrival on the subscription − the frame's send time. "
          f"Measured over {f0(r0.get('window_s'))} s after {f0(r0.get('warmup_s'))} s of warm-up; the decoder's "
          "default offline geocoder first, then `--geocoder none`. Ack = the gateway's 0x06 (stored in "
          "`ASTRA_RAW`); gateway → position = the position's arrival − its `received_time` (set by the gateway); "
          "no position = frames of the window whose position had not arrived when the load generator stopped "
          "waiting (5 s without news, at most 30 s after the load).")
        w("")
        for geocoder in ("offline", "none"):
            runs = sec.get(geocoder) or []
            if not runs:
                continue
            w(f"**`--geocoder {geocoder}`**")
            w("")
            w("| offered frames/s | devices | acked/s | ack p50 / p99 ms | frame → position p50 / p99 / p99.9 ms | "
              "gateway → position p99 ms | frame → event p50 / p99 / p99.9 ms | events/s | no position | cores used |")
            w("|---|---|---|---|---|---|---|---|---|---|")
            for r in runs:
                e = r["end_to_end"]
                a, p, ev, g = r["ack_ms"], e["position_ms"], e["event_ms"], e["gateway_to_position_ms"]
                w(f"| {f0(r['rate_offered'])} | {f0(r['devices'])} | {f0(r['acked_per_s'])} | {f1(a['p50'])} / {f1(a['p99'])} | "
                  f"{f1(p['p50'])} / {f1(p['p99'])} / {f1(p['p999'])} | {f1(g['p99'])} | "
                  f"{f1(ev['p50'])} / {f1(ev['p99'])} / {f1(ev['p999'])} | {f0(e['events_per_s_in_window'])} | "
                  f"{f0(e['positions_missing'])} | {cores_str(r['cores'])} |")
            w("")
            w(f"Command (per load): `{runs[-1]['command']}`. " + self.load_line(sec))
            w("")
        hi = self.highest_under_slo()
        if hi is not None:
            w(f"**Highest measured load with p99 frame → event under 50 ms: {f0(hi)} frames/s** (offline geocoder; "
              "loads between the fixed points were bisected).")
        else:
            w("**No measured load kept p99 frame → event under 50 ms** (offline geocoder; below the lowest fixed "
              "load that failed, loads were bisected down to a 500 frames/s step).")
        w("")
        series = []
        for geocoder, dash in (("offline", ""), ("none", "4 3")):
            runs = sec.get(geocoder) or []
            if not runs:
                continue
            for i, (key, q, name) in enumerate((("event_ms", "p99", "event p99"), ("event_ms", "p50", "event p50"),
                                                ("position_ms", "p99", "position p99"), ("ack_ms", "p99", "ack p99"))):
                pts = []
                for r in runs:
                    src = r["ack_ms"] if key == "ack_ms" else r["end_to_end"][key]
                    pts.append((r["rate_offered"], src[q]))
                series.append({"name": f"{name} ({geocoder})", "points": pts, "color": PALETTE[i], "dash": dash})
        line_chart(self.charts / "latency.svg", f"Latency against offered load ({self.env['nproc']} cores, log scale)",
                   "offered load (frames/s)", "latency (ms)", series,
                   [(TARGET_E2E_P99_MS, "target 25 ms"), (SLO_P99_MS, "50 ms")], logy=True)
        w(f"![latency against offered load]({self.chart_link('latency.svg')})")
        w("")

    def cost(self, w) -> None:
        sec = self.s.get("cost", {})
        w("## Cost: CPU per frame of each process")
        w("")
        if "runs" not in sec:
            w(f"Not measured: {sec.get('error', 'section not run')}.")
            w("")
            return
        w("gateway + one decoder-worker (`--geocoder none`) + one event-worker (`--speed-limit-kmh 100`) + "
          "nats-server, fed by `loadgen --mix all` at a fixed offered load (devices report about every 10 s). "
          "CPU time (user + system, from `/proc/<pid>/stat`) each process used from the start of the load until "
          "the backlog drained, divided by the frames acked. Issue 15's targets: all processes ≤ 0.5 ms per "
          "frame at 300 frames/s (nats-server ≤ 0.25 ms) and ≤ 0.25 ms at 3 000.")
        w("")
        w("| offered frames/s | devices | frames acked | nats-server | gateway | decoder-worker | event-worker | all | p99 frame → event |")
        w("|---|---|---|---|---|---|---|---|---|")
        for r in sec["runs"]:
            m = r["ms_per_frame"]
            p99 = r.get("event_p99_ms")
            w(f"| {r['rate_offered']:,} | {r['devices']:,} | {r['frames']:,} | {m.get('nats-server', 0):.2f} ms | "
              f"{m.get('gateway', 0):.2f} ms | {m.get('decoder-worker-0', 0):.2f} ms | {m.get('event-worker', 0):.2f} ms | "
              f"**{m.get('all', 0):.2f} ms** | {'-' if p99 is None else f'{p99:.0f} ms'} |")
        w("")

    def scaling(self, w) -> None:
        sec = self.s.get("scaling", {})
        w("## Scaling: decoder-worker replicas")
        w("")
        if "drain" not in sec:
            w(f"Not measured: {sec.get('error')}.")
            w("")
            return
        w("**Decoder tier alone.** A backlog is written to `ASTRA_RAW` first (gateway + load generator, "
          f"`{sec['drain'][0]['fill_command'] if sec['drain'] else ''}`), then 1 or 2 decoder-worker replicas are "
          "started on the shared durable consumer; the rate is taken from their `astra_decoder_records_decoded_total` "
          "between 10 % and 90 % of the backlog (one record per frame), the CPU from /proc/<pid>/stat over the same "
          "span. " + self.load_line(sec))
        w("")
        w("Cores used = CPU seconds of each process ÷ wall seconds, from /proc/<pid>/stat (utime + stime); "
          f"{self.env['nproc']} cores in all.")
        w("")
        w("| geocoder | replicas | frames | records/s | whole backlog in | cores used |")
        w("|---|---|---|---|---|---|")
        for d in sec["drain"]:
            w(f"| {d['geocoder']} | {d['replicas']} | {f0(d['frames'])} | {f0(d['records_per_s'])} | {f1(d['total_s'])} s | "
              f"{cores_str(d['cores'])} |")
        w("")
        pl = sec.get("pipeline", [])
        p0 = pl[0] if pl else {}
        w(f"**Whole pipeline** (gateway, decoder replicas with the offline geocoder, event-worker; {f0(p0.get('devices'))} "
          f"devices of every kind as fast as acks allow, {f0(p0.get('window_s'))} s after {f0(p0.get('warmup_s'))} s "
          "of warm-up; positions/s and events/s = arrivals on the subscription during the window):")
        w("")
        w("| decoder replicas | acked frames/s | positions/s | events/s | frame → position p50 / p99 ms | frame → event p99 ms | cores used |")
        w("|---|---|---|---|---|---|---|")
        for r in pl:
            e = r["end_to_end"]
            w(f"| {r['replicas']} | {f0(r['acked_per_s'])} | {f0(e['positions_per_s_in_window'])} | "
              f"{f0(e['events_per_s_in_window'])} | {f1(e['position_ms']['p50'])} / {f1(e['position_ms']['p99'])} | "
              f"{f1(e['event_ms']['p99'])} | {cores_str(r['cores'])} |")
        w("")
        commands(w, [r["command"] for r in pl])


# The analysis of the measured figures: kept here so that a new run regenerates BENCHMARKS.md
# without losing it. Update it when the figures move.
ANALYSIS = """
## What limits each figure, and what was fixed

Written from the runs above (2 cores, shared with other developers' builds and tests: read every
figure as a floor) and from profiles taken while preparing them: `perf record -e cpu-clock -g`
(the VM has no hardware counters, but cpu-clock sampling works) and `valgrind --tool=massif`.
CPU per frame = cores used ÷ frames per second, from the tables. The fixes named below are in
the services now; what is left is stated with its cause.

### Decoding: 0.98–2.28 M records/s per core, target 2 M (met for multi-record frames of C and Z; 1.7–2.0 M for K, M, V, X with the GPS module)

The first run (commit `fe91031`) gave 0.54–1.29 M/s. Its profile: 35 % `memmove`, 18 %
malloc/free, because `astra_proto::v1::Position` was **2 928 bytes** (prost keeps every optional
sub-message inline) and each record was built in a local, returned through `Result`, and pushed.
Fixed, in this order:

1. The ~30 rarely present sub-messages (X modules 50–89, `address`) are boxed in
   `proto/build.rs`: same wire format and JSON, `Position` is 1 336 bytes. (+17–33 %)
2. Each record is filled where it lies in the output vector (`out.last_mut()`) instead of being
   returned by value. (about 2× on top of 1)

What is left per record (profile of `decode-K/encoded, 16 records`): `Position::default()` and its
drop over 1.3 KB, two `String`s per record (IMEI and protocol, each an allocation), the `reasons`
and I/O vectors, and the CRC of the frame. Frames of one record pay the frame overhead alone
(0.5–0.8 µs); X frames with six modules pay for six sub-messages (each an allocation now). Sharing
the IMEI/protocol strings would need `Bytes`-backed strings in prost (a different generated type)
— not done.

### The NATS ceiling: 65–79k msgs/s plain, 55–59k with Nats-Msg-Id

Close to DESIGN's 85k/52k on this run (nats-server got 1.1 cores). Deduplication costs 20–30 %
of the ceiling. The window hardly matters above 256: nats-server is the limit.

### Gateway: 25 % (1k connections) and 20 % (10k connections) of the ceiling, target 70 %

The gateway is CPU-bound: it used about one core for 12–16k frames/s, **65–85 µs of CPU per
frame**, against 7–9 µs per message for the bare async-nats publisher of js-ceiling. 70 % of the
ceiling (≈ 41.6k frames/s) would need about 3 cores at that cost. With 10k connections the rate
stays and ack latency is the queue (p50 0.8 s ≈ 10 000 devices ÷ 12k frames/s). Profile:

* about a third is the kernel: the read of each frame and the `send()` of its 1-byte ack (on
  loopback the sender also pays for the receiver's TCP processing); with one frame in flight per
  device this is inherent;
* the rest is spread thin: malloc/free (~15 %), actix mailbox (`Queue::pop_spin`), tokio
  wake-ups, `FuturesOrdered`, header maps, `format!` of subjects. Each frame crosses threads four
  times: reader task → `Session` actor (all on the System arbiter thread) → per-session
  `Publisher` task → NATS client task → actor → write. Trace spans cost 2–3 % (measured in the
  decoder, which has the same layer).

Not fixed (a rewrite of the session, left for its own change): one task per connection that
reads, publishes (its in-flight acks in a `FuturesOrdered`) and writes acks in order, with the
actor only for commands, takeover and shutdown. DESIGN's open question, measured: without
`Nats-Msg-Id` on the raw hop the ceiling is 18–43 % higher and every later hop deduplicates
anyway; we keep the id (a device re-send within the window costs nothing downstream).

**UDP, fixed in this run**: all UDP devices share one socket. With the kernel's default receive
buffer (~200 KB) 1 000 devices overflowed it (15 000 `RcvbufErrors` in 15 s) and each lost
datagram cost the device a 1 s re-send timeout: ack p99 2 s, p99.9 8–10 s. The socket now asks
for 8 MiB (capped by `net.core.rmem_max`) and has its own publish window
(`--udp-max-in-flight`, 1 024, instead of one TCP connection's 32): no drops, ack p99 ≈ 0.2 s.

### Connections: 19 836 held, 14.6 KiB of gateway memory each (target 100 000 at ≤ 4 KiB)

**The machine stops at 20 000 descriptors per process**: `ulimit -Hn` is 20 000 in this container
and cannot be raised (no CAP_SYS_RESOURCE), so 30k–100k could not be tried here; memory grows
linearly (100 000 connections ≈ 1.4 GiB of gateway RSS and 0.4 GiB in nats-server). Per
connection (massif, 2 000 connections):

| what | bytes |
|---|---|
| the session's NATS subscription to `astra.cmd.<imei>` (async-nats allocates a channel block of 32 `Message`s up front) | ~6 400 |
| the per-session `Publisher`: tokio task 2 430 + channel block 256 + channel 510 (was 7 300 before queued messages were boxed) | ~3 200 |
| `Session` actor task 1 150, reader task 900, read buffer 1 024 | ~3 100 |
| registry entry, session id and info strings, allocator overhead | the rest (~2 200) |

Fixed: queued publishes are boxed (−4.4 KiB: 19.2 → 14.6 KiB). Left: DESIGN routes commands as
NATS requests to `astra.cmd.<imei>`, which costs one subscription per device; one subscription
per gateway (`astra.cmd.<gateway-id>`, the holder found from the device's last session event)
would save 6.4 KiB but changes that contract. The one-task-per-connection rewrite above would
remove the publisher task and the reader task (≈ 4 KiB). Both together reach about 4 KiB.

**Bug found and fixed**: at its descriptor limit the gateway spun on `accept()` (EMFILE), 75 % of
a core and millions of log lines. It now pauses 100 ms after EMFILE/ENFILE/ENOBUFS/ENOMEM, warns
once per 5 s, counts `connections_total{outcome="accept_error"}`, raises its soft descriptor limit
to the hard one at start and warns when `--max-connections` does not fit
(`gateway/tests/descriptors.rs`).

### End to end: p99 frame → event < 50 ms up to 1 000 frames/s (target p99 < 25 ms at 10 000 frames/s)

At 1 000 frames/s: frame → position p50 5.5 ms / p99 23 ms, frame → event p50 11 ms / p99 44 ms.
(The first run reported an event p99 of 1 s here: the load generator matched `device_offline`
events, raised when its devices disconnect at the end, to the device's last frame. Frame → event
now counts only events whose cause is a position — the `p…` cause in the event id; session- and
timer-caused events are counted by type.) From 1 500–2 000 frames/s the single nats-server
falls behind and at 5 000–10 000 frames/s only 3.6–5.5k frames/s are acked; "no position" at
5 000 frames/s are acked frames whose positions had not arrived when the 30 s drain ended (that
backlog was 25 s deep at p99.9). Per frame at 1 000 frames/s the stack used **nats-server 740 µs,
event-worker 330 µs, gateway 190 µs, decoder 180 µs** of CPU (≈ 1.4 ms): 10 000 frames/s would
need about 14 cores, so the target is out of reach on 2 cores by an order of magnitude. What costs:

* **nats-server does ~8 JetStream operations per frame**: store raw, deliver + ack to the
  decoder, store the position, store it again in `ASTRA_EVENT_WORK` (the work stream *sources*
  positions and sessions so each partition is one ordered consumer), deliver + ack to the
  event-worker, store the event, and a KV update of the device state per device and batch.
  Reading `ASTRA_POSITIONS` directly per partition would need a partition token in the position
  subject (a contract change) and give up the single ordered stream of positions and sessions;
  checkpointing less often than every batch would need acks held until the checkpoint. Neither
  was done.
* **decoder**: tens of µs of CPU per record although decoding takes ~0.5 µs; the rest is the
  NATS client and protobuf. Alone on a backlog one replica decodes 8.6–10k records/s with one core
  (offline geocoder / none); a second replica adds 20–35 % here because nats-server and the two
  cores are shared.
* **event-worker**: per batch and device it publishes the events and awaits their acks, then
  writes KV and awaits, before the batch is acked: two round trips per batch.
* the geocoder (offline, 50 m cells) adds about 10 µs per record: it is not what limits.
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="tiny runs of every section (seconds)")
    ap.add_argument("--bin-dir", default=str(ROOT / "target" / "release"))
    ap.add_argument("--nats-bin", default=os.environ.get("NATS_SERVER_BIN", str(ROOT / ".tools/nats/bin/nats-server")))
    ap.add_argument("--out", default=None, help="report path (default BENCHMARKS.md; smoke: target/bench/smoke/BENCHMARKS.md)")
    ap.add_argument("--results", default=None, help="raw results directory (default target/bench[/smoke])")
    ap.add_argument("--charts", default=None, help="SVG directory (default docs/bench; smoke: target/bench/smoke)")
    ap.add_argument("--only", default="", help="comma list of sections: decode,ceiling,gateway,connections,end_to_end,scaling,cost")
    ap.add_argument("--note", default="", help="with --only: why the sections were run again (shown in the report)")
    ap.add_argument("--report-only", action="store_true",
                    help="measure nothing: write the report again from the results JSON of the last run")
    args = ap.parse_args()
    smoke_dir = ROOT / "target" / "bench" / "smoke"
    if args.out is None:
        args.out = str(smoke_dir / "BENCHMARKS.md") if args.smoke else str(ROOT / "BENCHMARKS.md")
    if args.results is None:
        args.results = str(smoke_dir if args.smoke else ROOT / "target" / "bench")
    if args.charts is None:
        args.charts = str(smoke_dir if args.smoke else ROOT / "docs" / "bench")
    (Path(args.results) / "logs").mkdir(parents=True, exist_ok=True)
    if args.report_only:
        data = json.loads((Path(args.results) / "results.json").read_text())
        Path(args.charts).mkdir(parents=True, exist_ok=True)
        Report(data, Path(args.charts).resolve(), Path(args.out).resolve(), args.smoke).write()
        return
    Bench(args).run()


if __name__ == "__main__":
    main()
