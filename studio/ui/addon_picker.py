"""The LoRA and embedding picker: the library as cards, filtered by a search (name, trigger word)
and a category (subfolder); Insert writes the tag or the embedding's name at the prompt cursor,
a trigger word's chip adds the word, and its words can be edited (kept by the library).

Signals:
    message(str): what an insertion did, for the status bar.
    rescan_requested(): the person asked to look through the folders again.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from studio.config.atomic import SaveError
from studio.config.paths import StudioPaths
from studio.engine.loras.library import AddOn, search_addons
from studio.ui.addon_card import AddOnCard
from studio.ui.addon_catalogue import AddOnCatalogue
from studio.ui.prompt_tags import add_word, embedding_word, insert_lora
from studio.ui.trigger_words_dialog import TriggerWordsDialog
from studio.ui.widgets import plain_label

MAX_CARDS = 150  # cards built at once; a search narrows a larger library
ALL_CATEGORIES = "All categories"
KINDS = (("LoRAs and embeddings", None), ("LoRAs", "lora"), ("Embeddings", "embedding"))


class AddOnPicker(QWidget):
    message = Signal(str)
    rescan_requested = Signal()

    def __init__(
        self,
        catalogue: AddOnCatalogue,
        paths: StudioPaths,
        target: Callable[[], QPlainTextEdit],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("AddOnPicker")
        self.catalogue = catalogue
        self.paths = paths
        self._target = target  # the prompt box that gets what is inserted
        self._family = ""
        self.cards: list[AddOnCard] = []
        self._weights: dict[str, float] = {}  # by file: kept while the cards are made again
        self.words_dialog: TriggerWordsDialog | None = None
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search by name or trigger word")
        self.search.setClearButtonEnabled(True)
        self.kind_box = QComboBox()
        for text, _kind in KINDS:
            self.kind_box.addItem(text)
        self.category_box = QComboBox()
        self.category_box.addItem(ALL_CATEGORIES)
        self.category_box.setToolTip("The subfolder of loras/ or embeddings/")
        self.rescan_button = QPushButton("Rescan")
        self.rescan_button.setToolTip("Look through the LoRA and embedding folders again")
        self.status = plain_label("", "HintLabel", wrap=True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._cards_box = QWidget()
        self._cards_layout = QVBoxLayout(self._cards_box)
        self._cards_layout.setContentsMargins(0, 0, 0, 0)
        self._cards_layout.setSpacing(6)
        self._cards_layout.addStretch(1)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll.setWidget(self._cards_box)

        filters = QHBoxLayout()
        filters.setSpacing(6)
        filters.addWidget(self.kind_box, 1)
        filters.addWidget(self.category_box, 1)
        filters.addWidget(self.rescan_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(6)
        layout.addWidget(self.search)
        layout.addLayout(filters)
        layout.addWidget(self.status)
        layout.addWidget(self.scroll, 1)

        self.search.textChanged.connect(self._show)
        self.kind_box.currentIndexChanged.connect(self._show)
        self.category_box.currentIndexChanged.connect(self._show)
        self.rescan_button.clicked.connect(self.rescan_requested)
        catalogue.changed.connect(self._on_catalogue_changed)
        catalogue.scan_failed.connect(self.status.setText)
        self._on_catalogue_changed()

    # -- reading -----------------------------------------------------------------------

    def shown(self) -> list[AddOn]:
        return [card.addon for card in self.cards]

    def card(self, name: str) -> AddOnCard | None:
        return next((c for c in self.cards if c.addon.name.lower() == name.lower()), None)

    def categories(self) -> list[str]:
        return [self.category_box.itemText(i) for i in range(1, self.category_box.count())]

    # -- changing ----------------------------------------------------------------------

    def set_model_family(self, family: str) -> None:
        """Dim the cards made for another family than `family` (the current model's)."""
        self._family = family
        for card in self.cards:
            card.set_model_family(family)

    def insert(self, addon: AddOn, weight: float) -> None:
        """Write `addon` at the target prompt's cursor: `<lora:NAME:W>`, or the embedding's name."""
        edit = self._target()
        name = self.catalogue.prompt_name(addon)
        if addon.kind == "lora":
            changed = insert_lora(edit, name, weight)
            self.message.emit(f"Set the weight of {name} to {weight:g}." if changed else f"Added {name}.")
        else:
            add_word(edit, embedding_word(name, weight))
            self.message.emit(f"Added {name}.")
        edit.setFocus()

    def add_trigger_word(self, word: str) -> None:
        edit = self._target()
        if add_word(edit, word):
            self.message.emit(f"Added “{word}”.")
        else:
            self.message.emit(f"The prompt has “{word}” already.")
        edit.setFocus()

    def edit_trigger_words(self, addon: AddOn) -> TriggerWordsDialog:
        """Ask for `addon`'s trigger words (not blocking); OK saves them."""
        if self.words_dialog is not None:
            self.words_dialog.close()
        dialog = TriggerWordsDialog(addon, self)
        dialog.accepted.connect(lambda: self.save_trigger_words(addon, dialog.words()))
        dialog.finished.connect(lambda _result: self._forget_dialog(dialog))
        dialog.open()
        self.words_dialog = dialog
        return dialog

    def _forget_dialog(self, dialog: TriggerWordsDialog) -> None:
        if self.words_dialog is dialog:
            self.words_dialog = None
        dialog.deleteLater()

    def save_trigger_words(self, addon: AddOn, words: list[str] | None) -> None:
        """Keep `words` for `addon` (None: the file's own words again) and show them on its card."""
        try:
            updated = self.catalogue.library.set_trigger_words(addon, words)
        except SaveError as error:
            self.status.setText(f"Could not save the trigger words of {addon.name}: {error}")
            return
        self.catalogue.replace(updated)  # the cards are made again from the updated list
        self.message.emit(f"Trigger words of {addon.name}: {', '.join(updated.trigger_words) or 'none'}.")

    # -- showing -----------------------------------------------------------------------

    @Slot()
    def _on_catalogue_changed(self) -> None:
        chosen = self.category_box.currentText()
        categories = sorted({a.category for a in self.catalogue.addons() if a.category}, key=str.lower)
        self.category_box.blockSignals(True)
        self.category_box.clear()
        self.category_box.addItem(ALL_CATEGORIES)
        self.category_box.addItems(categories)
        self.category_box.setCurrentIndex(max(0, self.category_box.findText(chosen)))
        self.category_box.blockSignals(False)
        self._show()

    @Slot()
    def _show(self) -> None:
        kind = KINDS[max(0, self.kind_box.currentIndex())][1]
        found = search_addons(self.catalogue.addons(), self.search.text(), kind)
        category = self.category_box.currentText() if self.category_box.currentIndex() > 0 else None
        if category is not None:
            found = [a for a in found if a.category == category or a.category.startswith(category + "/")]
        for card in self.cards:
            card.deleteLater()
        self.cards = []
        for addon in found[:MAX_CARDS]:
            card = AddOnCard(addon, self.catalogue.prompt_name(addon))
            card.set_model_family(self._family)
            card.weight.setValue(self._weights.get(str(addon.path), 1.0))
            card.weight.valueChanged.connect(lambda value, key=str(addon.path): self._weights.__setitem__(key, value))
            card.insert_requested.connect(self.insert)
            card.word_requested.connect(self.add_trigger_word)
            card.edit_words_requested.connect(self.edit_trigger_words)
            self._cards_layout.insertWidget(self._cards_layout.count() - 1, card)
            self.cards.append(card)
        self.status.setText(self._status_text(len(found)))

    def _status_text(self, found: int) -> str:
        if not self.catalogue.scanned:
            return "Looking through the LoRA and embedding folders…"
        if not self.catalogue.addons():
            return (f"No LoRAs or embeddings yet. Put LoRA files (.safetensors) in\n{self.paths.loras_dir}\n"
                    f"and embeddings in\n{self.paths.embeddings_dir}\n(subfolders become categories), "
                    "then press Rescan.")
        if not found:
            return "Nothing matches the search."
        if found > MAX_CARDS:
            return f"Showing {MAX_CARDS} of {found}; search to narrow them."
        return ""
