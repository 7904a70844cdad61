"""Nothing is lost: `studio generate` killed with SIGKILL at any moment, and a disk that fills up.

The kill loop runs the real CLI on the bundled demo model and kills it at moments drawn from a
seeded random.Random: a while into loading, the instant a file appears in the output folder
(mid-save), or just after the n-th path is printed. After every kill each PNG present must be
whole and carry its metadata, and a fresh Gallery on the folder must agree with the files.
`bench/bench_reliability.py` runs the same loop and prints the tally.
"""

from __future__ import annotations

import errno
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest
from PIL import Image

from studio.config.atomic import TEMP_PREFIX, SaveError, remove_stale_temporaries
from studio.config.paths import StudioPaths
from studio.engine.run.request import GenerationRequest
from studio.library.gallery import Gallery
from studio.library.store import save_image

PROMPT = "a red fox in the snow"
# Two steps keep a run short; the moments that matter for the files are the saves at its end.
DEMO_ARGS = ("--prompt", PROMPT, "--steps", "2", "--batch", "4")
BATCH = 4
POLL_S = 0.0002
RUN_TIMEOUT_S = 300.0
Moment = Literal["loading", "first-file", "path"]
# The first kills cover every kind of moment and both destinations; later ones are drawn.
FIRST_ROUND: tuple[tuple[Moment, int, bool], ...] = (
    ("first-file", 0, False),
    ("first-file", 0, True),
    ("path", 1, True),
    ("path", 3, False),
    ("loading", 0, True),
)

REQUEST = GenerationRequest(PROMPT, seed=9, model="demo")
NO_SPACE = OSError(errno.ENOSPC, "No space left on device")


@dataclass(frozen=True)
class KillPlan:
    """When to kill one run: `delay_s` after start ("loading"), after the first new file shows
    in the output folder ("first-file"), or after the `nth` printed path ("path")."""

    moment: Moment
    nth: int
    delay_s: float
    into_gallery: bool  # the dated gallery under STUDIO_HOME, else a folder given with --out
    seed: int

    def describe(self) -> str:
        when = {"loading": "into loading", "first-file": "after the first file", "path": f"after path {self.nth}"}
        where = "gallery" if self.into_gallery else "--out"
        return f"{when[self.moment]} +{self.delay_s * 1000:.1f} ms ({where})"


def plan_kills(count: int, seed: int = 0) -> list[KillPlan]:
    rng = random.Random(seed)
    plans = []
    for number in range(count):
        if number < len(FIRST_ROUND):
            moment, nth, into_gallery = FIRST_ROUND[number]
        else:
            moment = rng.choice(("loading", "first-file", "path", "path"))
            nth, into_gallery = rng.randint(1, BATCH), rng.random() < 0.5
        delay = rng.uniform(0.5, 6.0) if moment == "loading" else rng.uniform(0.0, 0.003)
        plans.append(KillPlan(moment, nth if moment == "path" else 0, delay, into_gallery, seed=1000 + number))
    return plans


@dataclass
class KillTally:
    """What the kills left behind; every list but `killed` and `new_per_run` must stay empty."""

    killed: list[str] = field(default_factory=list)  # the plans whose run SIGKILL ended
    finished: list[str] = field(default_factory=list)  # runs that ended before their moment came
    new_per_run: list[int] = field(default_factory=list)  # PNGs each killed run left
    temporaries_hidden: int = 0  # left on disk by kills mid-write: hidden, cleaned later
    broken: dict[str, str] = field(default_factory=dict)  # PNG -> what is wrong with it
    lost: list[str] = field(default_factory=list)  # printed as saved, yet not there
    wrong_mode: list[str] = field(default_factory=list)
    temporaries_listed: list[str] = field(default_factory=list)  # in the gallery's rows
    mismatches: list[str] = field(default_factory=list)  # index and files disagree
    pngs: set[Path] = field(default_factory=set)

    def problems(self) -> list[str]:
        found = [f"{path}: {why}" for path, why in self.broken.items()]
        found += [f"lost {path}" for path in self.lost] + [f"mode {item}" for item in self.wrong_mode]
        found += [f"listed {path}" for path in self.temporaries_listed] + self.mismatches
        return found + [f"not killed: {plan}" for plan in self.finished]


