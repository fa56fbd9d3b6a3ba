"""The fast response dump (core/fastdump.py) gives marshmallow's output, key order included;
what it cannot do plainly it leaves to marshmallow; its check catches a difference."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace

import marshmallow as ma
import pytest
from marshmallow import fields

from corrections.core import fastdump


class Inner(ma.Schema):
    code = fields.String()
    at = fields.DateTime()


class Tree(ma.Schema):
    name = fields.String()
    children = fields.List(fields.Nested(lambda: Tree()))


class Row(ma.Schema):
    id = fields.Integer()
    name = fields.String()
    count_text = fields.Integer(as_string=True)
    flag = fields.Boolean()
    detail = fields.Raw()
    mapping = fields.Dict()
    when = fields.DateTime()
    day = fields.Date()
    ratio = fields.Float()
    renamed = fields.String(attribute="source_name")
    keyed = fields.String(data_key="keyedOut")
    dotted = fields.String(attribute="inner.code")
    defaulted = fields.String(dump_default="默认")
    computed = fields.Method("_computed")
    inner = fields.Nested(Inner)
    inners = fields.List(fields.Nested(Inner))
    tags = fields.List(fields.String())
    secret = fields.String(load_only=True)

    def _computed(self, obj):
        return "computed"


class Page(ma.Schema):
    items = fields.List(fields.Nested(Row))
    total = fields.Integer()


WHEN = datetime(2026, 11, 29, 8, 30, tzinfo=UTC)
FULL = {
    "id": 7,
    "name": "张三",
    "count_text": 12,
    "flag": True,
    "detail": {"a": [1, 2]},
    "mapping": {"k": "v"},
    "when": WHEN,
    "day": date(2026, 11, 29),
    "ratio": 3,
    "source_name": "源",
    "keyed": "键",
    "inner": {"code": "A1", "at": WHEN},
    "inners": [{"code": "B", "at": None}, {"code": 5}],
    "tags": ["x", 2],
    "secret": "never shown",
}
ODD = {
    "id": True,  # a bool into an Integer: marshmallow gives 1
    "name": 42,  # not a str: marshmallow gives "42"
    "flag": None,
    "when": None,
    "inner": None,
    "inners": None,
    "tags": None,
}


def _both(schema_cls, obj, many=None):
    slow = schema_cls().dump(obj, many=many)
    fast = fastdump.install(schema_cls()).dump(obj, many=many)
    return slow, fast


@pytest.mark.parametrize(
    "obj",
    [FULL, ODD, {}, SimpleNamespace(**FULL), SimpleNamespace(id=1)],
    ids=["full", "odd-values", "empty", "object", "object-missing-attributes"],
)
def test_a_row_dumps_as_marshmallow_dumps_it_key_order_included(obj):
    slow, fast = _both(Row, obj)
    assert fast == slow
    assert list(fast) == list(slow)
    assert "secret" not in fast and fast.get("defaulted") == "默认"


def test_pages_lists_and_many_dump_alike():
    page = {"items": [FULL, ODD, {}], "total": 3}
    slow, fast = _both(Page, page)
    assert fast == slow and [list(r) for r in fast["items"]] == [list(r) for r in slow["items"]]
    assert fast["items"][1]["id"] == 1 and fast["items"][1]["name"] == "42"
    slow, fast = _both(Row, [FULL, ODD], many=True)
    assert fast == slow and len(fast) == 2


def test_a_self_nesting_schema_is_installed_once_and_dumps_alike():
    tree = {"name": "根", "children": [{"name": "枝", "children": [{"name": "叶"}]}]}
    slow, fast = _both(Tree, tree)
    assert fast == slow


def test_a_schema_with_dump_hooks_keeps_marshmallows_dump():
    class Hooked(ma.Schema):
        name = fields.String()

        @ma.post_dump
        def shout(self, data, **kwargs):
            return {**data, "name": data["name"].upper()}

    schema = fastdump.install(Hooked())
    assert schema.dump.__func__ is ma.Schema.dump  # marshmallow's own, hooks and all
    assert schema.dump({"name": "ab"}) == {"name": "AB"}
    assert "_fastdump_of" in vars(schema)  # looked at once


def test_a_schema_overriding_its_serialisation_keeps_marshmallows_dump():
    class Masking(ma.Schema):
        name = fields.String()
        id_number = fields.String()

        def _serialize(self, obj, *, many=False):
            out = super()._serialize(obj, many=many)
            out.pop("id_number", None)
            return out

    assert fastdump.install(Masking()).dump({"name": "a", "id_number": "1101"}) == {"name": "a"}


def test_a_nested_copy_narrowed_by_only_is_compiled_for_its_own_fields():
    class Person(ma.Schema):
        name = fields.String()
        id_number = fields.String()

    shared = Person()

    class Card(ma.Schema):
        person = fields.Nested(shared, only=("name",))

    fastdump.install(shared)  # leaves ``shared`` as it is (installs on a copy)
    data = {"person": {"name": "A", "id_number": "X"}}
    assert Card().dump(data) == {"person": {"name": "A"}}  # marshmallow's dump of the copy
    assert fastdump.install(Card()).dump(data) == {"person": {"name": "A"}}
    assert "dump" not in vars(shared)


def test_a_nested_schema_named_before_it_exists_is_resolved_when_dumped():
    class Early(ma.Schema):
        later = fields.Nested("LaterForFastdump")

    early = fastdump.install(Early())  # the name resolves nowhere yet: nothing is asked

    class LaterForFastdump(ma.Schema):
        code = fields.String()

    assert early.dump({"later": {"code": "C"}}) == {"later": {"code": "C"}}


def test_the_blueprint_installs_on_a_copy_of_the_instance_it_is_given():
    from corrections.core.api import Blueprint

    given = Inner()
    Blueprint("fastdump_probe", __name__).response(200, given)
    assert "dump" not in vars(given) and "_fastdump_of" not in vars(given)


def test_the_check_tolerates_what_differs_by_nature(monkeypatch):
    """NaN, a default computed at each dump, a one-shot iterable: not differences."""

    class Odd(ma.Schema):
        ratio = fields.Float()
        stamp = fields.DateTime(dump_default=lambda: datetime.now(UTC))

    monkeypatch.setattr(fastdump, "VERIFY", True)
    schema = fastdump.install(Odd())
    assert schema.dump({"ratio": float("nan")})["ratio"] != 0
    rows = schema.dump(iter([{"ratio": 1}, {"ratio": 2}]), many=True)
    assert [r["ratio"] for r in rows] == [1.0, 2.0]


def test_the_check_catches_a_fast_dump_that_differs(monkeypatch):
    class Coded(ma.Schema):
        code = fields.String()

    schema = fastdump.install(Coded())
    monkeypatch.setattr(fastdump, "VERIFY", True)
    obj = SimpleNamespace(code="A")  # read through _read (not a dict)
    assert schema.dump(obj) == {"code": "A"}
    monkeypatch.setattr(fastdump, "_read", lambda o, key: "wrong")
    with pytest.raises(AssertionError, match="differs from marshmallow"):
        schema.dump(obj)


def test_the_api_dumps_its_responses_fast(app):
    """Every operation's response schema went through install (the Blueprint's response)."""
    from corrections.alerts.views import Alerts

    wrapped = Alerts.get
    assert app.config["TESTING"] and fastdump.VERIFY  # the suite checks every response
    # flask-smorest keeps the documented schema on the wrapper: it is the installed instance.
    schema = wrapped._apidoc["response"]["responses"][200][0]["schema"]
    assert "dump" in vars(schema)
