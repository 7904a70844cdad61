"""Settings… : Engine (whether runs go to this computer or to a server) and LoRAs and
embeddings (the extra folders looked through)."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from studio.config.settings import EngineSettings
from studio.remote.connect import ServerCheck, address_problem
from studio.ui.server_probe import ServerProbe
from studio.ui.settings_addon_folders import AddOnFoldersPage


class EnginePage(QWidget):
    """Local or Remote; for Remote the server's address and token, and a Connect button that
    says in words what the server answered."""

    def __init__(self, chosen: EngineSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.local_button = QRadioButton("This computer")
        self.local_button.setToolTip("Runs use this computer's CPU or GPU.")
        self.remote_button = QRadioButton("A Studio server (studio serve)")
        self.remote_button.setToolTip("Runs go to a server, e.g. a GPU machine; images are saved here.")
        group = QButtonGroup(self)
        group.addButton(self.local_button)
        group.addButton(self.remote_button)
        self.url = QLineEdit(chosen.server_url)
        self.url.setPlaceholderText("http://127.0.0.1:8123")
        self.token = QLineEdit(chosen.token)
        self.token.setEchoMode(QLineEdit.EchoMode.Password)  # a password: not for someone looking on
        self.token.setPlaceholderText("the token studio serve printed")
        self.show_token = QCheckBox("Show")
        self.connect_button = QPushButton("Connect")
        self.connect_button.setToolTip("Ask the server what it has, without running anything")
        self.result = QLabel("")
        self.result.setObjectName("ConnectResult")
        self.result.setWordWrap(True)
        self.result.setTextFormat(Qt.TextFormat.PlainText)
        self.result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.probe = ServerProbe(self)
        self.last_check: ServerCheck | None = None

        token_row = QHBoxLayout()
        token_row.setContentsMargins(0, 0, 0, 0)
        token_row.addWidget(self.token, 1)
        token_row.addWidget(self.show_token)
        self.server_box = QWidget()
        form = QFormLayout(self.server_box)
        form.setContentsMargins(24, 0, 0, 0)
        form.addRow("Server address", self.url)
        form.addRow("Token", token_row)
        form.addRow("", self.connect_button)
        form.addRow(self.result)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Where runs go"))
        layout.addWidget(self.local_button)
        layout.addWidget(self.remote_button)
        layout.addWidget(self.server_box)
        layout.addStretch(1)

        (self.remote_button if chosen.remote else self.local_button).setChecked(True)
        self._on_kind_changed()
        self.remote_button.toggled.connect(self._on_kind_changed)
        self.show_token.toggled.connect(self._on_show_token)
        self.connect_button.clicked.connect(self.connect_to_server)
        self.probe.checked.connect(self._on_checked)
        self.url.textChanged.connect(self._forget_check)
        self.token.textChanged.connect(self._forget_check)

    def engine_settings(self) -> EngineSettings:
        return EngineSettings("remote" if self.remote_button.isChecked() else "local",
                              self.url.text().strip(), self.token.text().strip())

    def problem(self) -> str:
        """Why these settings cannot be kept, or ""."""
        if not self.remote_button.isChecked():
            return ""
        return address_problem(self.url.text()) or ("" if self.token.text().strip() else
                                                    "Enter the server's token: `studio serve` prints it.")

    @Slot()
    def connect_to_server(self) -> None:
        """Test the server on a background thread; the answer shows under the button."""
        self.connect_button.setEnabled(False)
        self.result.setText(f"Connecting to {self.url.text().strip() or 'the server'}…")
        self.probe.check(self.url.text(), self.token.text())

    @Slot(object)
    def _on_checked(self, check: ServerCheck) -> None:
        self.last_check = check
        self.connect_button.setEnabled(True)
        self.result.setProperty("connected", check.connected)
        self.result.setText(check.message)

    @Slot()
    def _forget_check(self) -> None:
        self.last_check = None

    @Slot()
    def _on_kind_changed(self) -> None:
        self.server_box.setEnabled(self.remote_button.isChecked())

    @Slot(bool)
    def _on_show_token(self, shown: bool) -> None:
        self.token.setEchoMode(QLineEdit.EchoMode.Normal if shown else QLineEdit.EchoMode.Password)


class SettingsDialog(QDialog):
    """Studio's settings; `engine_settings()` and `addon_folders()` are what the person chose
    once accepted."""

    def __init__(
        self,
        engine: EngineSettings,
        parent: QWidget | None = None,
        *,
        lora_folders: Sequence[str] = (),
        embedding_folders: Sequence[str] = (),
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.engine_page = EnginePage(engine)
        self.addon_page = AddOnFoldersPage(lora_folders, embedding_folders)
        self.pages = QTabWidget()
        self.pages.addTab(self.engine_page, "Engine")
        self.pages.addTab(self.addon_page, "LoRAs and embeddings")
        self.problem = QLabel("")
        self.problem.setWordWrap(True)
        self.problem.setTextFormat(Qt.TextFormat.PlainText)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self._on_ok)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.pages, 1)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)
        self.finished.connect(self._on_finished)
        # a problem told on OK stays only until the person changes what it was about
        for edit in (self.engine_page.url, self.engine_page.token):
            edit.textChanged.connect(self.problem.clear)
        self.engine_page.remote_button.toggled.connect(self.problem.clear)
        self.resize(520, 420)

    def engine_settings(self) -> EngineSettings:
        return self.engine_page.engine_settings()

    def addon_folders(self) -> tuple[list[str], list[str]]:
        """The extra LoRA folders and embedding folders."""
        return self.addon_page.folders()

    @Slot()
    def _on_ok(self) -> None:
        problem = self.engine_page.problem()
        if problem:
            self.problem.setText(problem)
            return
        self.accept()

    @Slot()
    def _on_finished(self) -> None:
        self.engine_page.probe.close()  # a Connect still on its way answers no one
