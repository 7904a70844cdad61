"""LoRAs and textual-inversion embeddings: the library of files (listed from their headers, never
loaded for listing) and applying them to a pipeline."""
