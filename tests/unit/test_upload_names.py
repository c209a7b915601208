"""The name an uploaded file is kept under while it is imported (``app.imports.file_name``)."""

from __future__ import annotations

from workflow.app.imports import MAX_NAME_BYTES, file_name, uploaded_file


def test_a_long_name_in_another_script_fits_a_file_system_and_keeps_its_suffix() -> None:
    sent = "申" * 150 + ".csv"  # 454 bytes in UTF-8: refused by the file system as it was
    name = file_name(sent)
    assert name.endswith(".csv") and name.startswith("申")
    assert len(name.encode()) <= MAX_NAME_BYTES
    with uploaded_file(sent, b"a;b\n") as path:  # written, then read back
        assert path.read_bytes() == b"a;b\n" and path.name == name


def test_names_are_cleaned_of_folders_and_control_characters() -> None:
    assert file_name("C:\\Users\\léa\\lots.csv") == "lots.csv"
    assert file_name("../../etc/lots\x00.csv") == "lots.csv"
    assert file_name("") == "fichier"
