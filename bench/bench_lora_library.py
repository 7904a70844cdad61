"""Cost of listing the LoRA library: headers only, the first scan (hashing every file), and a scan
that finds every hash in the cache.

Run: python bench/bench_lora_library.py [--files 200] [--json bench/results_lora_library.json]
Each file is a kohya-layout SD 1.x LoRA with 700 tensors (about 1 MB) and kohya's training metadata.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any


def _write_files(folder: Path, count: int) -> int:
    import numpy as np
    from safetensors.numpy import save_file

    rng = np.random.default_rng(0)
    tensors = {}
    for i in range(350):
        name = f"lora_unet_down_blocks_{i % 4}_attentions_{i % 2}_transformer_blocks_{i}_attn2_to_k"
        tensors[f"{name}.lora_down.weight"] = rng.standard_normal((4, 96), dtype=np.float32)
        tensors[f"{name}.lora_up.weight"] = rng.standard_normal((96, 4), dtype=np.float32)
    tags = {"10_style": {f"tag {i}": 1000 - i for i in range(500)}}
    metadata = {"ss_base_model_version": "sd_v1", "ss_tag_frequency": json.dumps(tags)}
    for i in range(count):
        category = folder / f"category{i % 10}"
        category.mkdir(parents=True, exist_ok=True)
        tensors["lora_te_marker.alpha"] = np.array([float(i)], dtype=np.float32)  # each file differs
        save_file(tensors, str(category / f"lora{i}.safetensors"), metadata=metadata)
    return sum(p.stat().st_size for p in folder.rglob("*.safetensors"))


def run(args: argparse.Namespace) -> dict[str, Any]:
    from studio.config.paths import StudioPaths
    from studio.engine.loras.library import AddOnLibrary

    with tempfile.TemporaryDirectory() as root:
        paths = StudioPaths.under(Path(root))
        total = _write_files(paths.loras_dir, args.files)
        timings: dict[str, float] = {}
        for label, with_hashes in (("headers only", False), ("first scan, hashing", True),
                                   ("cached hashes", True)):
            library = AddOnLibrary.for_studio(paths)
            start = time.perf_counter()
            addons = library.scan(with_hashes=with_hashes)
            timings[label] = time.perf_counter() - start
            assert len(addons) == args.files and all(a.usable for a in addons)
    result = {
        "files": args.files,
        "megabytes": round(total / 1e6, 1),
        "seconds": {k: round(v, 3) for k, v in timings.items()},
        "ms_per_file": {k: round(1000 * v / args.files, 3) for k, v in timings.items()},
    }
    print(f"{args.files} LoRA files, {result['megabytes']} MB")
    print(f"{'scan':<22}{'total s':>10}{'ms/file':>10}")
    for label, seconds in timings.items():
        print(f"{label:<22}{seconds:>10.3f}{1000 * seconds / args.files:>10.3f}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    args = parser.parse_args()
    result = run(args)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
