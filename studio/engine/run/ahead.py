"""Work done before Generate is pressed, so the run starts at its first step."""

from __future__ import annotations

from typing import TYPE_CHECKING

from studio.engine.run.prompts import prompt_arguments
from studio.engine.run.request import GenerationRequest

if TYPE_CHECKING:
    from studio.engine.run.engine import Engine


def encode_prompt_ahead(engine: Engine, request: GenerationRequest) -> None:
    """Loads the request's model and puts its prompt's embeddings into the per-pipeline cache that
    the run reads; the one call site to switch when the prompt module grows its own warm-up."""
    pipe = engine.pipeline_for(engine.registry.resolve(request.model))
    prompt_arguments(pipe, request.prompt, request.negative_prompt, request.guidance > 1)
