"""The left panel: model, prompt and every setting of a run, turned into a GenerationRequest."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSignalBlocker, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QPlainTextEdit,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.config.settings import LastParameters
from studio.engine.catalogue.registry import ModelEntry
from studio.engine.run.request import (
    BATCH_RANGE,
    GUIDANCE_RANGE,
    SEED_MAX,
    SIZE_MULTIPLE,
    SIZE_RANGE,
    STEPS_RANGE,
    GenerationRequest,
)
from studio.engine.run.schedulers import FLOW_MATCHING, KNOWN_NAMES, SCHEDULER_NAMES, names_for
from studio.ui.theme import icon
from studio.ui.tokens import TokenCounter, reads_prompt_in_chunks
from studio.ui.widgets import SeedSpinBox, SlidingSpinBox, plain_label, section_label

ASPECTS: tuple[tuple[str, int, int], ...] = (
    ("1:1", 1, 1),
    ("4:3", 4, 3),
    ("3:4", 3, 4),
    ("3:2", 3, 2),
    ("2:3", 2, 3),
    ("16:9", 16, 9),
    ("9:16", 9, 16),
)
FALLBACK_DEFAULTS = {"steps": 20, "guidance": 7.5, "width": 512, "height": 512, "scheduler": "Euler"}


def aspect_size(base_area: int, ratio_w: int, ratio_h: int) -> tuple[int, int]:
    """Width and height of about `base_area` pixels in the given ratio, multiples of 8."""
    unit = (base_area / (ratio_w * ratio_h)) ** 0.5
    lo, hi = SIZE_RANGE

    def snap(value: float) -> int:
        return int(min(hi, max(lo, round(value / SIZE_MULTIPLE) * SIZE_MULTIPLE)))

    return snap(unit * ratio_w), snap(unit * ratio_h)


class ParametersPanel(QWidget):
    """Signals:
    generate_requested(): the user asked to generate (Ctrl+Enter is wired by the window).
    changed(): any value changed.
    model_changed(object): the chosen ModelEntry (or None).
    """

    generate_requested = Signal()
    changed = Signal()
    model_changed = Signal(object)

    def __init__(self, models_dir: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ParametersPanel")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground)
        self._models_dir = models_dir
        self._entries: list[ModelEntry] = []
        self._counters: dict[Path, TokenCounter | None] = {}
        self._counter: TokenCounter | None = None
        self._last_seed: int | None = None
        self._native_area = 512 * 512
        self._defaults_for: str | None = None  # the model whose defaults the controls took
        self._chosen_sampler = FALLBACK_DEFAULTS["scheduler"]  # kept while a flow model is shown
        self._build()
        self._connect()
        self._update_problems()

    # -- building ----------------------------------------------------------------------

    def _build(self) -> None:
        self.model_box = QComboBox()
        self.model_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.model_box.setMinimumContentsLength(12)
        self.models_folder_button = QToolButton()
        self.models_folder_button.setIcon(icon("folder"))
        self.models_folder_button.setToolTip("Open the models folder")
        self.model_note = plain_label("", "ModelNote", wrap=True)
        self.model_note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.prompt = QPlainTextEdit()
        self.prompt.setPlaceholderText("Describe the image…")
        self.prompt.setTabChangesFocus(True)
        self.prompt.setFixedHeight(104)
        self.token_label = plain_label("", "TokenLabel")
        self.token_label.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.negative = QPlainTextEdit()
        self.negative.setPlaceholderText("What to avoid (optional)")
        self.negative.setTabChangesFocus(True)
        self.negative.setFixedHeight(56)

        self.steps = SlidingSpinBox(*STEPS_RANGE, slider_max=100)
        self.guidance = SlidingSpinBox(*GUIDANCE_RANGE, slider_max=20, decimals=1, step=0.5)
        self.width_box = self._size_box()
        self.height_box = self._size_box()
        self.swap_button = QToolButton()
        self.swap_button.setIcon(icon("swap"))
        self.swap_button.setToolTip("Swap width and height")
        self.aspect_box = QComboBox()
        self.aspect_box.addItem("Custom")
        for name, _, _ in ASPECTS:
            self.aspect_box.addItem(name)
        self.aspect_box.setToolTip("Aspect ratio, at about the model's native pixel count")
        self.scheduler_box = QComboBox()
        self.scheduler_box.addItems(list(SCHEDULER_NAMES))
        self.scheduler_box.setToolTip("The sampler that turns noise into the picture, step by step")

        self.seed_box = SeedSpinBox(SEED_MAX)
        self.random_button = QToolButton()
        self.random_button.setIcon(icon("dice"))
        self.random_button.setCheckable(True)
        self.random_button.setChecked(True)
        self.seed_box.set_random(True)
        self.random_button.setToolTip("Random seed for every run (Ctrl+Shift+D)")
        self.reuse_button = QToolButton()
        self.reuse_button.setIcon(icon("reuse-seed"))
        self.reuse_button.setToolTip("Reuse the last seed (Ctrl+Shift+R)")
        self.reuse_button.setEnabled(False)
        self.seed_used = plain_label("Seed used: none yet", "SeedUsedLabel")
        self.seed_used.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.batch_box = QSpinBox()
        self.batch_box.setRange(*BATCH_RANGE)
        self.batch_box.setToolTip("Images per run")
        self.batch_box.setFixedWidth(64)
        self.batch_box.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.problem_label = plain_label("", "ProblemLabel", wrap=True)
        self.problem_label.hide()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 16)
        layout.setSpacing(6)
        layout.addWidget(section_label("Model"))
        row = QHBoxLayout()
        row.setSpacing(6)
        row.addWidget(self.model_box, 1)
        row.addWidget(self.models_folder_button)
        layout.addLayout(row)
        layout.addWidget(self.model_note)
        head = QHBoxLayout()
        head.addWidget(section_label("Prompt"))
        head.addStretch(1)
        self.prompt_head = head  # the style picker joins it (add_style_picker)
        layout.addLayout(head)
        layout.addWidget(self.prompt)
        layout.addWidget(self.token_label)  # under the prompt: the head row stays narrow
        layout.addWidget(section_label("Negative prompt"))
        layout.addWidget(self.negative)

        grid = QGridLayout()
        grid.setHorizontalSpacing(10)
        grid.setVerticalSpacing(8)
        grid.setColumnStretch(1, 1)
        rows: list[tuple[str, QWidget]] = [
            ("Steps", self.steps),
            ("Guidance", self.guidance),
            ("Size", self._size_row()),
            ("Aspect", self.aspect_box),  # a row of its own, so a narrow column fits the size boxes
            ("Sampler", self.scheduler_box),
            ("Seed", self._seed_row()),
            ("Images", self._batch_row()),
        ]
        for i, (name, widget) in enumerate(rows):
            label = plain_label(name, "HintLabel")
            grid.addWidget(label, i, 0)
            grid.addWidget(widget, i, 1)
        layout.addSpacing(6)
        layout.addWidget(section_label("Settings"))
        layout.addLayout(grid)
        layout.addWidget(self.problem_label)
        layout.addStretch(1)

    def _size_box(self) -> QSpinBox:
        box = QSpinBox()
        box.setRange(*SIZE_RANGE)
        box.setSingleStep(SIZE_MULTIPLE)
        box.setKeyboardTracking(False)
        box.setAlignment(Qt.AlignmentFlag.AlignRight)
        box.setFixedWidth(64)
        return box

    def _size_row(self) -> QWidget:
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(self.width_box)
        layout.addWidget(self.swap_button)
        layout.addWidget(self.height_box)
        layout.addStretch(1)
        return row

    def _seed_row(self) -> QWidget:
        row = QWidget()
        layout = QVBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        top = QHBoxLayout()
        top.setSpacing(6)
        top.addWidget(self.seed_box, 1)
        top.addWidget(self.random_button)
        top.addWidget(self.reuse_button)
        layout.addLayout(top)
        layout.addWidget(self.seed_used)
        return row

    def _batch_row(self) -> QWidget:
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.batch_box)
        layout.addStretch(1)
        return row

    def _connect(self) -> None:
        self.model_box.currentIndexChanged.connect(self._on_model_chosen)
        self.prompt.textChanged.connect(self._on_prompt_changed)
        self.negative.textChanged.connect(self.changed)
        for signal in (
            self.steps.valueChanged,
            self.guidance.valueChanged,
            self.width_box.valueChanged,
            self.height_box.valueChanged,
            self.scheduler_box.currentIndexChanged,
            self.seed_box.valueChanged,
            self.batch_box.valueChanged,
        ):
            signal.connect(self._on_value_changed)
        self.width_box.editingFinished.connect(lambda: self._snap(self.width_box))
        self.height_box.editingFinished.connect(lambda: self._snap(self.height_box))
        self.width_box.valueChanged.connect(self._on_size_typed)
        self.height_box.valueChanged.connect(self._on_size_typed)
        self.swap_button.clicked.connect(self._on_swap)
        self.aspect_box.activated.connect(self._on_aspect)
        self.scheduler_box.currentTextChanged.connect(self._on_sampler_picked)
        self.random_button.toggled.connect(self._on_random_toggled)
        self.reuse_button.clicked.connect(self.reuse_last_seed)

    def add_style_picker(self, picker: QWidget) -> None:
        self.prompt_head.addWidget(picker)  # at the right, after the stretch

    # -- values ------------------------------------------------------------------------

    def request(self) -> GenerationRequest:
        """The request the controls describe; seed None when the seed is random."""
        entry = self.current_model()
        return GenerationRequest(
            prompt=self.prompt.toPlainText(),
            negative_prompt=self.negative.toPlainText(),
            seed=None if self.random_button.isChecked() else self.seed_box.seed(),
            steps=int(self.steps.value()),
            guidance=round(self.guidance.value(), 2),
            width=self.width_box.value(),
            height=self.height_box.value(),
            scheduler=self.scheduler_box.currentText(),
            model=entry.id if entry is not None else "",
            batch=self.batch_box.value(),
        )

    def problems(self) -> list[str]:
        found = self.request().problems()
        if self.current_model() is None:
            found.insert(0, f"No model is installed. Put a diffusers model folder into {self._models_dir}.")
        return found

    def current_model(self) -> ModelEntry | None:
        index = self.model_box.currentIndex()
        return self._entries[index] if 0 <= index < len(self._entries) else None

    def select_model(self, model_id: str) -> bool:
        """Choose a listed model by id ("" picks the first, the default); False if absent."""
        ids = [e.id for e in self._entries]
        if not ids or (model_id and model_id not in ids):
            return False
        self.model_box.setCurrentIndex(ids.index(model_id) if model_id else 0)
        return True

    def set_models(self, entries: list[ModelEntry], select: str = "") -> None:
        """Fill the model picker; keep `select` (a model id) when it is among them."""
        self._entries = list(entries)
        with QSignalBlocker(self.model_box):
            self.model_box.clear()
            for entry in self._entries:
                label = f"{entry.name} (built-in)" if entry.bundled else entry.name
                self.model_box.addItem(icon("model"), label)
                self.model_box.setItemData(
                    self.model_box.count() - 1, str(entry.path), Qt.ItemDataRole.ToolTipRole
                )
            ids = [e.id for e in self._entries]
            self.model_box.setCurrentIndex(ids.index(select) if select in ids else 0)
        self._on_model_chosen(self.model_box.currentIndex())

    def load(self, last: LastParameters) -> None:
        """Restore what the user left; values left as None take the model's defaults."""
        models = [e.id for e in self._entries]
        if last.model in models:
            self.model_box.setCurrentIndex(models.index(last.model))
        self.prompt.setPlainText(last.prompt)
        self.negative.setPlainText(last.negative_prompt)
        if last.steps is not None:
            self.steps.setValue(last.steps)
        if last.guidance is not None:
            self.guidance.setValue(float(last.guidance))
        if last.width is not None:
            self.width_box.setValue(last.width)
        if last.height is not None:
            self.height_box.setValue(last.height)
        if last.scheduler in SCHEDULER_NAMES:
            self._chosen_sampler = last.scheduler
        if last.scheduler in KNOWN_NAMES:
            self.scheduler_box.setCurrentText(last.scheduler)
        self.seed_box.setValue(min(max(last.seed, 0), SEED_MAX))
        self.random_button.setChecked(last.random_seed)
        self.batch_box.setValue(min(max(last.batch, BATCH_RANGE[0]), BATCH_RANGE[1]))

    def dump(self) -> LastParameters:
        return _as_last(self.request(), self.seed_box.seed(), self.random_button.isChecked())

    def apply_request(self, request: GenerationRequest) -> None:
        """Set every control from a request, e.g. to redo a result; its seed becomes fixed."""
        self.load(_as_last(request, request.seed or 0, request.seed is None))

    def set_seed_used(self, seed: int) -> None:
        self._last_seed = seed
        self.seed_used.setText(f"Seed used: {seed}")
        self.reuse_button.setEnabled(True)

    @Slot()
    def reuse_last_seed(self) -> None:
        if self._last_seed is None:
            return
        self.seed_box.setValue(self._last_seed)
        self.random_button.setChecked(False)

    # -- slots -------------------------------------------------------------------------

    @Slot(int)
    def _on_model_chosen(self, index: int) -> None:
        entry = self.current_model()
        if entry is not None:
            if entry.id != self._defaults_for:
                self._apply_defaults(entry)
                self._defaults_for = entry.id
            self._offer_samplers(names_for(entry.family))
            self.model_note.setText(self._describe(entry))
            self.model_note.setToolTip(str(entry.path))
            # the tokenizer loads once the event loop is free, not while the window opens
            QTimer.singleShot(0, self._load_counter)
        else:
            self.model_note.setText(
                "No model found. Put a diffusers model folder (with model_index.json) into:\n"
                f"{self._models_dir}"
            )
        self.model_changed.emit(entry)
        self._on_value_changed()

    def _offer_samplers(self, names: tuple[str, ...]) -> None:
        """Offer only the samplers the model can run; a flow-matching model has one of its own."""
        box = self.scheduler_box
        if tuple(box.itemText(i) for i in range(box.count())) == names:
            return
        box.blockSignals(True)
        box.clear()
        box.addItems(list(names))
        if self._chosen_sampler in names:
            box.setCurrentText(self._chosen_sampler)
        box.blockSignals(False)
        flow = names == (FLOW_MATCHING.name,)
        box.setEnabled(not flow)
        box.setToolTip(
            "This model was trained for flow matching and always uses its own sampler."
            if flow
            else "The sampler that turns noise into the picture, step by step"
        )

    def _describe(self, entry: ModelEntry) -> str:
        if entry.bundled:
            text = entry.description or (
                "A small built-in demo model. It knows simple coloured shapes at 64×64 pixels, "
                "not photographs or art."
            )
            return f"{text}\nFor real images, add a diffusers model folder to:\n{self._models_dir}"
        return entry.description or f"{entry.family} · {entry.path}"

    def _apply_defaults(self, entry: ModelEntry) -> None:
        defaults = {**FALLBACK_DEFAULTS, **entry.defaults}
        try:
            self.steps.setValue(int(defaults["steps"]))
            self.guidance.setValue(float(defaults["guidance"]))
            self.width_box.setValue(int(defaults["width"]))
            self.height_box.setValue(int(defaults["height"]))
        except (TypeError, ValueError):
            pass  # a model with odd defaults keeps the current values
        if defaults.get("scheduler") in SCHEDULER_NAMES:
            self._chosen_sampler = str(defaults["scheduler"])
            self.scheduler_box.setCurrentText(self._chosen_sampler)
        self._native_area = int(defaults.get("width", 512)) * int(defaults.get("height", 512))

    @Slot()
    def _load_counter(self) -> None:
        entry = self.current_model()
        if entry is None:
            self._counter = None
        else:
            if entry.path not in self._counters:
                self._counters[entry.path] = TokenCounter.for_model(entry.path, entry.token_limit)
            self._counter = self._counters[entry.path]
        self._update_tokens()

    @Slot()
    def _on_prompt_changed(self) -> None:
        self._update_tokens()
        self.changed.emit()

    def _update_tokens(self) -> None:
        if self._counter is None:
            self.token_label.setText("")
            return
        # shown as artists know it from other tools: without the start and end tokens
        entry = self.current_model()
        chunked = entry is not None and reads_prompt_in_chunks(entry.path, entry.family)
        shown = self._counter.prompt_tokens(self.prompt.toPlainText(), chunked)
        over = shown.over
        self.token_label.setText(shown.label)
        self.token_label.setToolTip(shown.tooltip)
        if self.token_label.property("over") != over:
            self.token_label.setProperty("over", over)
            self.token_label.style().unpolish(self.token_label)
            self.token_label.style().polish(self.token_label)

    @Slot()
    def _on_value_changed(self) -> None:
        self._update_problems()
        self.changed.emit()

    def _update_problems(self) -> None:
        problems = self.problems()
        self.problem_label.setText("\n".join(problems))
        self.problem_label.setVisible(bool(problems))
        self.mark_invalid({problem.field for problem in self.request().field_problems()})

    def mark_invalid(self, fields: set[str] | tuple[str, ...]) -> None:
        """Outline the controls of the request fields named (as in GenerationRequest) as invalid."""
        for box, name in ((self.width_box, "width"), (self.height_box, "height"), (self.steps, "steps"),
                          (self.guidance, "guidance"), (self.seed_box, "seed"), (self.batch_box, "batch")):
            bad = name in fields
            if box.property("invalid") != bad:
                box.setProperty("invalid", bad)
                box.style().unpolish(box)
                box.style().polish(box)

    def _snap(self, box: QSpinBox) -> None:
        value = box.value()
        snapped = max(SIZE_RANGE[0], round(value / SIZE_MULTIPLE) * SIZE_MULTIPLE)
        if snapped != value:
            box.setValue(min(snapped, SIZE_RANGE[1]))

    @Slot()
    def _on_size_typed(self) -> None:
        if not self.aspect_box.signalsBlocked():
            self.aspect_box.setCurrentIndex(0)  # "Custom"

    @Slot()
    def _on_swap(self) -> None:
        width, height = self.width_box.value(), self.height_box.value()
        self.width_box.setValue(height)
        self.height_box.setValue(width)

    @Slot(int)
    def _on_aspect(self, index: int) -> None:
        if index <= 0:
            return
        _, ratio_w, ratio_h = ASPECTS[index - 1]
        width, height = aspect_size(self._native_area, ratio_w, ratio_h)
        with QSignalBlocker(self.aspect_box):
            self.width_box.setValue(width)
            self.height_box.setValue(height)

    @Slot(str)
    def _on_sampler_picked(self, name: str) -> None:
        if name in SCHEDULER_NAMES:
            self._chosen_sampler = name

    @Slot(bool)
    def _on_random_toggled(self, random: bool) -> None:
        self.seed_box.set_random(random)
        self.changed.emit()


def _as_last(request: GenerationRequest, seed: int, random_seed: bool) -> LastParameters:
    return LastParameters(
        prompt=request.prompt,
        negative_prompt=request.negative_prompt,
        seed=seed,
        random_seed=random_seed,
        steps=request.steps,
        guidance=request.guidance,
        width=request.width,
        height=request.height,
        scheduler=request.scheduler,
        model=request.model,
        batch=request.batch,
    )
