"""Timing and memory helpers: percentiles, peak RSS, and child processes measured whole."""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROCESS_TIMEOUT_S = 3600.0  # a child that runs longer than this is killed
OUTPUT_TAIL = 4000  # characters of a child's output kept for error messages

# Passed to every child so no run reaches the network or a hub, and all run alike.
QUIET_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "ANONYMIZED_TELEMETRY": "False",
    "PYTHONUNBUFFERED": "1",
}


@dataclass(frozen=True)
class ProcessRun:
    """One child process: wall time from spawn to exit, its own peak RSS, its exit code."""

    seconds: float
    peak_rss_mb: float
    returncode: int
    output: str  # the tail of its stdout and stderr


def p50(values: Sequence[float]) -> float:
    """The median."""
    return float(statistics.median(values))


def p95(values: Sequence[float]) -> float:
    """The 95th percentile, interpolated between the two nearest values."""
    if len(values) == 1:
        return float(values[0])
    return float(statistics.quantiles(values, n=20, method="inclusive")[-1])


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MiB."""
    # subtle: Linux reports ru_maxrss in KiB (macOS in bytes)
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


def cpu_seconds() -> tuple[float, float] | None:
    """(CPU seconds every process has used, those used by us and our reaped children).

    Their difference over a stretch of time is what other processes took: a noise gauge.
    None where /proc/stat is missing (not Linux).
    """
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    busy = (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")
    own = sum(
        usage.ru_utime + usage.ru_stime
        for usage in (
            resource.getrusage(resource.RUSAGE_SELF),
            resource.getrusage(resource.RUSAGE_CHILDREN),
        )
    )
    return busy, own


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a measured child: ours without DOCQA_*, plus QUIET_ENV and `extra`."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("DOCQA_")}
    env.update(QUIET_ENV)
    env.update(extra)
    return env


def run_process(
    command: Sequence[str],
    env: dict[str, str],
    timeout: float = PROCESS_TIMEOUT_S,
    echo: bool = False,
) -> ProcessRun:
    """Run `command` to its end; wall time and the child's own peak RSS (via wait4).

    With `echo`, the child's stderr (its progress bars, its errors) goes to ours as it comes
    instead of into the output kept.
    """
    with tempfile.TemporaryFile() as log:
        start = time.perf_counter()
        process = subprocess.Popen(
            list(command),
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=None if echo else subprocess.STDOUT,
        )
        returncode, peak = _reap(process, timeout)
        seconds = time.perf_counter() - start
        return ProcessRun(seconds, peak, returncode, _tail(log))


def checked(run: ProcessRun, what: str) -> ProcessRun:
    """`run`, or a RuntimeError with its output when it failed."""
    if run.returncode != 0:
        raise RuntimeError(f"{what} failed (exit {run.returncode}):\n{run.output}")
    return run


def spawn(command: Sequence[str], env: dict[str, str], log) -> subprocess.Popen:
    """Start `command` in the project folder, its output going to the open file `log`."""
    return subprocess.Popen(list(command), env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)


def exited(process: subprocess.Popen) -> tuple[int, float] | None:
    """(exit code, peak RSS MiB) if `process` has ended, else None; never blocks."""
    pid, status, usage = os.wait4(process.pid, os.WNOHANG)
    if pid == 0:
        return None
    return _finish(process, status, usage)


def stop(process: subprocess.Popen, grace: float = 15.0) -> tuple[int, float]:
    """Terminate `process` (it alone, by its pid) and reap it: (exit code, peak RSS MiB)."""
    process.terminate()
    return _reap(process, grace)


def read_tail(log) -> str:
    """The last OUTPUT_TAIL characters written to the open file `log`."""
    return _tail(log)


def _reap(process: subprocess.Popen, timeout: float) -> tuple[int, float]:
    # subtle: Popen.wait() throws the child's rusage away, so reap it with wait4 ourselves;
    # a timer kills a child that overstays, which makes wait4 return.
    timer = threading.Timer(timeout, process.kill)
    timer.start()
    try:
        _pid, status, usage = os.wait4(process.pid, 0)
    finally:
        timer.cancel()
    return _finish(process, status, usage)


def _finish(process: subprocess.Popen, status: int, usage) -> tuple[int, float]:
    process.returncode = os.waitstatus_to_exitcode(status)  # Popen must not reap it again
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024
    return process.returncode, usage.ru_maxrss / scale


def _tail(log) -> str:
    log.flush()
    log.seek(0)
    return log.read().decode("utf-8", errors="replace")[-OUTPUT_TAIL:]
