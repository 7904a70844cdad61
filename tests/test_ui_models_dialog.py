"""The models page with real widgets, a real registry and a local hub server."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from studio.config.paths import StudioPaths
from studio.engine.catalogue.registry import DOWNLOADED, MODELS_FOLDER, ModelRegistry
from studio.ui.models_dialog import COLUMNS, ModelsDialog
from tests.hub_server import HubServer, ServedRepo, point_hf_at

REPO = "tiny-org/tiny-sd"
# The offscreen platform cannot resize native windows; it says so when a message box opens.
offscreen_message_box = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


@pytest.fixture
def hub(tiny_sd_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[HubServer]:
    with HubServer() as server:
        server.repos[REPO] = ServedRepo.from_folder(tiny_sd_model)
        point_hf_at(server, tmp_path / "hf", monkeypatch)
        yield server


@pytest.fixture
def dialog(qtbot, studio_paths: StudioPaths, hub: HubServer) -> ModelsDialog:  # type: ignore[no-untyped-def]
    page = ModelsDialog(ModelRegistry(studio_paths))
    qtbot.addWidget(page)
    return page


def _rows(page: ModelsDialog) -> list[dict[str, str]]:
    return [
        {COLUMNS[c]: page.table.item(r, c).text() for c in range(len(COLUMNS))}
        for r in range(page.table.rowCount())
    ]


def _answer(page: ModelsDialog, button: QMessageBox.StandardButton) -> None:
    box = next(b for b in page.findChildren(QMessageBox) if b.isVisible())
    assert box.textFormat() == Qt.TextFormat.PlainText
    box.button(button).click()


def test_lists_models_with_family_size_precision_source(
    qtbot, studio_paths: StudioPaths, tiny_sd_model: Path, hub: HubServer  # type: ignore[no-untyped-def]
) -> None:
    shutil.copytree(tiny_sd_model, studio_paths.models_dir / "mine")
    page = ModelsDialog(ModelRegistry(studio_paths))
    qtbot.addWidget(page)
    row = next(r for r in _rows(page) if r["Name"] == "mine")
    entry = next(e for e in page.registry.entries() if e.name == "mine")
    assert row["Source"] == MODELS_FOLDER
    assert row["Family"] == entry.family
    assert row["Precision"] == "fp32"
    assert row["Size"].endswith("KB") or row["Size"].endswith("MB")


def test_download_shows_progress_then_lists_the_model(
    qtbot, dialog: ModelsDialog, hub: HubServer  # type: ignore[no-untyped-def]
) -> None:
    values: list[int] = []
    dialog.progress_bar.valueChanged.connect(values.append)
    dialog.repo_edit.setText(REPO)
    with qtbot.waitSignals([dialog.models_changed, dialog.download_done], timeout=60_000):
        qtbot.mouseClick(dialog.download_button, Qt.MouseButton.LeftButton)
    assert values[-1] == dialog.progress_bar.maximum()
    assert values == sorted(values)
    assert "ready" in dialog.status.text()
    row = next(r for r in _rows(dialog) if r["Name"] == REPO)
    assert row["Source"] == DOWNLOADED
    assert dialog.selected_entry() is not None and dialog.selected_entry().id == REPO
    assert dialog.trash_button.isEnabled()
    assert not dialog.downloading


def test_cancel_then_resume(qtbot, dialog: ModelsDialog, hub: HubServer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    hub.pause_s = 0.02  # slow enough to press Cancel mid-download
    dialog.repo_edit.setText(REPO)
    with qtbot.waitSignal(dialog.download_done, timeout=60_000) as outcome:
        qtbot.mouseClick(dialog.download_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: dialog.progress_bar.value() > 0, timeout=30_000)
        qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    assert outcome.args == ["cancelled"]
    assert "stopped" in dialog.status.text()
    assert REPO not in [r["Name"] for r in _rows(dialog)]
    snapshots = tmp_path / "hf" / "hub" / "models--tiny-org--tiny-sd" / "snapshots"
    commit = snapshots / hub.repos[REPO].commit
    finished = [p.relative_to(commit).as_posix() for p in commit.rglob("*") if p.is_file()]
    gets_before = {path: len(hub.log.gets(path)) for path in finished}

    # the page opened later (after a restart) offers to resume
    hub.pause_s = 0.0
    dialog.close()
    dialog = ModelsDialog(dialog.registry)
    qtbot.addWidget(dialog)
    assert dialog.repo_edit.text() == REPO
    assert "did not finish" in dialog.status.text()
    with qtbot.waitSignal(dialog.download_done, timeout=60_000) as outcome:
        qtbot.mouseClick(dialog.download_button, Qt.MouseButton.LeftButton)
    assert outcome.args == ["finished"]
    assert dialog.registry.unfinished_downloads() == []
    for path, count in gets_before.items():
        if path != "model_index.json":  # each plan reads that one
            assert len(hub.log.gets(path)) == count, f"{path} was fetched again"
    assert REPO in [r["Name"] for r in _rows(dialog)]


def test_a_missing_repo_is_reported(qtbot, dialog: ModelsDialog) -> None:  # type: ignore[no-untyped-def]
    dialog.repo_edit.setText("nobody/nothing")
    with qtbot.waitSignal(dialog.download_done, timeout=30_000) as outcome:
        qtbot.mouseClick(dialog.download_button, Qt.MouseButton.LeftButton)
    assert outcome.args == ["failed"]
    assert "There is no model nobody/nothing" in dialog.status.text()
    assert dialog.download_button.isEnabled()


def test_closing_during_a_download_stops_it(qtbot, dialog: ModelsDialog, hub: HubServer) -> None:  # type: ignore[no-untyped-def]
    hub.pause_s = 0.02
    dialog.repo_edit.setText(REPO)
    qtbot.mouseClick(dialog.download_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.progress_bar.value() > 0, timeout=30_000)
    dialog.reject()
    assert not dialog.downloading


@offscreen_message_box
def test_add_folder_and_remove_it_with_confirmation(
    qtbot, dialog: ModelsDialog, tiny_sd_model: Path, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    folder = tmp_path / "my-model"
    shutil.copytree(tiny_sd_model, folder)
    with qtbot.waitSignal(dialog.models_changed):
        assert dialog.add_folder(folder)
    assert dialog.selected_entry() is not None and dialog.selected_entry().path == folder
    assert not dialog.trash_button.isEnabled()  # not Studio's own files

    qtbot.mouseClick(dialog.remove_button, Qt.MouseButton.LeftButton)
    _answer(dialog, QMessageBox.StandardButton.Cancel)
    assert "my-model" in [r["Name"] for r in _rows(dialog)]

    qtbot.mouseClick(dialog.remove_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(dialog.models_changed):
        _answer(dialog, QMessageBox.StandardButton.Yes)
    assert "my-model" not in [r["Name"] for r in _rows(dialog)]
    assert folder.is_dir()


@offscreen_message_box
def test_adding_a_folder_without_a_model_explains(
    qtbot, dialog: ModelsDialog, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    (tmp_path / "empty").mkdir()
    assert not dialog.add_folder(tmp_path / "empty")
    box = next(b for b in dialog.findChildren(QMessageBox) if b.isVisible())
    assert box.textFormat() == Qt.TextFormat.PlainText
    assert "holds no model" in box.text()
    box.close()


@offscreen_message_box
def test_owned_download_goes_to_the_trash_after_confirmation(
    qtbot, dialog: ModelsDialog, hub: HubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch  # type: ignore[no-untyped-def]
) -> None:
    import os

    import send2trash.plat_other as trash_impl

    data_home = tmp_path / "xdg-data"
    data_home.mkdir()
    monkeypatch.setattr(trash_impl, "XDG_DATA_HOME", os.fsencode(data_home))
    monkeypatch.setattr(trash_impl, "HOMETRASH_B", os.fsencode(data_home / "Trash"))

    dialog.repo_edit.setText(REPO)
    with qtbot.waitSignal(dialog.download_done, timeout=60_000):
        qtbot.mouseClick(dialog.download_button, Qt.MouseButton.LeftButton)
    dialog.select(REPO)
    qtbot.mouseClick(dialog.trash_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(dialog.models_changed):
        _answer(dialog, QMessageBox.StandardButton.Yes)
    assert REPO not in [r["Name"] for r in _rows(dialog)]
    assert (data_home / "Trash" / "files" / "models--tiny-org--tiny-sd").is_dir()


def test_progress_reads_as_words() -> None:
    from studio.engine.hub.plan import DownloadProgress
    from studio.ui.download_worker import describe_progress

    text = describe_progress(DownloadProgress(1_500_000, 6_000_000, 500_000.0, 9.0, "a", 2, 7))
    assert text == "1.5 MB of 6.0 MB · 500.0 KB/s · 9 s left · file 3 of 7"
    done = describe_progress(DownloadProgress(6_000_000, 6_000_000, 0.0, 0.0, "a", 7, 7))
    assert done == "6.0 MB of 6.0 MB · file 7 of 7"


def _answer_consent_with(button: str) -> list[str]:
    """Answer the next pickle question (a modal box) with `button`; returns its text once shown."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    seen: list[str] = []

    def poll() -> None:
        for widget in QApplication.topLevelWidgets():
            if isinstance(widget, QMessageBox) and widget.objectName() == "PickleConsentBox" \
                    and widget.isVisible():
                assert widget.textFormat() == Qt.TextFormat.PlainText
                seen.append(widget.text())
                next(b for b in widget.buttons() if b.text().replace("&", "") == button).click()
                return
        QTimer.singleShot(20, poll)

    QTimer.singleShot(20, poll)
    return seen


