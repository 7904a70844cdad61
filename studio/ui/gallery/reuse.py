"""Reusing an image's parameters: what would change in the controls, shown before it applies."""

from __future__ import annotations

import dataclasses
from enum import Enum
from typing import Protocol

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QLayout,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from studio.engine.run.request import DEFAULT_MODEL, GenerationRequest
from studio.library.metadata import ImageMetadata
from studio.ui.widgets import plain_label, section_label

FIELD_NAMES = {
    "prompt": "Prompt",
    "negative_prompt": "Negative prompt",
    "seed": "Seed",
    "steps": "Steps",
    "guidance": "Guidance",
    "width": "Width",
    "height": "Height",
    "scheduler": "Sampler",
    "model": "Model",
    "batch": "Images",
    "start_image": "Start image",
    "strength": "Strength",
    "mask": "Mask",
    "mask_blur": "Mask blur",
    "masked_area_only": "Only the masked area",
    "outpaint": "Extend",
    "fit": "Fit",
    "variation_seed": "Variation seed",
    "variation_strength": "Variation strength",
    "hires_scale": "Hires scale",
    "hires_strength": "Hires strength",
    "hires_steps": "Hires steps",
    "hires_upscaler": "Hires upscaler",
}
SHOWN_CHARS = 160
CHECKED_FIELDS = ("seed", "steps", "guidance", "width", "height")


DIALOG_STYLE = """
QLabel#ReuseHeadline { font-size: 14px; font-weight: 600; padding-bottom: 4px; }
QLabel#ReuseBefore { color: #8d93a0; }
QLabel#ReuseAfter { color: #ffffff; }
QLabel#ReuseNotes { color: #f0a35e; }
QPushButton#ApplyButton { background: #6d5fe0; border: 1px solid #7c6cf2; color: #ffffff; }
QPushButton#ApplyButton:hover { background: #7c6cf2; }
QPushButton#ApplyButton:disabled { background: #2a2c33; border-color: #33363f; color: #5d626d; }
"""


class ParameterControls(Protocol):
    """What reuse needs of the parameter panel (ParametersPanel provides it)."""

    def request(self) -> GenerationRequest: ...

    def apply_request(self, request: GenerationRequest) -> None: ...


class ReuseMode(Enum):
    ALL = "all parameters"
    PROMPT = "the prompt"
    SEED = "the seed"


@dataclasses.dataclass(frozen=True)
class Change:
    field: str  # GenerationRequest field name
    before: object
    after: object

    @property
    def label(self) -> str:
        return FIELD_NAMES.get(self.field, self.field)


def reused_request(
    current: GenerationRequest, meta: ImageMetadata, mode: ReuseMode
) -> tuple[GenerationRequest | None, list[str]]:
    """The request the controls would hold after reuse, and notes on what could not be used.

    The image's batch size is not a property of the image: the current one is kept, as is the
    current model when the file names none Studio knows.
    """
    notes = list(meta.problems)
    if mode is ReuseMode.SEED:
        if meta.seed is None:
            return None, [*notes, "The image does not say which seed made it."]
        if _invalid(current.replace(seed=meta.seed), current):
            return None, [*notes, f"Seed {meta.seed} is outside what Studio accepts."]
        return current.replace(seed=meta.seed), notes
    if meta.prompt is None:
        return None, [*notes, "The image does not say which prompt made it."]
    if mode is ReuseMode.PROMPT:
        return (
            current.replace(prompt=meta.prompt, negative_prompt=meta.negative_prompt or ""),
            notes,
        )
    source = meta.request
    if source is None:
        return None, [*notes, "The image's parameters could not be turned into a request."]
    model = source.model if source.model != DEFAULT_MODEL else current.model
    if meta.model and source.model == DEFAULT_MODEL:
        notes.append(f"Model {meta.model!r} is not a Studio model id; the current model is kept.")
    if meta.sampler and meta.scheduler is None:
        notes.append(f"Sampler kept as {current.scheduler!r}.")
    target = source.replace(model=model, batch=current.batch)
    for name in CHECKED_FIELDS:
        value, kept = getattr(target, name), getattr(current, name)
        if value != kept and _invalid(current.replace(**{name: value}), current):
            target = target.replace(**{name: kept})
            notes.append(
                f"{FIELD_NAMES[name]} {value} is outside what Studio accepts; "
                f"kept {shown(kept)}."
            )
    return target, _unique(notes)


