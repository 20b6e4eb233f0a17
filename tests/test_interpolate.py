"""Tests for puter_magic.core.interpolate: only `@{ path }` expands; code, JSON, LaTeX and templates pass untouched."""

from __future__ import annotations

import sys
from collections import namedtuple
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sources import absolute_imports, parsed

from puter_magic.core.interpolate import interpolate, references, render, resolve
from puter_magic.errors import InputError

NAMESPACE: dict[str, Any] = {
    "x": 42,
    "name": "Ada",
    "cfg": SimpleNamespace(model="gpt-4o", options={"temperature": 0.2}, _secret="hidden"),
    "data": {"key": "value", "a b": [1, 2, 3], 'it"s': "quoted"},
    "items": ["first", "middle", "last"],
    "In": ["", "import pandas as pd", "df = pd.read_csv('x.csv')", "df.describe()"],
    "Out": {2: "the second output", 3: {"rows": 10}},
    "café": "unicode name",
}


def expand(text: str) -> str:
    return interpolate(text, NAMESPACE)


# --- plain text passes through untouched -------------------------------------------------------------

UNTOUCHED = [
    "no braces at all",
    "",
    "{'a': 1, 'b': {'c': 2}}",
    '{"json": {"nested": [1, 2, {"deep": true}]}}',
    'print(f"{x:>10} and {name!r} and {x:{width}.{precision}f}")',
    "'{0:>{1}}'.format(a, b)",
    r"\frac{a}{b} + \sum_{i=0}^{n} x_{i}^{2} \left\{ y \right\}",
    r"\begin{pmatrix} a & b \\ c & d \end{pmatrix}",
    # double braces are never references: f-string escapes, Jinja, Handlebars, Mustache
    'f"{{x}}"',
    'f"{{literal}} and {{ name }}"',
    "{{x}}",
    "{{ x }}",
    "{{{x}}}",
    "\\{{x}}",
    "{{ user.name }}",
    "{{ user.name | upper }}",
    "{{ x + 1 }}",
    "{{}}",
    "{% for item in items %}{{ item.name|title }}{% endfor %}",
    "{{#each items}}{{this}}{{/each}}",
    "a \\{ b \\}",
    # `@{` followed by something that is not a path
    "$h = @{a=1; b='two'}",
    "$splat = @{ Path = 'C:\\x'; Recurse = $true }",
    "@{}",
    "@{ }",
    "print join ', ', @{$self->{items}};",
    "my @copy = @{ $ref };",
    'NSDictionary *d = @{@"key": value, @"n": @42};',
    "@{ x + 1 }",
    "@{ x ]",
    "@{ x )",
    "@{x.}",
    "@{x[}",
    "@{x['unterminated]}",
    "@{1x}",
    "@{ x\n}",
    "@{-x}",
    "@{x:>10}",
    "@{x!r}",
    "@{x[1:2]}",
    "@{ func() }",
    "@{x.y z}",
    "@{x",
    "@ {x}",
    "@{{x}}",
    "\\@{ not a reference }",
    "git show stash@{0} HEAD@{2.days.ago}",
    "mail ada@example.com about {x}",
]


@pytest.mark.parametrize("text", UNTOUCHED)
def test_text_without_references_is_untouched(text):
    assert references(text) == []
    assert expand(text) == text
    assert interpolate(text, {}) == text


@pytest.mark.parametrize(
    "text",
    ['print(f"{{x}} is {x}")', 'f"{{literal}}"', "{{ user.name }}", "{{x}}", "{{ undefined.deep[0] }}"],
)
def test_double_braces_pass_untouched_even_when_the_name_is_undefined(text):
    assert interpolate(text, {}) == text
    assert interpolate(text, {"x": 1, "literal": 2, "user": SimpleNamespace(name="Ada")}) == text


def test_json_template_with_a_reference_inside_an_object():
    assert expand('{"user": @{name}, "n": @{x}}') == '{"user": Ada, "n": 42}'


