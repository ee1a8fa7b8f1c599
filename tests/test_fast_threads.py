"""The fast converter's hooks are made once, right, when threads read a class for the first time.

Each thread (an event loop of its own, say) may decode the same class at once: the first
makes the hooks while the others wait, and every one gets the generated hook, never the
wrapper used while a class that holds itself is made (which, called then, recursed).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from prolific_async import _fast_converter
from prolific_async._converter import converter as detailed
from prolific_async._fast_hooks import LazyHook
from prolific_async.models import Batch

from .conftest import FIXTURES

THREADS = 4


def _batch() -> Any:
    batch = json.loads((FIXTURES / "get_batch_200.json").read_text())
    layout = json.loads((FIXTURES / "layout_every_item_type.json").read_text())
    return {**batch, "batch_items": layout}


@pytest.fixture
def slow_making(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each generated hook takes a while to make: the threads overlap while it is made."""
    real = _fast_converter.class_hook

    def slow(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.005)
        return real(*args, **kwargs)

    monkeypatch.setattr(_fast_converter, "class_hook", slow)


def _at_once(decode: Callable[[], Any]) -> list[Any]:
    """``decode()`` in each of a few threads started together: the results, or the errors."""
    barrier = threading.Barrier(THREADS)
    results: list[Any] = [None] * THREADS

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = decode()
        except BaseException as exc:  # reported by the assertion
            results[index] = exc

    threads = [threading.Thread(target=run, args=(index,)) for index in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.usefixtures("slow_making")
def test_threads_decoding_first_at_once_get_one_converter_and_the_made_hook(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """fast_structure's first calls in several threads make one converter and cache real hooks."""
    monkeypatch.setattr(_fast_converter, "_made", [])
    monkeypatch.setattr(_fast_converter, "_hooks", {})
    data = _batch()
    results = _at_once(lambda: _fast_converter.fast_structure(data, Batch))
    assert results == [detailed.structure(data, Batch)] * THREADS
    assert len(_fast_converter._made) == 1
    assert not isinstance(_fast_converter._hooks[Batch], LazyHook)


@pytest.mark.usefixtures("slow_making")
def test_threads_structuring_first_at_once_on_a_fresh_converter_agree() -> None:
    """A fresh fast converter read from several threads at once gives each the same object."""
    fast = _fast_converter.make_fast_converter()
    data = _batch()
    results = _at_once(lambda: fast.structure(data, Batch))
    assert results == [detailed.structure(data, Batch)] * THREADS
    assert not isinstance(fast.get_structure_hook(Batch), LazyHook)
