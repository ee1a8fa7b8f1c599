"""The generated per-class hooks of the fast converter, on classes the models do not cover.

``tests/test_fast_converter.py`` holds the fast path to the detailed converter on every
model; these classes reach the generator's other branches: factory and plain defaults,
``null`` with and without the null-as-default rule, a class that holds itself, the
classes whose ``__init__`` must run (a validator, a post-init step, a cached hash, ...),
and a list of a tagged union. The objects it builds slot by slot behave as those built by
``__init__`` (pickle, copies, ``attrs.evolve``, equality and hash), and building them makes
no class a user could see (no subclass of a model).
"""

from __future__ import annotations

import copy
import functools
import json
import pickle
import sys
import weakref
from collections.abc import Iterator
from typing import Any

import attrs
import cattrs
import pytest
from attrs import Factory, field, frozen
from cattrs.strategies import include_subclasses

from prolific_async._converter import configure_converter
from prolific_async._converter import converter as detailed
from prolific_async._fast_converter import make_fast_converter
from prolific_async._fast_hooks import Tagged, class_hook, resolved_hook
from prolific_async.models import Batch, Page
from prolific_async.models._item_classes import ITEM_CLASSES
from prolific_async.models._text import valid_text_field
from prolific_async.models.batches import TaskDetails

from .conftest import FIXTURES
from .test_spec_payloads import SPEC_CASES


@frozen(kw_only=True)
class Defaults:
    """Every kind of default the generator writes."""

    name: str
    tags: list[str] = Factory(list)
    labels: dict[str, Any] = Factory(dict)
    made: tuple[int, ...] = Factory(tuple)
    size: int = 3
    note: str | None = None


@frozen(kw_only=True)
class Tree:
    """A class that holds itself."""

    name: str
    children: list[Tree] = Factory(list)


