"""Generate › Optimize this model: the per-model opt-in to the compiled fast path.

The choice is kept in the settings (`fast_path_models`), which the engine reads at each run,
so it applies from the next run of a loaded model; turning it off takes effect when the model
is next loaded, because compiled code cannot be taken back out of a pipeline in place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QAction

if TYPE_CHECKING:
    from studio.ui.main_window import MainWindow

ON_NOTE = "{name} takes the fast path from its next run: the first run compiles it once (a minute or more)."
OFF_NOTE = "{name} leaves the fast path when it is next loaded (File › Rescan models or a restart)."


class FastPathToggle:
    """A checkable action that follows the model picker and writes the settings."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.action = QAction("Optimize this model (compile once)", window)
        self.action.setCheckable(True)
        self.action.setToolTip(
            "Compile this model with torch.compile for faster steps; the compiled code is kept on disk. "
            "Pictures stay the same within a level or two.")
        self.action.toggled.connect(self._on_toggled)
        window.parameters.model_box.currentIndexChanged.connect(self.follow)
        self.follow()

    def follow(self) -> None:
        """Check the action when the chosen model is on the fast path; off for a server's models."""
        entry = self.window.parameters.current_model()
        remote = self.window.settings.engine.remote
        self.action.setEnabled(entry is not None and not remote)
        chosen = entry is not None and entry.id in self.window.settings.fast_path_models
        self.action.blockSignals(True)
        self.action.setChecked(chosen)
        self.action.blockSignals(False)

    def _on_toggled(self, on: bool) -> None:
        entry = self.window.parameters.current_model()
        if entry is None:
            return
        models = [m for m in self.window.settings.fast_path_models if m != entry.id]
        if on:
            models.append(entry.id)
        self.window.settings.fast_path_models = models  # replaced whole: the worker reads it unlocked
        self.window.save_state()
        note = ON_NOTE if on else OFF_NOTE
        self.window.statusBar().showMessage(note.format(name=entry.name), 10000)
