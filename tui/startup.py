"""The start-up of a command whose process ends when its work is done (``gpumigrate transfer``):
no garbage collection until its clients are built, and no search for pydantic plugins.

Start-up allocates a few hundred thousand objects (modules, classes, pydantic schemas, botocore's
S3 model and google-cloud-storage) and nearly all of them live until the process ends. The cyclic
collector runs again and again as they pile up and finds almost nothing: ~1,000 unreachable objects
among ~100,000 tracked at the end of a transfer's start-up; one full pass then took ~60 ms of CPU.
Paused from the console script's start until the command says its start-up is over, the first
request to the destination left ~40 ms of CPU earlier (median of 8 interleaved runs, load ~11, on
the 2-core VM). Then everything that exists is frozen (``gc.freeze``: never scanned again, so the
copy's own collections stay small) and collection resumes for the rest of the run, however long.

Pydantic looks for plugins when it builds the first model: it reads the entry points of every
installed distribution (~30 ms of CPU with the ~120 this project installs, load ~9). gpumigrate's models are
its own input checks and use no plugin, so :func:`begin` sets ``PYDANTIC_DISABLE_PLUGINS=__all__``,
pydantic's documented switch, unless the environment sets it already.

Only :func:`tui.cli.entry` calls :func:`begin`, and only for commands it ends with ``os._exit``: a caller of
:func:`tui.cli.main` in a process that goes on (the tests, the app) keeps its collector untouched,
since freezing there would keep its later garbage for ever.
"""

from __future__ import annotations

import gc
import os

_paused = False


def begin() -> None:
    """Stop collection until :func:`over`; no pydantic plugins (the process entry point of a
    short-lived command, before anything is imported)."""
    global _paused
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    if gc.isenabled():
        gc.disable()
        _paused = True


def over() -> None:
    """Start-up is over: freeze what exists and collect again. Idempotent; nothing unless
    :func:`begin` stopped collection."""
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()
