"""Every optional feature that a test or script can skip is either required in CI (CFX_REQUIRE in
.ci/run, which turns its skip into a failure) or named in the README's paragraph on CFX_REQUIRE as
the one allowed to skip; and CFX_REQUIRE names no feature that nothing tags."""
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[2]
PYTHON_TAG = re.compile(r"""["']\[([\w-]+)\] """)       # pytest.skip("[dask] ..."), reason="[torch] ..."
SHELL_TAG = re.compile(r"\bskip_feature ([\w-]+) ")    # skip_feature sanitizers "..."


def tagged_features():
    tags = {}
    for path in (ROOT / "Tests").rglob("*.py"):
        if path.name in ("conftest.py", pathlib.Path(__file__).name):  # they describe the tags
            continue
        for name in PYTHON_TAG.findall(path.read_text()):
            tags.setdefault(name, path.relative_to(ROOT))
    for path in [*(ROOT / "Tests").rglob("*.sh"), *(ROOT / "examples").rglob("*.sh")]:
        for name in SHELL_TAG.findall(path.read_text()):
            tags.setdefault(name, path.relative_to(ROOT))
    tags.pop("FEATURE", None)  # Tests/skip.sh's usage line
    return tags


def ci_required():
    match = re.search(r"^export CFX_REQUIRE=([\w,-]+)$", (ROOT / ".ci" / "run").read_text(), re.M)
    assert match, ".ci/run exports no CFX_REQUIRE"
    return set(match.group(1).split(","))


def readme_paragraph():
    paragraphs = (ROOT / "README.md").read_text().split("\n\n")
    return next(p for p in paragraphs if "CI sets `CFX_REQUIRE`" in p)


def test_every_skippable_feature_is_required_in_ci_or_documented():
    tags, required = tagged_features(), ci_required()
    assert {"dask", "torch", "sanitizers"} <= set(tags), f"the tag patterns found only {sorted(tags)}"
    for name, where in tags.items():
        if name not in required:
            assert f"`{name}`" in readme_paragraph(), (
                f"{where} can skip feature {name!r}, which CI does not require and the README does not explain")


def test_ci_requires_no_feature_that_nothing_tags():
    assert ci_required() <= set(tagged_features()), sorted(ci_required() - set(tagged_features()))
