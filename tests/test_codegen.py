"""Generated projects, checked with real tools: host g++, Debian's arm-none-eabi-g++, pyelftools
and PlatformIO's own configuration parser."""
import hashlib
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from conftest import MLPERF_MODELS, require_tool, shared_model

from edgecnn.build import build
from edgecnn.codegen.carray import c_identifier, c_string
from edgecnn.tflite_model import read_tflite

TFLM_API = Path(__file__).with_name("tflm_api")
REPO = Path(__file__).resolve().parents[1]
# per board: the folder of declarations transcribed from its library's resolver header
RESOLVER_API = {"nano33": TFLM_API / "resolvers" / "arduino_7948b85",
                "esp32": TFLM_API / "resolvers" / "esp32_1.0.0"}
BOARD_FILES = {"nano33": "nano33ble.toml", "esp32": "esp32.toml"}


def recorded_ops(board):
    """The [tflm.ops] table of a board file, read with tomllib (not edgecnn's loader)."""
    return tomllib.loads((REPO / "boards" / BOARD_FILES[board]).read_text())["tflm"]["ops"]
ARM_FLAGS = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]
COMPILERS = {"host": ["g++"], "arm": ["arm-none-eabi-g++", *ARM_FLAGS]}


@pytest.fixture(scope="module")
def projects(tmp_path_factory):
    root = tmp_path_factory.mktemp("projects")
    built = {}
    for name in MLPERF_MODELS:
        for board in ("nano33", "esp32"):
            built[name, board] = build(board, shared_model(name), root / f"{board}_{name}")
    return built


def _symbol_bytes(obj, symbol):
    from elftools.elf.elffile import ELFFile

    with open(obj, "rb") as f:
        elf = ELFFile(f)
        sym = next(s for s in elf.get_section_by_name(".symtab").iter_symbols()
                   if s.name == symbol)
        section = elf.get_section(sym["st_shndx"])
        data = section.data()[sym["st_value"]:sym["st_value"] + sym["st_size"]]
        return data, sym["st_value"], section["sh_addralign"], section.name


@pytest.mark.parametrize("compiler", sorted(COMPILERS))
@pytest.mark.parametrize("name", sorted(MLPERF_MODELS))
def test_model_array_compiles_to_the_exact_tflite_bytes(projects, tmp_path, compiler, name):
    require_tool(COMPILERS[compiler][0])
    project = projects[name, "nano33"].project
    obj = tmp_path / "model_data.o"
    subprocess.run([*COMPILERS[compiler], "-std=gnu++14", "-Os", "-c",
                    str(project / "src" / "model_data.cc"), "-I", str(project / "include"),
                    "-o", str(obj)], check=True)
    symbol = f"{c_identifier(name.removesuffix('.tflite'))}_tflite"
    data, offset, align, section = _symbol_bytes(obj, symbol)
    assert data == shared_model(name).read_bytes()
    assert offset % 16 == 0 and align >= 16
    assert section.startswith(".rodata")  # const: stays in flash