def test_a_reference_next_to_double_braces():
    assert expand("{{ jinja }} and @{name} and f'{{x}}'") == "{{ jinja }} and Ada and f'{{x}}'"


# --- references --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@{x}", "42"),
        ("@{ x }", "42"),
        ("@{\tx\t}", "42"),
        ("Hello @{name}!", "Hello Ada!"),
        ("@{ cfg.model }", "gpt-4o"),
        ("@{cfg.options['temperature']}", "0.2"),
        ("@{data['key']}", "value"),
        ('@{data["key"]}', "value"),
        ("@{data['a b'][1]}", "2"),
        ("@{data['it\"s']}", "quoted"),
        ("@{items[0]}", "first"),
        ("@{items[-1]}", "last"),
        ("@{In[3]}", "df.describe()"),
        ("@{Out[2]}", "the second output"),
        ("@{café}", "unicode name"),
        ("@{x}@{x}", "4242"),
        ("a-@{x}-b @{name}.", "a-42-b Ada."),
        ("to:@{name}", "to:Ada"),
    ],
)
def test_references_expand(text, expected):
    assert expand(text) == expected


def test_references_lists_the_paths_in_order_without_repeats():
    text = "@{ cfg.model } @{x} \\@{name} @{x} @{ a | b } {{name}} @{data['key']} @{Out[2]}"
    assert references(text) == ["cfg.model", "x", "data['key']", "Out[2]"]


def test_a_rendered_value_is_never_scanned_again():
    namespace = {"a": "@{b}", "b": "nope", "c": "\\@{b}"}
    assert interpolate("@{a} @{c}", namespace) == "@{b} \\@{b}"


def test_in_out_lookups_come_from_the_namespace():
    assert expand("Explain @{In[2]} which gave @{Out[3]}") == (
        "Explain df = pd.read_csv('x.csv') which gave {\n  \"rows\": 10\n}"
    )


# --- escapes and surrounding characters --------------------------------------------------------------


def test_a_backslash_keeps_a_reference_literal():
    assert expand("\\@{x}") == "@{x}"
    assert expand("write \\@{ name } to get @{ name }") == "write @{ name } to get Ada"
    assert references("\\@{x}") == []


def test_a_backslash_escapes_even_unknown_names():
    assert expand("\\@{undefined}") == "@{undefined}"


def test_a_less_variable_is_sent_with_an_escape():
    # LESS's `@{var}` interpolation has exactly this shape: it is looked up unless escaped.
    with pytest.raises(InputError, match=r"unknown name 'prefix' in @\{prefix\}"):
        expand(".@{prefix}-button { color: red; }")
    assert expand(".\\@{prefix}-button { color: red; }") == ".@{prefix}-button { color: red; }"


def test_a_double_backslash_keeps_one_backslash_and_the_reference_text():
    # The backslash right before `@{` is the escape; the one before it stays as text.
    assert expand("\\\\@{x}") == "\\@{x}"


def test_a_backslash_before_something_else_is_not_an_escape():
    assert expand("\\{@{x}}") == "\\{42}"
    assert expand("@\\{x}") == "@\\{x}"
    assert expand("\\@{x y}") == "\\@{x y}"


def test_characters_around_a_reference_stay():
    assert expand("{@{x}}") == "{42}"
    assert expand("{{@{x}}}") == "{{42}}"
    assert expand("@{x}}") == "42}"
    assert expand("@@{x}") == "@42"
    assert expand("@{@{x}}") == "@{42}"
    assert references("{@{x}}") == ["x"]


def test_a_huge_index_is_not_a_reference():
    text = "@{items[" + "9" * 40 + "]}"
    assert expand(text) == text


# --- errors ------------------------------------------------------------------------------------------


def test_unknown_name():
    with pytest.raises(InputError) as caught:
        expand("Summarize @{missing} please")
    assert caught.value.message == "unknown name 'missing' in @{missing}"
    assert caught.value.hint == "define it first, or write \\@{ to send it as it is"
    assert caught.value.one_line() == (
        "unknown name 'missing' in @{missing} — define it first, or write \\@{ to send it as it is"
    )


