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
