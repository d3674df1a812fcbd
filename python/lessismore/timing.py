"""Timing GPU work from Python with CUDA events, the same way for our kernels and PyTorch's.

The calls are captured `reps` at a time into a CUDA graph and the graph's replays are timed with events:
host overhead (ctypes marshalling, Python, PyTorch's dispatcher) stays out of the numbers, as it does in an
engine that replays its decode step as a graph. The calls cycle through several input sets so that
repeated calls do not read from L2. The result is the median over trials of (replay time / reps), in
microseconds. Where capture fails, the calls are timed on the stream behind a GPU sleep instead (the
method is returned with the time).
"""

import statistics

import torch

L2_BYTES = 50 * 2**20


def input_sets_for(bytes_per_set: int, budget: int = 8 * 2**30) -> int:
    """How many copies of the inputs to rotate through so that their total exceeds the L2 several times."""
    want = max(1, -(-4 * L2_BYTES // max(1, bytes_per_set)))
    return max(1, min(want, budget // max(1, bytes_per_set)))


def _time_graph(calls, reps: int, trials: int) -> float:
    stream = torch.cuda.Stream()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph, stream=stream):
        for i in range(reps):
            calls[i % len(calls)]()
    graph.replay()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    results = []
    for _ in range(trials):
        start.record()
        graph.replay()
        end.record()
        end.synchronize()
        results.append(start.elapsed_time(end) * 1000.0 / reps)
    del graph
    return statistics.median(results)


def _time_stream(calls, reps: int, trials: int) -> float:
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    results = []
    for _ in range(trials):
        torch.cuda._sleep(6_000_000)  # ~3 ms of GPU time for the host to enqueue the calls
        start.record()
        for i in range(reps):
            calls[i % len(calls)]()
        end.record()
        torch.cuda.synchronize()
        results.append(start.elapsed_time(end) * 1000.0 / reps)
    return statistics.median(results)


def time_us(calls, reps: int = 40, trials: int = 9, warmup: int = 5):
    """(median microseconds per call, "graph" or "stream"); `calls` are closures used round-robin."""
    for i in range(warmup):
        calls[i % len(calls)]()
    torch.cuda.synchronize()
    try:
        return _time_graph(calls, reps, trials), "graph"
    except RuntimeError:
        torch.cuda.synchronize()
        return _time_stream(calls, reps, trials), "stream"


def reps_for(estimate_us: float) -> int:
    """Enough calls per measurement to amortise the events (and, on the stream, few enough to enqueue in time)."""
    return int(max(5, min(60, 2000 / max(estimate_us, 1.0))))
