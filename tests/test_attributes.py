import numpy as np
import pytest

from amgan.attributes import SYNTH_SCHEMA as S
from amgan.attributes import Group, Schema, SchemaError


@pytest.mark.parametrize("text,expected", [
    ("color=red,sleeve=long", {"color": "red", "sleeve": "long"}),
    ("  Color = Red ; pattern=striped ", {"color": "red", "pattern": "striped"}),
    ("make it red with long sleeves", {"color": "red", "sleeve": "long"}),
    ("blue, striped", {"color": "blue", "pattern": "striped"}),
    ("a grey V-neck in plaid", {"color": "gray", "neckline": "v_neck", "pattern": "checked"}),
    ("sleeveless please", {"sleeve": "sleeveless"}),
    ("short-sleeved polka dots", {"sleeve": "short", "pattern": "dotted"}),
])
def test_parse_edit(text, expected):
    assert S.parse_edit(text) == expected


@pytest.mark.parametrize("text,needle", [
    ("shade=red", "unknown attribute group 'shade'; valid groups: category, color"),
    ("color=magenta", "unknown value 'magenta' for group 'color'; valid values: black"),
    ("category=dress", "cannot be edited"),
    ("make it sparkly", "no attribute value found"),
    ("", "nothing requested"),
    ("red and blue", "conflicting values for 'color'"),
    ("color=red,color=blue", "given twice"),
    ("color", "no attribute value found"),
])
def test_parse_edit_errors(text, needle):
    with pytest.raises(SchemaError, match=None) as e:
        S.parse_edit(text)
    assert needle in str(e.value)


def test_encode_decode_onehot_roundtrip():
    attrs = dict(category="dress", color="teal", pattern="floral", sleeve="short", neckline="collar")
    v = S.encode(attrs)
    assert v.dtype == np.int64 and S.decode(v) == attrs
    oh = S.onehot(v)
    assert oh.shape == (12 + 5 + 3 + 3,) and oh.sum() == 4
    assert oh[S.group("color").index("teal")] == 1
    v2 = S.apply_edit(v, {"color": "red"})
    assert S.decode(v2)["color"] == "red" and S.decode(v)["color"] == "teal"
    with pytest.raises(SchemaError, match="missing attribute groups"):
        S.encode({"color": "red"})
    with pytest.raises(SchemaError, match="out of range"):
        S.decode([0, 99, 0, 0, 0])


def test_schema_json_roundtrip(tmp_path):
    S.save(tmp_path / "schema.json")
    assert Schema.load(tmp_path / "schema.json") == S
    (tmp_path / "bad.json").write_text('{"groups": [{"name": "color", "values": ["red"]}]}')
    with pytest.raises(SchemaError, match="at least 2 values"):
        Schema.load(tmp_path / "bad.json")
    (tmp_path / "bad2.json").write_text("{not json")
    with pytest.raises(SchemaError, match="not valid JSON"):
        Schema.load(tmp_path / "bad2.json")


def test_schema_rejects_bad_definitions():
    with pytest.raises(SchemaError, match="repeated group names"):
        Schema([Group("a", ("x", "y")), Group("a", ("x", "y"))])
    with pytest.raises(SchemaError, match="at least one manipulable"):
        Schema([Group("a", ("x", "y"), manipulable=False)])
    with pytest.raises(SchemaError, match="must match"):
        Group("Bad Name", ("x", "y"))


@pytest.mark.parametrize("given,want", [
    ({"Colour": "Red"}, {"color": "red"}),
    ({"sleeves": "Long Sleeves"}, {"sleeve": "long"}),
    ({"pattern": "Striped"}, {"pattern": "striped"}),
    ({"neckline": "V-Neck"}, {"neckline": "v_neck"}),
    ({"pattern": "tartan"}, {"pattern": "checked"}),
])
def test_user_spellings_resolve(given, want):
    assert S.validate_edit(given) == want
    assert S.parse_edit(",".join(f"{k}={v}" for k, v in given.items())) == want


def test_source_values_may_name_fixed_groups_but_edits_may_not():
    assert S.validate_values({"Category": "Dress", "colour": "grey"}) == {"category": "dress", "color": "gray"}
    with pytest.raises(SchemaError, match="cannot be edited"):
        S.validate_edit({"category": "dress"})
    with pytest.raises(SchemaError, match="given twice"):
        S.validate_values({"colour": "red", "color": "blue"})


@pytest.mark.parametrize("text", ["make it not red", "no stripes please", "a shirt that is not blue"])
def test_negations_are_refused(text):
    with pytest.raises(SchemaError, match="negation"):
        S.parse_edit(text)


def test_without_sleeves_is_not_a_negation():
    assert S.parse_edit("a dress without sleeves") == {"sleeve": "sleeveless"}
    assert S.parse_edit("no sleeves") == {"sleeve": "sleeveless"}


def test_long_input_is_not_echoed_in_full():
    text = "z" * 100_000
    with pytest.raises(SchemaError) as e:
        S.parse_edit(text)
    assert len(str(e.value)) < 600 and "(100000 characters)" in str(e.value)