def _positive(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 1:
        raise ValueError(f"{attribute.name} must be positive")


@frozen(kw_only=True)
class Validated:
    """A validator the generated function does not check itself."""

    count: int = field(validator=_positive)


@attrs.define(kw_only=True)
class PostInit:
    """A post-init step that must run."""

    name: str
    seen: list[str] = Factory(list)

    def __attrs_post_init__(self) -> None:
        self.seen.append(self.name)


@frozen(kw_only=True)
class Cat:
    """One class of a tagged union."""

    name: str


@frozen(kw_only=True)
class Dog:
    """Another class of it."""

    name: str
    good: bool = True


@frozen(kw_only=True)
class Pets:
    """A list of the union."""

    pets: list[Cat | Dog]


class Tag(str):
    """A string that is not exactly a ``str``."""


def _hook(cls: type[Any], **options: Any) -> Any:
    return class_hook(make_fast_converter(), cls, enums={}, **options)


def test_missing_and_null_fields_read_as_their_defaults() -> None:
    """A missing or null field with a default is its default; a factory's is a new object."""
    hook = _hook(Defaults)
    first = hook({"name": "a", "tags": None, "size": None, "note": None}, Defaults)
    assert first == Defaults(name="a")
    second = hook({"name": "a"}, Defaults)
    assert second == first
    assert second.tags is not first.tags
    assert second.labels is not first.labels


def test_given_fields_are_checked_and_kept() -> None:
    """Given values are read through their checks, and a wrong one raises."""
    hook = _hook(Defaults)
    data = {"name": "é", "tags": ["x"], "labels": {"k": 1}, "made": [1], "size": 7, "note": "n"}
    assert hook(data, Defaults) == Defaults(
        name="é", tags=["x"], labels={"k": 1}, made=(1,), size=7, note="n"
    )
    for wrong in ({"name": 1}, {"name": "a", "tags": "ab"}, {"name": "a", "size": True}):
        with pytest.raises((TypeError, ValueError)):
            hook(wrong, Defaults)
    with pytest.raises(TypeError):
        hook(["name"], Defaults)


def test_without_the_null_rule_a_null_is_read_by_the_field_type() -> None:
    """With null_is_default=False, a null is None where the type allows it, else an error."""
    hook = _hook(Defaults, null_is_default=False)
    assert hook({"name": "a", "note": None}, Defaults) == Defaults(name="a")
    assert hook({"name": "a"}, Defaults) == Defaults(name="a")
    with pytest.raises(TypeError):
        hook({"name": "a", "size": None}, Defaults)


def test_objects_built_in_their_slots_equal_those_built_by_init() -> None:
    """An object stored slot by slot is equal, of its class, frozen and weak-referenceable."""
    got = _hook(Defaults)({"name": "a", "size": 4}, Defaults)
    expected = Defaults(name="a", size=4)
    assert got == expected
    assert type(got) is Defaults
    assert repr(got) == repr(expected)
    assert weakref.ref(got)() is got
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        got.name = "b"  # type: ignore[misc]


def test_a_class_that_holds_itself_is_read() -> None:
    """A class whose field holds the class itself is read to any depth."""
    data = {"name": "root", "children": [{"name": "leaf", "children": [{"name": "deep"}]}]}
    got = make_fast_converter().structure(data, Tree)
    assert got == Tree(name="root", children=[Tree(name="leaf", children=[Tree(name="deep")])])


def test_a_validator_it_does_not_check_still_runs() -> None:
    """A class with a validator of its own is built by its __init__, so the validator runs."""
    hook = _hook(Validated)
    assert hook({"count": 2}, Validated) == Validated(count=2)
    with pytest.raises(ValueError, match="count must be positive"):
        hook({"count": 0}, Validated)


def test_a_post_init_step_still_runs() -> None:
    """A class with __attrs_post_init__ is built by its __init__, so the step runs."""
    assert _hook(PostInit)({"name": "a"}, PostInit).seen == ["a"]


def _pets_converter() -> Any:
    converter = make_fast_converter()
    table = {"cat": Cat, "dog": Dog}
    converter.register_structure_hook(
        Cat | Dog,
        Tagged(
            "kind",
            lambda: {tag: resolved_hook(converter, cls) for tag, cls in table.items()},
            lambda value, tag: ("other", tag, value),
        ),
    )
    return converter


def test_a_list_of_a_tagged_union_reads_each_element_by_its_tag() -> None:
    """Each element is read by its tag's class; an unknown tag goes to the other hook."""
    hook = class_hook(_pets_converter(), Pets, enums={})
    fish = {"kind": "fish", "fins": 2}
    data = {"pets": [{"kind": "cat", "name": "a"}, {"kind": "dog", "name": "b"}, fish]}
    got = hook(data, Pets)
    assert got.pets == [Cat(name="a"), Dog(name="b"), ("other", "fish", fish)]
    assert [type(pet) for pet in got.pets[:2]] == [Cat, Dog]


def test_a_tag_that_is_not_exactly_a_string_is_refused() -> None:
    """A missing tag, a tag of another type or of a str subclass raises, in a list or not."""
    converter = _pets_converter()
    hook = class_hook(converter, Pets, enums={})
    union = converter.get_structure_hook(Cat | Dog)
    for pet in ({"name": "a"}, {"kind": 1, "name": "a"}, {"kind": Tag("cat"), "name": "a"}):
        with pytest.raises((TypeError, KeyError)):
            hook({"pets": [pet]}, Pets)
        with pytest.raises(TypeError):
            union(pet, None)
    with pytest.raises(TypeError):
        hook({"pets": ["cat"]}, Pets)


def _built_in_slots(hook: Any) -> bool:
    """Whether the generated ``hook`` builds its object slot by slot (not by ``__init__``)."""
    return any(value is object.__new__ for value in hook.__globals__.values())


def _models() -> list[type[Any]]:
    """Every attrs class of the package's models."""
    found = {
        value
        for name, module in sys.modules.items()
        if name.startswith("prolific_async.models")
        for value in vars(module).values()
        if isinstance(value, type) and attrs.has(value) and value.__module__ == name
    }
    return sorted(found, key=lambda cls: (cls.__module__, cls.__qualname__))


def _payloads() -> Iterator[tuple[Any, Any]]:
    """Every spec case and fixture: the model and its answer."""
    for _, cls, data in SPEC_CASES:
        yield cls, data
    batch = json.loads((FIXTURES / "get_batch_200.json").read_text())
    layout = json.loads((FIXTURES / "layout_every_item_type.json").read_text())
    yield list[Page], layout
    yield Batch, {**batch, "batch_items": layout}


def _fixture_batch() -> Any:
    batch = json.loads((FIXTURES / "get_batch_200.json").read_text())
    layout = json.loads((FIXTURES / "layout_every_item_type.json").read_text())
    return {**batch, "batch_items": layout}


def test_decoding_every_model_makes_no_subclass_of_a_model() -> None:
    """After every model is decoded, no model class has a subclass it did not have before."""
    models = _models()
    assert {Batch, TaskDetails, *ITEM_CLASSES.values()} <= set(models)
    before = {cls: set(cls.__subclasses__()) for cls in models}
    fast = make_fast_converter()  # a fresh one: its hooks are generated here
    for cls, data in _payloads():
        fast.structure(data, cls)
    for cls in models:
        try:
            resolved_hook(fast, cls)
        except (NameError, cattrs.errors.StructureHandlerNotFoundError):
            continue  # a model of requests (a path, a type named only for checkers): not decoded
    assert {cls: set(cls.__subclasses__()) for cls in models} == before
    package = [
        sub
        for cls in models
        for sub in cls.__subclasses__()
        if sub.__module__.startswith("prolific_async") and sub not in models
    ]
    assert package == []


def test_include_subclasses_on_a_fresh_converter_works_after_a_decode() -> None:
    """A user's include_subclasses for Batch still structures a Batch once one was decoded."""
    data = {**_fixture_batch(), "batch_items": None}
    fast = make_fast_converter()
    decoded = fast.structure(data, Batch)
    user = cattrs.Converter()
    configure_converter(user)  # the package's rules: dates, open enums
    include_subclasses(Batch, user)
    again = user.structure(user.unstructure(decoded), Batch)
    assert type(again) is Batch
    assert again == decoded


def test_objects_built_slot_by_slot_pickle_copy_and_evolve_as_those_built_by_init() -> None:
    """A decoded batch and layout survive pickle, deepcopy and evolve, equal to __init__'s."""
    data = _fixture_batch()
    got = make_fast_converter().structure(data, Batch)
    expected = detailed.structure(data, Batch)  # built by each class's __init__
    assert got == expected
    assert pickle.loads(pickle.dumps(got)) == expected  # noqa: S301 (our own bytes)
    assert copy.deepcopy(got) == expected
    assert copy.copy(got) == expected
    assert attrs.evolve(got, name="renamed") == attrs.evolve(expected, name="renamed")
    assert attrs.asdict(got) == attrs.asdict(expected)
    assert repr(got) == repr(expected)


def test_frozen_objects_built_slot_by_slot_hash_as_those_built_by_init() -> None:
    """A decoded frozen object's hash and equality are those of the same object from __init__."""
    fast = make_fast_converter()
    details = {"task_name": "n", "task_introduction": "i", "task_steps": "s"}
    got = fast.structure(details, TaskDetails)
    assert _built_in_slots(resolved_hook(fast, TaskDetails))
    expected = TaskDetails(**details)
    assert got == expected
    assert hash(got) == hash(expected)
    assert {got: 1}[expected] == 1
    dog = _hook(Dog)({"name": "b", "good": False}, Dog)
    assert hash(dog) == hash(Dog(name="b", good=False))
    assert pickle.loads(pickle.dumps(dog)) == dog  # noqa: S301 (our own bytes)


def test_the_real_models_are_built_slot_by_slot() -> None:
    """Batch, TaskDetails and every layout item get the slot-by-slot build (attrs' own __init__)."""
    fast = make_fast_converter()
    for cls in (Batch, TaskDetails, *ITEM_CLASSES.values()):
        assert _built_in_slots(resolved_hook(fast, cls)), cls


@frozen(kw_only=True, cache_hash=True)
class CachedHash:
    """A cached hash: a slot __init__ fills."""

    name: str


@frozen(kw_only=True)
class ExtraSlot:
    """A slot that is not a field (a cached property's)."""

    name: str

    @functools.cached_property
    def shout(self) -> str:
        return self.name.upper()


@frozen(kw_only=True)
class Base:
    """A plain class, to be subclassed."""

    name: str


@frozen(kw_only=True)
class Derived(Base):
    """A subclass of a model."""

    size: int = 1


@attrs.frozen(kw_only=True, slots=False)
class NotSlotted:
    """A class with a __dict__."""

    name: str


@frozen(kw_only=True)
class HooksSubclasses:
    """A class with __init_subclass__."""

    name: str

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)


