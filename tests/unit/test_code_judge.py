"""The pure parts of the code judge: extraction, test shapes, comparisons, value codec.

No sandbox here (tests/integration/test_sandbox.py runs programs). The harness's value
functions are loaded with runpy, never imported as a module of the grader.
"""

from __future__ import annotations

import ast
import json
import math
import runpy
from collections import Counter, OrderedDict, deque, namedtuple
from fractions import Fraction
from pathlib import Path

import pytest

import skyt1.verifiers.code as code_pkg
from skyt1.verifiers.code import decode_value, extract_code, normalize_tests, stdout_matches, value_matches
from skyt1.verifiers.code.judge import harden

H = runpy.run_path(str(Path(code_pkg.__file__).with_name("harness.py")), run_name="skyt1_harness_test")


# --- extract_code -------------------------------------------------------------------------

@pytest.mark.parametrize("response, expected", [
    ("no code here", None),
    ("", None),
    ("```python\nprint(1)\n```", "print(1)\n"),
    ("```py\na=1\n```\ntext\n```python3\nb=2\n```", "b=2\n"),
    ("```\nx = 3\n```", "x = 3\n"),
    ("```python\nfirst()\n```\n```cpp\nint main(){}\n```", "first()\n"),
    ("```cpp\nint main(){}\n```\nprose between\n```java\nclass A{}\n```", None),
    ("```python\ndone()\n```\n```python\ntruncated(", "done()\n"),
    ("```python\n\n```", None),
    ("<|begin_of_solution|>\n```Python\nsolve()\n```\n<|end_of_solution|>", "solve()\n"),
    ("````python\ns = '```'\n````", "s = '```'\n"),
    ("  ```python\n  indented()\n  ```", "  indented()\n"),
])
def test_extract_code(response, expected):
    assert extract_code(response) == expected


# --- normalize_tests ----------------------------------------------------------------------

def test_stdio_shapes_and_strings():
    apps = normalize_tests(json.dumps({"inputs": ["1\n"], "outputs": ["2\n"]}))
    assert apps["mode"] == "stdio" and apps["inputs"] == ["1\n"] and not apps["prelude"]
    cf = normalize_tests([{"input": "1", "output": "2"}, {"input": "3", "output": "4"}])
    assert cf["inputs"] == ["1", "3"] and cf["outputs"] == ["2", "4"]
    rllm = normalize_tests(str({"inputs": ["a"], "outputs": ["b"]}))  # Python literal, single quotes
    assert rllm["outputs"] == ["b"]
    lines = normalize_tests({"inputs": [["1", "2"]], "outputs": [["3"]]})
    assert lines["inputs"] == ["1\n2"] and lines["outputs"] == ["3"]


def test_call_and_script_shapes():
    call = normalize_tests({"fn_name": "f", "inputs": [[1, 2]], "outputs": [[3]]})
    assert call["mode"] == "call" and call["fn_name"] == "f" and call["prelude"]
    mbpp = normalize_tests({"test_list": ["assert f(1) == 2", "assert f(2) == 3"], "test_imports": ["import math"]})
    assert mbpp["mode"] == "script" and mbpp["total"] == 2 and mbpp["first"] == 1
    assert mbpp["statements"][0] == "import math" and not mbpp["prelude"]
    he = normalize_tests({"check": "def check(candidate):\n    assert candidate(1) == 2\n", "entry_point": "f"})
    assert he["total"] == 1 and he["statements"][0].rstrip().endswith("check(f)")
    lc = normalize_tests({"functional": "def check(candidate):\n    assert candidate() == 1\ncheck(Solution().g)"})
    assert lc["prelude"] and "__skyt1_plain" in lc["statements"][0]


@pytest.mark.parametrize("bad", [{"inputs": ["1"], "outputs": []}, {"foo": 1}, 42,
                                 {"check": "def check(c): pass", "entry_point": "os.system('x')"}])
def test_malformed_tests_raise(bad):
    with pytest.raises(ValueError):
        normalize_tests(bad)


def test_harden_routes_comparisons_through_plain():
    src = harden("assert f(1) == 2\nassert g()\nassert not h() and k(1) < 3\nassert f(0) is None")
    tree = ast.parse(src)
    asserts = [n for n in tree.body if isinstance(n, ast.Assert)]
    assert "__skyt1_plain(f(1)) == __skyt1_plain(2)" in ast.unparse(asserts[0])
    assert ast.unparse(asserts[1].test) == "__skyt1_plain(g())"
    assert "not __skyt1_plain(h())" in ast.unparse(asserts[2]) and "__skyt1_plain(k(1)) < __skyt1_plain(3)" in src
    assert ast.unparse(asserts[3].test) == "f(0) is None"  # identity cannot be faked
    assert harden("def (:") == "def (:"  # unparsable test code is passed through


# --- stdout_matches -----------------------------------------------------------------------

