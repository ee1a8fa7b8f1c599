"""How a generated hook builds an object: a model through its twin, others slot by slot."""

from __future__ import annotations

import copy
import pickle
import weakref
from typing import Any

import attrs
import pytest
from attrs import define, frozen

from prolific_async._fast_build import setters_of, twin_of
from prolific_async._fast_converter import make_fast_converter
from prolific_async._fast_hooks import class_hook, resolved_hook
from prolific_async.models import Batch
from prolific_async.models._base import Model
from prolific_async.models.batches import BatchDataset, TaskDetails

from .test_fast_hooks import _fixture_batch, _models


@frozen(kw_only=True)
class Based(Model):
    """A model-shaped class: frozen, slotted, on the models' base."""

    name: str
    size: int = 3
    note: str | None = None


@frozen(kw_only=True)
class Plain:
    """The same fields on ``object``: its own ``__weakref__`` slot, so no twin."""

    name: str
    size: int = 3


@define(slots=False)
class NoSlots(Model):
    """A class on the models' base with a ``__dict__`` and no slots of its own."""


def _hook(cls: type[Any]) -> Any:
    return class_hook(make_fast_converter(), cls, enums={})


def test_every_decoded_model_is_built_through_its_twin() -> None:
    """Each model the hooks build without __init__ is on Model and has a twin CPython accepts."""
    built = []
    for cls in _models():
        try:
            if setters_of(cls) is not None:
                built.append(cls)
        except NameError:
            continue  # a type named only for checkers: a model of requests, never decoded
    assert {Batch, TaskDetails, BatchDataset} <= set(built)
    for cls in built:
        assert cls.__bases__ == (Model,), cls
        twin = twin_of(cls)
        assert twin is not None, cls
        assert not issubclass(twin, cls)
        assert twin not in cls.__subclasses__()
    fast = make_fast_converter()
    fast.structure(_fixture_batch(), Batch)
    for cls in (Batch, TaskDetails, BatchDataset):  # the hook holds the twin it fills in
        held = resolved_hook(fast, cls).__globals__.values()
        twins = [v for v in held if isinstance(v, type) and v.__name__ == f"{cls.__name__}Fields"]
        assert len(twins) == 1, cls
        assert twins[0].__bases__ == (Model,)
        assert not issubclass(twins[0], cls)


def test_an_object_built_through_its_twin_is_the_model_in_every_way() -> None:
    """Built by the hook, it is of its class, equal, frozen, weak-referenceable and picklable."""
    hook = _hook(Based)
    assert twin_of(Based) in hook.__globals__.values()  # built through the twin
    got = hook({"name": "a", "size": 4}, Based)
    expected = Based(name="a", size=4)
    assert type(got) is Based
    assert got == expected
    assert hash(got) == hash(expected)
    assert repr(got) == repr(expected)
    assert weakref.ref(got)() is got
    assert pickle.loads(pickle.dumps(got)) == expected  # noqa: S301 (our own bytes)
    assert copy.deepcopy(got) == expected
    assert attrs.evolve(got, note="n") == Based(name="a", size=4, note="n")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        got.name = "b"  # type: ignore[misc]


def test_a_decoded_batch_keeps_every_field_its_init_would_store() -> None:
    """A batch the fast converter reads equals the one __init__ builds from its fields."""
    got = make_fast_converter().structure(_fixture_batch(), Batch)
    rebuilt = Batch(**{a.name: getattr(got, a.name) for a in attrs.fields(Batch)})
    assert got == rebuilt
    assert type(got.task_details) is TaskDetails
    assert got.datasets
    assert all(type(dataset) is BatchDataset for dataset in got.datasets)
    assert got.batch_items


def test_a_class_not_on_the_models_base_gets_no_twin_and_is_still_built() -> None:
    """A class on object gets no twin: its slots are stored one by one, through descriptors."""
    assert setters_of(Plain) is not None
    assert twin_of(Plain) is None
    got = _hook(Plain)({"name": "a"}, Plain)
    assert type(got) is Plain
    assert got == Plain(name="a")
    assert weakref.ref(got)() is got


def test_a_class_has_one_twin_however_many_converters_build_its_hook() -> None:
    """Hooks made by many converters share one twin: the base's subclasses do not grow."""
    make_fast_converter().structure(_fixture_batch(), Batch)
    before = len(Model.__subclasses__())
    for _ in range(3):
        make_fast_converter().structure(_fixture_batch(), Batch)
    assert len(Model.__subclasses__()) == before


def test_a_class_on_the_base_without_slots_gets_no_twin() -> None:
    """A class on Model with a __dict__ (no slots of its own) is left to the other ways."""
    assert twin_of(NoSlots) is None
