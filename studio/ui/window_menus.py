"""The main window's menus and shortcuts, and the commands only they reach: the folders, the
models page, the settings, the help."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import QMessageBox

from studio.ui.fast_path_toggle import FastPathToggle
from studio.ui.theme import icon

if TYPE_CHECKING:
    from studio.config.settings import EngineSettings
    from studio.ui.main_window import MainWindow

Key = QKeySequence | QKeySequence.StandardKey | str


def add_action(window: MainWindow, text: str, slot: Callable[[], object], *keys: Key) -> QAction:
    """An action of the window whose shortcuts work even where the menu bar is hidden."""
    action = QAction(text, window)
    if keys:
        action.setShortcuts([QKeySequence(k) for k in keys])
    action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    action.triggered.connect(slot)
    window.addAction(action)
    return action


def build_menus(window: MainWindow) -> None:
    """File, Generate and Help; the window keeps the actions its state enables and disables."""
    w = window
    w.generate_action = add_action(w, "Generate", w.generate, "Ctrl+Return", "Ctrl+Enter")
    w.generate_action.setIcon(icon("generate"))
    w.cancel_action = add_action(w, "Cancel run", w.cancel, "Esc")
    w.cancel_action.setIcon(icon("cancel"))
    w.clear_queue_action = add_action(w, "Clear queue", w.controller.clear_queue, "Ctrl+Shift+Backspace")
    w.random_action = add_action(w, "Random seed", w.parameters.random_button.toggle, "Ctrl+Shift+D")
    w.reuse_action = add_action(w, "Reuse last seed", w.parameters.reuse_last_seed, "Ctrl+Shift+R")
    focus = add_action(w, "Edit prompt", w.parameters.prompt.setFocus, "Ctrl+L")
    paste = add_action(w, "Paste start image", w.paste_start_image, "Ctrl+Shift+V")
    gallery = add_action(w, "Open gallery folder", lambda: open_folder(w, w.gallery_dir()))
    gallery.setIcon(icon("folder"))
    models = add_action(w, "Open models folder", lambda: open_folder(w, w.paths.models_dir))
    models.setIcon(icon("model"))
    refresh = add_action(w, "Rescan models", w.rescan_models, "F5")
    manage = add_action(w, "Manage models…", partial(manage_models, w), "Ctrl+M")
    quit_action = add_action(w, "Quit", w.close, QKeySequence.StandardKey.Quit)
    preferences = QKeySequence(QKeySequence.StandardKey.Preferences)
    keys = [k for k in (preferences, QKeySequence("Ctrl+,")) if not k.isEmpty()]
    settings = add_action(w, "Settings…", partial(open_settings, w), *dict.fromkeys(keys))
    settings.setMenuRole(QAction.MenuRole.PreferencesRole)

    menu = w.menuBar()
    file_menu = menu.addMenu("&File")
    file_menu.addActions([gallery, models, manage, refresh])
    file_menu.addSeparator()
    file_menu.addAction(settings)
    file_menu.addSeparator()
    file_menu.addAction(quit_action)
    run_menu = menu.addMenu("&Generate")
    run_menu.addActions([w.generate_action, w.cancel_action, w.clear_queue_action])
    run_menu.addSeparator()
    run_menu.addActions([w.random_action, w.reuse_action, focus, paste])
    run_menu.addAction(w.addons.toggle_action)
    run_menu.addSeparator()
    run_menu.addAction(add_action(w, "X/Y/Z grid…", w.open_grid_dialog))
    run_menu.addSeparator()
    w.fast_path_toggle = FastPathToggle(w)
    run_menu.addAction(w.fast_path_toggle.action)
    help_menu = menu.addMenu("&Help")
    help_menu.addAction(add_action(w, "About models", partial(about_models, w)))


def open_folder(window: MainWindow, folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        window.show_error(f"Could not create {folder}: {error}")
        return
    QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))


def manage_models(window: MainWindow) -> None:
    from studio.ui.models_dialog import ModelsDialog  # loaded on first use, not at start

    dialog = ModelsDialog(window.registry, window, catalogue=window.catalogue)
    dialog.models_changed.connect(window.rescan_models)
    dialog.exec()
    dialog.deleteLater()


def open_settings(window: MainWindow) -> Any:
    """Show the settings (not blocking: the window goes on running); OK applies them."""
    from studio.ui.settings_dialog import SettingsDialog  # loaded on first use

    settings = window.settings
    dialog = SettingsDialog(settings.engine, window, lora_folders=settings.lora_folders,
                            embedding_folders=settings.embedding_folders)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.accepted.connect(lambda: apply_engine(window, dialog.engine_settings()))
    dialog.accepted.connect(lambda: apply_addon_folders(window, *dialog.addon_folders()))
    dialog.accepted.connect(window.addons.rescan)  # after the folders are in the settings
    dialog.open()
    window.settings_dialog = dialog
    return dialog


def apply_engine(window: MainWindow, chosen: EngineSettings) -> None:
    """Send runs where `chosen` says from the next job on; saved with the other settings."""
    if chosen == window.settings.engine:
        window.controller.resume_waiting()  # OK on the same server: it may be back
        return
    was_remote = window.settings.engine.remote
    window.settings.engine = chosen
    window.save_state()
    window.controller.switch_engine()
    window.run_place.refresh()
    window.fast_path_toggle.follow()
    if was_remote and not chosen.remote:  # back to this computer's models
        window.run_place.last_check = None
        window._on_catalogue_changed()
    window.statusBar().showMessage(
        f"Runs go to {chosen.server_url} from the next job on." if chosen.remote
        else "Runs go to this computer from the next job on.", 8000)


def apply_addon_folders(window: MainWindow, lora_folders: list[str], embedding_folders: list[str]) -> None:
    """Keep the extra LoRA and embedding folders; the rescan that follows looks through them."""
    settings = window.settings
    if (lora_folders, embedding_folders) == (settings.lora_folders, settings.embedding_folders):
        return
    settings.lora_folders = list(lora_folders)
    settings.embedding_folders = list(embedding_folders)
    window.save_state()


def about_models(window: MainWindow) -> None:
    box = QMessageBox(window)
    box.setWindowTitle("About models")
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.setText(
        "Studio comes with a small demo model that knows simple coloured shapes at "
        "64×64 pixels, so it works out of the box and offline.\n\n"
        "For real images, put a diffusers model folder (one with model_index.json, "
        "e.g. a Stable Diffusion 1.5 or SDXL download) into:\n\n"
        f"{window.paths.models_dir}\n\nthen choose File › Rescan models (F5)."
    )
    box.exec()
