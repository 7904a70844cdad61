"""A request with prompt styles applied, remembering what the person typed before them."""

from __future__ import annotations

from studio.config.styles import Style, apply_styles
from studio.engine.run.request import GenerationRequest


def with_styles(request: GenerationRequest, styles: list[Style]) -> GenerationRequest:
    """The final prompts go to the model and the infotext; the studio chunk keeps the style
    names and the prompts as typed, so reuse can bring back either."""
    if not styles:
        return request
    prompt, negative = apply_styles(styles, request.prompt, request.negative_prompt)
    return request.replace(
        prompt=prompt,
        negative_prompt=negative,
        styles=tuple(style.name for style in styles),
        prompt_before_styles=request.prompt,
        negative_before_styles=request.negative_prompt,
    )
