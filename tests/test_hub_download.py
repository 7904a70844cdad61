"""Downloads from a local hub server on 127.0.0.1: nothing here touches the internet."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from studio.config.paths import StudioPaths
from studio.engine.hub.plan import (
    DownloadCancelled,
    DownloadError,
    DownloadProgress,
    parse_repo_id,
    plan_download,
)
from studio.engine.hub.transfer import download
from studio.engine.run.cancel import CancelToken
from tests.hub_server import HubServer, ServedRepo, point_hf_at

REPO = "tiny-org/tiny-sd"
BIG = "unet/diffusion_pytorch_model.safetensors"
DECOYS = {
    "unet/diffusion_pytorch_model.bin": b"pickle" * 100,
    "unet/diffusion_pytorch_model.fp16.safetensors": b"half" * 100,
    "text_encoder/flax_model.msgpack": b"flax" * 100,
    "onnx/unet/model.onnx": b"onnx" * 100,
    "v1-5-pruned-emaonly.safetensors": b"single" * 100,
    "safety_checker/model.safetensors": b"checker" * 100,
    ".gitattributes": b"*.safetensors filter=lfs\n",
}


@pytest.fixture
def hub(tiny_sd_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[HubServer]:
    """A hub serving the tiny model (plus files Studio must skip), with a fresh HF_HOME."""
    repo = ServedRepo.from_folder(tiny_sd_model)
    repo.files.update(DECOYS)
    repo = ServedRepo(repo.files)
    with HubServer() as server:
        server.repos[REPO] = repo
        point_hf_at(server, tmp_path / "hf", monkeypatch)
        yield server


def _tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_plan_lists_sizes_and_skips_duplicates(hub: HubServer, tiny_sd_model: Path) -> None:
    plan = plan_download(REPO)
    wanted = _tree(tiny_sd_model)
    assert {f.path for f in plan.files} == set(wanted)
    assert plan.total_bytes == sum(len(b) for b in wanted.values())
    assert set(plan.skipped) == set(DECOYS)
    assert plan.commit == hub.repos[REPO].commit
    assert plan.pipeline == "StableDiffusionPipeline"
    assert plan.present_bytes() == 0
    # only listing and model_index.json happened: no weights moved yet
    assert hub.log.gets(BIG) == []


def test_full_download_reports_one_progress_for_the_whole_repo(
    hub: HubServer, tiny_sd_model: Path
) -> None:
    plan = plan_download(REPO)
    reports: list[DownloadProgress] = []
    snapshot = download(plan, reports.append, chunk_bytes=4096)

    assert _tree(snapshot) == _tree(tiny_sd_model)
    hub_cache = Path(os.environ["HF_HOME"]) / "hub"
    assert snapshot == hub_cache / "models--tiny-org--tiny-sd" / "snapshots" / plan.commit
    assert {r.total_bytes for r in reports} == {plan.total_bytes}
    done = [r.done_bytes for r in reports]
    assert done == sorted(done)
    assert reports[0].done_bytes == 0
    assert reports[-1].done_bytes == plan.total_bytes
    assert reports[-1].files_done == reports[-1].files_total == len(plan.files)
    assert reports[-1].eta_seconds == 0.0
    for decoy in DECOYS:
        assert hub.log.gets(decoy) == []
    # huggingface_hub itself finds the files offline, in the layout other tools share
    from huggingface_hub import snapshot_download

    found = snapshot_download(
        REPO, local_files_only=True, cache_dir=plan.cache_dir, allow_patterns=["unet/*.json"]
    )
    assert Path(found) == snapshot


def test_dropped_connection_resumes_within_the_call(hub: HubServer, tiny_sd_model: Path) -> None:
    size = (tiny_sd_model / BIG).stat().st_size
    hub.drop_after[BIG] = size // 3
    hub.drops_left = 1
    plan = plan_download(REPO)
    snapshot = download(plan, chunk_bytes=1024, retry_delays=(0.0,))

    assert (snapshot / BIG).read_bytes() == (tiny_sd_model / BIG).read_bytes()
    ranges = hub.log.gets(BIG)
    assert len(ranges) == 2 and ranges[0] == ""
    resumed_at = int(ranges[1].removeprefix("bytes=").rstrip("-"))
    assert 0 < resumed_at <= size // 3


def test_cancel_keeps_finished_files_and_the_next_call_fetches_only_the_rest(
    hub: HubServer, tiny_sd_model: Path
) -> None:
    plan = plan_download(REPO)
    cancel = CancelToken()
    big_size = (tiny_sd_model / BIG).stat().st_size

    def stop_inside_big_file(progress: DownloadProgress) -> None:
        if progress.current_file == BIG and progress.done_bytes < plan.total_bytes:
            cancel.cancel()

    with pytest.raises(DownloadCancelled):
        download(plan, stop_inside_big_file, cancel, chunk_bytes=1024, report_every_s=0.0)
    assert not (plan.snapshot_dir / BIG).exists()
    finished = [f for f in plan.files if plan.blob(f).is_file()]
    assert finished, "files before the cancel are kept"
    kept = plan.partial(next(f for f in plan.files if f.path == BIG)).stat().st_size
    assert 0 < kept < big_size

    reports: list[DownloadProgress] = []
    snapshot = download(plan_download(REPO), reports.append, chunk_bytes=1024)
    assert _tree(snapshot) == _tree(tiny_sd_model)
    assert reports[0].done_bytes >= sum(f.size for f in finished) + kept
    assert hub.log.gets(BIG)[-1] == f"bytes={kept}-"
    for file in finished:
        if file.path != "model_index.json":  # each plan reads that one
            assert len(hub.log.gets(file.path)) == 1, file.path


def test_restart_after_a_broken_connection_resumes_the_partial_file(
    hub: HubServer, tiny_sd_model: Path
) -> None:
    size = (tiny_sd_model / BIG).stat().st_size
    hub.drop_after[BIG] = size // 2
    hub.drops_left = 100  # the connection keeps breaking at the same byte
    with pytest.raises(DownloadError, match="kept: download again to resume"):
        download(plan_download(REPO), chunk_bytes=1024, retry_delays=(0.0, 0.0))
    plan = plan_download(REPO)
    partial = plan.partial(next(f for f in plan.files if f.path == BIG))
    kept = partial.stat().st_size
    assert 0 < kept <= size // 2

    hub.drops_left = 0  # a new session, the network is back
    snapshot = download(plan, chunk_bytes=1024)
    assert (snapshot / BIG).read_bytes() == (tiny_sd_model / BIG).read_bytes()
    assert hub.log.gets(BIG)[-1] == f"bytes={kept}-"
    assert not partial.exists()


def test_a_server_without_ranges_sends_the_whole_file_again(
    hub: HubServer, tiny_sd_model: Path
) -> None:
    size = (tiny_sd_model / BIG).stat().st_size
    hub.drop_after[BIG] = size // 2
    hub.drops_left = 1
    hub.ranges = False
    reports: list[DownloadProgress] = []
    snapshot = download(plan_download(REPO), reports.append, chunk_bytes=1024, retry_delays=(0.0,))
    assert (snapshot / BIG).read_bytes() == (tiny_sd_model / BIG).read_bytes()
    assert reports[-1].done_bytes == reports[-1].total_bytes


def test_missing_repo_and_bad_ids_get_clear_messages(hub: HubServer) -> None:
    with pytest.raises(DownloadError, match="There is no model nobody/nothing"):
        plan_download("nobody/nothing")
    with pytest.raises(DownloadError, match="not a Hugging Face repo id"):
        plan_download("just words")
    assert parse_repo_id(f"https://huggingface.co/{REPO}/tree/main") == REPO


def test_a_file_missing_on_the_server_fails_by_name(hub: HubServer) -> None:
    plan = plan_download(REPO)
    del hub.repos[REPO].files[BIG]
    with pytest.raises(DownloadError, match="missing on the server"):
        download(plan)


def test_a_damaged_file_is_refused(hub: HubServer, tiny_sd_model: Path) -> None:
    plan = plan_download(REPO)
    data = bytearray(hub.repos[REPO].files[BIG])
    data[-1] ^= 0xFF
    hub.repos[REPO].files[BIG] = bytes(data)
    with pytest.raises(DownloadError, match="arrived damaged"):
        download(plan)
    big = next(f for f in plan.files if f.path == BIG)
    assert not plan.blob(big).exists()
    assert big.etag == hashlib.sha256((tiny_sd_model / BIG).read_bytes()).hexdigest()


def test_full_disk_is_refused_before_anything_is_written(hub: HubServer) -> None:
    plan = plan_download(REPO)
    with pytest.raises(DownloadError, match="Not enough disk space") as error:
        download(plan, free_bytes=lambda _path: plan.total_bytes // 2)
    assert "more, but only" in str(error.value)
    assert not (plan.repo_dir / "blobs").exists() or not any((plan.repo_dir / "blobs").iterdir())
    assert hub.log.gets(BIG) == []


def test_not_a_pipeline_repo(hub: HubServer) -> None:
    hub.repos["someone/loras"] = ServedRepo({"lora.safetensors": b"x" * 10})
    with pytest.raises(DownloadError, match=r"no model_index\.json"):
        plan_download("someone/loras")


def test_offline_mode_says_so(hub: HubServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(DownloadError, match="HF_HUB_OFFLINE"):
        plan_download(REPO)


def test_a_downloaded_repo_is_listed_and_generates(
    hub: HubServer, tmp_path: Path, studio_paths: StudioPaths
) -> None:
    from studio.engine.catalogue.registry import DOWNLOADED, ModelRegistry
    from studio.engine.run.engine import Engine
    from studio.engine.run.events import Finished, Step
    from studio.engine.run.request import GenerationRequest

    snapshot = download(plan_download(REPO))
    registry = ModelRegistry(studio_paths)
    registry.record_download(REPO)
    entry = registry.resolve(REPO)
    assert entry.path == snapshot and entry.source == DOWNLOADED and entry.owned
    assert entry in registry.entries()

    events: list[object] = []
    request = GenerationRequest("a red circle", seed=3, steps=2, width=64, height=64, model=REPO)
    outcome = Engine(registry, device="cpu").generate(request, events.append)
    assert isinstance(outcome, Finished), outcome
    assert sum(isinstance(e, Step) for e in events) == 2


def test_lfs_files_follow_the_redirect_and_resume_there(
    hub: HubServer, tiny_sd_model: Path
) -> None:
    hub.redirect_lfs = True
    size = (tiny_sd_model / BIG).stat().st_size
    hub.drop_after[BIG] = size // 2
    hub.drops_left = 1
    snapshot = download(plan_download(REPO), chunk_bytes=1024, retry_delays=(0.0,))
    assert (snapshot / BIG).read_bytes() == (tiny_sd_model / BIG).read_bytes()
    sha = hashlib.sha256((tiny_sd_model / BIG).read_bytes()).hexdigest()
    cdn = [rng for method, path, rng in hub.log.requests if path == f"/cdn/{sha}"]
    assert cdn[0] == "" and cdn[1].startswith("bytes=") and len(cdn) == 2


@pytest.mark.parametrize(
    ("files", "kept_weights"),
    [
        # safetensors beside a pickle, fp16 and flax copies: the full-precision safetensors
        (["unet/diffusion_pytorch_model.safetensors", "unet/diffusion_pytorch_model.bin",
          "unet/diffusion_pytorch_model.fp16.safetensors", "unet/flax_model.msgpack"],
         ["unet/diffusion_pytorch_model.safetensors"]),
        # only an fp16 copy: that one
        (["unet/diffusion_pytorch_model.fp16.safetensors", "unet/diffusion_pytorch_model.bin"],
         ["unet/diffusion_pytorch_model.fp16.safetensors"]),
        # sharded: every shard and the index of the chosen variant
        (["unet/diffusion_pytorch_model-00001-of-00002.safetensors",
          "unet/diffusion_pytorch_model-00002-of-00002.safetensors",
          "unet/diffusion_pytorch_model.safetensors.index.json",
          "unet/diffusion_pytorch_model.fp16-00001-of-00001.safetensors",
          "unet/diffusion_pytorch_model.safetensors.index.fp16.json"],
         ["unet/diffusion_pytorch_model-00001-of-00002.safetensors",
          "unet/diffusion_pytorch_model-00002-of-00002.safetensors",
          "unet/diffusion_pytorch_model.safetensors.index.json"]),
    ],
)
def test_selection_keeps_one_safetensors_copy(files: list[str], kept_weights: list[str]) -> None:
    from studio.engine.hub.select import select_files

    index = {"_class_name": "StableDiffusionPipeline", "unet": ["diffusers", "UNet2DConditionModel"],
             "safety_checker": ["x", "y"], "feature_extractor": [None, None]}
    selection = select_files([*files, "unet/config.json", "model_index.json",
                              "safety_checker/model.safetensors", "sd.ckpt"], index)
    assert list(selection.keep) == sorted([*kept_weights, "unet/config.json", "model_index.json"])
    assert set(selection.skipped) == (set(files) - set(kept_weights)) | {
        "safety_checker/model.safetensors", "sd.ckpt"}


def test_pickle_only_weights_are_refused(hub: HubServer, tiny_sd_model: Path) -> None:
    files = dict(hub.repos[REPO].files)
    files["vae/diffusion_pytorch_model.bin"] = files.pop("vae/diffusion_pytorch_model.safetensors")
    hub.repos["someone/pickled"] = ServedRepo(files)
    with pytest.raises(DownloadError, match="pickle"):
        plan_download("someone/pickled")


def test_huggingface_hub_alone_keeps_no_partial_file(hub: HubServer, tiny_sd_model: Path) -> None:
    """Why Studio streams files itself: hf_hub_download retries within one call, but when
    the call fails it deletes what arrived, so the next call starts from byte 0."""
    from huggingface_hub import hf_hub_download

    size = (tiny_sd_model / BIG).stat().st_size
    hub.drop_after[BIG] = size // 2
    hub.drops_left = 100
    cache = Path(os.environ["HF_HOME"]) / "hub"
    with pytest.raises(Exception):  # noqa: B017 - whichever error it raises after its retries
        hf_hub_download(REPO, BIG, cache_dir=cache, endpoint=hub.endpoint)
    # it retried within the call (from its last whole 10 MB chunk: here, byte 0) ...
    assert len(hub.log.gets(BIG)) > 1
    blobs = cache / "models--tiny-org--tiny-sd" / "blobs"
    assert not [p for p in blobs.iterdir() if p.stat().st_size > 0]  # and then threw it away
