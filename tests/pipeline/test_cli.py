"""`python -m pipeline`: verb dispatch, one-line errors and exit codes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pipeline.__main__ import VERBS, main
from pipeline.cli import run_cli
from pipeline.errors import DatasetError


def test_unknown_verb_lists_the_verbs(capsys):
    assert main(["trian"]) == 2
    err = capsys.readouterr().err
    assert "unknown verb 'trian'" in err
    assert all(verb in err for verb in VERBS)


def test_no_verb_prints_usage_and_fails(capsys):
    assert main([]) == 2
    assert "usage: python -m pipeline <verb>" in capsys.readouterr().out


def test_user_error_is_one_line_with_exit_code_2(capsys):
    def verb(argv):
        raise DatasetError("'cifar10' is not prepared; run: python -m pipeline prepare cifar10")

    assert run_cli(verb, []) == 2
    err = capsys.readouterr().err
    assert err == "error: 'cifar10' is not prepared; run: python -m pipeline prepare cifar10\n"


def test_programming_errors_are_not_swallowed():
    def verb(argv):
        raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        run_cli(verb, [])


@pytest.mark.parametrize("verb", sorted(VERBS))
def test_every_verb_module_exists_and_has_help(verb):
    done = subprocess.run([sys.executable, "-m", "pipeline", verb, "--help"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout


def test_arch_errors_are_user_errors(capsys):
    from anynet import Arch

    def verb(argv):
        Arch(depths=(1, 1, 1, 1), widths=(8, 8, 8, 8), bottleneck_ratios=(3, 1, 1, 1), group_widths=(1,) * 4)

    assert run_cli(verb, []) == 2
    assert "bottleneck_ratios" in capsys.readouterr().err