def run_kill_loop(home: Path, plans: list[KillPlan], on_kill: Callable[[int], None] | None = None) -> KillTally:
    """Run and kill `studio generate` once per plan, checking the files after each kill."""
    tally = KillTally()
    for number, plan in enumerate(plans):
        folder = home / "gallery" if plan.into_gallery else home / "out"
        before = set(_pngs(folder))
        printed, killed = kill_generate(plan, home, folder)
        (tally.killed if killed else tally.finished).append(plan.describe())
        check_after_kill(home, folder, plan.into_gallery, printed, tally)
        tally.new_per_run.append(len(set(_pngs(folder)) - before))
        if on_kill:
            on_kill(number + 1)
    for folder, into_gallery in ((home / "gallery", True), (home / "out", False)):
        tally.temporaries_hidden += remove_stale_temporaries(folder, older_than=0)
        check_after_kill(home, folder, into_gallery, [], tally)  # cleaning up loses nothing either
        if any(path.name.startswith(TEMP_PREFIX) for path in _all_files(folder)):
            tally.mismatches.append(f"temporary files survived the clean-up in {folder}")
    return tally


def kill_generate(plan: KillPlan, home: Path, folder: Path) -> tuple[list[str], bool]:
    """One real run, killed with SIGKILL at the plan's moment; the printed paths and whether it was."""
    command = [sys.executable, "-m", "studio", "generate", *DEMO_ARGS, "--seed", str(plan.seed)]
    if not plan.into_gallery:
        command += ["--out", str(folder)]
    env = os.environ | {"STUDIO_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    before = _all_files(folder)
    printed: list[str] = []
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, umask=0o022
    ) as child:
        assert child.stdout is not None
        lines = child.stdout
        reader = threading.Thread(target=lambda: printed.extend(line.strip() for line in lines), daemon=True)
        reader.start()
        started = time.monotonic()
        while child.poll() is None:
            if plan.moment == "loading":
                # A fast machine may load and save before the drawn delay: the first file written
                # is then the latest moment that still counts as "into loading".
                due = time.monotonic() - started >= plan.delay_s or _all_files(folder) != before
            elif plan.moment == "first-file":
                due = _all_files(folder) != before
            else:
                due = len(printed) >= plan.nth
            if due or time.monotonic() - started > RUN_TIMEOUT_S:
                if plan.moment != "loading":
                    _spin(plan.delay_s)
                child.send_signal(signal.SIGKILL)
                break
            time.sleep(POLL_S)
        child.wait()
        reader.join()
    return printed, child.returncode == -signal.SIGKILL


def check_after_kill(home: Path, folder: Path, into_gallery: bool, printed: list[str], tally: KillTally) -> None:
    """Every PNG whole, with metadata and mode 0644; the next start's index agrees with the files."""
    pngs = set(_pngs(folder))
    tally.pngs |= pngs
    for path in pngs:
        why = incomplete(path)
        if why:
            tally.broken[str(path)] = why
        if path.stat().st_mode & 0o777 != 0o644:
            tally.wrong_mode.append(f"{path}: {oct(path.stat().st_mode & 0o777)}")
    tally.lost += [line for line in printed if not Path(line).is_file()]
    gallery = Gallery.from_paths(StudioPaths.under(home)) if into_gallery else Gallery.for_folder(folder)
    with gallery:
        report = gallery.index.reconcile()
        rows = {row.path for row in gallery.index.rows()}
    tally.temporaries_listed += [str(path) for path in rows if path.name.startswith(TEMP_PREFIX)]
    tally.mismatches += [f"indexed, not a complete file: {path}" for path in rows - pngs]
    tally.mismatches += [f"a file the index lacks: {path}" for path in pngs - rows]
    tally.mismatches += [f"refused by the index: {path}: {why}" for path, why in report.skipped.items()]


def incomplete(path: Path) -> str | None:
    """Why `path` is not a whole Studio PNG with its metadata, or None when it is one."""
    try:
        with Image.open(path) as image:
            image.verify()
        with Image.open(path) as image:
            image.load()
            text = dict(image.text)  # type: ignore[attr-defined]
    except Exception as exc:  # any failure to read is the finding, whatever its type
        return f"unreadable ({type(exc).__name__}: {exc})"
    if not text.get("parameters", "").startswith(PROMPT):
        return "no parameters chunk"
    try:
        request = json.loads(text["studio"])["request"]
    except (KeyError, ValueError, TypeError):
        return "no studio chunk"
    return None if request.get("prompt") == PROMPT else "the studio chunk has another prompt"


def _all_files(folder: Path) -> set[Path]:
    """Every file under `folder`, hidden ones too, but not the gallery's own `.studio` folder."""
    found: set[Path] = set()
    for parent, folders, files in os.walk(folder):
        folders[:] = [name for name in folders if name != ".studio"]
        found.update(Path(parent, name) for name in files)
    return found


def _pngs(folder: Path) -> list[Path]:
    """The PNGs a person sees: not hidden, not in a hidden folder."""
    return [
        path
        for path in _all_files(folder)
        if path.suffix == ".png" and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    ]


