"""The denoising run: request in, events out. Runs on whatever thread calls it."""

from __future__ import annotations

import time
from typing import Any

from studio.engine.catalogue.checkpoints import PickleConsent
from studio.engine.catalogue.registry import ModelEntry, ModelRegistry
from studio.engine.errors import describe_failure
from studio.engine.loading.fast_path import FastPath
from studio.engine.loading.memory import MemoryOptions
from studio.engine.previews.previewer import PreviewSettings
from studio.engine.run.addons import AddOnFinder, AddOnsUsed
from studio.engine.run.cancel import CancelToken, Stopped
from studio.engine.run.events import Cancelled, EventSink, Failed, Finished, Outcome, Started
from studio.engine.run.mid_step import MidStepCancel
from studio.engine.run.request import GenerationRequest, check


class Engine:
    """Owns the device and the loaded pipelines. One run at a time."""

    def __init__(
        self,
        registry: ModelRegistry,
        *,
        device: str | None = None,
        dtype: str | None = None,
        cache_size: int = 1,
        previews: PreviewSettings | None = None,
        memory: MemoryOptions | None = None,
        pickle_consent: PickleConsent | None = None,
        addons: AddOnFinder | None = None,
        fuse_loras: bool = False,
    ) -> None:
        self.registry = registry
        self._device_choice = device
        self.memory = memory or MemoryOptions()
        self._dtype_choice = dtype or self.memory.dtype
        self._cache_size = cache_size
        self.pickle_consent = pickle_consent
        self._addons = addons
        self.fuse_loras = fuse_loras  # merge active LoRAs into the weights (see bench/bench_loras.py)
        self._cache: Any = None
        self._base_schedulers: dict[str, Any] = {}
        self._previewers: dict[str, Any] = {}
        self._loaded: dict[str, int] = {}  # model path -> id of the pipeline loaded for it
        self.preview_settings = previews or PreviewSettings()
        self._mid_step = MidStepCancel()  # Cancel checked inside a step, between its blocks
        self.fast_path = FastPath()  # the models that are compiled (none unless chosen)

    def warm_up(self) -> None:
        """Import torch and diffusers now, so the first run does not pay for it."""
        if self._cache is not None:  # done once: a run calls this again, and it is not free
            return
        import diffusers
        import torch  # noqa: F401
        import transformers

        # Studio reports progress and problems itself; the libraries' own bars and notices
        # would only clutter the terminal and the log.
        diffusers.utils.logging.set_verbosity_error()
        diffusers.utils.logging.disable_progress_bar()
        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()

        from studio.engine.loading.pipelines import PipelineCache

        if self._cache is None:
            self._cache = PipelineCache(self._cache_size, memory=self.memory, consent=self.pickle_consent)

    @property
    def device(self) -> str:
        from studio.engine.loading.device import pick_device

        return pick_device(self._device_choice)

    @property
    def dtype(self) -> Any:
        from studio.engine.loading.device import pick_dtype

        return pick_dtype(self.device, self._dtype_choice)

    def generate(self, request: GenerationRequest, on_event: EventSink, cancel: CancelToken | None = None) -> Outcome:
        """Run `request`, emitting Started, a Step per denoising step, then the outcome.

        An invalid request raises InvalidRequest before anything starts; everything that
        goes wrong after that becomes a Failed event.
        """
        request = check(request).with_seed()
        cancel = cancel or CancelToken()
        on_event(Started(request, request.steps_to_run + request.hires_steps_to_run))
        outcome: Outcome
        try:
            with self._mid_step.running(cancel, on_event) as sink, self.fast_path.running(sink):
                outcome = self._run(request, sink, cancel)
        except Stopped as stop:
            outcome = Cancelled(request, stop.steps_done)
        except Exception as error:
            message, details, cause = describe_failure(error, request.model)
            outcome = Failed(request, message, details, cause)
        on_event(outcome)
        return outcome

    def prepare(self, request: GenerationRequest) -> None:
        """Do before Generate is pressed what a run of `request` would do first: load its model,
        encode its prompt into the per-pipeline cache, set up its previewer and build its
        scheduler. Raises what loading or encoding raises; the run reports it properly when
        Generate is pressed."""
        from studio.engine.run.ahead import encode_prompt_ahead
        from studio.engine.run.once import keep_spare_scheduler

        request = check(request)
        entry = self.registry.resolve(request.model)
        pipe = self.pipeline_for(entry)
        self.use_addons(entry, pipe, request)  # a LoRA on the text encoder changes the embeddings
        encode_prompt_ahead(self, request)
        self._previewer(entry, pipe)
        keep_spare_scheduler(pipe, request.scheduler, self._base_schedulers[str(entry.path)])

    def pipeline_for(self, entry: ModelEntry) -> Any:
        """The entry's pipeline, from the warm cache or loaded (with the memory options)."""
        self.warm_up()
        self._cache.memory = self.memory  # options are part of the cache key
        pipe = self._cache.get(entry.path, self.device, self.dtype, entry.family)
        key = str(entry.path)
        if self._loaded.get(key) != id(pipe):
            # A fresh load: what was derived from an earlier (evicted) copy is stale.
            from studio.engine.run.once import pin_execution_device

            self._loaded[key] = id(pipe)
            self._previewers.pop(key, None)
            self._base_schedulers[key] = pipe.scheduler.config
            pin_execution_device(pipe)
            self._mid_step.install(pipe)
        # asked at each run, not only at a load: the choice can change while the model is warm
        if self.fast_path.wanted(entry.id, entry.path):
            self.fast_path.apply(pipe, entry.path)
        return pipe

    @property
    def load_records(self) -> list[Any]:
        """Every pipeline load so far: path, seconds, memory plan (the model switch time)."""
        return list(self._cache.loads) if self._cache is not None else []

    def _run(self, request: GenerationRequest, on_event: EventSink, cancel: CancelToken) -> Outcome:
        from studio.engine.run.passes import Passes
        from studio.engine.run.start_image import prepare

        if cancel.cancelled:
            raise Stopped(0)
        prepared = prepare(request) if request.mode != "text" else None
        entry = self.registry.resolve(request.model)
        pipe = self.pipeline_for(entry)
        addons = self.use_addons(entry, pipe, request)
        passes = Passes(
            pipe, request,
            scheduler_config=self._base_schedulers[str(entry.path)],
            previewer=self._previewer(entry, pipe),
            on_event=on_event, cancel=cancel, upscale=self.upscale,
        )
        if prepared is None or (request.mode == "image" and request.strength >= 1):
            images = passes.text()  # at full strength the start image is noised away entirely
        elif request.strength <= 0:
            images = [prepared.original.copy() for _ in range(request.batch)]
        elif request.mode == "image":
            images = passes.image(prepared.image, request.strength, request.steps)
        else:
            images = passes.inpaint(prepared)
        if request.hires_steps_to_run:
            images = passes.hires(images)
        elapsed = time.perf_counter() - passes.started
        notices = ((prepared.notices if prepared else ()) + addons.notices + tuple(passes.notices)
                   + tuple(self.fast_path.notices()))
        used = request.replace(model=entry.id, scheduler=passes.scheduler_used, addons=addons.addons)
        return Finished(used, images, elapsed, passes.film, notices)

    @property
    def addon_finder(self) -> AddOnFinder | None:
        """The LoRA and embedding library runs look names up in: the one given, else the
        models folder's loras/ and embeddings/."""
        if self._addons is None:
            from studio.engine.loras.finder import LibraryFinder
            from studio.engine.loras.library import AddOnLibrary

            self._addons = LibraryFinder(AddOnLibrary.for_studio(self.registry.paths))
        return self._addons

    def use_addons(self, entry: ModelEntry, pipe: Any, request: GenerationRequest) -> AddOnsUsed:
        """Puts the LoRAs and embeddings `request` names on `pipe`, and takes off the others."""
        from studio.engine.run.addons import use_addons

        consent = self.pickle_consent
        return use_addons(pipe, request, entry.family, self.addon_finder,
                          consent.allows if consent is not None else None, fuse=self.fuse_loras)

    def upscale(self, image: Any, size: tuple[int, int], upscaler: str) -> Any:
        """`image` (PIL) at `size` by the named upscaler (Lanczos, or a model from the
        models folder's upscalers/, in tiles), for the hires pass."""
        from PIL import Image

        if upscaler.lower() == "lanczos":
            return image.resize(size, Image.Resampling.LANCZOS)
        from studio.engine.upscale.upscale import upscale

        scale = max(size[0] / image.width, size[1] / image.height)
        larger = upscale(image, scale, upscaler, models_dir=self.registry.paths.models_dir,
                         device=self.device, consent=self.pickle_consent)
        return larger.resize(size, Image.Resampling.LANCZOS) if larger.size != size else larger

    def noised(self, image: Any, model_id: str, fraction: float) -> Any:
        """`image` (PIL) noised to `fraction` of the model's schedule by its forward process,
        q(x_t | x_0) in latent space, as an HxWx3 uint8 array: what image-to-image at that
        strength starts from."""
        import numpy as np

        from studio.engine.previews.forward import noised_preview

        entry = self.registry.resolve(model_id)
        pipe = self.pipeline_for(entry)
        decoder = self._previewer(entry, pipe).decoders.get("linear")
        fraction = min(1.0, max(0.0, float(fraction)))
        return np.asarray(noised_preview(pipe, image.convert("RGB"), fraction, decoder=decoder))

    def _previewer(self, entry: ModelEntry, pipe: Any) -> Any:
        from studio.engine.previews.previewer import make_previewer

        key = str(entry.path)
        cached = self._previewers.get(key)
        if cached is None or cached.settings != self.preview_settings:
            cached = make_previewer(entry.family, pipe, self.preview_settings, model_path=entry.path)
            self._previewers[key] = cached
        return cached
