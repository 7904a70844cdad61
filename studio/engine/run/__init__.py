"""One generation: the request, its events, schedulers and prompts, and the engine that runs it."""
