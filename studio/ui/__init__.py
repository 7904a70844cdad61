"""PySide6 layer: the main window, panels, item models and the GPU worker."""
