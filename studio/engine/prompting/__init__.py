"""Prompts as artists write them: AUTOMATIC1111's syntax, LoRA tags, long prompts."""
