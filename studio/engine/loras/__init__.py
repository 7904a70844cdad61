"""LoRAs and textual-inversion embeddings: the library of files and their use in a run."""
