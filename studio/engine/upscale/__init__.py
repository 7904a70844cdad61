"""Upscaling: the built-in Lanczos resize and upscale models from the models folder's
`upscalers/` subfolder, in any architecture spandrel recognises, run in blended tiles.

`catalogue` lists and resolves upscalers without torch; `limits` checks scales and sizes;
`weights` reads a model file (pickles only with consent); `tiles` plans the tiles;
`tiled` runs a model over them; `upscale` is the one entry point.
"""
