"""auditor/models/json_text.py writes what json.dumps(indent=2, ensure_ascii=False) writes, for any value."""

from __future__ import annotations

import json
from decimal import Decimal
from enum import IntEnum, StrEnum

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.models.json_text import dumps

scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True)
           | st.text())  # any code point, control characters and lone surrogates included
keys = st.text() | st.integers() | st.floats() | st.booleans() | st.none()
values = st.recursive(scalars, lambda inner: st.lists(inner) | st.lists(inner).map(tuple)
                      | st.dictionaries(keys, inner), max_leaves=40)


def standard(value, default=None) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=default)


@settings(max_examples=400)
@given(values)
def test_same_text_as_json_dumps(value):
    assert dumps(value) == standard(value)


class Colour(StrEnum):
    RED = "red"


class Level(IntEnum):
    HIGH = 3


def test_subclasses_and_values_for_default_are_encoded_as_json_does():
    value = {"colour": Colour.RED, Level.HIGH: Level.HIGH, "set": {1}, "when": Decimal("1.5"), "nested": [object]}
    assert dumps(value, default=str) == standard(value, default=str)


def test_what_json_refuses_is_refused_the_same_way():
    with pytest.raises(TypeError):
        dumps({"set": {1}})
    with pytest.raises(TypeError):
        dumps({(1, 2): "tuple key"})
    loop: list[object] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular reference"):
        dumps(loop)
