"""Votes on answers, kept as JSON lines in the feedback file (DOCQA_FEEDBACK_PATH)."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


class FeedbackLog:
    """One feedback file; appends from several threads at once stay whole lines."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def append(self, record: Mapping[str, Any]) -> None:
        """Append `record` as one JSON line, creating the file's folder."""
        line = json.dumps(record, ensure_ascii=False) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, self.path.open("a", encoding="utf-8") as handle:
            handle.write(line)


def feedback_record(turn: Mapping[str, Any], liked: bool | str | None) -> dict[str, Any]:
    """The JSON line for a vote: {time, question, answer, citations, vote}."""
    if liked is True:
        vote = "up"
    elif liked is False:
        vote = "down"
    else:  # None when a vote is taken back; a string for a custom feedback option
        vote = "cleared" if liked is None else str(liked)
    return {
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "question": turn.get("question", ""),
        "answer": turn.get("answer", ""),
        "citations": turn.get("citations", []),
        "vote": vote,
    }
