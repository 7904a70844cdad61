"""The model registry on real folders: models folder, Hugging Face cache layout, added folders."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from studio.config.paths import StudioPaths
from studio.engine.catalogue.registry import (
    ADDED,
    BUILT_IN,
    DOWNLOADED,
    HF_CACHE,
    MODELS_FOLDER,
    ModelRegistry,
    detect_family,
    disk_size,
)
from studio.engine.errors import ModelError

REPO = "someone/tiny-sd"


def _files_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def put_in_hub_cache(model: Path, cache: Path, repo_id: str, *, commit: str = "a" * 40) -> Path:
    """Lay a model folder out the way huggingface_hub caches a repo: blobs and links."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / commit
    for file in sorted(p for p in model.rglob("*") if p.is_file()):
        data = file.read_bytes()
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        link = snapshot / file.relative_to(model)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(commit)
    return snapshot


@pytest.fixture
def trash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """send2trash's home trash, moved into the test's folder (it reads the path at import)."""
    import send2trash.plat_other as trash_impl

    data_home = tmp_path / "xdg-data"
    data_home.mkdir()
    monkeypatch.setattr(trash_impl, "XDG_DATA_HOME", os.fsencode(data_home))
    monkeypatch.setattr(trash_impl, "HOMETRASH_B", os.fsencode(data_home / "Trash"))
    return data_home / "Trash"


@pytest.fixture
def registry(studio_paths: StudioPaths, tmp_path: Path) -> ModelRegistry:
    return ModelRegistry(studio_paths, hf_cache=tmp_path / "hf-hub")


def test_bundled_demo_comes_first(registry: ModelRegistry) -> None:
    entries = registry.entries()
    if not any(e.bundled for e in entries):
        pytest.skip("the demo model is not built in this checkout")
    assert entries[0].bundled and entries[0].source == BUILT_IN
    assert registry.default() == entries[0]
    assert entries[0].size_bytes == disk_size(entries[0].path) > 0


def test_models_folder_lists_folders_and_checkpoint_files(
    registry: ModelRegistry, studio_paths: StudioPaths, tiny_sd_model: Path
) -> None:
    from safetensors.numpy import save_file

    folder = studio_paths.models_dir / "my-sd"
    shutil.copytree(tiny_sd_model, folder)
    save_file({"odd.weight": np.zeros((4, 4), np.float16)}, str(studio_paths.models_dir / "x.safetensors"))
    by_path = {e.path: e for e in registry.entries()}

    entry = by_path[folder]
    assert entry.source == MODELS_FOLDER and entry.owned
    assert entry.size_bytes == _files_size(tiny_sd_model)
    assert entry.precision == "fp32"
    assert entry.family == detect_family(folder)
    checkpoint = by_path[studio_paths.models_dir / "x.safetensors"]
    assert checkpoint.is_file and checkpoint.family == "unknown"
    assert checkpoint.problem  # a file Studio cannot place says why
    assert registry.resolve(str(folder)) == entry


def test_precision_follows_the_weights(
    registry: ModelRegistry, studio_paths: StudioPaths, tiny_sd_model: Path
) -> None:
    from safetensors.numpy import load_file, save_file

    folder = studio_paths.models_dir / "half"
    shutil.copytree(tiny_sd_model, folder)
    for file in folder.glob("*/*.safetensors"):
        tensors = {k: v.astype(np.float16) for k, v in load_file(str(file)).items()}
        save_file(tensors, str(file))
    assert next(e for e in registry.entries() if e.path == folder).precision == "fp16"


@pytest.mark.parametrize(
    ("pipeline", "cross_attention", "family"),
    [
        ("StableDiffusionPipeline", 768, "SD 1.x"),
        ("StableDiffusionPipeline", 1024, "SD 2.x"),
        ("StableDiffusionXLPipeline", 2048, "SDXL"),
        ("StableDiffusion3Pipeline", None, "SD3"),
        ("FluxPipeline", None, "Flux"),
        ("StableDiffusionPipeline", 32, "other"),
    ],
)
def test_family_from_configs(
    tmp_path: Path, pipeline: str, cross_attention: int | None, family: str
) -> None:
    (tmp_path / "unet").mkdir()
    (tmp_path / "model_index.json").write_text(json.dumps({"_class_name": pipeline}))
    (tmp_path / "unet" / "config.json").write_text(json.dumps({"cross_attention_dim": cross_attention}))
    assert detect_family(tmp_path) == family


