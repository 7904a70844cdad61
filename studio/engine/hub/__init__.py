"""Downloads from the Hugging Face Hub into the shared cache, with progress and resume."""
