"""The generated per-class hooks of the fast converter, on classes the models do not cover.

``tests/test_fast_converter.py`` holds the fast path to the detailed converter on every
model; these classes reach the generator's other branches: factory and plain defaults,
``null`` with and without the null-as-default rule, a class that holds itself, the
classes whose ``__init__`` must run (a validator, a post-init step), and a list of a
tagged union.
"""

from __future__ import annotations

import weakref
from typing import Any

import attrs
import pytest
from attrs import Factory, field, frozen

from prolific_async._fast_converter import make_fast_converter
from prolific_async._fast_hooks import Tagged, class_hook, resolved_hook


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
