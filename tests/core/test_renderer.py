from __future__ import annotations

import threading

import numpy as np
import pytest

from fader_studio.core.engine import Engine
from fader_studio.core.modelfile import load_model
from fader_studio.core.renderer import LatestWinsRenderer, RenderResult


class Collector:
    """Records delivered results and lets a test wait for a given one."""

    def __init__(self) -> None:
        self.results: list[RenderResult] = []
        self.threads: set[str] = set()
        self._cond = threading.Condition()

    def __call__(self, result: RenderResult) -> None:
        with self._cond:
            self.results.append(result)
            self.threads.add(threading.current_thread().name)
            self._cond.notify_all()


def test_burst_of_1000_renders_the_last_and_few_others(model_file, faces: np.ndarray) -> None:
    engine = Engine(load_model(model_file), "cpu")
    z = engine.encode(faces[:1])
    collected = Collector()
    requests = [{"Eyeglasses": i / 999, "Smiling": 0.5, "Male": 1 - i / 999} for i in range(1000)]
    with LatestWinsRenderer(lambda values: engine.decode(z, values), collected) as renderer:
        ids = [renderer.submit(r) for r in requests]
        assert renderer.wait_idle(timeout=60)
        assert renderer.renders < 100  # far fewer than the 1000 requests
    assert ids == list(range(1, 1001))
    last = collected.results[-1]
    assert last.request_id == 1000 and last.error is None
    assert np.array_equal(last.value, engine.decode(z, requests[-1]))
    assert [r.request_id for r in collected.results] == sorted({r.request_id for r in collected.results})
    assert collected.threads == {"fader-render"}


def test_submit_never_waits_for_a_running_render() -> None:
    started, release = threading.Event(), threading.Event()

    def slow(request: int) -> int:
        if request == 0:
            started.set()
            release.wait(timeout=30)
        return request * 10

    collected = Collector()
    with LatestWinsRenderer(slow, collected) as renderer:
        renderer.submit(0)
        assert started.wait(timeout=10)
        # the worker is stuck inside render(0): every submit must still return at once
        for i in range(1, 1001):
            renderer.submit(i)
        assert renderer.renders == 0
        release.set()
        assert renderer.wait_idle(timeout=10)
        assert renderer.renders == 2  # request 0, then straight to the newest one
        assert renderer.skipped == 999  # replaced while waiting, never rendered
    assert [(r.request_id, r.value) for r in collected.results] == [(1, 0), (1001, 10000)]


def test_render_errors_are_delivered_and_the_worker_survives() -> None:
    def render(request: int) -> int:
        if request < 0:
            raise ValueError("negative")
        return request

    collected = Collector()
    with LatestWinsRenderer(render, collected) as renderer:
        renderer.submit(-1)
        assert renderer.wait_idle(timeout=10)
        renderer.submit(5)
        assert renderer.wait_idle(timeout=10)
    (failed, ok) = collected.results
    assert isinstance(failed.error, ValueError) and failed.value is None
    assert ok.value == 5 and ok.error is None


def test_a_failing_result_handler_does_not_stop_the_worker(caplog: pytest.LogCaptureFixture) -> None:
    seen = []

    def handler(result: RenderResult) -> None:
        seen.append(result.value)
        if result.value == 1:
            raise RuntimeError("handler bug")

    with LatestWinsRenderer(lambda r: r, handler) as renderer:
        renderer.submit(1)
        assert renderer.wait_idle(timeout=10)
        renderer.submit(2)
        assert renderer.wait_idle(timeout=10)
    assert seen == [1, 2]
    assert "render result handler failed" in caplog.text


def test_close_drops_pending_work_and_refuses_new_requests() -> None:
    started, release = threading.Event(), threading.Event()
    rendered = []

    def render(request: int) -> None:
        started.set()
        release.wait(timeout=30)
        rendered.append(request)

    renderer = LatestWinsRenderer(render, lambda result: None)
    renderer.submit(1)
    assert started.wait(timeout=10)
    renderer.submit(2)
    renderer.close(timeout=0)  # stop while render(1) is still running
    release.set()
    renderer.close()  # again, now waiting for the thread to end
    assert rendered == [1]
    assert not renderer._thread.is_alive()
    with pytest.raises(RuntimeError, match="closed"):
        renderer.submit(3)


def test_calls_run_in_order_on_the_worker_before_pending_renders() -> None:
    order: list[str] = []
    gate, started = threading.Event(), threading.Event()
    threads: set[str] = set()

    def render(request: str) -> str:
        threads.add(threading.current_thread().name)
        if request == "first":
            started.set()
            gate.wait(5)
        order.append(f"render {request}")
        return request

    renderer = LatestWinsRenderer(render, lambda result: None)
    try:
        renderer.submit("first")  # blocks the worker until the gate opens
        assert started.wait(5)
        renderer.submit("second")
        first = renderer.call(lambda: order.append("call 1") or threading.current_thread().name)
        failing = renderer.call(lambda: 1 / 0)
        gate.set()
        assert first.result(5) == "fader-render"
        with pytest.raises(ZeroDivisionError):
            failing.result(5)
        assert renderer.wait_idle(5)
        assert order == ["render first", "call 1", "render second"]
        assert threads == {"fader-render"}
    finally:
        renderer.close()
    with pytest.raises(RuntimeError, match="closed"):
        renderer.call(print)
