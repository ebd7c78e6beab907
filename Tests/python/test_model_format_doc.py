"""docs/model-format.md names every layer type and top-level key that the spec reader accepts
(Sources/CFXFormats), so that the document cannot miss one again."""
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "model-format.md").read_text()


def layer_types():
    """The keys of layerBuilders, the table of layer readers (`"dense": LayerBuilder(...)`, ...)."""
    types = set()
    for path in (ROOT / "Sources" / "CFXFormats").glob("*.swift"):
        types.update(re.findall(r'^\s*"(\w+)": (?:LayerBuilder|elementwise|\.plain|pool)\b', path.read_text(), re.M))
    return types


def top_level_keys():
    source = (ROOT / "Sources" / "CFXFormats" / "ModelSpec.swift").read_text()
    return set(re.findall(r'"(\w+)"', re.search(r"let known = \[([^\]]*)\]", source).group(1)))


def test_every_layer_type_is_documented():
    types = layer_types()
    assert {"dense", "conv2d", "residual", "batch_norm"} <= types, f"the reader's table was not found: {sorted(types)}"
    assert [t for t in sorted(types) if f"`{t}`" not in DOC] == []


def test_every_top_level_key_is_documented():
    keys = top_level_keys()
    assert "dtype" in keys
    assert [k for k in sorted(keys) if f"`{k}`" not in DOC] == []
