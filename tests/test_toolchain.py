"""toolchain.py: a C/C++ program built with g++, rebuilt only when what it is made of changes,
and a compiler's error as one line."""
from __future__ import annotations

import subprocess

import pytest
from conftest import require_tool

from edgecnn.errors import EdgecnnError, ToolMissingError
from edgecnn.toolchain import build_program, find_tool


def _build(tmp_path, sources, flags=("-O1",)):
    return build_program(sources, tmp_path / "build", "prog", cc="gcc", cxx="g++",
                         c_flags=list(flags), cxx_flags=list(flags), what="test program")


def test_a_program_is_built_once_and_again_when_a_source_changes(tmp_path):
    require_tool("g++")
    c = tmp_path / "answer.c"
    c.write_text("int answer(void) { return 41; }\n")
    main = tmp_path / "main.cpp"
    main.write_text('#include <cstdio>\nextern "C" int answer(void);\n'
                    'int main() { std::printf("%d\\n", answer()); }\n')
    first = _build(tmp_path, [c, main])
    assert subprocess.run([first], capture_output=True, text=True).stdout == "41\n"
    stamp = first.stat().st_mtime_ns
    assert _build(tmp_path, [c, main]) == first and first.stat().st_mtime_ns == stamp
    c.write_text("int answer(void) { return 42; }\n")
    second = _build(tmp_path, [c, main])
    assert second != first
    assert subprocess.run([second], capture_output=True, text=True).stdout == "42\n"
    assert _build(tmp_path, [c, main], flags=("-O2",)) not in (first, second)   # flags count


def test_a_compile_error_is_one_line_naming_the_file(tmp_path):
    require_tool("g++")
    bad = tmp_path / "bad.c"
    bad.write_text("int f(void) { return undeclared_name; }\n")
    with pytest.raises(EdgecnnError) as err:
        _build(tmp_path, [bad])
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("test program: compiling bad.c failed:")
    assert "undeclared_name" in message
    assert not list((tmp_path / "build").glob("prog-*"))     # no half-built program


def test_a_missing_tool_says_which_package_has_it():
    with pytest.raises(ToolMissingError, match=r"apt-get install some-package"):
        find_tool("edgecnn-no-such-compiler", "some-package")


def test_a_link_error_names_the_missing_symbol(tmp_path):
    require_tool("g++")
    main = tmp_path / "main.cpp"
    main.write_text('extern "C" int missing_symbol(void);\nint main() { return missing_symbol(); }\n')
    with pytest.raises(EdgecnnError, match=r"linking failed: .*undefined reference to "
                                           r"`missing_symbol'"):
        _build(tmp_path, [main])
