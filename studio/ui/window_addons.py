"""LoRAs and embeddings in the main window: one shared list of the library feeds the prompt
boxes' colours and name completion and the picker dock, and is scanned again on a rescan or
when the folders in Settings change."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Qt, Slot
from PySide6.QtWidgets import QDockWidget, QPlainTextEdit, QToolButton

from studio.engine.loras.library import AddOnLibrary
from studio.ui.addon_catalogue import AddOnCatalogue
from studio.ui.addon_picker import AddOnPicker
from studio.ui.prompt_completion import NameCompletion
from studio.ui.prompt_highlighter import PromptHighlighter

if TYPE_CHECKING:
    from studio.ui.main_window import MainWindow

PICKER_SHORTCUT = "Ctrl+Shift+L"

Folders = tuple[tuple[str, ...], tuple[str, ...]]


class WindowAddOns(QObject):
    """The window's LoRA and embedding list, the prompt boxes' helpers and the picker dock."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self._folders = self._settings_folders()
        self.catalogue = AddOnCatalogue(AddOnLibrary.for_studio(window.paths, window.settings), self)
        boxes = (window.parameters.prompt, window.parameters.negative)
        self.highlighters = [PromptHighlighter(box.document(), self.catalogue) for box in boxes]
        self.completions = [NameCompletion(box, self.catalogue) for box in boxes]
        self._target: QPlainTextEdit = window.parameters.prompt
        self.picker = AddOnPicker(self.catalogue, window.paths, self.target)
        self.picker.message.connect(lambda text: window.statusBar().showMessage(text, 6000))
        self.picker.rescan_requested.connect(self.rescan)
        self.dock = QDockWidget("LoRAs and embeddings", window)
        self.dock.setObjectName("dock-addon-picker")
        self.dock.setWidget(self.picker)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
        self.dock.hide()
        self.toggle_action = self.dock.toggleViewAction()
        self.toggle_action.setText("LoRAs and embeddings")
        self.toggle_action.setIconText("LoRAs")  # the button beside the prompt stays narrow
        self.toggle_action.setShortcut(PICKER_SHORTCUT)
        self.toggle_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.toggle_action.setToolTip(f"Show the LoRA and embedding picker ({PICKER_SHORTCUT})")
        window.addAction(self.toggle_action)
        self.button = QToolButton()
        self.button.setObjectName("AddOnPickerButton")
        self.button.setDefaultAction(self.toggle_action)
        window.parameters.add_style_picker(self.button)  # in the prompt's head row, at the right
        window.parameters.model_box.currentIndexChanged.connect(self._on_model_chosen)
        for box in boxes:
            box.installEventFilter(self)
        self.dock.visibilityChanged.connect(self._on_dock_visible)
        self._on_model_chosen()
        self.catalogue.refresh()

    def target(self) -> QPlainTextEdit:
        """The prompt box last typed in (the prompt until the negative prompt has had the focus)."""
        return self._target

    @Slot()
    def rescan(self) -> None:
        """Scan again, with the folders Settings names now."""
        folders = self._settings_folders()
        if folders != self._folders:
            self._folders = folders
            self.catalogue.library = AddOnLibrary.for_studio(self.window.paths, self.window.settings)
        self.catalogue.refresh()

    def close(self) -> None:
        self.catalogue.close()

    def _settings_folders(self) -> Folders:
        settings = self.window.settings
        return tuple(settings.lora_folders), tuple(settings.embedding_folders)

    @Slot()
    def _on_model_chosen(self) -> None:
        entry = self.window.parameters.current_model()
        self.picker.set_model_family(entry.family if entry is not None else "")

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.FocusIn and isinstance(watched, QPlainTextEdit):
            self._target = watched
        return False

    @Slot(bool)
    def _on_dock_visible(self, visible: bool) -> None:
        if visible:
            self.picker.search.setFocus()
