"""The language model DOCQA_LLM names, as a LangChain chat model, built once per process.

    ollama:<model>   langchain-ollama (DOCQA_LLM_BASE_URL: the server, else Ollama's default)
    openai:<model>   langchain-openai; DOCQA_LLM_BASE_URL for any OpenAI-compatible server,
                     the key from OPENAI_API_KEY (a placeholder for a local server without one)
    gguf:<path>      a .gguf file, read by transformers, wrapped by langchain-huggingface
    hf:<folder>      a transformers model folder, the same way

Each library is imported here, inside the function that needs it, so nothing of them is
loaded while DOCQA_LLM is unset. They come with `pip install -e '.[llm]'`.
"""

from __future__ import annotations

import contextlib
import io
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.errors import ModelLoadError, SettingsError
from rag.settings import Settings

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

# A local OpenAI-compatible server (vLLM, LM Studio, llama.cpp) takes any key, but the
# client refuses to start without one.
PLACEHOLDER_API_KEY = "not-needed"

_MODELS: dict[tuple[str, str, float, int], BaseChatModel] = {}
_LOCK = threading.Lock()


def chat_model(settings: Settings) -> BaseChatModel | None:
    """The chat model of `settings.llm`, built on first use and kept for the process; None
    when no language model is set. A SettingsError says what to do when it cannot be built
    (a ModelLoadError when its file or folder is there but cannot be loaded)."""
    if not settings.llm:
        return None
    key = (settings.llm, settings.llm_base_url, settings.llm_timeout_s, settings.llm_max_tokens)
    with _LOCK:
        if key not in _MODELS:
            _MODELS[key] = build(settings)
        return _MODELS[key]


def build(settings: Settings) -> BaseChatModel:
    """A new chat model for `settings.llm` (see the module's docstring for the forms)."""
    form, _, target = settings.llm.partition(":")
    target = target.strip()
    if form == "ollama":
        return _ollama(target, settings)
    if form == "openai":
        return _openai(target, settings)
    if form in ("gguf", "hf"):
        return _local(form, target, settings)
    raise SettingsError(f"DOCQA_LLM {settings.llm!r} is not a form docqa knows")


def _missing(package: str) -> SettingsError:
    return SettingsError(
        f"DOCQA_LLM needs the {package} package: install docqa's llm extra "
        "(pip install -e '.[llm]'), or unset DOCQA_LLM for the extractive reader"
    )


def _ollama(model: str, settings: Settings) -> BaseChatModel:
    try:
        from langchain_ollama import ChatOllama
    except ImportError:
        raise _missing("langchain-ollama") from None
    return ChatOllama(
        model=model,
        base_url=settings.llm_base_url or None,
        temperature=0.0,
        num_predict=settings.llm_max_tokens,
        client_kwargs={"timeout": settings.llm_timeout_s},
    )


def _openai(model: str, settings: Settings) -> BaseChatModel:
    try:
        from langchain_openai import ChatOpenAI
    except ImportError:
        raise _missing("langchain-openai") from None
    key = os.environ.get("OPENAI_API_KEY", "")
    if not key and not settings.llm_base_url:
        raise SettingsError(
            "DOCQA_LLM=openai:… needs OPENAI_API_KEY for OpenAI's service, or "
            "DOCQA_LLM_BASE_URL for an OpenAI-compatible server"
        )
    return ChatOpenAI(
        model=model,
        base_url=settings.llm_base_url or None,
        api_key=key or PLACEHOLDER_API_KEY,
        temperature=0.0,
        max_tokens=settings.llm_max_tokens,
        timeout=settings.llm_timeout_s,
        max_retries=0,  # a retry would outlast DOCQA_LLM_TIMEOUT_S; the extractive reader waits
    )


def _local(form: str, target: str, settings: Settings) -> BaseChatModel:
    path = Path(target).expanduser()
    if form == "gguf" and not path.is_file():
        raise SettingsError(f"DOCQA_LLM=gguf:{target}: no such file; point it at a .gguf file")
    if form == "hf" and not (path / "config.json").is_file():
        raise SettingsError(
            f"DOCQA_LLM=hf:{target} is not a transformers model folder (it has no "
            "config.json): point it at one"
        )
    try:
        from langchain_huggingface import ChatHuggingFace, HuggingFacePipeline
        from transformers import AutoModelForCausalLM, AutoTokenizer, pipeline
    except ImportError as error:
        raise _missing(error.name or "transformers") from None
    if form == "gguf":
        if _spec_missing("gguf"):
            raise _missing("gguf")
        where: dict[str, Any] = {"pretrained_model_name_or_path": str(path.parent)}
        where["gguf_file"] = path.name
    else:
        where = {"pretrained_model_name_or_path": str(path)}
    try:
        # Loading a GGUF file draws a progress bar of its own (plain tqdm) on stderr, which
        # would fill a terminal's answer: what loading says is kept out of sight.
        with contextlib.redirect_stderr(io.StringIO()):
            tokenizer = AutoTokenizer.from_pretrained(**where, local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(**where, local_files_only=True)
    except Exception as error:  # a damaged file fails anywhere inside (struct.error, for one)
        raise ModelLoadError(
            f"DOCQA_LLM={settings.llm} could not be loaded ({_kind(error)}: "
            f"{_first_line(error)}): point it at a model transformers can read"
        ) from None
    generate = pipeline(
        "text-generation",
        model=model,
        tokenizer=tokenizer,
        max_new_tokens=settings.llm_max_tokens,
        do_sample=False,
        return_full_text=False,
    )
    llm = HuggingFacePipeline(pipeline=generate, model_id=str(path))
    return ChatHuggingFace(llm=llm, tokenizer=tokenizer, model_id=str(path))


def _spec_missing(name: str) -> bool:
    from importlib.util import find_spec

    return find_spec(name) is None


def _kind(error: BaseException) -> str:
    """The error's type as Python names it: "ValueError", "struct.error"."""
    kind = type(error)
    return kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:200]
