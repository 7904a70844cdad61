"""The models page: what is installed, where it comes from, and adding or removing models.

Downloads run on their own QThread; progress crosses to the GUI thread by queued signals.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QThread, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QStyle,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.engine.catalogue.registry import ModelEntry, ModelRegistry
from studio.engine.errors import ModelError
from studio.engine.hub.plan import DownloadPlan, DownloadProgress, format_bytes
from studio.engine.run.cancel import CancelToken
from studio.ui.catalogue import ModelCatalogue
from studio.ui.download_worker import DownloadWorker, describe_progress
from studio.ui.pickle_consent import ask_pickle_consent
from studio.ui.widgets import plain_label, plain_tooltip

COLUMNS = ("Name", "Family", "Size", "Precision", "Source")
PICKLE_ALLOWED_NOTE = (
    "Pickle checkpoint: you allowed this file. Studio opens it in weights-only mode; if the "
    "file changes, Studio asks again."
)


class ModelsDialog(QDialog):
    """Lists models with family, size, precision and source; adds, downloads and removes them.

    Signals:
        models_changed(): the list of models changed; refresh model pickers.
        download_done(str): "finished", "cancelled" or "failed".
        start_download(str): (internal) hands a repo id to the download thread.
    """

    models_changed = Signal()
    download_done = Signal(str)
    start_download = Signal(str)

    def __init__(
        self, registry: ModelRegistry, parent: QWidget | None = None, *, catalogue: ModelCatalogue | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Models")
        self.resize(820, 480)
        self.registry = registry
        # With a catalogue the list is scanned off the GUI thread and shown when the scan is done.
        self.catalogue = catalogue
        if catalogue is not None:
            catalogue.changed.connect(self._on_catalogue_changed)
        self._entries: list[ModelEntry] = []
        self._thread: QThread | None = None
        self._worker: DownloadWorker | None = None
        self._cancel: CancelToken | None = None

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, len(COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.detail = plain_label(wrap=True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.add_button = QPushButton("Add folder…")
        self.remove_button = QPushButton("Remove from list")
        self.trash_button = QPushButton("Move to trash…")
        self.allow_button = QPushButton("Allow…")
        self.allow_button.setToolTip("Allow Studio to open this pickle checkpoint")
        self.refresh_button = QPushButton("Refresh")
        buttons = QHBoxLayout()
        for button in (self.add_button, self.remove_button, self.trash_button, self.allow_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.refresh_button)

        self.repo_edit = QLineEdit()
        self.repo_edit.setPlaceholderText("Hugging Face repo id, e.g. stabilityai/sdxl-turbo")
        self.download_button = QPushButton("Download")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setValue(0)
        self.progress_bar.setTextVisible(False)
        self.status = plain_label(wrap=True)
        download_row = QHBoxLayout()
        download_row.addWidget(self.repo_edit, 1)
        download_row.addWidget(self.download_button)
        download_row.addWidget(self.cancel_button)

        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.detail)
        layout.addLayout(buttons)
        layout.addWidget(plain_label("Download from Hugging Face"))
        layout.addLayout(download_row)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.status)

        self.table.itemSelectionChanged.connect(self._on_selection)
        self.add_button.clicked.connect(self._on_add_clicked)
        self.remove_button.clicked.connect(self._on_remove_clicked)
        self.trash_button.clicked.connect(self._on_trash_clicked)
        self.allow_button.clicked.connect(self._on_allow_clicked)
        self.refresh_button.clicked.connect(self.refresh)
        self.download_button.clicked.connect(self._on_download_clicked)
        self.repo_edit.returnPressed.connect(self._on_download_clicked)
        self.cancel_button.clicked.connect(self._on_cancel_clicked)
        self.refresh()
        self._offer_resume()

    def _offer_resume(self) -> None:
        unfinished = self.registry.unfinished_downloads()
        if unfinished:
            self.repo_edit.setText(unfinished[0])
            self.status.setText(
                f"The download of {unfinished[0]} did not finish. Press Download to continue "
                "where it stopped."
            )

    # The list

    @Slot()
    def refresh(self) -> None:
        if self.catalogue is not None:
            self.catalogue.refresh()
            self._show(self.catalogue.entries())
        else:
            self._show(self.registry.entries())

    @Slot()
    def _on_catalogue_changed(self) -> None:
        if self.catalogue is not None:
            self._show(self.catalogue.entries())

    def _show(self, entries: list[ModelEntry]) -> None:
        selected = self.selected_entry()
        self._entries = entries
        self.table.setRowCount(len(self._entries))
        warning = self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        for row, entry in enumerate(self._entries):
            cells = (
                entry.display_name,
                f"{entry.family} (pickle)" if entry.is_pickle else entry.family,
                format_bytes(entry.size_bytes) if entry.size_bytes else "",
                entry.precision or "unknown",
                entry.source,
            )
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column == 0:
                    item.setToolTip(plain_tooltip("\n".join(self._describe(entry))))
                    if entry.is_pickle and not self._allowed(entry):
                        item.setIcon(warning)
                self.table.setItem(row, column, item)
            if selected is not None and entry.id == selected.id:
                self.table.selectRow(row)
        self._on_selection()

    def selected_entry(self) -> ModelEntry | None:
        rows = {index.row() for index in self.table.selectionModel().selectedRows()}
        if len(rows) != 1:
            return None
        row = rows.pop()
        return self._entries[row] if row < len(self._entries) else None

    def select(self, entry_id: str) -> None:
        for row, entry in enumerate(self._entries):
            if entry.id == entry_id:
                self.table.selectRow(row)
                return

    @Slot()
    def _on_selection(self) -> None:
        entry = self.selected_entry()
        self.remove_button.setEnabled(entry is not None and not entry.bundled)
        self.trash_button.setEnabled(entry is not None and entry.owned)
        allowed = entry is not None and self._allowed(entry)
        self.allow_button.setEnabled(entry is not None and entry.is_pickle)
        self.allow_button.setText("Withdraw permission" if allowed else "Allow…")
        self.allow_button.setToolTip(
            "Studio will ask again before it next opens this file"
            if allowed
            else "Allow Studio to open this pickle checkpoint"
        )
        self.detail.setText("\n".join(self._describe(entry)) if entry is not None else "")

    def _describe(self, entry: ModelEntry) -> list[str]:
        lines = [str(entry.path)]
        if entry.is_pickle:
            lines.append(PICKLE_ALLOWED_NOTE if self._allowed(entry) else entry.description)
        if entry.problem:
            lines.append(entry.problem)
        return lines

    def _allowed(self, entry: ModelEntry) -> bool:
        return entry.is_pickle and self.registry.pickle_consent.allows(entry.path)

    # Pickle consent

    @Slot()
    def _on_allow_clicked(self) -> None:
        entry = self.selected_entry()
        if entry is None or not entry.is_pickle:
            return
        if self._allowed(entry):
            self.withdraw(entry)
        else:
            self.allow(entry)

    def allow(self, entry: ModelEntry) -> bool:
        """Ask whether the pickle file may be opened; record a yes. True when allowed."""
        if not ask_pickle_consent(self, entry.path, allow_text="Allow"):
            return False
        try:
            self.registry.pickle_consent.allow(entry.path)
        except OSError as error:
            self._show_message("Cannot allow this file", f"{entry.path}: {error}")
            return False
        self.refresh()
        return True

    def withdraw(self, entry: ModelEntry) -> None:
        """Forget the permission for a pickle file; loading it asks again."""
        try:
            self.registry.pickle_consent.revoke(entry.path)
        except OSError as error:
            self._show_message("Cannot withdraw the permission", f"{entry.path}: {error}")
            return
        self.refresh()

    # Adding and removing

    @Slot()
    def _on_add_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a model folder")
        if folder:
            self.add_folder(Path(folder))

    def add_folder(self, folder: Path) -> bool:
        try:
            brought = self.registry.add_folder(folder)
        except ModelError as error:
            self._show_message("This folder cannot be added", str(error))
            return False
        self._changed()
        if brought:
            self.select(brought[0].id)
        return True

    @Slot()
    def _on_remove_clicked(self) -> None:
        entry = self.selected_entry()
        if entry is None or entry.bundled:
            return
        self._ask(
            "Remove from list",
            f"Stop listing {entry.name}? Its files stay where they are:\n{entry.path}",
            lambda: self._remove(entry),
        )

    @Slot()
    def _on_trash_clicked(self) -> None:
        entry = self.selected_entry()
        if entry is None or not entry.owned:
            return
        size = format_bytes(entry.size_bytes)
        self._ask(
            "Move to trash",
            f"Move {entry.name} ({size}) to the trash? You can restore it from there.",
            lambda: self._trash(entry),
        )

    def _remove(self, entry: ModelEntry) -> None:
        try:
            self.registry.remove_from_list(entry)
        except ModelError as error:
            self._show_message("Cannot remove", str(error))
            return
        self._changed()

    def _trash(self, entry: ModelEntry) -> None:
        try:
            self.registry.move_to_trash(entry)
        except ModelError as error:
            self._show_message("Cannot move to the trash", str(error))
            return
        self._changed()

    def _changed(self) -> None:
        self.refresh()
        self.models_changed.emit()

    def _ask(self, title: str, text: str, on_yes: object) -> None:
        """A window-modal question that does not block: tests and the event loop keep going."""
        box = QMessageBox(self)
        box.setWindowTitle(title)
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setText(text)
        box.setIcon(QMessageBox.Icon.Question)
        box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def finished(result: int) -> None:
            if result == QMessageBox.StandardButton.Yes.value and callable(on_yes):
                on_yes()

        box.finished.connect(finished)
        box.open()

    def _show_message(self, title: str, text: str) -> None:
        box = QMessageBox(self)
        box.setWindowTitle(title)
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setText(text)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    # Downloading

    @property
    def downloading(self) -> bool:
        return self._thread is not None

    @Slot()
    def _on_download_clicked(self) -> None:
        repo_id = self.repo_edit.text().strip()
        if not repo_id or self.downloading:
            return
        self._cancel = CancelToken()
        self._thread = QThread(self)
        self._worker = DownloadWorker(self._cancel)
        self._worker.moveToThread(self._thread)
        self.start_download.connect(self._worker.run)
        self._worker.planned.connect(self._on_planned)
        self._worker.progress.connect(self._on_progress)
        self._worker.finished.connect(self._on_finished)
        self._worker.cancelled.connect(self._on_cancelled)
        self._worker.failed.connect(self._on_failed)
        self._thread.finished.connect(self._worker.deleteLater)
        self._thread.start()
        self.download_button.setEnabled(False)
        self.repo_edit.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress_bar.setValue(0)
        self.status.setText(f"Looking up {repo_id}…")
        self.start_download.emit(repo_id)

    @Slot()
    def _on_cancel_clicked(self) -> None:
        if self._cancel is not None:
            self._cancel.cancel()
            self.cancel_button.setEnabled(False)
            self.status.setText("Stopping the download…")

    @Slot(object)
    def _on_planned(self, plan: DownloadPlan) -> None:
        self.registry.record_download_started(plan.repo_id)
        self.status.setText(
            f"{plan.repo_id}: {len(plan.files)} files, {format_bytes(plan.total_bytes)}"
        )

    @Slot(object)
    def _on_progress(self, progress: DownloadProgress) -> None:
        self.progress_bar.setValue(round(progress.fraction * 1000))
        self.status.setText(describe_progress(progress))

    @Slot(str, str)
    def _on_finished(self, repo_id: str, snapshot: str) -> None:
        self.registry.record_download(repo_id)
        self._end_download(f"{repo_id} is downloaded and ready.", "finished")
        self.progress_bar.setValue(1000)
        self._changed()
        self.select(repo_id)
        self.repo_edit.clear()

    @Slot(str)
    def _on_cancelled(self, repo_id: str) -> None:
        self._end_download(
            f"The download of {repo_id} was stopped. Download it again to continue where it "
            "stopped.",
            "cancelled",
        )

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self._end_download(message, "failed")

    def _end_download(self, message: str, outcome: str) -> None:
        self._stop_thread()
        self.status.setText(message)
        self.download_button.setEnabled(True)
        self.repo_edit.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.download_done.emit(outcome)

    def _stop_thread(self) -> None:
        if self._thread is None:
            return
        if self._cancel is not None:
            self._cancel.cancel()
        if self._worker is not None:
            self.start_download.disconnect(self._worker.run)
        self._thread.quit()
        self._thread.wait()
        self._thread.deleteLater()
        self._thread = None
        self._worker = None
        self._cancel = None

    def done(self, result: int) -> None:
        """Closing the page stops a running download; what arrived stays for a resume."""
        self._stop_thread()
        super().done(result)