@pytest.mark.parametrize("name", sorted(MLPERF_MODELS))
@pytest.mark.parametrize("board", ["nano33", "esp32"])
def test_project_matches_the_model(projects, name, board):
    result = projects[name, board]
    project = result.project
    manifest = json.loads((project / "edgecnn.json").read_text())
    data = shared_model(name).read_bytes()
    assert manifest["model"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert manifest["model"]["bytes"] == len(data)
    ops = [op.name for op in read_tflite(data).used_op_codes]
    assert [o["name"] for o in manifest["model"]["ops"]] == ops
    config = (project / "include" / "edgecnn_config.h").read_text()
    tflm = (project / "include" / "edgecnn_tflm_config.h").read_text()
    registered = re.findall(r"X\((Add\w+), \"(\w+)\"\)", tflm)
    assert registered == [(recorded_ops(board)[o], o) for o in ops]
    assert f"#define EDGECNN_TFLM_OP_COUNT {len(ops)}\n" in tflm
    assert f"#define EDGECNN_ARENA_BYTES {manifest['arena']['allocated_bytes']}\n" in config
    assert manifest["arena"]["allocated_bytes"] <= 1.10 * manifest["arena"]["device_need_bytes"]
    assert manifest["test_vectors"]["count"] >= 1
    assert f"#define EDGECNN_OPERATOR_COUNT {len(read_tflite(data).operators)}\n" in config
    assert (project / "model" / "model.tflite").read_bytes() == data
    vectors = json.loads((project / "model" / "test_vectors.json").read_text())["vectors"]
    assert len(vectors) == manifest["test_vectors"]["count"]
    if board == "esp32":
        assert "#define EDGECNN_TFLM_API_2022\n" in tflm
        assert "#include <TensorFlowLite_ESP32.h>" in tflm
        assert "#define EDGECNN_TFLM_OP_EVENTS 0\n" in tflm
        assert not manifest["firmware"]["op_events"]
    else:
        assert "EDGECNN_TFLM_API_2022" not in tflm and "#include <TensorFlowLite.h>" in tflm
        # The 2023 API: MicroInterpreter(..., resource_variables, MicroProfilerInterface*)
        assert "#define EDGECNN_TFLM_OP_EVENTS 1\n" in tflm
        assert manifest["firmware"]["op_events"]


def test_templates_hold_no_function_bodies():
    """The program lives in firmware/; templates render data (the Arduino entry calls two
    functions and defines nothing else)."""
    templates = REPO / "templates"
    main = (templates / "main.cpp.j2").read_text()
    code = [line for line in main.splitlines() if line and not line.startswith("//")]
    assert len(code) <= 6, code
    for t in templates.glob("*.j2"):
        text = t.read_text()
        assert "return " not in text and "while (" not in text and "if (" not in text, t.name


@pytest.mark.parametrize("board, env, platform", [("nano33", "nano33ble", "nordicnrf52@"),
                                                   ("esp32", "esp32", "espressif32@")])
def test_platformio_accepts_the_project(projects, board, env, platform):
    project = projects["kws_ref_model.tflite", board].project
    pio = [sys.executable, "-m", "platformio"]
    proc = subprocess.run([*pio, "project", "config", "-d", str(project), "--json-output"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    config = dict(json.loads(proc.stdout))
    options = dict(config[f"env:{env}"])
    assert options["platform"].startswith(platform)
    assert options["framework"] == ["arduino"] or options["framework"] == "arduino"
    deps = options["lib_deps"]
    assert any("7948b85" in d or "TensorFlowLite_ESP32@1.0.0" in d for d in deps)


def test_test_vectors_hold_host_tflm_outputs(projects):
    import numpy as np

    from edgecnn.tflm_host import HostInterpreter

    project = projects["kws_ref_model.tflite", "nano33"].project
    text = (project / "src" / "test_vectors.cc").read_text()
    inputs_block = text.split("edgecnn_test_inputs")[1].split("};")[0]
    first = inputs_block.split("// vector 0")[1].split("},")[0]
    values = np.array([int(v) for v in re.findall(r"-?\d+", first.split("\n", 1)[1])], np.int8)
    assert values.size == 49 * 10
    outputs_block = text.split("edgecnn_test_outputs")[1].split("};")[0]
    expected = [int(v) for v in re.findall(r"-?\d+", outputs_block.split("{")[2].split("}")[0])]
    got = HostInterpreter(shared_model("kws_ref_model.tflite").read_bytes()).run(values)
    assert got.reshape(-1).tolist() == expected


def test_hostile_names_and_labels_are_escaped(tmp_path):
    require_tool("g++")
    hostile = 'say "hi"\\\n??=\x01 naïve ☃'
    program = tmp_path / "s.cc"
    program.write_text(f'#include <cstdio>\nint main(){{std::fputs({c_string(hostile)}, stdout);}}\n')
    subprocess.run(["g++", "-Wall", "-Werror", "-trigraphs", str(program), "-o",
                    str(tmp_path / "s")], check=True)
    out = subprocess.run([str(tmp_path / "s")], capture_output=True).stdout
    assert out == hostile.encode()
    assert c_identifier('my "model"\n v2 ☃') == "my_model_v2"
    assert c_identifier("2nd") == "m_2nd" and c_identifier("int") == "m_int"
    assert c_identifier("☃☃") == "model"


def test_arduino_sketch_folder(tmp_path):
    result = build("nano33", shared_model("ad01_int8.tflite"), tmp_path / "p", arduino=True)
    sketch = result.project / "arduino" / "ad01_int8"
    assert (sketch / "ad01_int8.ino").read_text() == (result.project / "src" / "main.cpp").read_text()
    for f in ("model_data.h", "model_data.cc", "test_vectors.h", "edgecnn_protocol.cpp"):
        assert (sketch / f).is_file()


def test_firmware_protocol_compiles_for_cortex_m4(tmp_path):
    require_tool("arm-none-eabi-g++")
    from edgecnn.resources import resource_dir

    fw = resource_dir("firmware")
    probe = tmp_path / "probe.cc"
    probe.write_text('#include "edgecnn_timer.h"\nunsigned probe(){edgecnn_cycles_init();'
                     'return edgecnn_cycles();}\n')
    for src, flags in ((fw / "edgecnn_protocol.cpp", []), (probe, ["-DEDGECNN_CYCLES_DWT"])):
        subprocess.run(["arm-none-eabi-g++", *ARM_FLAGS, *flags, "-std=gnu++14", "-Os",
                        "-Wall", "-Wextra", "-Werror", "-I", str(fw), "-c", str(src), "-o",
                        str(tmp_path / (src.stem + ".o"))], check=True)


def type_check(project, board, tmp_path):
    """Compile every source of the project with -fsyntax-only against the declared API of
    ``board``'s library (host g++ and arm-none-eabi-g++); return the failing compiler output,
    or ''."""
    (tmp_path / ("TensorFlowLite_ESP32.h" if board == "esp32" else "TensorFlowLite.h")
     ).write_text("#pragma once\n")
    sources = sorted((project / "src").glob("*.c*"))
    for tool in ("g++", "arm-none-eabi-g++"):
        require_tool(tool)
        flags = ARM_FLAGS if tool.startswith("arm") else []
        for source in sources:
            proc = subprocess.run(
                [tool, *flags, "-std=gnu++17", "-fsyntax-only", "-Wall", "-Wextra", "-Werror",
                 "-I", str(RESOLVER_API[board]), "-I", str(TFLM_API), "-I", str(tmp_path),
                 "-I", str(project / "include"), "-x", "c++", str(source)],
                capture_output=True, text=True)
            if proc.returncode != 0:
                return proc.stderr
    return ""


@pytest.mark.parametrize("board", ["nano33", "esp32"])
@pytest.mark.parametrize("name", sorted(MLPERF_MODELS))
def test_generated_sketch_type_checks_against_the_tflm_api(projects, tmp_path, name, board):
    """Every source of every generated project (the firmware and its generated data) compiles
    (syntax and types) against the declared TFLM and Arduino API of its board's library:
    -Wall -Wextra -Werror, host g++ and ARM g++."""
    assert type_check(projects[name, board].project, board, tmp_path) == ""


def test_outputs_get_ordinary_permissions(projects):
    """Staged with mkstemp/mkdtemp (0600/0700), published with the umask's usual modes."""
    from edgecnn.fsutil import current_umask

    project = projects["kws_ref_model.tflite", "nano33"].project
    mask = current_umask()
    assert project.stat().st_mode & 0o777 == 0o777 & ~mask
    for name in ("edgecnn.json", "platformio.ini", "model/model.tflite", "src/main.cpp"):
        assert (project / name).stat().st_mode & 0o777 == 0o666 & ~mask, name


def test_the_type_check_fails_for_a_method_the_library_lacks(projects, tmp_path):
    """The declarations are the library's own: the ESP32 library has no AddDiv, so a sketch
    calling it does not compile, while the Nano's declarations accept it."""
    import shutil

    original = projects["kws_ref_model.tflite", "esp32"].project
    project = tmp_path / "project"
    shutil.copytree(original, project)
    config = project / "include" / "edgecnn_tflm_config.h"
    config.write_text(config.read_text().replace("X(AddSoftmax,", "X(AddDiv,"))
    (tmp_path / "esp").mkdir()
    assert "AddDiv" in type_check(project, "esp32", tmp_path / "esp")
    assert "AddDiv" in (RESOLVER_API["nano33"] / "tensorflow" / "lite" / "micro" /
                        "micro_mutable_op_resolver.h").read_text()


@pytest.mark.parametrize("board", ["nano33", "esp32"])
def test_mlperf_tiny_firmware_type_checks(tmp_path, board):
    """The MLPerf Tiny protocol is compiled in instead of edgecnn's: the same sources, the other
    branch, type-checked against the same declarations."""
    result = build(board, shared_model("ad01_int8.tflite"), tmp_path / "p",
                   protocol="mlperf-tiny", mlperf_model="ad01")
    config = (result.project / "include" / "edgecnn_config.h").read_text()
    assert "#define EDGECNN_PROTOCOL_MLPERF_TINY 1\n" in config
    assert '#define EDGECNN_MLPERF_MODEL "ad01"\n' in config
    assert result.manifest.firmware.protocol == "mlperf-tiny"
    (tmp_path / "api").mkdir()
    assert type_check(result.project, board, tmp_path / "api") == ""


def test_firmware_follows_its_clang_format_style():
    """Every C and C++ file of firmware/, targets included, is formatted as .clang-format
    says (clang-format --dry-run -Werror)."""
    require_tool("clang-format")
    sources = sorted(str(p) for p in (REPO / "firmware").rglob("*")
                     if p.suffix in (".h", ".c", ".cpp"))
    assert any("targets" in s for s in sources) and any(s.endswith(".c") for s in sources)
    proc = subprocess.run(["clang-format", "--dry-run", "-Werror", *sources], cwd=REPO,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[:2000]
