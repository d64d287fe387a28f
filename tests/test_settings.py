"""Settings: each DOCQA_* value is checked when the settings are made, before anything reads
or writes data, and a bad one is a SettingsError naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.errors import SettingsError
from rag.settings import MAX_NAME_BYTES, MAX_PATH_BYTES, Settings


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DOCQA_BATCH_SIZE", "-1", "DOCQA_BATCH_SIZE must be at least 1, not -1"),
        ("DOCQA_BATCH_SIZE", "0", "DOCQA_BATCH_SIZE must be at least 1, not 0"),
        ("DOCQA_CHROMA_PORT", "-1", "DOCQA_CHROMA_PORT must be a port number from 1 to 65535"),
        ("DOCQA_CHROMA_PORT", "0", "DOCQA_CHROMA_PORT must be a port number from 1 to 65535"),
        ("DOCQA_CHROMA_PORT", "70000", "not 70000"),
        ("DOCQA_CHROMA_PORT", "9" * 20, f"not {'9' * 20}"),
        ("DOCQA_CHROMA_PORT", "port", "DOCQA_CHROMA_PORT must be a whole number"),
    ],
)
def test_a_number_out_of_range_is_a_settings_error(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({name: value})


@pytest.mark.parametrize("port", ["1", "8000", "65535"])
def test_every_port_number_is_accepted(port: str) -> None:
    assert Settings.from_env({"DOCQA_CHROMA_PORT": port}).chroma_port == int(port)


@pytest.mark.parametrize(
    "name",
    ["DOCQA_INDEX_DIR", "DOCQA_SOURCE_DIR", "DOCQA_FEEDBACK_PATH", "DOCQA_MODEL_PATH"],
)
@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/tmp/" + "a" * 5000, "is 5,005 bytes long"),
        ("/tmp/" + "ab/" * 1400, f"a path may be at most {MAX_PATH_BYTES:,}"),
        ("/tmp/" + "é" * 128 + "/index", "holds a name of 256 bytes"),
    ],
)
def test_a_path_too_long_to_open_is_a_settings_error(name: str, path: str, message: str) -> None:
    with pytest.raises(SettingsError, match=f"^{name} .*{message}") as raised:
        Settings.from_env({name: path})
    assert len(str(raised.value)) < 300, "the path is quoted cut short, on one line"


def test_the_longest_paths_that_can_be_opened_are_accepted(tmp_path: Path) -> None:
    name = "n" * MAX_NAME_BYTES
    settings = Settings.from_env({"DOCQA_INDEX_DIR": str(tmp_path / name / "index")})
    assert settings.index_dir.parent.name == name


@pytest.mark.parametrize("name", ["DOCQA_INDEX_DIR", "DOCQA_SOURCE_DIR"])
def test_a_file_where_a_folder_should_be_is_a_settings_error(tmp_path: Path, name: str) -> None:
    file = tmp_path / "passwd"
    file.write_text("root:x:0:0", encoding="utf-8")
    with pytest.raises(SettingsError, match=f"^{name} .*passwd is a file, not a folder"):
        Settings.from_env({name: str(file)})
    with pytest.raises(SettingsError, match=f"^{name} .*lies under .*passwd, which is a file"):
        Settings.from_env({name: str(file / "inside")})
    assert file.read_text(encoding="utf-8") == "root:x:0:0"


def test_a_folder_where_the_feedback_file_should_be_is_a_settings_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"^DOCQA_FEEDBACK_PATH .* is a folder, not a file"):
        Settings.from_env({"DOCQA_FEEDBACK_PATH": str(tmp_path)})


def test_folders_that_do_not_exist_yet_are_fine(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "DOCQA_INDEX_DIR": str(tmp_path / "new" / "index"),
            "DOCQA_FEEDBACK_PATH": str(tmp_path / "new" / "feedback.jsonl"),
        }
    )
    assert settings.index_dir == tmp_path / "new" / "index"
    assert not (tmp_path / "new").exists(), "checking a setting creates nothing"


def test_keyword_overrides_are_checked_too(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="DOCQA_BATCH_SIZE"):
        Settings.from_env({}, batch_size=0)
    with pytest.raises(SettingsError, match=r"DOCQA_INDEX_DIR .* not a path"):
        Settings.from_env({}, index_dir=tmp_path / "nul\0byte")
