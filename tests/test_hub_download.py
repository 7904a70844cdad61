"""Downloads from a local hub server on 127.0.0.1: nothing here touches the internet."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from studio.engine.cancel import CancelToken
from studio.engine.hub import (
    DownloadCancelled,
    DownloadError,
    DownloadProgress,
    parse_repo_id,
    plan_download,
)
from studio.engine.hub_transfer import download
from tests.hub_server import HubServer, ServedRepo

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
    from huggingface_hub import constants

    repo = ServedRepo.from_folder(tiny_sd_model)
    repo.files.update(DECOYS)
    repo = ServedRepo(repo.files)
    with HubServer() as server:
        server.repos[REPO] = repo
        monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
        monkeypatch.delenv("HF_HUB_CACHE", raising=False)
        monkeypatch.delenv("HUGGINGFACE_HUB_CACHE", raising=False)
        monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
        monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
        monkeypatch.setenv("HF_HUB_OFFLINE", "0")
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
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
    assert snapshot == Path(hub_home(hub)) / "hub" / "models--tiny-org--tiny-sd" / "snapshots" / plan.commit
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


def hub_home(hub: HubServer) -> str:
    import os

    return os.environ["HF_HOME"]


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

    requested_before = {p for m, p, _ in hub.log.requests if "/resolve/" in p}
    reports: list[DownloadProgress] = []
    snapshot = download(plan_download(REPO), reports.append, chunk_bytes=1024)
    assert _tree(snapshot) == _tree(tiny_sd_model)
    assert reports[0].done_bytes >= sum(f.size for f in finished) + kept
    assert hub.log.gets(BIG)[-1] == f"bytes={kept}-"
    for file in finished:
        if file.path != "model_index.json":  # each plan reads that one
            assert len(hub.log.gets(file.path)) == 1, file.path
    assert requested_before  # the first call did fetch something


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