def _spin(seconds: float) -> None:
    """Wait with sub-millisecond precision (sleep overshoots the short gaps between saves)."""
    until = time.perf_counter() + seconds
    while time.perf_counter() < until:
        pass


def _noise(size: int = 128) -> Image.Image:
    return Image.frombytes("RGB", (size, size), random.Random(size).randbytes(size * size * 3))


def _assert_nothing_lost(tally: KillTally, plans: list[KillPlan]) -> None:
    assert tally.problems() == [], "\n".join(tally.problems())
    assert len(tally.killed) == len(plans)
    assert tally.pngs, "no kill let a single image be saved: the moments missed the saves"


def test_five_kills_during_generate_lose_nothing(tmp_path: Path) -> None:
    plans = plan_kills(5, seed=0)
    tally = run_kill_loop(tmp_path / "home", plans)
    _assert_nothing_lost(tally, plans)


@pytest.mark.slow
def test_twenty_kills_during_generate_lose_nothing(tmp_path: Path) -> None:
    plans = plan_kills(20, seed=1)
    tally = run_kill_loop(tmp_path / "home", plans)
    _assert_nothing_lost(tally, plans)


def test_kill_plans_are_repeatable_and_spread() -> None:
    plans = plan_kills(20, seed=1)
    assert plans == plan_kills(20, seed=1)
    assert {plan.moment for plan in plans} == {"loading", "first-file", "path"}
    assert {plan.into_gallery for plan in plans} == {True, False}
    assert len({plan.nth for plan in plans if plan.moment == "path"}) >= 3


def test_the_check_tells_a_whole_image_from_a_cut_or_bare_one(tmp_path: Path) -> None:
    whole = save_image(_noise(64), REQUEST, tmp_path)
    assert incomplete(whole) is None
    cut = tmp_path / "cut.png"
    cut.write_bytes(whole.read_bytes()[:-300])  # what a non-atomic writer leaves when killed
    assert (incomplete(cut) or "").startswith("unreadable")
    bare = tmp_path / "bare.png"
    _noise(64).save(bare)
    assert incomplete(bare) == "no parameters chunk"


# -- a full disk ---------------------------------------------------------------------------------


def _opened_inside(fd: int, folder: Path) -> bool:
    try:
        return Path(os.readlink(f"/proc/self/fd/{fd}")).is_relative_to(folder)
    except OSError:
        return False


