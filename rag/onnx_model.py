"""The embedding model on ONNX Runtime: exported once from its weights (with torch), then run
with `onnxruntime` and `tokenizers` alone, so answering a question never imports torch.

The export lives beside the index, `<index_dir>/onnx/<digest>/model.onnx`, the digest naming
the model's identity; `docqa index` writes it, and answering processes only read it.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import tempfile
import threading
import uuid
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from rag.errors import SettingsError, StoreError

# Bump when the exported graph changes, so every index exports it again.
EXPORT_FORMAT = "docqa-onnx-1"
EXPORT_NAME = "model.onnx"
# The model's limit when its folder names none: BERT's learned positions.
DEFAULT_MAX_TOKENS = 512
_OPSET = 17  # ONNX operator set: the legacy exporter's newest, read by every onnxruntime since 1.12
_INPUTS = ("input_ids", "attention_mask")

log = logging.getLogger(__name__)
_LOCK = threading.Lock()
_MODELS: dict[str, TokenModel] = {}  # export digest → the model loaded from it
_FILES: dict[str, Path] = {}  # export digest → a copy of it on disk this process has seen

# (row in the texts, the text's token vectors, each token's character range in the text)
Tokens = tuple[int, np.ndarray, list[tuple[int, int]]]


def export_folder(index_dir: Path, identity: str) -> Path:
    """Where the export of the model known as `identity` is kept for the index at `index_dir`."""
    digest = hashlib.sha256(f"{EXPORT_FORMAT}|{identity}".encode()).hexdigest()[:16]
    return index_dir / "onnx" / digest


class TokenModel:
    """The exported model and its fast tokenizer: texts → token vectors and their offsets."""

    def __init__(self, onnx_path: Path, model_folder: str) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        folder = Path(model_folder)
        if not (folder / "tokenizer.json").is_file():
            raise SettingsError(
                f"the model folder {folder} has no tokenizer.json (a fast tokenizer): point "
                "DOCQA_MODEL_PATH at a model saved with one, or unset it to use docqa's"
            )
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3  # errors only: its notes on the graph are not the user's
        self.session = onnxruntime.InferenceSession(
            str(onnx_path), options, providers=["CPUExecutionProvider"]
        )
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        # Padding is done here, per batch; the file's own settings (a fixed length) are not ours.
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_tokens(folder))
        self.dimension = int(self.session.get_outputs()[0].shape[-1])

    def tokens(self, texts: Sequence[str], batch_size: int) -> Iterator[list[Tokens]]:
        """Each text's token vectors and character offsets, a batch at a time (texts of like
        length together, so little is padded); special tokens have the range (0, 0)."""
        encodings = self.tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda row: len(encodings[row].ids))
        for first in range(0, len(order), batch_size):
            rows = order[first : first + batch_size]
            width = max(len(encodings[row].ids) for row in rows)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for at, row in enumerate(rows):
                ids[at, : len(encodings[row].ids)] = encodings[row].ids
                mask[at, : len(encodings[row].ids)] = 1
            (vectors,) = self.session.run(None, {"input_ids": ids, "attention_mask": mask})
            yield [
                (row, vectors[at, : len(encodings[row].ids)], encodings[row].offsets)
                for at, row in enumerate(rows)
            ]


def token_model(model_folder: str, folder: Path) -> TokenModel:
    """The model of `model_folder` run from its export in `folder`: loaded once per process,
    and exported there first (which imports torch) when no copy is there yet."""
    with _LOCK:
        path = _export_file(model_folder, folder)
        _FILES[folder.name] = path
        if folder.name not in _MODELS:
            _MODELS[folder.name] = TokenModel(path, model_folder)
        return _MODELS[folder.name]


def max_tokens(folder: Path) -> int:
    """The longest input the model reads, in tokens, as its sentence-transformers config
    says (longer texts are cut, as sentence-transformers cuts them)."""
    config = folder / "sentence_bert_config.json"
    if config.is_file():
        return int(json.loads(config.read_text()).get("max_seq_length", DEFAULT_MAX_TOKENS))
    return DEFAULT_MAX_TOKENS


def _export_file(model_folder: str, folder: Path) -> Path:
    """The export's file in `folder`, put there when missing: linked to (or copied from) one
    this process has seen (a process that indexes into several folders exports once), else
    exported. Where the folder cannot take it (read-only, full), a copy in the system's
    temporary folder serves instead."""
    path = folder / EXPORT_NAME
    if path.is_file():
        return path
    spare = Path(tempfile.gettempdir()) / "docqa-onnx" / folder.name / EXPORT_NAME
    known = [file for file in (_FILES.get(folder.name), spare) if file and file.is_file()]
    if known:
        with contextlib.suppress(OSError):  # another file system, or no room: copied below
            _link(known[0], path)
            return path
    data = known[0].read_bytes() if known else export(model_folder)
    for place in (path, spare):
        try:
            _write(place, data)
            return place
        except OSError as error:
            log.warning("could not write the model's ONNX export to %s (%s)", place.parent, error)
    if known:
        return known[0]
    raise StoreError(
        f"could not write the embedding model's ONNX export to {folder} or {spare.parent}: "
        "make DOCQA_INDEX_DIR writable and give it about 100 MB, then run `docqa index`"
    )


def export(model_folder: str) -> bytes:
    """The model's graph, token ids → token vectors, as ONNX (imports torch)."""
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(model_folder, local_files_only=True).eval()

    class TokenVectors(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.model(input_ids=input_ids, attention_mask=attention_mask)[0]

    example = torch.ones((2, 8), dtype=torch.long)
    graph = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        # The exporter's notes on tracing a transformer are about its code, not the user's.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            TokenVectors(),
            (example, torch.ones_like(example)),
            graph,
            input_names=list(_INPUTS),
            output_names=["token_vectors"],
            dynamic_axes={
                name: {0: "batch", 1: "sequence"} for name in (*_INPUTS, "token_vectors")
            },
            opset_version=_OPSET,
            dynamo=False,
        )
    return graph.getvalue()


def _link(source: Path, path: Path) -> None:
    """`path` made a second name of `source`, whole or not at all (an export is never changed
    in place, so both names may share one file: an index takes no room for it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{uuid.uuid4().hex}.tmp")
    try:
        os.link(source, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _write(path: Path, data: bytes) -> None:
    """Write `data` to a temporary file that then takes `path`'s place at once: another
    process sees no file or the whole of it, never a half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.chmod(
            tmp, 0o644
        )  # mkstemp's file is its owner's alone; any reader of the index reads this
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