@frozen(kw_only=True)
class Converted:
    """A field with a converter."""

    name: str = field(converter=str.upper)


@frozen(kw_only=True)
class Text:
    """Only the text check: the slot-by-slot build may be used."""

    name: str = field(validator=valid_text_field)


@pytest.mark.parametrize(
    ("cls", "data"),
    [
        (CachedHash, {"name": "a"}),
        (ExtraSlot, {"name": "a"}),
        (Derived, {"name": "a", "size": 2}),
        (NotSlotted, {"name": "a"}),
        (HooksSubclasses, {"name": "a"}),
        (Converted, {"name": "a"}),
        (Validated, {"count": 2}),
        (PostInit, {"name": "a"}),
    ],
    ids=lambda value: value.__name__ if isinstance(value, type) else "",
)
def test_classes_whose_init_does_more_than_store_are_built_by_it(
    cls: type[Any], data: dict[str, Any]
) -> None:
    """A cached hash, extra slot, base, __dict__, __init_subclass__, converter: __init__ builds."""
    hook = _hook(cls)
    assert not _built_in_slots(hook)
    got = hook(data, cls)
    assert got == cls(**data)
    assert type(got) is cls


def test_what_their_init_does_still_happens() -> None:
    """The cached hash, the cached property and the converter work on decoded objects."""
    cached = _hook(CachedHash)({"name": "a"}, CachedHash)
    assert hash(cached) == hash(CachedHash(name="a"))
    assert _hook(ExtraSlot)({"name": "a"}, ExtraSlot).shout == "A"
    assert _hook(Converted)({"name": "a"}, Converted).name == "A"


def test_a_class_with_only_the_text_check_is_built_slot_by_slot() -> None:
    """The text validator is the generator's own check: it does not force __init__."""
    hook = _hook(Text)
    assert _built_in_slots(hook)
    assert hook({"name": "a"}, Text) == Text(name="a")
    with pytest.raises((TypeError, ValueError)):
        hook({"name": "\ud800"}, Text)
