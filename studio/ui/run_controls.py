"""Every control of a run as one: the parameters panel and the start-image panel make one
request, and reuse sets both."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QVBoxLayout, QWidget

from studio.engine.run.request import GenerationRequest
from studio.engine.run.styled import with_styles
from studio.ui.parameters import ParametersPanel
from studio.ui.refine_panel import RefinePanel
from studio.ui.start_image import StartImagePanel
from studio.ui.style_picker import StylePicker


class RunControls:
    """What Generate and reuse read and set (ParameterControls for the gallery)."""

    def __init__(self, parameters: ParametersPanel, start: StartImagePanel, refine: RefinePanel) -> None:
        self.parameters = parameters
        self.start = start
        self.refine = refine
        self.styles: StylePicker | None = None

    def submitted_request(self) -> GenerationRequest:
        """The request as it runs: with the chosen styles applied to its prompts."""
        request = self.request()
        return with_styles(request, self.styles.chosen()) if self.styles is not None else request

    def request(self) -> GenerationRequest:
        return self.parameters.request().replace(**self.start.fields(), **self.refine.fields())

    def problems(self) -> list[str]:
        found = self.parameters.problems()
        return found + [p for p in self.request().problems() if p not in found]

    def apply_request(self, request: GenerationRequest) -> None:
        if request.styles and self.styles is not None:  # the prompt as typed, and its styles
            self.styles.set_chosen(request.styles)
            request = request.replace(prompt=request.prompt_before_styles,
                                      negative_prompt=request.negative_before_styles)
        self.parameters.apply_request(request)
        self.start.apply_request(request)
        self.refine.apply_request(request)

    def column(self) -> QWidget:
        """The left column: the parameters, then the start image and the refine options below them."""
        column = QWidget()
        column.setObjectName("ParametersPanel")
        column.setAttribute(Qt.WidgetAttribute.WA_StyledBackground)
        layout = QVBoxLayout(column)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.parameters)
        start_box = QVBoxLayout()
        start_box.setContentsMargins(16, 0, 16, 16)
        start_box.setSpacing(16)
        start_box.addWidget(self.start)
        start_box.addWidget(self.refine)
        layout.addLayout(start_box)
        layout.addStretch(1)
        return column