def test_unknown_root_of_a_path_names_the_whole_path():
    with pytest.raises(InputError, match=r"unknown name 'nope' in @\{nope\.attr\[0\]\}"):
        expand("@{ nope.attr[0] }")


@pytest.mark.parametrize("text", ["@{cfg._secret}", "@{x.__class__}", "@{cfg.model.__class__.__mro__}"])
def test_private_attributes_are_refused(text):
    with pytest.raises(InputError, match="private attributes are not available") as caught:
        expand(text)
    assert "\\@{" in caught.value.hint


def test_private_attributes_are_refused_before_any_lookup():
    class Loud:
        @property
        def public(self):
            raise AssertionError("looked up before the path was checked")

    with pytest.raises(InputError, match="private attributes are not available"):
        interpolate("@{obj.public._hidden}", {"obj": Loud()})


def test_underscore_names_at_the_root_are_namespace_variables():
    # IPython keeps outputs in `_`, `__`, `_3`: those are plain namespace entries, not attributes.
    assert interpolate("@{_} @{_3}", {"_": "last", "_3": "third"}) == "last third"


def test_a_missing_key_names_the_path_and_the_reason():
    with pytest.raises(InputError) as caught:
        expand("@{data['nope']}")
    assert caught.value.message == "cannot look up @{data['nope']}: KeyError: 'nope'"
    assert caught.value.hint == "check the value, or write \\@{ to send it as it is"


def test_a_missing_attribute_names_the_path_and_the_reason():
    with pytest.raises(InputError, match=r"cannot look up @\{cfg\.nope\}: AttributeError: .*nope"):
        expand("@{cfg.nope}")


def test_an_index_out_of_range_names_the_reason():
    with pytest.raises(InputError, match=r"@\{items\[10\]\}: IndexError: list index out of range"):
        expand("@{items[10]}")


def test_indexing_something_not_indexable():
    with pytest.raises(InputError, match=r"cannot look up @\{x\[0\]\}: TypeError"):
        expand("@{x[0]}")


def test_a_property_that_raises_becomes_an_input_error():
    class Broken:
        @property
        def value(self):
            raise RuntimeError("boom")

    with pytest.raises(InputError, match=r"@\{b\.value\}: RuntimeError: boom"):
        interpolate("@{b.value}", {"b": Broken()})


def test_a_value_whose_str_raises_becomes_an_input_error():
    class Unprintable:
        def __str__(self):
            raise ValueError("no text")

    with pytest.raises(InputError, match=r"cannot show @\{u\}: ValueError: no text"):
        interpolate("@{u}", {"u": Unprintable()})


def test_resolve_refuses_text_that_is_not_a_path():
    with pytest.raises(InputError, match=r"@\{x \+ 1\} is not a reference"):
        resolve("x + 1", NAMESPACE)
    assert resolve("data['a b'][-1]", NAMESPACE) == 3


# --- rendering ---------------------------------------------------------------------------------------


def test_render_strings_and_bytes():
    assert render("as is @{x} {{x}}") == "as is @{x} {{x}}"
    assert render(b"caf\xc3\xa9") == "café"
    assert render(b"bad \xff byte") == "bad \ufffd byte"
    assert render(bytearray(b"abc")) == "abc"


def test_render_containers_as_indented_json():
    assert render({"b": [1, 2], "é": None}) == '{\n  "b": [\n    1,\n    2\n  ],\n  "é": null\n}'
    assert render([1, "two"]) == '[\n  1,\n  "two"\n]'
    assert render((1, 2)) == "[\n  1,\n  2\n]"
    assert render({"when": Path("/tmp")}) == '{\n  "when": "/tmp"\n}'  # default=str for the rest


