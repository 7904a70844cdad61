"""Job-queue endurance on the real engine and the bundled demo model (64x64), in one process:
start/cancel cycles, a thousand one-step jobs queued at once, and the threads left after
shutdown. Memory is the process's resident set (RSS) after a garbage collection.

    python bench/run.py --only jobs
    python bench/run.py --only jobs --quick   # 20 cycles, 100 jobs
    STUDIO_BENCH_JOBS=200 python bench/run.py --only jobs   # another number of queued jobs

The queued jobs slow down with the length of the queue (the queue panel asks every row for its
icon, which is read from disk and drawn again each time): at 1,000 they run at about 0.3 jobs/s
on 2 cores, so a full 1,000 takes most of an hour there.
"""

from __future__ import annotations

import gc
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench_ui import _is, _Session

CYCLE_STEPS = 500  # the most a request may ask for: no run ends before it is cancelled
WARM_UP_CYCLES = 10


def _rss_kb() -> int:
    gc.collect()
    try:
        import psutil

        return psutil.Process().memory_info().rss // 1024
    except ImportError:
        return _proc_status("VmRSS")


def _proc_status(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    raise KeyError(key)


def _threads() -> tuple[int, int]:
    """(Python threads, OS threads of this process)."""
    return threading.active_count(), _proc_status("Threads")


def _os_names() -> dict[int, str]:
    """This process's OS threads: id -> name."""
    names = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            names[int(task.name)] = (task / "comm").read_text().strip()
        except OSError:  # the thread ended while we looked
            continue
    return names


def _studio_threads(worker_ids: set[int]) -> tuple[list[str], list[str]]:
    """Threads Studio started that are alive: Python threads named "studio-…" and the OS threads
    of its QThreads (`worker_ids`); and, apart, other OS threads that carry a "studio-" name
    only because they were created from a Studio thread (Linux names a new thread after its
    creator: torch's pools made on the worker do)."""
    alive = _os_names()
    studio = [f"python:{t.name}" for t in threading.enumerate() if t.name.startswith("studio-")]
    studio += [f"qthread:{alive[tid]}({tid})" for tid in sorted(worker_ids) if tid in alive]
    inherited = [f"{name}({tid})" for tid, name in sorted(alive.items())
                 if name.startswith("studio-") and tid not in worker_ids]
    return studio, inherited


def _worker_ids() -> set[int]:
    """The OS ids of QThreads named studio-* that have run Python code (Python keeps a dummy
    Thread for each foreign thread that called into it)."""
    alive = _os_names()
    return {t.native_id for t in threading.enumerate()
            if isinstance(t, threading._DummyThread) and t.native_id is not None
            and alive.get(t.native_id, "").startswith("studio-")}


def _settle(session: _Session, ms: int = 200) -> None:
    """Let queued calls, timers (the queue's save) and deleteLater run."""
    from PySide6.QtCore import QCoreApplication, QEvent, QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def _cycles(session: _Session, request: Any, count: int) -> dict[str, Any]:
    """`count` runs each started, cancelled at its first step, and waited for to the Idle."""
    from studio.engine.run.events import Step
    from studio.ui.events import Idle
    from studio.ui.jobs import JobState

    controller = session.controller
    times, states = [], []
    for _ in range(count):
        started = time.perf_counter()
        job = controller.submit(request)
        session.wait_event(lambda e, j=job.id: e.job == j and isinstance(e.event, Step), 120)
        controller.cancel_current()
        session.wait_event(lambda e, j=job.id: e.job == j and isinstance(e.event, Idle), 120)
        times.append(time.perf_counter() - started)
        states.append(job.state)
    return {"seconds": times, "cancelled": sum(s is JobState.CANCELLED for s in states)}


class _QueueWrites:
    """Wraps the controller's save_queue: counts the writes, their time and the file's size."""

    def __init__(self) -> None:
        import studio.ui.controller as controller_module

        self._module = controller_module
        self._original = controller_module.save_queue
        self.writes = 0
        self.seconds = 0.0
        self.largest = 0
        self.largest_jobs = 0
        controller_module.save_queue = self  # type: ignore[assignment]

    def __call__(self, path: Path, jobs: list[Any]) -> None:
        started = time.perf_counter()
        try:
            self._original(path, jobs)
        finally:
            self.seconds += time.perf_counter() - started
            self.writes += 1
        size = path.stat().st_size
        if size > self.largest:
            self.largest, self.largest_jobs = size, len(jobs)

    def restore(self) -> None:
        self._module.save_queue = self._original  # type: ignore[assignment]


def _queued(session: _Session, request: Any, count: int) -> dict[str, Any]:
    """Submit `count` jobs at once and run the event loop until each has ended."""
    from PySide6.QtCore import QEventLoop, QTimer

    from studio.engine.run.events import Cancelled, Failed
    from studio.ui.events import Delivered, Idle

    controller = session.controller
    ids: set[int] = set()
    ended: dict[str, int] = {"delivered": 0, "failed": 0, "cancelled": 0}
    loop = QEventLoop()
    started = time.perf_counter()
    progress = [started]
    first_failure: list[str] = []

    def on_event(job_event: Any) -> None:
        if job_event.job not in ids:
            return
        match job_event.event:
            case Delivered():
                ended["delivered"] += 1
            case Failed(message=message):
                ended["failed"] += 1
                first_failure[:] = first_failure or [message]
            case Cancelled():
                ended["cancelled"] += 1
            case Idle():
                done = sum(ended.values())
                now = time.perf_counter()
                if done % 100 == 0 or now - progress[0] > 30:
                    progress[0] = now
                    print(f"   {done}/{count} jobs ended, {now - started:.0f} s, "
                          f"{done / (now - started):.1f} jobs/s", flush=True)
                if done >= count:
                    loop.quit()

    controller.event.connect(on_event)
    for _ in range(count):
        ids.add(controller.submit(request).id)
    submitted = time.perf_counter() - started
    QTimer.singleShot(3600 * 1000, loop.quit)
    loop.exec()
    seconds = time.perf_counter() - started
    controller.event.disconnect(on_event)
    return {"ids": ids, "seconds": seconds, "submit_seconds": submitted, "ended": ended,
            "failure": first_failure[0] if first_failure else ""}


def run(args: Any) -> dict[str, dict[str, Any]]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    quick = bool(getattr(args, "quick", False))
    cycles, jobs = (20, 100) if quick else (100, 1000)
    jobs = int(os.environ.get("STUDIO_BENCH_JOBS", jobs))
    from PySide6.QtWidgets import QApplication

    from studio.config.paths import bundled_models_dir
    from studio.ui.events import Idle
    from studio.ui.jobs import JobState

    if not (bundled_models_dir() / "studio-shapes" / "model_index.json").is_file():
        raise RuntimeError("the bundled demo model (resources/models/studio-shapes) is not installed")
    QApplication.instance() or QApplication([])
    studio_before, _ = _studio_threads(set())
    os_threads_at_start = _proc_status("Threads")
    with tempfile.TemporaryDirectory(prefix="studio-bench-jobs-") as tmp:
        home = Path(tmp) / "home"
        old_home = os.environ.get("STUDIO_HOME")
        os.environ["STUDIO_HOME"] = str(home)
        writes = _QueueWrites()
        try:
            session = _Session(home, "studio-shapes", persist=True)
            controller = session.controller
            base = session.window.parameters.request().replace(seed=1, width=64, height=64)
            worker_ids = _worker_ids()  # the engine has loaded, on the worker
            studio_while_running = _studio_threads(worker_ids)

            # warm up: load the model, fit its preview decoder, start torch's threads
            controller.submit(base.replace(steps=2))
            session.wait_event(_is(Idle), 300)
            long_run = base.replace(steps=CYCLE_STEPS)
            _cycles(session, long_run, WARM_UP_CYCLES)
            _settle(session)

            rss0, (py0, os0) = _rss_kb(), _threads()
            print(f"   {cycles} start/cancel cycles", flush=True)
            cycled = _cycles(session, long_run, cycles)
            _settle(session)
            rss1, (py1, os1) = _rss_kb(), _threads()

            one_step = base.replace(steps=1)
            print(f"   {jobs} queued one-step jobs", flush=True)
            writes_before = (writes.writes, writes.seconds)
            queued = _queued(session, one_step, jobs)
            _settle(session, 500)
            rss2, (py2, os2) = _rss_kb(), _threads()
            done_ids = {j.id for j in controller.jobs.jobs(JobState.DONE)}
            done = len(queued["ids"] & done_ids)
            states: dict[str, int] = {}
            for job in controller.jobs.jobs():
                if job.id in queued["ids"]:
                    states[job.state.value] = states.get(job.state.value, 0) + 1
            queue_writes = writes.writes - writes_before[0]
            write_seconds = writes.seconds - writes_before[1]
            queue_file = session.studio.paths.queue_file
            queue_left = queue_file.stat().st_size if queue_file.exists() else 0

            session.close()  # the window's close: the catalogue's scan joined, the controller shut down
            _settle(session, 300)
            shut_down = not controller.running
            studio_after, inherited_after = _studio_threads(worker_ids)
            os_threads_after = _proc_status("Threads")
            py_after = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
        finally:
            writes.restore()
            if old_home is None:
                os.environ.pop("STUDIO_HOME", None)
            else:
                os.environ["STUDIO_HOME"] = old_home

    cycle_ms = sorted(s * 1000 for s in cycled["seconds"])
    growth_cycles = rss1 - rss0
    growth_jobs = rss2 - rss1
    jobs_per_s = jobs / queued["seconds"]
    engine_note = "offscreen window, real engine, bundled demo model at 64x64, CPU"
    figures: dict[str, dict[str, Any]] = {
        "cycles_cancelled": _fig(cycled["cancelled"], cycles, "jobs", "higher",
                                 f"of {cycles} runs of {CYCLE_STEPS} steps, submitted, cancelled at "
                                 "their first Step, waited for to Idle, how many ended CANCELLED"),
        "cycle_median": _fig(cycle_ms[len(cycle_ms) // 2], None, "ms", "lower",
                             f"submit to Idle of one cycle, median; slowest {cycle_ms[-1]:.0f} ms"),
        "cycles_rss_before": _fig(rss0 / 1024, None, "MB", "lower",
                                  f"after one run and {WARM_UP_CYCLES} warm-up cycles; {engine_note}"),
        "cycles_rss_after": _fig(rss1 / 1024, None, "MB", "lower", f"after {cycles} cycles"),
        "cycles_rss_growth_per_100": _fig(growth_cycles * 100 / cycles, 1024, "KB", "lower",
                                          f"RSS growth over the cycles, per 100 ({growth_cycles} KB "
                                          f"in {cycles}; {growth_cycles / cycles:.1f} KB per cycle)"),
        "cycles_python_threads_before": _fig(py0, None, "threads", "lower", "threading.active_count()"),
        "cycles_python_threads_after": _fig(py1, py0, "threads", "lower", "target: as many as before"),
        "cycles_os_threads_before": _fig(os0, None, "threads", "lower", "/proc/self/status Threads"),
        "cycles_os_threads_after": _fig(os1, os0, "threads", "lower", "target: as many as before"),
        "queued_done": _fig(done, jobs, "jobs", "higher",
                            f"of {jobs} one-step 64x64 jobs submitted at once, persist=True, how many "
                            f"ended DONE in controller.jobs (states: {states}"
                            + (f"; first failure: {queued['failure'][:200]}" if queued["failure"] else "")
                            + ")"),
        "queued_total": _fig(queued["seconds"], None, "s", "lower",
                             f"first submit to the last job's Idle; the {jobs} submits took "
                             f"{queued['submit_seconds'] * 1000:.0f} ms"),
        "queued_jobs_per_s": _fig(jobs_per_s, None, "jobs/s", "higher", engine_note),
        "queued_rss_before": _fig(rss1 / 1024, None, "MB", "lower", "before the first submit"),
        "queued_rss_after": _fig(rss2 / 1024, None, "MB", "lower",
                                 f"with {jobs} done jobs in the job model and the results strip"),
        "queued_rss_growth_per_job": _fig(growth_jobs / jobs, 50, "KB", "lower",
                                          f"{growth_jobs} KB over {jobs} jobs"),
        "queued_python_threads_after": _fig(py2, py1, "threads", "lower", "target: as before the jobs"),
        "queued_os_threads_after": _fig(os2, os1, "threads", "lower", "target: as before the jobs"),
        "queue_file_largest": _fig(writes.largest / 1024, None, "KB", "lower",
                                   f"queue.json at its largest, holding {writes.largest_jobs} jobs; "
                                   f"{queue_left} bytes when all were done"),
        "queue_writes": _fig(queue_writes, None, "writes", "lower",
                             f"queue.json writes during the {jobs} jobs, "
                             f"{queue_writes / jobs:.2f} per job"),
        "queue_write_time": _fig(write_seconds, None, "s", "lower",
                                 f"time spent writing queue.json during the {jobs} jobs "
                                 f"({100 * write_seconds / queued['seconds']:.1f}% of the run)"),
        "studio_threads_after_shutdown": _fig(len(studio_after), 0, "threads", "lower",
                                              "Python threads named studio-* and the OS threads of "
                                              "Studio's QThreads left after the window closed: "
                                              f"{studio_after or 'none'}; while running: "
                                              f"{studio_while_running[0]}; before build: "
                                              f"{studio_before or 'none'}; controller stopped: {shut_down}; "
                                              "threads that only inherited a studio- name from their "
                                              f"creator (torch's pools): {inherited_after or 'none'}"),
        "os_threads_after_shutdown": _fig(os_threads_after, None, "threads", "lower",
                                          f"{os_threads_at_start} before Studio was built (torch's own "
                                          f"pools stay); Python threads left: {py_after or 'none'}"),
    }
    return figures


def _fig(value: float, target: float | None, unit: str, better: str, note: str) -> dict[str, Any]:
    return {"value": round(float(value), 3), "target": target, "unit": unit, "better": better, "note": note}


if __name__ == "__main__":
    import json
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    print(json.dumps(run(None), indent=2))
