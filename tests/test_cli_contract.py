"""The CLI's contract: help works everywhere, every exit code is documented (README and --help), and an
exception nobody planned for is one line with its own exit code, its traceback only under -v."""

import errno
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import spikerain.commands.inspect as inspect_cmd
from spikerain import errors
from spikerain.cli import COMMANDS, main

README = Path(__file__).resolve().parent.parent / "README.md"


def _spikerain(*args):
    return subprocess.run([sys.executable, "-m", "spikerain", *args], capture_output=True, text=True, timeout=120)


def test_help_and_no_arguments_in_a_fresh_interpreter():
    r = _spikerain("--help")
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert "13% claim" in r.stdout  # a literal percent sign in a help string
    for name in COMMANDS:
        assert f"    {name}" in r.stdout
    table = dict((int(c), w) for c, w in re.findall(r"^\s+(\d+)\s+(.+)$", r.stdout.split("exit codes:")[1], re.M))
    assert table == {code: what for what, code in errors.EXIT_CODES.items()}
    r = _spikerain()
    assert r.returncode == errors.UsageError.exit_code and "Traceback" not in r.stderr
    assert r.stderr.startswith("usage: spikerain") and "exit codes:" in r.stderr


def test_readme_documents_every_exit_code():
    text = README.read_text()
    rows = dict((int(c), w.strip()) for c, w in re.findall(r"^\|\s*(\d+)\s*\|\s*([^|]+)\|", text, re.M))
    assert {code for code in errors.EXIT_CODES.values()} <= set(rows)


def test_every_error_class_lives_in_errors_and_has_a_documented_code():
    classes = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, errors.ToolchainError)]
    assert len(classes) >= 15
    documented = set(errors.EXIT_CODES.values())
    for c in classes:
        assert c.__module__ == "spikerain.errors" and c.exit_code in documented, c


def test_one_output_grammar_and_model_names_from_the_registry(capsys):
    from spikerain.models.registry import model_names

    for cmd in COMMANDS:
        with pytest.raises(SystemExit):
            main([cmd, "--help"])
        out = capsys.readouterr().out
        if "--model" in out:
            assert "{" + ",".join(model_names()) + "}" in out, cmd
        if cmd not in ("inspect", "map", "verify", "doctor", "eval"):  # the commands that read only
            assert "-o " in out and "--output" in out, cmd  # every command that writes takes -o/--output
        for flag in ("--crop", "--size"):
            if flag in out and cmd != "data":
                assert f"{flag} H W" in out, (cmd, flag)


@pytest.mark.parametrize("exc, code, says", [
    (ZeroDivisionError("division by zero"), errors.INTERNAL_ERROR_EXIT, "internal error: ZeroDivisionError"),
    (OSError(errno.ENOSPC, "No space left on device", "/x/out.h5"), errors.OutputError.exit_code, "No space left"),
    (MemoryError(), errors.INTERNAL_ERROR_EXIT, "out of memory"),
    (KeyboardInterrupt(), errors.INTERRUPTED_EXIT, "interrupted"),
])
def test_last_resort_handler(exc, code, says, monkeypatch, capfd):
    """A stand-in command raises what no check foresaw; the handler in main() is what is tested."""

    def run(args):
        raise exc

    monkeypatch.setattr(inspect_cmd, "run", run)
    assert main(["inspect", "x.h5"]) == code
    err = capfd.readouterr().err
    assert len(err.strip().splitlines()) == 1 and says in err and "Traceback" not in err
    if code == errors.INTERNAL_ERROR_EXIT and says.startswith("internal"):
        assert "run with -v for the traceback" in err.lower()
        assert main(["inspect", "x.h5", "-v"]) == code
        assert "Traceback" in capfd.readouterr().err


def test_a_reader_that_stops_reading_ends_the_command_quietly(tmp_path):
    """``spikerain ... --json | head``: a real pipe whose read end is closed before spikerain writes. Exit 141 (as
    a shell reports a filter cut off by SIGPIPE), nothing on stderr, and the files are written."""
    r, w = os.pipe()
    os.close(r)
    try:
        p = subprocess.run([sys.executable, "-m", "spikerain", "data", "synth", str(tmp_path / "d"), "--n-train", "0",
                            "--n-test", "1", "--size", "32", "--json"], stdout=w, stderr=subprocess.PIPE, text=True,
                           timeout=120)
    finally:
        os.close(w)
    assert p.returncode == errors.PIPE_CLOSED_EXIT == 141 and p.stderr == "", p.stderr
    assert len(list((tmp_path / "d" / "test" / "input").iterdir())) == 1


def test_a_table_on_a_closed_pipe_ends_with_the_same_code(tmp_path):
    """``eval`` prints rich tables; rich ends a broken pipe with its own exit 1 (spikerain's verification
    mismatch), so its console hands the pipe to the CLI's handler instead."""
    assert main(["data", "synth", str(tmp_path / "d"), "--n-train", "0", "--n-test", "1", "--size", "32", "-q"]) == 0
    r, w = os.pipe()
    os.close(r)
    try:
        p = subprocess.run([sys.executable, "-m", "spikerain", "eval", "--data", str(tmp_path / "d"), "-q"], stdout=w,
                           stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(w)
    assert p.returncode == errors.PIPE_CLOSED_EXIT and p.stderr == "", p.stderr