@offscreen_message_box
def test_a_pickle_entry_is_marked_and_can_be_allowed_up_front(
    qtbot, studio_paths: StudioPaths  # type: ignore[no-untyped-def]
) -> None:
    from studio.ui.pickle_consent import consent_question

    studio_paths.models_dir.mkdir(parents=True)
    file = studio_paths.models_dir / "dreamy-mix.ckpt"
    file.write_bytes(b"\x80\x05 not even a whole pickle")  # listing must not read it
    page = ModelsDialog(ModelRegistry(studio_paths, hf_cache=studio_paths.cache_dir / "hf"))
    qtbot.addWidget(page)
    row = next(i for i, r in enumerate(_rows(page)) if r["Name"] == "dreamy-mix")
    assert _rows(page)[row]["Family"] == "unknown (pickle)"
    assert _rows(page)[row]["Source"] == MODELS_FOLDER
    name = page.table.item(row, 0)
    assert not name.icon().isNull()  # the warning marker
    assert "needs your permission to open" in name.toolTip()
    assert not page.allow_button.isEnabled()  # nothing selected yet

    page.select(str(file))
    assert page.allow_button.isEnabled()
    assert "needs your permission to open" in page.detail.text()
    asked = _answer_consent_with("Cancel")
    qtbot.mouseClick(page.allow_button, Qt.MouseButton.LeftButton)
    assert asked == [consent_question(file)]  # the same question the window asks
    assert not page.registry.pickle_consent.allows(file)
    assert not page.registry.pickle_consent_file.exists()

    asked = _answer_consent_with("Allow")
    qtbot.mouseClick(page.allow_button, Qt.MouseButton.LeftButton)
    assert len(asked) == 1
    assert ModelRegistry(studio_paths).pickle_consent.allows(file)  # kept on disk
    assert page.selected_entry() is not None and page.selected_entry().path == file
    assert page.table.item(row, 0).icon().isNull()
    assert page.allow_button.text() == "Withdraw permission"
    assert "you allowed this file" in page.detail.text()

    qtbot.mouseClick(page.allow_button, Qt.MouseButton.LeftButton)  # no question to take it back
    assert not ModelRegistry(studio_paths).pickle_consent.allows(file)
    assert page.allow_button.text() == "Allow…"
    assert not page.table.item(row, 0).icon().isNull()
