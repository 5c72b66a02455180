"""Reading files ganlab did not write itself, without running code hidden in them.

Snapshots and checkpoints travel as artifacts of a shared tracking server, classifier and
FID caches sit in a shared data folder, CIFAR-10 batches and Inception weights come from
the web: any of them can be replaced by a file whose pickle calls a function when it is
loaded. Every such read goes through here:

- `load_tensors`: torch files that hold only tensors and plain values (ganlab's own
  payloads), read with `torch.load(weights_only=True)`;
- `check_torch_file`: torch files that a library will load itself without that
  protection (torch-fidelity's statistics cache and Inception weights): their pickle is
  inspected, not executed, and refused if it names anything beyond tensors, plain
  containers and numpy arrays;
- `load_pickle`: plain pickles of numpy arrays and plain values (CIFAR-10's python batches),
  through an unpickler that refuses every other global.

A refusal is an `UnsafeFileError`: one sentence naming the file and what to do.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any, BinaryIO

import torch

from ganlab.core.errors import GanlabError


class UnsafeFileError(GanlabError):
    """A file that would run code (or that cannot be read as what it claims to be)."""


# numpy's pickle support: array and scalar reconstruction, dtypes. Nothing here calls
# an arbitrary function; an object array's elements would be further globals, refused.
NUMPY_GLOBALS = frozenset(
    {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }
)
NUMPY_DTYPE_MODULE = "numpy.dtypes"  # numpy >= 1.25 pickles dtypes as numpy.dtypes.*DType


def _numpy_global(module: str, name: str) -> bool:
    return (module, name) in NUMPY_GLOBALS or (
        module == NUMPY_DTYPE_MODULE and name.endswith("DType")
    )


TRUSTED_COPY = "use a copy from a source you trust"
REMAKE = "delete it and ganlab makes it again"


def _refusal(path: Path | str, what: str, found: str, fix: str) -> UnsafeFileError:
    return UnsafeFileError(
        f"refused to load {what} {path}: its pickle names {found}, which could run code "
        f"on this machine and ganlab never writes; {fix}."
    )


def load_tensors(
    path: Path, what: str, fix: str = TRUSTED_COPY, shown_as: str | None = None
) -> Any:
    """`torch.load(path, weights_only=True)` on the CPU; refusals and unreadable files
    as one sentence naming `what` the file was supposed to be and where it came from
    (`shown_as`, e.g. an artifact's path, when `path` is a temporary download)."""
    where = shown_as or path
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = _named_global(str(exc))
        if found is not None:
            raise _refusal(where, what, found, fix) from exc
        raise _unreadable(where, what, exc, fix) from exc
    except Exception as exc:  # noqa: BLE001 - truncated, foreign: the same problem
        raise _unreadable(where, what, exc, fix) from exc


def _unreadable(path: Path | str, what: str, exc: Exception, fix: str) -> UnsafeFileError:
    return UnsafeFileError(
        f"{what} {path} cannot be read ({type(exc).__name__}: damaged, or not the kind of "
        f"file it should be); {fix}."
    )


def _named_global(message: str) -> str | None:
    """The global torch's weights_only unpickler refused, from its message; None when
    it refused something else (bytes that are no pickle at all: a damaged file)."""
    found = re.search(r"GLOBAL ([\w.]+)", message)
    return found.group(1) if found else None  # any call needs a GLOBAL to name it


def check_torch_file(
    path: Path, what: str, fix: str = TRUSTED_COPY, shown_as: Path | str | None = None
) -> None:
    """Refuse a torch file that a library will load with full unpickling, if its pickle
    names any global beyond what torch's weights_only loader allows and numpy's arrays.
    Reads the pickle's opcodes only; nothing in it is executed. `shown_as`: the file the
    user knows, when `path` is a private copy of it."""
    try:
        unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception:  # noqa: BLE001 - a legacy (non-zip) file: load it the safe way
        load_tensors(path, what, fix, None if shown_as is None else str(shown_as))
        return
    bad = [name for name in unsafe if not _numpy_global(*_split_global(name))]
    if bad:
        raise _refusal(shown_as or path, what, ", ".join(sorted(bad)[:3]), fix)


def _split_global(name: str) -> tuple[str, str]:
    module, _, attribute = name.rpartition(".")
    return module, attribute


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Builds plain containers, strings, numbers and numpy arrays; nothing else."""

    def __init__(self, file: BinaryIO, path: Path, what: str, fix: str) -> None:
        super().__init__(file, encoding="latin1")  # CIFAR-10's batches are Python 2 pickles
        self.path, self.what, self.fix = path, what, fix

    def find_class(self, module: str, name: str) -> Any:
        if _numpy_global(module, name):
            return super().find_class(module, name)
        raise _refusal(self.path, self.what, f"{module}.{name}", self.fix)


def load_pickle(path: Path, what: str, fix: str = TRUSTED_COPY) -> Any:
    """A plain pickle of numpy arrays and Python values; anything else refused."""
    try:
        with open(path, "rb") as handle:
            return _NumpyOnlyUnpickler(handle, path, what, fix).load()
    except UnsafeFileError:
        raise
    except Exception as exc:  # noqa: BLE001 - truncated or not a pickle
        raise _unreadable(path, what, exc, fix) from exc
