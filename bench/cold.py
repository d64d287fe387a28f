"""Cold start: whole processes from spawn to answer (CLI) or to a served page (UI)."""

from __future__ import annotations

import socket
import subprocess
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
from rag.onnx_model import EXPORT_NAME
from rag.settings import DEFAULT_COLLECTION, Settings

QUESTION = "How many ballistic missiles did North Korea fire?"
UI_SCRIPT = ROOT / "ui.py"
SERVE_TIMEOUT_S = 300.0
POLL_S = 0.05
_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy

# A process holding only the model as docqa serves it: ONNX Runtime over the export the
# index keeps, its fast tokenizer, one embedding (mean of the token vectors, unit length).
FLOOR_MODEL = """\
import numpy as np
import onnxruntime
from tokenizers import Tokenizer

options = onnxruntime.SessionOptions()
options.log_severity_level = 3
session = onnxruntime.InferenceSession({onnx!r}, options, providers=["CPUExecutionProvider"])
tokenizer = Tokenizer.from_file({tokenizer!r})
ids = np.array([tokenizer.encode({question!r}).ids], dtype=np.int64)
(tokens,) = session.run(None, {{"input_ids": ids, "attention_mask": np.ones_like(ids)}})
vector = tokens[0].mean(axis=0)
vector /= np.linalg.norm(vector)
"""

# The floor of `docqa ask`: the model above, then the Chroma client and the live generation
# (the pointer collection, and the chunk collection it names).
FLOOR_CHROMA = """\
import chromadb
from chromadb.config import Settings

client = chromadb.PersistentClient({chroma!r}, settings=Settings(anonymized_telemetry=False))
live = client.get_collection({pointer!r})
client.get_collection(f"{prefix}-g{{live.metadata['generation']}}-chunks")
"""

# The floor of `python ui.py`: the smallest Gradio app, one textbox.
FLOOR_UI = """\
import gradio as gr

with gr.Blocks() as demo:
    gr.Textbox(label="Question")
demo.launch()
"""

IMPORT_TOP = 10  # imports of `docqa ask` listed, by cumulative time


def docqa_command() -> list[str]:
    """The installed `docqa` console script, else `python -m rag.cli`."""
    script = Path(sys.executable).parent / "docqa"
    return [str(script)] if script.exists() else [sys.executable, "-m", "rag.cli"]


def cli(workdir: Path, repeats: int) -> dict:
    """`docqa ask` over a built index against the model-load-and-embed floor, alternating."""
    env = _docqa_env(workdir)
    floor_script = _write(workdir / "floor_cli.py", floor_cli(workdir / "seed-index"))
    commands = {
        "docqa": [*docqa_command(), "ask", QUESTION],
        "floor": [sys.executable, str(floor_script)],
    }
    runs = _alternate(commands, repeats, lambda command: run_process(command, env))
    return _summary(runs, command=f'docqa ask "{QUESTION}"')


def floor_model(index_dir: Path) -> str:
    """The model-only floor's script, over the ONNX export kept in `index_dir`."""
    exports = sorted(index_dir.glob(f"onnx/*/{EXPORT_NAME}"))
    if not exports:
        raise RuntimeError(f"no ONNX export under {index_dir / 'onnx'}: was the index built?")
    tokenizer = Path(Settings.from_env({}).model_location()) / "tokenizer.json"
    return FLOOR_MODEL.format(onnx=str(exports[0]), tokenizer=str(tokenizer), question=QUESTION)


def floor_cli(index_dir: Path) -> str:
    """The `docqa ask` floor's script over the index at `index_dir` (default collection)."""
    chroma = FLOOR_CHROMA.format(
        chroma=str(index_dir / "chroma"),
        pointer=f"{DEFAULT_COLLECTION}-live",
        prefix=DEFAULT_COLLECTION,
    )
    return floor_model(index_dir) + chroma


def model_floor(index_dir: Path) -> ProcessRun:
    """One run of a process holding only the model (as docqa serves it, from the export in
    `index_dir`): the peak RSS the memory figures are set against."""
    script = _write(index_dir.parent / "floor_model.py", floor_model(index_dir))
    command = [sys.executable, str(script)]
    return checked(run_process(command, child_env()), " ".join(command))


def import_profile(workdir: Path, top: int = IMPORT_TOP) -> dict:
    """`python -X importtime -m rag.cli ask` over the seeds' index: its wall time, the `top`
    imports by cumulative time (a chain of nested imports can fill them), and the `top` of
    those the program imported itself (depth 0), whose cumulative times add up to all."""
    env = _docqa_env(workdir)
    command = [sys.executable, "-X", "importtime", "-m", "rag.cli", "ask", QUESTION]
    start = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} failed (exit {done.returncode}):\n{done.stderr[-4000:]}"
        )
    imports = sorted(parse_importtime(done.stderr), key=lambda row: -row["cumulative_s"])
    own = [row for row in imports if row["depth"] == 0]
    return {
        "command": f'python -X importtime -m rag.cli ask "{QUESTION}"',
        "seconds": seconds,
        "imports": len(imports),
        "import_s": sum(row["cumulative_s"] for row in own),
        "top": imports[:top],
        "top_level": own[:top],
    }


def parse_importtime(text: str) -> list[dict]:
    """The rows of `-X importtime` output: each module, its own and cumulative seconds, and
    its depth of nesting (0 for one the program imported itself); other lines are skipped.

    "import time:       812 |      40123 | chromadb" -> chromadb, 0.000812 s, 0.040123 s, depth 0
    """
    rows = []
    for line in text.splitlines():
        if not line.startswith("import time:"):
            continue
        fields = line[len("import time:") :].split("|")
        if len(fields) != 3 or not fields[0].strip().isdigit():
            continue  # the header
        name = fields[2].rstrip()
        depth = (len(name) - len(name.lstrip(" ")) - 1) // 2
        rows.append(
            {
                "module": name.strip(),
                "self_s": int(fields[0]) / 1e6,
                "cumulative_s": int(fields[1]) / 1e6,
                "depth": depth,
            }
        )
    return rows


def ui(workdir: Path, repeats: int) -> dict:
    """Seconds until `python ui.py` serves its page, against a one-textbox Gradio app."""
    if not UI_SCRIPT.exists():
        return {"skipped": f"{UI_SCRIPT.name} not found: nothing to measure yet"}
    env = _docqa_env(workdir, GRADIO_SERVER_NAME="127.0.0.1")
    commands = {
        "docqa": [sys.executable, str(UI_SCRIPT)],
        "floor": [sys.executable, str(_write(workdir / "floor_ui.py", FLOOR_UI))],
        "floor_model": [
            sys.executable,
            str(
                _write(workdir / "floor_ui_model.py", floor_cli(workdir / "seed-index") + FLOOR_UI)
            ),
        ],
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