def _fill_disk_at(where: str, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the disk of `folder` full at one system call, as the kernel reports it."""
    if where == "write":  # the first write lands half its bytes, the next one finds no space
        real_write, calls = os.write, [0]

        def write(fd: int, data: bytes) -> int:
            if not _opened_inside(fd, folder):
                return real_write(fd, data)
            calls[0] += 1
            if calls[0] > 1:
                raise NO_SPACE
            return real_write(fd, memoryview(data)[: len(data) // 2])

        monkeypatch.setattr(os, "write", write)
    elif where == "fsync":  # delayed allocation: the blocks are found missing at the flush
        real_fsync = os.fsync

        def fsync(fd: int) -> None:
            if _opened_inside(fd, folder) and not Path(os.readlink(f"/proc/self/fd/{fd}")).is_dir():
                raise NO_SPACE
            real_fsync(fd)

        monkeypatch.setattr(os, "fsync", fsync)
    elif where == "close":  # network file systems report it when the file is closed
        real_close = os.close

        def close(fd: int) -> None:
            inside = _opened_inside(fd, folder)
            real_close(fd)
            if inside:
                raise NO_SPACE

        monkeypatch.setattr(os, "close", close)
    elif where == "mkdir":  # no room for the day's new folder
        real_mkdir = os.mkdir

        def mkdir(path: os.PathLike[str] | str, *args: object, **kwargs: object) -> None:
            if Path(path).is_relative_to(folder):
                raise NO_SPACE
            real_mkdir(path, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(os, "mkdir", mkdir)
    else:  # the folder needs a new block for the name
        real_link = os.link

        def link(source: os.PathLike[str] | str, target: os.PathLike[str] | str, **kwargs: object) -> None:
            if Path(target).is_relative_to(folder):
                raise NO_SPACE
            real_link(source, target, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(os, "link", link)


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="names open files through /proc")
@pytest.mark.parametrize("where", ["mkdir", "write", "fsync", "close", "link"])
def test_a_full_disk_while_saving_says_so_keeps_the_image_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    gallery = tmp_path / "gallery"
    image = _noise()
    _fill_disk_at(where, gallery, monkeypatch)
    with pytest.raises(SaveError) as caught:
        save_image(image, REQUEST, gallery)
    monkeypatch.undo()
    message = str(caught.value)
    assert "not enough space on the disk" in message and "\n" not in message
    assert "Errno" not in message and "Traceback" not in message
    assert caught.value.errno == errno.ENOSPC
    assert caught.value.image is image
    assert [path for path in gallery.rglob("*") if path.is_file()] == []  # nothing half-written
    kept = save_image(caught.value.image, REQUEST, tmp_path / "elsewhere")  # and nothing lost
    with Image.open(kept) as saved:
        assert saved.tobytes() == image.tobytes()


def _tiny_disk_available(folder: Path) -> bool:
    if sys.platform != "linux" or not shutil.which("unshare"):
        return False
    probe = subprocess.run(
        ["unshare", "-rm", "sh", "-c", 'mount -t tmpfs -o size=64k tmpfs "$0"', str(folder)],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


def _on_tiny_disk(folder: Path, size: str, script: str) -> subprocess.CompletedProcess[str]:
    """Run a Python script with a real tmpfs of `size` mounted on `folder`, in a private mount
    namespace: the mount goes away with the script, whatever happens to the test."""
    folder.mkdir(parents=True, exist_ok=True)
    if not _tiny_disk_available(folder):
        pytest.skip("cannot mount a tmpfs here (needs Linux user namespaces)")
    return subprocess.run(
        ["unshare", "-rm", "sh", "-c", 'mount -t tmpfs -o size="$1" tmpfs "$0" && exec "$2" -c "$3"',
         str(folder), size, sys.executable, textwrap.dedent(script)],
        capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False,
        env=os.environ | {"STUDIO_HOME": str(folder.parent / "home"), "HF_HUB_OFFLINE": "1"},
    )  # fmt: skip


def test_a_real_full_disk_keeps_the_image_and_frees_its_space(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    result = _on_tiny_disk(
        disk,
        "256k",
        f"""
        import json, os, random
        from pathlib import Path
        from PIL import Image
        from studio.config.atomic import SaveError
        from studio.engine.run.request import GenerationRequest
        from studio.library.store import save_image
        disk = Path({str(disk)!r})
        (disk / "filler").write_bytes(b"x" * 160_000)
        noise = Image.frombytes("RGB", (256, 256), random.Random(1).randbytes(256 * 256 * 3))
        found = {{}}
        try:
            save_image(noise, GenerationRequest("noise", seed=1), disk / "gallery")
        except SaveError as error:
            found["message"] = str(error)
            found["kept"] = error.image is noise
        found["left"] = sorted(str(p.relative_to(disk)) for p in disk.rglob("*") if p.is_file())
        vfs = os.statvfs(disk)
        found["free_kib"] = vfs.f_bavail * vfs.f_frsize // 1024
        (disk / "filler").unlink()
        saved = save_image(noise, GenerationRequest("noise", seed=1), disk / "gallery")
        found["saved_again"] = Image.open(saved).tobytes() == noise.tobytes()
        print(json.dumps(found))
        """,
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["message"].startswith(f"Could not write {disk / 'gallery'}")
    assert found["message"].endswith("there is not enough space on the disk.")
    assert found["kept"] is True
    assert found["left"] == ["filler"]  # no half image, no temporary file
    assert found["free_kib"] >= 256 - 160 - 8  # the failed write's blocks were given back
    assert found["saved_again"] is True


def test_generate_onto_a_full_disk_says_so_and_leaves_only_whole_images(tmp_path: Path) -> None:
    out = tmp_path / "disk"
    result = _on_tiny_disk(
        out,
        "16k",
        f"""
        import json, os, subprocess, sys
        from PIL import Image
        run = subprocess.run([sys.executable, "-m", "studio", "generate", *{DEMO_ARGS!r}, "--seed", "3",
                              "--out", {str(out)!r}], capture_output=True, text=True)
        printed = run.stdout.splitlines()
        whole = []
        for line in printed:
            with Image.open(line) as image:
                image.load()
                whole.append("parameters" in image.text)
        print(json.dumps({{"code": run.returncode, "printed": printed, "whole": whole,
                          "errors": run.stderr.splitlines(), "left": sorted(os.listdir({str(out)!r}))}}))
        """,
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["code"] != 0
    assert any("Could not write" in line and "not enough space on the disk" in line for line in found["errors"])
    assert not any("Traceback" in line for line in found["errors"])
    on_disk = sorted(Path(line).name for line in found["printed"] if Path(line).parent == out)
    assert 0 < len(on_disk) < BATCH  # the disk took some, then filled up
    assert found["left"] == on_disk  # what was printed is there; no half image, no temporary file
    assert found["whole"] and all(found["whole"])  # every printed path is a whole image with metadata
