"""Ctrl-C in the middle of a command (an interrupted command leaves no half-written output): SIGINT to the command's
process group, as a terminal sends it, while ``reduce`` writes its data set and while ``train`` fits or writes its model
folder. The command stops without a traceback, leaves no temporary file, and the next command finds the previous
complete output, byte for byte, never half of the new one."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from astroxai.cli import main
from astroxai.data import SpectraSet

pytestmark = pytest.mark.skipif(os.name != "posix", reason="process groups and SIGINT are POSIX")


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _interrupt(args: list, ready, cwd: Path, timeout: float = 240.0) -> tuple[int, str]:
    """Run ``astroxai ARGS`` in its own process group; send SIGINT to the group once ``ready(output so far)`` is
    true.  Fails if the command ended before it could be interrupted."""
    process = subprocess.Popen([sys.executable, "-c", "from astroxai.cli import main; main()", *map(str, args)],
                               cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: chunks.extend(iter(lambda: process.stdout.read1(4096), b"")))
    reader.start()
    deadline = time.monotonic() + timeout
    try:
        while not ready(b"".join(chunks).decode("utf-8", "replace")):
            assert process.poll() is None, "the command ended before it could be interrupted: give it more work"
            assert time.monotonic() < deadline, "never ready"
            time.sleep(0.005)
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        reader.join(timeout=10)
    return process.returncode, b"".join(chunks).decode("utf-8", "replace")


def _check_stopped(code: int, output: str, out: Path) -> None:
    assert code != 0, output
    assert "Aborted" in output and "Traceback" not in output, output
    assert not list(out.parent.glob(".*.partial")) and not list(out.parent.glob(".*.old")), list(out.parent.iterdir())


def test_sigint_during_reduce_keeps_the_previous_data_set(small_sample, reduced_sample, tmp_path):
    out = tmp_path / "set.h5"
    runner = CliRunner()
    assert runner.invoke(main, ["reduce", str(small_sample), "--out", str(out)]).exit_code == 0
    before = _digest(tmp_path)
    inputs = [small_sample, reduced_sample.parent / "sim"]  # 66 spectra, one per chunk: a long write
    code, output = _interrupt(["reduce", *inputs, "--out", out, "--chunk-size", "1"],
                              lambda _: any(tmp_path.glob(".set.h5.*.partial")), tmp_path)
    _check_stopped(code, output, out)
    assert _digest(tmp_path) == before  # the old set and its manifest, untouched
    result = runner.invoke(main, ["train", str(out), "--out", str(tmp_path / "model"), "--quick", "--kernels",
                                  "linear", "--timing-repeats", "0"])
    assert result.exit_code == 0, result.output
    assert len(SpectraSet.load(out)) == 18


@pytest.mark.parametrize("moment", ["fitting", "writing the folder"])
def test_sigint_during_train_keeps_the_previous_model_whole(reduced_sample, tmp_path, moment):
    model = tmp_path / "model"
    runner = CliRunner()
    result = runner.invoke(main, ["train", str(reduced_sample), "--out", str(model), "--quick", "--kernels",
                                  "linear", "--timing-repeats", "0"])
    assert result.exit_code == 0, result.output
    before = _digest(model)
    test_f = json.loads((model / "model.json").read_text())["metrics"]["test"]["macro"]["f1"]
    if moment == "fitting":  # a network fit on another split: interrupted once its epochs have begun
        args = ["train", reduced_sample, "--out", model, "--model", "cnn", "--max-epochs", "2000", "--seed", "9"]
        ready = lambda output: "CNN epochs" in output  # noqa: E731
    else:  # the SVM study's tables are written inside the temporary folder: interrupted there
        args = ["train", reduced_sample, "--out", model, "--quick", "--seed", "9", "--timing-repeats", "20"]
        ready = lambda _: any(tmp_path.glob(".model.*.partial/*"))  # noqa: E731
    code, output = _interrupt(args, ready, tmp_path)
    _check_stopped(code, output, model)
    assert _digest(model) == before  # model, model.json and split.json from the same training
    result = runner.invoke(main, ["evaluate", str(model), str(reduced_sample), "--part", "test",
                                  "--out", str(tmp_path / "evaluation")])
    assert result.exit_code == 0, result.output
    assert f"macro F {test_f:.4f}" in result.output


class _HalfBuilt:
    """An object whose finaliser fails, like a progress bar whose constructor an interrupt cut short."""

    def __del__(self):
        raise AttributeError("'tqdm' object has no attribute 'pos'")


def test_a_finaliser_broken_by_the_interrupt_prints_no_traceback(monkeypatch):
    from astroxai.cli import noting_interrupts

    shown = []  # what would be printed as "Exception ignored in ...", with its traceback
    monkeypatch.setattr(sys, "unraisablehook", shown.append)
    with noting_interrupts():
        _HalfBuilt()  # before any interrupt: Python's own report, as always
        assert len(shown) == 1 and isinstance(shown[0].exc_value, AttributeError)
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
        _HalfBuilt()
    assert len(shown) == 1


def test_a_bar_interrupted_while_it_is_built_is_dropped_quietly():
    """A Ctrl-C that lands inside tqdm's own constructor leaves a half-built bar; dropping it must not print an
    "Exception ignored" traceback under the command's "Aborted!" (seen when a test interrupted ``reduce`` early)."""
    from astroxai.cli import _bar_class

    half_built = object.__new__(_bar_class())
    half_built.disable = False  # tqdm sets this before ``pos``, which its close() needs
    half_built.__del__()