def _invalid(candidate: GenerationRequest, current: GenerationRequest) -> bool:
    return len(candidate.problems()) > len(current.problems())


def changes(before: GenerationRequest, after: GenerationRequest) -> list[Change]:
    """Each field whose value differs, in the order the controls show them."""
    found = []
    for name in FIELD_NAMES:
        old, new = getattr(before, name), getattr(after, name)
        if old != new:
            found.append(Change(name, old, new))
    return found


def shown(value: object) -> str:
    if value is None:
        return "random"
    if value == "":
        return "(empty)"
    text = " ".join(str(value).split())
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…"


class ReuseDialog(QDialog):
    """Lists `field: current -> new` and any notes; Apply changes the controls."""

    def __init__(
        self,
        found: list[Change],
        notes: list[str],
        what: str,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("ReuseDialog")
        self.setWindowTitle(f"Reuse {what}")
        self.changes = found
        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 16, 18, 14)
        layout.setSpacing(10)
        if found:
            plural = "s" if len(found) != 1 else ""
            headline = f"Reusing {what} changes {len(found)} setting{plural}:"
        else:
            headline = f"Reusing {what} changes nothing: the controls already match."
        layout.addWidget(plain_label(headline, "ReuseHeadline", wrap=True))
        if found:
            layout.addWidget(self._table(found), 1)
        if notes:
            layout.addWidget(section_label("Not used"))
            listed = "\n".join(f"• {note}" for note in notes)
            layout.addWidget(plain_label(listed, "ReuseNotes", wrap=True))
        buttons = QDialogButtonBox()
        self.apply_button = buttons.addButton("Apply", QDialogButtonBox.ButtonRole.AcceptRole)
        self.apply_button.setObjectName("ApplyButton")
        self.apply_button.setDefault(True)
        self.apply_button.setEnabled(bool(found))
        buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        # sizes fixed before the window exists: the layout never resizes a shown dialog
        layout.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
        self.setStyleSheet(DIALOG_STYLE)
        self.setMinimumSize(layout.minimumSize().expandedTo(QSize(520, 0)))
        self.resize(layout.sizeHint().expandedTo(self.minimumSize()))

    def _table(self, found: list[Change]) -> QWidget:
        grid_host = QWidget()
        grid_host.setObjectName("ReuseTable")
        grid = QGridLayout(grid_host)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(12)
        grid.setVerticalSpacing(6)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)
        for i, change in enumerate(found):
            name = plain_label(change.label, "HintLabel")
            before = plain_label(shown(change.before), "ReuseBefore", wrap=True)
            arrow = plain_label("→", "HintLabel")
            after = plain_label(shown(change.after), "ReuseAfter", wrap=True)
            for label in (before, after):
                label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
                label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
            name.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
            arrow.setAlignment(Qt.AlignmentFlag.AlignTop)
            for column, label in enumerate((name, before, arrow, after)):
                grid.addWidget(label, i, column)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(grid_host)
        scroll.setMinimumHeight(min(320, grid_host.sizeHint().height()))
        return scroll

    def rows(self) -> list[tuple[str, str, str]]:
        """(field, current, new) as shown."""
        return [(c.label, shown(c.before), shown(c.after)) for c in self.changes]


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def offer_reuse(
    controls: ParameterControls,
    meta: ImageMetadata,
    mode: ReuseMode,
    parent: QWidget | None,
    *,
    ask: bool = True,
) -> ReuseDialog | None:
    """Build the dialog for reusing `meta` in `controls`; it applies itself when accepted.

    Returns the dialog (not yet shown) or None when nothing can be reused (the notes say why,
    via `reuse_problem`). With `ask=False` the change applies at once.
    """
    current = controls.request()
    target, notes = reused_request(current, meta, mode)
    if target is None:
        return None
    found = changes(current, target)
    if not ask:
        controls.apply_request(target)
        return None
    dialog = ReuseDialog(found, notes, mode.value, parent)
    dialog.accepted.connect(lambda: controls.apply_request(target))
    return dialog


def reuse_problem(meta: ImageMetadata, mode: ReuseMode) -> str:
    """Why nothing could be reused, in words."""
    _, notes = reused_request(GenerationRequest(prompt=""), meta, mode)
    return notes[-1] if notes else "Nothing in the image could be reused."