@pytest.mark.parametrize("got, expected, ok", [
    ("1 2\n", "1 2\n", True),
    ("1 2   \n\n\n", "1 2", True),
    ("1\n2\n", "1 2", True),
    ("  1 2", "1 2\n", True),
    ("0.3333333", "0.333333333", True),
    ("1e-7", "0.0", True),
    ("3.0", "3", False),
    ("0.5001", "0.5", False),
    ("YES", "Yes", False),
    ("1 2", "1 2 3", False),
    ("", "0", False),
    ("nan", "nan", True),
    ("1_000.0", "1000.0", False),
])
def test_stdout_matches(got, expected, ok):
    assert stdout_matches(got, expected) is ok


# --- value codec and value_matches ---------------------------------------------------------

@pytest.mark.parametrize("value", [
    None, True, 3, -2**9000, 1.5, float("inf"), "s", [1, (2, 3)], {1: "a", (1, 2): [None]},
    {"k": {1, 2}}, frozenset({"x"}), b"\x00\xff", 1 + 2j, [], (), {},
])
def test_codec_round_trips_plain_data(value):
    text = H["dumps"](H["encode"](H["plain"](value, True)))
    assert decode_value(text) == value and type(decode_value(text)) is type(value)
    assert json.loads(text) is not None or value is None


def test_nan_round_trips():
    assert math.isnan(decode_value(H["dumps"](H["encode"](float("nan")))))


def test_plain_copies_subclasses_and_rejects_fake_equality():
    plain = H["plain"]

    class Liar(int):
        def __eq__(self, other):
            return True

    class AlwaysEqual:
        def __eq__(self, other):
            return True

    assert type(plain(Liar(5))) is int and plain(Liar(5)) == 5 and plain(Liar(5)) != 6
    assert plain(Counter("aab")) == {"a": 2, "b": 1} and type(plain(Counter("a"))) is dict
    assert type(plain(namedtuple("P", "x y")(1, 2))) is tuple
    assert plain(OrderedDict(a=1)) == {"a": 1} and plain(Fraction(1, 2)) == 0.5
    assert plain(deque([1])) == deque([1])  # C-level comparisons: passed through as is
    with pytest.raises(H["NotPlain"]):
        plain(AlwaysEqual())
    with pytest.raises(H["NotPlain"]):
        plain([AlwaysEqual()])
    with pytest.raises(H["NotPlain"]):
        plain(deque([1]), strict=True)


@pytest.mark.parametrize("text", ['{"$eval": "1"}', '{"$tuple": [1], "x": 2}', "[" * 100000, "nope",
                                  '{"$set": [[1]]}', '{"$float": "1e999999"}'])
def test_decode_rejects_malformed_values(text):
    with pytest.raises(ValueError):
        decode_value(text)


@pytest.mark.parametrize("got, expected, ok", [
    (3, [3], True),
    ([3], [3], True),
    ((1, 2), [1, 2], True),
    (0.1 + 0.2, 0.3, True),
    (2, 2.0, True),
    (True, 1, False),
    (1, True, False),
    ("1", 1, False),
    ({"a": [1, 2]}, {"a": (1, 2)}, True),
    ({1: 2}, {"1": 2}, False),
    (None, None, True),
    ([1, 2], [[1, 2]], True),
    (1, [1, 2], False),
    (10**400, 1e300, False),
])
def test_value_matches(got, expected, ok):
    assert value_matches(got, expected) is ok


def test_opaque_matches_nothing():
    opaque = decode_value('{"$opaque": "Whatever"}')
    assert not value_matches(opaque, "Whatever") and not value_matches(opaque, [opaque])


# --- tolerance from the problem, None stdin (issue 16) ----------------------------------------

@pytest.mark.parametrize("statement, tol", [
    ("Your answer is considered correct if its absolute or relative error does not exceed $10^{-9}$.", 1e-9),
    ("The output will be accepted if the absolute or relative error is at most 10^-4.", 1e-4),
    ("Print the answer with an error of at most 1e-7.", 1e-7),
    ("Answers within 0.001 of the true value are accepted.", 1e-3),
    ("Print the number of ways modulo 998244353.", None),
    (None, None),
])
def test_stated_tolerance(statement, tol):
    from skyt1.verifiers.code.modes import stated_tolerance

    assert stated_tolerance(statement) == tol


def test_tolerance_field_and_none_stdin():
    assert normalize_tests({"inputs": [None], "outputs": ["1"]})["inputs"] == [""]  # not the text "None"
    assert normalize_tests({"inputs": ["1"], "outputs": ["2"], "tolerance": 1e-9})["tolerance"] == 1e-9
    with pytest.raises(ValueError, match="no expected output"):
        normalize_tests({"inputs": ["1"], "outputs": [None]})
    with pytest.raises(ValueError, match="tolerance"):
        normalize_tests({"inputs": ["1"], "outputs": ["2"], "tolerance": "tight"})


def test_tolerance_decides_float_comparisons():
    assert stdout_matches("0.5000001", "0.5") and not stdout_matches("0.5000001", "0.5", 1e-9)
    assert value_matches(0.5000001, 0.5) and not value_matches(0.5000001, 0.5, 1e-9)