def test_hub_cache_repos_are_found_when_complete(
    registry: ModelRegistry, tiny_sd_model: Path
) -> None:
    snapshot = put_in_hub_cache(tiny_sd_model, registry.hf_cache, REPO)
    put_in_hub_cache(tiny_sd_model, registry.hf_cache, "someone/broken")
    broken = registry.hf_cache / "models--someone--broken" / "snapshots" / ("a" * 40)
    (broken / "unet" / "diffusion_pytorch_model.safetensors").unlink()
    not_a_pipeline = registry.hf_cache / "models--someone--text-model" / "snapshots" / "b"
    not_a_pipeline.mkdir(parents=True)
    (not_a_pipeline / "config.json").write_text("{}")

    hub = [e for e in registry.entries() if e.source == HF_CACHE]
    assert [e.id for e in hub] == [REPO]
    entry = hub[0]
    assert entry.path == snapshot and entry.repo_id == REPO and not entry.owned
    assert entry.size_bytes == _files_size(tiny_sd_model)
    assert entry.precision == "fp32"
    assert registry.resolve(REPO) == entry


def test_hub_cache_location_follows_hf_home(
    studio_paths: StudioPaths, tmp_path: Path, tiny_sd_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HUGGINGFACE_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    put_in_hub_cache(tiny_sd_model, tmp_path / "hf-home" / "hub", REPO)
    assert REPO in [e.id for e in ModelRegistry(studio_paths).entries()]


def test_added_folders_persist_and_can_be_removed(
    registry: ModelRegistry, studio_paths: StudioPaths, tiny_sd_model: Path, tmp_path: Path
) -> None:
    single = tmp_path / "elsewhere" / "sd"
    shutil.copytree(tiny_sd_model, single)
    collection = tmp_path / "collection"
    shutil.copytree(tiny_sd_model, collection / "one")
    shutil.copytree(tiny_sd_model, collection / "two")

    assert [e.path for e in registry.add_folder(single)] == [single]
    assert [e.path.name for e in registry.add_folder(collection)] == ["one", "two"]
    again = ModelRegistry(studio_paths, hf_cache=registry.hf_cache)
    added = [e for e in again.entries() if e.source == ADDED]
    assert [e.path for e in added] == [single, collection / "one", collection / "two"]
    assert json.loads(again.sources_file.read_text())["folders"] == [str(single), str(collection)]

    again.remove_from_list(added[0])  # an added model folder: forgotten
    again.remove_from_list(added[1])  # one model of an added collection: hidden
    assert [e.path for e in again.entries() if e.source == ADDED] == [collection / "two"]
    assert single.is_dir() and (collection / "one").is_dir()  # nothing was deleted
    assert again.resolve(str(collection / "one")).path == collection / "one"


def test_adding_a_folder_without_models_says_so(registry: ModelRegistry, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="holds no model"):
        registry.add_folder(tmp_path / "empty")
    with pytest.raises(ModelError, match="is not a folder"):
        registry.add_folder(tmp_path / "missing")
    assert not registry.sources_file.exists()


def test_hiding_a_hub_entry_keeps_its_files(registry: ModelRegistry, tiny_sd_model: Path) -> None:
    snapshot = put_in_hub_cache(tiny_sd_model, registry.hf_cache, REPO)
    entry = registry.resolve(REPO)
    with pytest.raises(ModelError, match="not Studio's own copy"):
        registry.move_to_trash(entry)
    registry.remove_from_list(entry)
    assert REPO not in [e.id for e in registry.entries()]
    assert snapshot.is_dir()
    assert registry.resolve(REPO).path == snapshot  # old images still find their model


def test_owned_entries_go_to_the_trash(
    registry: ModelRegistry, studio_paths: StudioPaths, tiny_sd_model: Path, trash: Path
) -> None:
    folder = studio_paths.models_dir / "mine"
    shutil.copytree(tiny_sd_model, folder)
    put_in_hub_cache(tiny_sd_model, registry.hf_cache, REPO)
    registry.record_download(REPO)
    entries = {e.id: e for e in registry.entries()}
    assert entries[REPO].source == DOWNLOADED and entries[REPO].owned

    registry.move_to_trash(entries[str(folder)])
    registry.move_to_trash(entries[REPO])
    assert not folder.exists()
    assert not (registry.hf_cache / "models--someone--tiny-sd").exists()
    assert sorted(p.name for p in (trash / "files").iterdir()) == ["mine", "models--someone--tiny-sd"]
    assert registry.sources().downloads == []
    assert {e.source for e in registry.entries()} <= {BUILT_IN}


def test_a_damaged_sources_file_reads_as_empty(registry: ModelRegistry) -> None:
    registry.sources_file.parent.mkdir(parents=True)
    registry.sources_file.write_text("{not json")
    assert {e.source for e in registry.entries()} <= {BUILT_IN}


def test_the_built_in_model_cannot_be_removed(registry: ModelRegistry, tmp_path: Path) -> None:
    from studio.engine.catalogue.registry import ModelEntry

    demo = ModelEntry(id="demo", name="demo", path=tmp_path, bundled=True, source=BUILT_IN)
    with pytest.raises(ModelError, match="cannot be removed"):
        registry.remove_from_list(demo)
    with pytest.raises(ModelError, match="not Studio's own copy"):
        registry.move_to_trash(demo)


def test_variant_only_weights_load_when_the_variant_is_named(
    studio_paths: StudioPaths, tiny_sd_model: Path
) -> None:
    from diffusers import StableDiffusionPipeline

    from studio.engine.catalogue.model_files import weights_variant

    folder = studio_paths.models_dir / "half-only"
    shutil.copytree(tiny_sd_model, folder)
    assert weights_variant(folder) is None
    for file in folder.glob("*/*.safetensors"):
        file.rename(file.with_name(file.name.replace(".safetensors", ".fp16.safetensors")))
    variant = weights_variant(folder)
    assert variant == "fp16"
    pipe = StableDiffusionPipeline.from_pretrained(
        str(folder), variant=variant, local_files_only=True, use_safetensors=True,
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )
    assert pipe.unet is not None


class _RunsCode:
    """Unpickling this writes a file: listing must never unpickle."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (Path.write_text, (self.marker, "ran"))


def test_pickle_checkpoints_are_listed_without_being_opened(
    registry: ModelRegistry, studio_paths: StudioPaths, tmp_path: Path
) -> None:
    import pickle

    from studio.engine.catalogue.checkpoints import PickleConsent

    marker = tmp_path / "code-ran.txt"
    models = studio_paths.models_dir
    models.mkdir(parents=True)
    code = models / "anime-v3.ckpt"
    code.write_bytes(pickle.dumps({"state_dict": {"x": _RunsCode(marker)}}))
    garbage = models / "garbage.pt"
    garbage.write_bytes(b"\x80\x05 this would not unpickle")
    sidecar = models / "anime-v3.config"  # the checkpoint's own configs, not a model
    sidecar.mkdir()
    (sidecar / "model_index.json").write_text('{"_class_name": "StableDiffusionPipeline"}')
    added = tmp_path / "elsewhere"
    added.mkdir()
    (added / "old-model.BIN").write_bytes(b"not a pickle either")
    registry.add_folder(added)

    by_path = {e.path: e for e in registry.entries()}
    assert not marker.exists()
    assert sidecar not in by_path
    for path, source in ((code, MODELS_FOLDER), (garbage, MODELS_FOLDER),
                         (added / "old-model.BIN", ADDED)):
        entry = by_path[path]
        assert entry.is_pickle and entry.is_file and entry.source == source
        assert entry.family == "unknown" and entry.precision == ""
        assert "needs your permission to open" in entry.description
        assert entry.problem == ""  # loadable once allowed
        assert entry.size_bytes == path.stat().st_size
    assert registry.resolve(str(code)) == by_path[code]
    assert registry.resolve("anime-v3") == by_path[code]
    assert not marker.exists()
    # the registry's consent store is the one file the app keeps in its config folder
    assert registry.pickle_consent_file.parent == studio_paths.config_dir
    assert not registry.pickle_consent.allows(code)
    registry.pickle_consent.allow(code)
    assert PickleConsent(registry.pickle_consent_file).allows(code)
    assert ModelRegistry(studio_paths).pickle_consent.allows(code)
    assert not marker.exists()


def test_safetensors_entries_are_not_marked_pickle(
    registry: ModelRegistry, studio_paths: StudioPaths
) -> None:
    from safetensors.numpy import save_file

    studio_paths.models_dir.mkdir(parents=True)
    file = studio_paths.models_dir / "x.safetensors"
    save_file({"odd.weight": np.zeros((4, 4), np.float16)}, str(file))
    entry = next(e for e in registry.entries() if e.path == file)
    assert not entry.is_pickle and entry.description == ""
