"""The denoising passes of one run: text-to-image, image-to-image, inpainting and the hires
pass, counted as one sequence of steps with one film and one clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from PIL import Image

from studio.engine.run.cancel import CancelToken, Stopped
from studio.engine.run.derived import derived_pipeline
from studio.engine.run.events import EventSink, Step
from studio.engine.run.prompts import PromptSchedule, prompt_arguments
from studio.engine.run.request import SIZE_MULTIPLE, SIZE_RANGE, FieldProblem, GenerationRequest, InvalidRequest
from studio.engine.run.schedulers import FLOW_MATCHING
from studio.engine.run.start_image import Prepared, masked_box, paste_back, soft_mask

Upscale = Callable[[Image.Image, tuple[int, int], str], Image.Image]
_TILED_VAE_SIDE = 1024  # a hires pass decodes in tiles past this, so its memory stays flat


class Passes:
    """Runs the passes of `request` on `base` (and the pipelines derived from it), emitting
    one Step per denoising step across all of them."""

    def __init__(
        self,
        base: Any,
        request: GenerationRequest,
        *,
        scheduler_config: Any,
        previewer: Any,
        on_event: EventSink,
        cancel: CancelToken,
        upscale: Upscale,
    ) -> None:
        self.base = base
        self.request = request
        self._scheduler_config = scheduler_config
        self._previewer = previewer
        self._on_event = on_event
        self._cancel = cancel
        self._upscale = upscale
        self.total = request.steps_to_run + request.hires_steps_to_run
        self.done = 0
        self.film: list[Any] = []
        self.notices: list[str] = []
        self.scheduler_used = request.scheduler
        self.started = time.perf_counter()
        images = request.per_image()
        self._seeds = [r.seed for r in images if r.seed is not None]
        self._variation = [r.variation_seed for r in images if r.variation_seed is not None]
        unet = getattr(base, "unet", None)
        self._inpainting_model = unet is not None and int(unet.config.in_channels) == 9

    def text(self) -> list[Image.Image]:
        r = self.request
        if self._inpainting_model:
            # An inpainting model draws from nothing as an inpainting of a blank picture.
            blank = Image.new("RGB", (r.width, r.height), (127, 127, 127))
            return self._inpaint(blank, Image.new("L", blank.size, 255), 1.0)
        latents = self._noise(r.height, r.width)
        return self._call(self.base, (r.width, r.height), num_inference_steps=r.steps,
                          width=r.width, height=r.height, latents=latents)

    def image(self, start: Image.Image | list[Image.Image], strength: float, steps: int) -> list[Image.Image]:
        first = start[0] if isinstance(start, list) else start
        if self._inpainting_model:
            return self._inpaint(start, Image.new("L", first.size, 255), strength, steps)
        self._no_variation()
        pipe = derived_pipeline(self.base, "image")
        # SD3's and Flux's image-to-image pipelines take their size from the model's default,
        # not from the picture, unless told: a 768 px start would come back at 1024 px.
        sized = {"width": first.width, "height": first.height} if _takes_size(pipe) else {}
        return self._call(pipe, (first.width, first.height), image=start, strength=strength,
                          num_inference_steps=steps, **sized)

    def inpaint(self, prepared: Prepared) -> list[Image.Image]:
        r = self.request
        assert prepared.mask is not None
        mask, original = prepared.mask, prepared.original
        if not r.masked_area_only:
            results = self._inpaint(prepared.image, mask, r.strength)
        else:
            box = masked_box(soft_mask(mask, r.mask_blur), r.masked_area_padding, r.width, r.height)
            size = (box[2] - box[0], box[3] - box[1])
            part = prepared.image.crop(box).resize((r.width, r.height), Image.Resampling.LANCZOS)
            part_mask = mask.crop(box).resize((r.width, r.height), Image.Resampling.BILINEAR)
            results = []
            for worked in self._inpaint(part, part_mask, r.strength):
                whole = original.copy()
                whole.paste(worked.resize(size, Image.Resampling.LANCZOS), box[:2])
                results.append(whole)
        # The pipeline decodes the whole picture through the VAE, which shifts kept pixels a
        # little; the paste-back restores them exactly.
        return [paste_back(result, original, mask, r.mask_blur) for result in results]

    def hires(self, images: list[Image.Image]) -> list[Image.Image]:
        """Each image upscaled by the hires scale, then refined by image-to-image at the hires
        strength: detail at a size the model would compose badly from noise."""
        r = self.request
        scale = float(r.hires_scale)
        first = images[0]
        size = (_round_size(first.width * scale), _round_size(first.height * scale))
        if max(size) > SIZE_RANGE[1]:
            raise InvalidRequest([FieldProblem("hires_scale", f"A hires pass at {scale:g}x makes "
                                  f"{first.width}x{first.height} larger than {SIZE_RANGE[1]} pixels on a side.")])
        upscaled = [self._upscale(image, size, r.hires_upscaler) for image in images]
        vae: Any = getattr(self.base, "vae", None)
        tiled = vae is not None and max(size) > _TILED_VAE_SIDE and not getattr(vae, "use_tiling", False)
        if tiled:
            vae.enable_tiling()
        try:
            return self.image(upscaled, r.hires_strength, r.hires_steps or r.steps)
        finally:
            if tiled:
                vae.disable_tiling()

    def _inpaint(
        self, image: Image.Image | list[Image.Image], mask: Image.Image, strength: float, steps: int | None = None,
    ) -> list[Image.Image]:
        r = self.request
        first = image[0] if isinstance(image, list) else image
        pipe = derived_pipeline(self.base, "inpaint")
        extra: dict[str, Any] = {}
        if strength >= 1:
            # Given latents, the inpainting pipeline starts from them as pure noise and ignores
            # the picture under the mask, which is right only at full strength.
            extra["latents"] = self._noise(first.height, first.width)
        else:
            self._no_variation()
        return self._call(pipe, (first.width, first.height), image=image,
                          mask_image=soft_mask(mask, r.mask_blur), strength=strength,
                          num_inference_steps=steps or r.steps, width=first.width, height=first.height, **extra)

    def _noise(self, height: int, width: int) -> Any:
        from studio.engine.run.families import initial_noise

        variation = None
        if self._variation and self.request.variation_strength > 0:
            variation = (self._variation, float(self.request.variation_strength))
        noise = initial_noise(self.base, self._seeds, height, width, variation)
        if noise is None:
            self._no_variation()
        return noise

    def _no_variation(self) -> None:
        r = self.request
        if r.variation_strength > 0:
            note = ("The variation seed blends starting noises, which this run does not draw "
                    "(a start image below full strength, or a flow-matching model); it was not used.")
            if note not in self.notices:
                self.notices.append(note)

    def _call(self, pipe: Any, latent_size: tuple[int, int], **arguments: Any) -> list[Any]:
        """`pipe` run with `arguments`; `latent_size` (width, height) is what its previews unpack."""
        import torch

        from studio.engine.previews.x0 import X0Capture
        from studio.engine.run.families import is_flow_matching, unpack_latents
        from studio.engine.run.once import take_scheduler

        r = self.request
        scheduler = take_scheduler(self.base, r.scheduler, self._scheduler_config)
        capture = X0Capture(scheduler)
        pipe.scheduler = scheduler
        offset = self.done
        schedule = PromptSchedule(self.base, r.prompt, r.negative_prompt, r.guidance > 1, r.batch)

        def on_step_end(pipe_: Any, i: int, t: Any, tensors: dict[str, Any]) -> dict[str, Any]:
            x0 = capture.take()
            self.done = offset + i + 1
            t0 = time.perf_counter()
            preview = None
            if x0 is not None and self._previewer.wants(self.done, self.total):
                preview = self._previewer.preview(unpack_latents(pipe_, x0, latent_size[1], latent_size[0]))
                self.film.append(preview)
            elif self.film:
                self.film.append(self.film[-1])  # one film frame per step: a skipped step repeats the last
            cost = time.perf_counter() - t0
            self._on_event(Step(self.done, self.total, time.perf_counter() - self.started, preview, cost))
            if self._cancel.cancelled:
                raise Stopped(self.done)
            return schedule.after_step(pipe_, i)  # prompt editing switches the conditioning here

        result = pipe(
            **prompt_arguments(self.base, r.prompt, r.negative_prompt, r.guidance > 1, self.notices,
                               _pass_steps(arguments)),
            guidance_scale=r.guidance,
            num_images_per_prompt=r.batch,
            generator=[torch.Generator("cpu").manual_seed(s) for s in self._seeds],
            callback_on_step_end=on_step_end,
            output_type="pil",
            **arguments,
        )
        self.scheduler_used = FLOW_MATCHING.name if is_flow_matching(scheduler) else r.scheduler
        return list(result.images)


def _pass_steps(arguments: dict[str, Any]) -> int | None:
    """The steps a pass denoises: all of them, or those its strength leaves (as diffusers counts)."""
    steps = arguments.get("num_inference_steps")
    if steps is None:
        return None
    strength = arguments.get("strength")
    if strength is None:
        return int(steps)
    return int(steps) - int(max(steps - min(steps * strength, steps), 0))


def _takes_size(pipe: Any) -> bool:
    import inspect

    return "width" in inspect.signature(type(pipe).__call__).parameters


def _round_size(side: float) -> int:
    return max(SIZE_MULTIPLE, round(side / SIZE_MULTIPLE) * SIZE_MULTIPLE)
