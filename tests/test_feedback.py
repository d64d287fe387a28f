"""webui.feedback: votes on answers, one JSON line each."""

from __future__ import annotations

import json
from pathlib import Path

from webui.feedback import FeedbackLog, feedback_record


def test_feedback_is_one_json_line_per_vote(tmp_path: Path) -> None:
    log = FeedbackLog(tmp_path / "new" / "folder" / "feedback.jsonl")
    turn = {"question": "q?", "answer": "a [1]", "citations": [{"doc_id": "d"}], "message": 1}
    log.append(feedback_record(turn, True))
    log.append(feedback_record(turn, False))
    records = [json.loads(line) for line in log.path.read_text(encoding="utf-8").splitlines()]
    assert [record["vote"] for record in records] == ["up", "down"]
    assert set(records[0]) == {"time", "question", "answer", "citations", "vote"}
    assert records[0]["question"] == "q?" and records[0]["citations"] == [{"doc_id": "d"}]
