"""Cancel inside a denoising step: the run's token is checked before each block of the UNet or
transformer, not only when a step ends, so Cancel lands within a fraction of a step."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from studio.engine.run.cancel import CancelToken, Stopped
from studio.engine.run.events import Event, EventSink, Step

# the denoiser's children that make up a step, in the layouts diffusers uses
_BLOCK_LISTS = ("down_blocks", "up_blocks", "transformer_blocks", "single_transformer_blocks")
_HOOKED = "_studio_mid_step_hooked"


class MidStepCancel:
    """The cancel token of the run in progress, for the hooks that `install` puts on a pipeline's
    denoiser. Between runs there is no token and the hooks do nothing."""

    def __init__(self) -> None:
        self._token: CancelToken | None = None
        self._done = 0  # steps finished in the run in progress, for Cancelled's count

    @contextmanager
    def running(self, cancel: CancelToken, on_event: EventSink) -> Iterator[EventSink]:
        """While the block runs, the hooks check `cancel`; use the sink it yields for the run's
        events (it counts the steps done)."""
        self._token, self._done = cancel, 0

        def sink(event: Event) -> None:
            if isinstance(event, Step):
                self._done = event.index
            on_event(event)

        try:
            yield sink
        finally:
            self._token = None

    def check(self, _module: Any = None, _args: Any = None) -> None:
        token = self._token
        if token is not None and token.cancelled:
            raise Stopped(self._done)

    def install(self, pipe: Any) -> int:
        """Check the token before each block of `pipe`'s UNet or transformer (once per module:
        pipelines derived from it share the module). Returns how many blocks are watched."""
        denoiser = getattr(pipe, "unet", None) or getattr(pipe, "transformer", None)
        if denoiser is None or getattr(denoiser, _HOOKED, None) is self:
            return 0
        blocks = denoiser_blocks(denoiser)
        for block in blocks:
            # a pre-hook runs in Python before the block's forward, compiled or not
            block.register_forward_pre_hook(self.check)
        object.__setattr__(denoiser, _HOOKED, self)  # a plain attribute, not a submodule
        return len(blocks)


def denoiser_blocks(denoiser: Any) -> list[Any]:
    """The blocks a step runs through, in order of their lists (the mid block after the down ones)."""
    blocks: list[Any] = []
    for name in _BLOCK_LISTS:
        blocks.extend(getattr(denoiser, name, None) or ())
        if name == "down_blocks" and getattr(denoiser, "mid_block", None) is not None:
            blocks.append(denoiser.mid_block)
    return blocks