def test_render_falls_back_to_repr_for_containers_json_cannot_show():
    circular: list[Any] = [1]
    circular.append(circular)
    assert render(circular) == "[1, [...]]"
    assert render({(1, 2): "tuple key"}) == "{(1, 2): 'tuple key'}"


def test_render_everything_else_with_str():
    point = namedtuple("point", "x y")(1, 2)
    assert render(point) == "point(x=1, y=2)"
    assert render(None) == "None"
    assert render(3.5) == "3.5"

    class WithMarkdown:
        def to_markdown(self):
            raise AssertionError("to_markdown must not be called")

        def __str__(self):
            return "plain"

    assert render(WithMarkdown()) == "plain"


# --- size --------------------------------------------------------------------------------------------


def test_a_megabyte_cell_of_code_with_references():
    chunk = (
        'def f(x):\n    return {\'a\': {x}, "b": f"{x:>10} {{x}}"}  # {{ y | z }} @{$r} @{a=1} \\@{ q r } \\{ {{{{\n'
    )
    text = chunk * (1_000_000 // len(chunk)) + "@{x} " * 10_000
    result = expand(text)
    assert result.startswith(chunk)
    assert result.endswith("42 " * 3)
    assert result.count("42 ") == 10_000


@pytest.mark.parametrize("text", ["@{a.b.c" * 150_000, "@{" + "a" * 1_000_000, "@{a" + "['k']" * 200_000])
def test_a_megabyte_of_unterminated_references(text):
    assert expand(text) == text
    assert references(text) == []


# --- properties --------------------------------------------------------------------------------------


@given(st.text().filter(lambda text: "@{" not in text))
def test_text_without_an_at_brace_round_trips(text):
    assert interpolate(text, NAMESPACE) == text
    assert references(text) == []


BRACEY = st.text(alphabet=st.sampled_from(list("@{}\\ ._[]'\"0-1ax\n|+$=")), max_size=60)


@given(BRACEY.filter(lambda text: "@{" not in text))
def test_braces_without_an_at_sign_round_trip_even_when_the_names_exist(text):
    assert interpolate(text, {"a": "A", "x": "X", "ax": "AX"}) == text


@given(BRACEY)
def test_an_empty_namespace_errors_or_leaves_non_references_untouched(text):
    try:
        result = interpolate(text, {})
    except InputError as error:
        assert references(text), "an error needs a reference"
        assert error.message.startswith(("unknown name", "@{"))
    else:
        assert references(text) == []
        # The only change possible without references is an escaped reference losing its backslash.
        assert result == text or result.count("\\") < text.count("\\")


@given(BRACEY, st.dictionaries(st.sampled_from(["a", "x", "ax"]), st.text(max_size=5)))
def test_interpolation_never_raises_anything_but_input_error(text, namespace):
    try:
        result = interpolate(text, namespace)
    except InputError:
        assert references(text)
    else:
        assert isinstance(result, str)


@given(st.text(max_size=20))
def test_a_reference_to_a_string_inserts_it_exactly(value):
    assert interpolate("<@{v}>", {"v": value}) == f"<{value}>"


# --- purity ------------------------------------------------------------------------------------------


def test_the_module_imports_only_the_standard_library():
    assert absolute_imports(parsed("core/interpolate.py")) <= set(sys.stdlib_module_names)


@pytest.mark.parametrize(
    "text",
    ["git rebase main@{upstream}", "git reset HEAD@{1}", "branch@{push} and x@{y}", "not_a_ref@{y}"],
)
def test_an_at_brace_right_after_a_word_character_is_not_a_reference(text):
    assert interpolate(text, {"y": "Y", "upstream": "U", "push": "P"}) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [(" @{y}", " Y"), ("(@{y})", "(Y)"), ('"@{y}"', '"Y"'), ("x\\@{y}", "x@{y}"), ("\\@{y}", "@{y}")],
)
def test_references_after_punctuation_and_escapes_after_words(text, expected):
    assert interpolate(text, {"y": "Y"}) == expected
