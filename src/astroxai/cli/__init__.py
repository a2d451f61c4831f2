"""The ``astroxai`` command line: a thin shell over the workflows.

Each command parses its options, loads what it was given (a data set, a model folder), calls one workflow of
:mod:`astroxai.workflows` and prints a one-line summary; the loaded object decides between spectra and images.  The
library logs (``-v`` shows every stage and every rejected input as it happens) and never prints; only this package
prints, draws progress bars and chooses matplotlib's file-only backend.  This module holds the group, the shared
options and the error and interrupt handling; the commands live beside it by what they work on: ``data``
(simulate, reduce, fetch), ``models`` (train, evaluate, predict), ``explanations`` (explain, survey, embed, trust)
and ``studies`` (run, report).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import signal
import sys
from pathlib import Path

import click

from astroxai.errors import AstroxaiError

log = logging.getLogger("astroxai")
UNITS = {"CNN epochs": "epoch", "SVM search": "task", "t-SNE maps": "map", "kernels": "kernel", "predicting": "chunk",
         "FIRST galaxies": "img", "writing the store": "chunk"}


def progress_bar(iterable, desc: str, total: int | None):
    """A progress bar on stderr (astroxai's progress protocol, :mod:`astroxai.progress`); silent for short loops
    when stderr is not a terminal."""
    unit = UNITS.get(desc, "img" if "image" in desc else "it" if "batches" in desc else "spec")
    bar = _bar_class()(iterable, desc=desc, total=total, unit=unit, file=sys.stderr, mininterval=0.5, leave=False,
                       disable=None if (total or 0) < 50 else False)
    return stop_if_interrupted(bar)


@functools.cache
def _bar_class():
    from tqdm.auto import tqdm

    class Bar(tqdm):
        """tqdm, quiet about one case: a Ctrl-C that lands inside tqdm's own constructor leaves a half-built bar,
        whose ``__del__`` then prints "Exception ignored … has no attribute 'pos'" under the command's "Aborted!"."""

        def __del__(self):
            try:
                super().__del__()
            except AttributeError:
                pass

    return Bar


#: The SIGINTs received while the current command runs (see :func:`noting_interrupts`).
_INTERRUPTS: list[int] = []


def stop_if_interrupted(iterable):
    """Every step of every long loop is a point where a Ctrl-C that Python swallowed stops the command after all."""
    for item in iterable:
        if _INTERRUPTS:
            raise KeyboardInterrupt
        yield item


class _Failure(click.ClickException):
    """A library error shown as one line (the traceback is logged at debug level, shown with -v)."""


def fail(error: Exception):
    log.debug("traceback", exc_info=error)
    return _Failure(str(error))


#: What a command shows as one line: astroxai's own errors (something given cannot be used, a model cannot be loaded,
#: a data carrier is missing) and the operating system's (a file that cannot be read or written).  Anything else is a
#: bug, shown with its traceback.
LIBRARY_ERRORS = (AstroxaiError, OSError)
#: Arguments and options several commands share.
class ModelFolder(click.ParamType):
    """A model folder, or the name of a model shipped with astroxai (``astroxai models`` lists them)."""

    name = "model"

    def convert(self, value, param, ctx):
        from astroxai.models.bundled import model_folder, names

        folder = model_folder(value)
        if folder.is_dir():
            return folder
        shipped = ", ".join(names()) or "none installed"
        self.fail(f"{value!r} is neither a model folder nor a bundled model ({shipped})", param, ctx)


#: MODEL_DIR: a folder written by ``astroxai train`` or a bundled model's name.
MODEL_DIR = click.argument("model_dir", type=ModelFolder())
#: Inputs are not checked for existence here: a missing one costs its own row ("file not found"), not the call.
INPUTS = click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
CATALOG = click.option("--catalog", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                       help="CSV with columns file,label,z giving labels and missing redshifts.")


#: Suffixes of an ``--out`` that names a file (the data set of ``reduce``, the table of ``predict``); any other
#: ``--out`` is a folder.
OUT_FILE_SUFFIXES = (".h5", ".hdf5", ".csv")


def invocation() -> str:
    """The command as the user typed it (``astroxai train first --out …``) when run from a shell, else the command's
    name and its parsed options (a test or a notebook calling the command in-process)."""
    import shlex

    context = click.get_current_context()
    if Path(sys.argv[0]).name in ("astroxai", "__main__.py") and context.info_name in sys.argv[1:]:
        return shlex.join(["astroxai", *sys.argv[1:]])
    options = " ".join(f"{key}={value}" for key, value in sorted(context.params.items()))
    return f"astroxai {context.info_name} {options}"


def echo_note(model_dir) -> None:
    """Print the note of a bundled model (what to know before trusting it); nothing for other model folders."""
    from astroxai.models.bundled import note_for

    note = note_for(model_dir)
    if note:
        click.echo(f"{Path(model_dir).name}: {note}")


def check_out(out) -> None:
    """Refuse, before any work, an ``--out`` that cannot be written: the folder that would hold it (the output
    itself, or its parent for a file) must be a folder, or be creatable under one, that this user may write in."""
    if out is None:
        return
    out = Path(out)
    if out.exists():
        folder = out if out.is_dir() else out.parent
    else:
        folder = out.parent if out.suffix.lower() in OUT_FILE_SUFFIXES else out
    ancestor = folder
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise click.UsageError(f"--out {out}: cannot be written, {ancestor} is a file, not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise click.UsageError(f"--out {out}: cannot be written, no permission to write in {ancestor}")


def reports_errors(command):
    """Run a command, turning a library error (a bad input, a model that cannot be loaded, a grid mismatch) into one
    line for the user; the traceback is logged at debug level (``-v``).  An ``--out`` that cannot be written is
    refused before the command starts (:func:`check_out`)."""

    @functools.wraps(command)
    def run(*args, **kwargs):
        check_out(kwargs.get("out"))
        with noting_interrupts() as interrupted:
            try:
                return command(*args, **kwargs)
            except Exception as error:
                if interrupted:  # Ctrl-C, whatever a C library turned it into on its way up
                    log.debug("interrupted", exc_info=error)
                    raise click.Abort() from None
                if isinstance(error, LIBRARY_ERRORS):
                    raise fail(error) from None
                raise

    return run


@contextlib.contextmanager
def noting_interrupts():
    """Note every SIGINT while a command runs, then raise KeyboardInterrupt as Python does.

    Python delivers the KeyboardInterrupt wherever the main thread happens to be, and two places lose it:
    inside h5py's C code it comes back up as a TypeError from HDF5's error stack (seen when writing a data set), and
    inside a callback (a weakref finaliser, an at-fork hook of the process pool) Python prints "Exception ignored"
    and goes on.  With the note, the first case still stops as interrupted ("Aborted!"), the second stops at the
    next step of any progress loop (:func:`stop_if_interrupted`) and prints nothing.  Every output is written under
    a temporary name, so the unwinding removes the half-written file either way.
    """
    owner = os.getpid()
    _INTERRUPTS.clear()

    def note(signum, frame):
        if os.getpid() != owner:  # a worker forked a moment ago, before its initialiser ignores SIGINT
            return
        _INTERRUPTS.append(signum)
        signal.default_int_handler(signum, frame)

    def quiet(unraisable):
        # Once interrupted, an error in a finaliser is the interrupt's doing (the KeyboardInterrupt itself, raised
        # again at the next loop step; or an object it cut off half-built, like a progress bar whose __del__ then
        # fails): shown with -v, never as a traceback in the middle of "Aborted!"
        if _INTERRUPTS:
            log.debug("after the interrupt, in %r: %s: %s", unraisable.object, type(unraisable.exc_value).__name__,
                      unraisable.exc_value)
        else:
            previous_hook(unraisable)

    try:
        previous = signal.signal(signal.SIGINT, note)
    except ValueError:  # not the main thread (an embedding application): leave its handler alone
        previous = None
    previous_hook, sys.unraisablehook = sys.unraisablehook, quiet
    try:
        yield _INTERRUPTS
    finally:
        sys.unraisablehook = previous_hook
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        _INTERRUPTS.clear()  # handled: a later command in this process (a notebook, a test) starts afresh


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(package_name="astroxai")
@click.option("-v", "--verbose", is_flag=True, help="Show every stage, every rejected input and tracebacks.")
def main(verbose: bool):
    """Classify astronomical spectra and images, and show why the classifier decides what it decides.

    \b
    A typical session on the embedded simulated data:
      astroxai run                                    # the whole spectra study → runs/default/report.html
      astroxai simulate --out sim && astroxai reduce sim/ --out data.h5
      astroxai train data.h5 --out model/             # the paper's SVM study
      astroxai explain model/ data.h5 --out why/      # saliency maps, one row per input
    Every command has --help.
    """
    import matplotlib

    matplotlib.use("Agg")  # files only: the command line never opens windows
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s" if not verbose else "%(levelname)s %(name)s: %(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(logging.DEBUG if verbose else logging.INFO)
    log.propagate = False


# the commands register themselves on ``main`` as they are imported
from astroxai.cli import data, explanations, models, studies  # noqa: E402, F401
