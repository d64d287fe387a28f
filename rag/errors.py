"""The errors docqa raises: one base class, each message says what to do."""

from __future__ import annotations


class DocQAError(Exception):
    """Base of every error docqa raises on purpose; the CLI and UI show its message."""


class QuestionError(DocQAError):
    """The question cannot be answered as given (empty or too long)."""


class SourceError(DocQAError):
    """The source folder or one of its files cannot be read."""


class StoreError(DocQAError):
    """The Chroma index cannot be opened, built or refreshed."""


class SettingsError(DocQAError):
    """A DOCQA_* setting has a value docqa cannot use."""


class ModelLoadError(SettingsError):
    """DOCQA_LLM names a model file or folder that is there but cannot be loaded (damaged,
    truncated, of a kind transformers cannot read): the extractive reader answers instead."""


class ExtractionError(SourceError):
    """A file docqa would read holds no text it can get at (encrypted, damaged, empty), or
    more than it may (DOCQA_MAX_FILE_CHARS, DOCQA_MAX_PDF_PAGES). Its message is the reason
    the file is listed as skipped, and says what to do where something can be done."""


class UploadError(DocQAError):
    """A file sent from the UI's page is not stored (wrong type, too large, no free name), or
    a document cannot be removed or restored (not in the list, or no longer)."""


class DatasetError(DocQAError):
    """The eval suite cannot run as asked: a question file missing, malformed or disagreeing
    with its documents; a SQuAD split, a report or the thresholds unreadable; options that do
    not go together."""


# Internal: raised and caught inside rag, never shown to a user (the store turns each into
# what it means: a rebuild, a second read of every file, tables derived again).


class DamagedIndex(Exception):
    """Proof that the stored index is damaged (rag.store rebuilds it, or says to)."""


class ReadEveryFile(Exception):
    """A sync given unchanged files it cannot carry over (the live generation is damaged or
    moved on): read every file and sync again (DocQA.index does)."""


class DamagedTables(ValueError):
    """Serving tables that cannot be read, or whose values fail their check (rag.store
    derives them again from the index)."""


class OutdatedTables(DamagedTables):
    """Serving tables written by another version of docqa, in a format this one does not
    read (rag.store derives them again from the index, as for damaged ones)."""


class ModelTimeout(Exception):
    """The language model did not finish its reply in time (rag.generation.timed); the
    answer keeps what was verified by then, or falls back to the extractive reader."""
