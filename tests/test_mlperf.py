"""The MLPerf Tiny device protocol: ``edgecnn build --protocol mlperf-tiny`` and the virtual
board answering the MLCommons runner's command sequence (benchmark/runner/device_under_test.py:
``name%``, ``profile%``, ``db load N%`` then ``db HEX%`` 31 bytes a command, ``infer N W%``),
results compared with the host reference dequantized to 3 decimals."""
import json

import numpy as np
import pytest
import serial
from click.testing import CliRunner
from conftest import shared_model

from edgecnn.build import build
from edgecnn.harness import HostFirmware
from edgecnn.harness.bench import bench
from edgecnn.harness.mlperf import MlperfClient
from edgecnn.tflm_host import HostInterpreter


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    out = tmp_path_factory.mktemp("mlperf") / "kws"
    return build("nano33", shared_model("kws_ref_model.tflite"), out, protocol="mlperf-tiny",
                 mlperf_model="kws01").project


def test_runner_sequence_in_accuracy_mode(project):
    """One ``infer 1 0`` per test vector, as the runner's accuracy mode does; every
    m-results line equals the host TFLM output, dequantized by hand, to 3 decimals."""
    manifest = json.loads((project / "edgecnn.json").read_text())
    out = manifest["model"]["output"]
    vectors = json.loads((project / "model" / "test_vectors.json").read_text())["vectors"]
    host = HostInterpreter(shared_model("kws_ref_model.tflite").read_bytes())
    with HostFirmware(project) as board, serial.Serial(board.port, 115200, timeout=0.05) as port:
        dut = MlperfClient(port, timeout=10)
        dut.drain()
        assert dut.command("name") == ["m-name-dut-[edgecnn-virtual]", "m-ready"]
        assert dut.profile() == {"profile": "ULPMark for tinyML Firmware V0.0.1",
                                 "model": "kws01"}
        for v in vectors:
            x = np.asarray(v["input"], dtype=np.int8)
            data = x.tobytes()
            sent = []
            dut.port.write(f"db load {len(data)}%".encode())
            assert dut.read_until_ready() == [f"m-[Expecting {len(data)} bytes]", "m-ready"]
            for i in range(0, len(data), 31):
                sent.append(dut.command(f"db {data[i:i + 31].hex()}"))
            assert sent[-1] == ["m-load-done", "m-ready"] and all(s == ["m-ready"]
                                                                  for s in sent[:-1])
            window = dut.infer(1, 0)
            y = host.run(x.reshape(1, 49, 10, 1)).reshape(-1).astype(np.int64)
            want = [f"{float((q - out['zero_point']) * out['scale']):.3f}" for q in y]
            assert [f"{r:.3f}" for r in window.results] == want
            assert window.end_us >= window.start_us


def test_bench_drives_the_mlperf_protocol(project, tmp_path):
    """Performance mode: five windows timed by the DUT's own m-lap-us clock, the median
    throughput, and the results checked."""
    report = bench(project, port="virtual", runs=10, warmup=1, out=tmp_path / "r.json")
    m = report.mlperf
    assert report.status == "complete" and report.source == "virtual"
    assert len(m.windows) == 5 and all(w.runs == 10 for w in m.windows)
    throughputs = sorted(w.throughput for w in m.windows)
    assert m.median_throughput == throughputs[2] > 0
    assert m.results_match and report.verdict.outputs_match is True
    assert json.loads((tmp_path / "r.json").read_text())["mlperf"]["median_throughput"] > 0


def test_cli_bench_and_bad_option(project, tmp_path):
    from edgecnn.cli import main

    result = CliRunner().invoke(main, ["bench", "--project", str(project), "--port", "virtual",
                                       "--runs", "5", "--out", str(tmp_path / "c.json")])
    assert result.exit_code == 0, result.output
    assert "inf./s" in result.output or "throughput" in result.output
    bad = CliRunner().invoke(main, ["build", "--board", "nano33", "--model",
                                    str(shared_model("ad01_int8.tflite")), "--out",
                                    str(tmp_path / "b"), "--protocol", "mlperf-tiny",
                                    "--mlperf-model", "kws 01%"])
    assert bad.exit_code == 2 and "--mlperf-model" in bad.output
    assert not (tmp_path / "b").exists()
