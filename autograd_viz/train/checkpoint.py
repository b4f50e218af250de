"""Checkpoints as one ``.npz``: weights, buffers, optimizer state and JSON metadata, written atomically.

Keys: ``model/<param name>``, ``optim/<index>/<state key>``, ``extra/<name>``, and ``meta`` (a JSON string:
format, config, optimizer settings, epoch, history, random-generator states). Loading never unpickles, reads
no array before its header (shape, dtype) has been checked against the size the archive declares and the size
the model's configuration allows (no allocation bombs), and validates every metadata field, so a tampered file
is one :class:`CheckpointError` line.
"""

from __future__ import annotations

import json
import math
import os
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from autograd_viz.errors import AutogradVizError, CheckpointError, InputFileError
from autograd_viz.io import atomic_open, open_regular

if TYPE_CHECKING:  # the limits and validators here load without the engine (the CLI's options use them)
    from autograd_viz.nn.module import Module
    from autograd_viz.optim.optimizers import Optimizer

FORMAT = "autograd_viz.checkpoint/1"
#: hard caps: the whole file, its JSON metadata, and a model's parameter count (the trainer's own limit)
MAX_FILE_BYTES = 4 << 30
MAX_META_BYTES = 64 << 20
MAX_PARAMETERS = 50_000_000
#: at most this many epochs in a checkpoint's counters (a tampered 10**9 is refused, not looped over)
MAX_EPOCHS = 1_000_000
_KEY = re.compile(r"(meta|model/[\w.]+|optim/\d+/\w+|extra/[\w./]+)\.npy\Z")
_DTYPE_KINDS = "fiub"

__all__ = ["FORMAT", "Checkpoint", "CheckpointError", "load_checkpoint", "parameter_count", "restore",
           "save_checkpoint", "validate_config"]


@dataclass
class Checkpoint:
    model_state: dict[str, np.ndarray]
    meta: dict[str, Any]
    optimizer_state: dict[str, Any] | None = None
    extra: dict[str, np.ndarray] = field(default_factory=dict)


def save_checkpoint(path: str | os.PathLike, model: Module, optimizer: Optimizer | None = None,
                    meta: dict[str, Any] | None = None, extra: dict[str, np.ndarray] | None = None) -> Path:
    """Write the model (and optimizer) state with ``meta`` to ``path`` atomically; returns the path."""
    arrays: dict[str, np.ndarray] = {f"model/{k}": v for k, v in model.state_dict().items()}
    meta = {"format": FORMAT, **(meta or {})}
    if optimizer is not None:
        state = optimizer.state_dict()
        steps = []
        for i, st in enumerate(state["params"]):
            steps.append(int(st.get("step", 0)))
            arrays.update({f"optim/{i}/{k}": v for k, v in st.items() if isinstance(v, np.ndarray)})
        meta["optimizer"] = {"class": type(optimizer).__name__, "version": state["version"],
                             "step_count": state["step_count"],
                             "lr": state["lr"], "steps": steps, "initialised": [bool(st) for st in state["params"]]}
    arrays.update({f"extra/{k}": np.asarray(v) for k, v in (extra or {}).items()})
    arrays["meta"] = np.array(json.dumps(meta, allow_nan=False))
    target = Path(path)
    with atomic_open(target, "wb") as handle:
        np.savez(handle, **arrays)  # type: ignore[arg-type]  # NumPy's stub types the first keyword
    return target


# --- validation of what a file claims ------------------------------------------------------------------------
def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int(value: Any, where: str, low: int = 0, high: int | None = None) -> int:
    if not _is_int(value) or value < low or (high is not None and value > high):
        bound = f"{low}..{high}" if high is not None else f">= {low}"
        raise CheckpointError(f"{where} must be an integer {bound}, got {value!r}")
    return value


def _number(value: Any, where: str, positive: bool = False) -> float:
    if not (isinstance(value, int | float) and not isinstance(value, bool)) or not math.isfinite(value) or (
            positive and value <= 0):
        raise CheckpointError(f"{where} must be a finite{' positive' if positive else ''} number, got {value!r}")
    return float(value)


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise CheckpointError(f"{where} must be a mapping, got {type(value).__name__}")
    return value


def parameter_count(sizes: list[int], batchnorm: bool = False) -> int:
    """Weights and biases of an MLP with layer ``sizes`` (plus BatchNorm's scale and shift per hidden unit)."""
    weights = sum(a * b + b for a, b in zip(sizes, sizes[1:], strict=False))
    return weights + (2 * sum(sizes[1:-1]) if batchnorm else 0)


def validate_config(config: Any, where: str = "checkpoint") -> dict[str, Any]:
    """Check a model configuration written by ``train`` field by field, before anything is built from it."""
    from autograd_viz.nn.layers import ACTIVATIONS

    config = _mapping(config, f"{where}: config")
    sizes = config.get("sizes")
    if not isinstance(sizes, list) or len(sizes) < 2 or not all(_is_int(s) and 1 <= s <= 10**7 for s in sizes):
        raise CheckpointError(f"{where}: config.sizes must be a list of at least two layer sizes >= 1, got "
                              f"{str(sizes)[:80]}")
    batchnorm = config.get("batchnorm", False)
    if not isinstance(batchnorm, bool):
        raise CheckpointError(f"{where}: config.batchnorm must be true or false, got {batchnorm!r}")
    count = parameter_count(sizes, batchnorm)
    if count > MAX_PARAMETERS:
        raise CheckpointError(f"{where}: config.sizes {sizes[:6]} describes {count:,} parameters, more than the "
                              f"{MAX_PARAMETERS:,} allowed (refused before allocating)")
    if config.get("activation", "relu") not in ACTIVATIONS:
        raise CheckpointError(f"{where}: config.activation {config.get('activation')!r} is not one of "
                              f"{', '.join(ACTIVATIONS)}")
    dropout = _number(config.get("dropout", 0.0), f"{where}: config.dropout")
    if not 0 <= dropout < 1:
        raise CheckpointError(f"{where}: config.dropout must be in [0, 1), got {dropout!r}")
    if config.get("dtype", "float32") not in ("float32", "float64"):
        raise CheckpointError(f"{where}: config.dtype must be float32 or float64, got {config.get('dtype')!r}")
    if not isinstance(config.get("downsample", False), bool):
        raise CheckpointError(f"{where}: config.downsample must be true or false")
    if "dataset" in config and not isinstance(config["dataset"], str):
        raise CheckpointError(f"{where}: config.dataset must be a name, got {config['dataset']!r}")
    return config


def _check_rng_state(state: Any, where: str) -> None:
    """A bit-generator state must be one NumPy accepts (tried on a throwaway generator of the same kind)."""
    state = _mapping(state, where)
    kind = state.get("bit_generator")
    if kind not in ("PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937"):
        raise CheckpointError(f"{where}: unknown bit generator {kind!r}")
    try:
        getattr(np.random, kind)().state = state
    except (TypeError, ValueError, KeyError, OverflowError) as exc:
        raise CheckpointError(f"{where}: not a valid {kind} state ({str(exc)[:80]})") from None


def _check_meta(meta: Any, where: str) -> dict[str, Any]:
    meta = _mapping(meta, f"{where}: metadata")
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{where} has format {meta.get('format')!r}, expected {FORMAT!r}")
    if "config" in meta:
        validate_config(meta["config"], where)
    if "classes" in meta and not (isinstance(meta["classes"], list)
                                  and all(isinstance(c, str) for c in meta["classes"])):
        raise CheckpointError(f"{where}: classes must be a list of names")
    if "optimizer" in meta:
        info = _mapping(meta["optimizer"], f"{where}: optimizer")
        if not isinstance(info.get("class"), str):
            raise CheckpointError(f"{where}: optimizer.class must be a class name, got {info.get('class')!r}")
        _int(info.get("step_count"), f"{where}: optimizer.step_count")
        _number(info.get("lr"), f"{where}: optimizer.lr", positive=True)
        steps, initialised = info.get("steps"), info.get("initialised")
        if not isinstance(steps, list) or not all(_is_int(s) and s >= 0 for s in steps):
            raise CheckpointError(f"{where}: optimizer.steps must be a list of integers >= 0")
        if not isinstance(initialised, list) or not all(isinstance(b, bool) for b in initialised) \
                or len(initialised) != len(steps):
            raise CheckpointError(f"{where}: optimizer.initialised must be one true/false per entry of "
                                  f"optimizer.steps ({len(steps)})")
    if "trainer" in meta:
        state = _mapping(meta["trainer"], f"{where}: trainer")
        _int(state.get("epoch"), f"{where}: trainer.epoch", 0, MAX_EPOCHS)
        _int(state.get("global_step"), f"{where}: trainer.global_step")
        _int(state.get("wait"), f"{where}: trainer.wait", 0, MAX_EPOCHS)
        if state.get("best_score") is not None:
            _number(state["best_score"], f"{where}: trainer.best_score")
        history = _mapping(state.get("history"), f"{where}: trainer.history")
        rows = history.get("epochs", [])
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise CheckpointError(f"{where}: trainer.history.epochs must be a list of mappings")
        if len(rows) != state["epoch"]:
            raise CheckpointError(f"{where}: trainer.history has {len(rows)} epochs but trainer.epoch is "
                                  f"{state['epoch']}")
        if history.get("best_epoch") is not None:
            _int(history["best_epoch"], f"{where}: trainer.history.best_epoch", 1, state["epoch"])
        if not isinstance(history.get("stopped_early", False), bool):
            raise CheckpointError(f"{where}: trainer.history.stopped_early must be true or false")
        _check_rng_state(state.get("rng"), f"{where}: trainer.rng")
        for name, rng in _mapping(state.get("dropout_rngs", {}), f"{where}: trainer.dropout_rngs").items():
            _check_rng_state(rng, f"{where}: trainer.dropout_rngs.{name}")
    return meta


# --- reading --------------------------------------------------------------------------------------------------
def _array_header(member: Any, info: zipfile.ZipInfo, where: str, budget: int) -> tuple[tuple[int, ...], np.dtype]:
    """Read one ``.npy`` header and check it before any data: plain numeric dtype, and a data size that is the
    archive's declared size for that member and within ``budget`` bytes."""
    name = info.filename
    try:
        version = np.lib.format.read_magic(member)
        reader = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
        if version not in reader:
            raise ValueError(f"unsupported .npy version {version}")
        shape, fortran, dtype = reader[version](member, max_header_size=10_000)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise CheckpointError(f"{where}: entry {name} has no valid array header ({str(exc)[:80]})") from None
    if dtype.hasobject or dtype.kind not in _DTYPE_KINDS + ("U" if name == "meta.npy" else ""):
        raise CheckpointError(f"{where}: entry {name} has dtype {dtype}, not a plain number array")
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes > budget:
        raise CheckpointError(f"{where}: entry {name} declares shape {shape} = {nbytes:,} bytes, more than the "
                              f"{budget:,} this file may hold (refused before allocating)")
    if nbytes != info.file_size - member.tell():
        raise CheckpointError(f"{where}: entry {name} declares shape {shape} ({nbytes:,} bytes) but holds "
                              f"{info.file_size - member.tell():,}")
    return shape, dtype


def _read_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, where: str, budget: int) -> np.ndarray:
    try:
        with archive.open(info) as member:
            _array_header(member, info, where, budget)
        with archive.open(info) as member:
            return np.lib.format.read_array(member, allow_pickle=False)
    except CheckpointError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
        raise CheckpointError(f"{where}: entry {info.filename} is corrupt ({str(exc)[:80]})") from None


def _budget(meta: dict[str, Any]) -> int:
    """How many array bytes a checkpoint of this configuration can legitimately hold: weights, optimizer state
    (up to three arrays per weight), the best weights so far, and buffers; float64 at most."""
    config = meta.get("config")
    if not isinstance(config, dict):
        return MAX_FILE_BYTES
    sizes, batchnorm = config["sizes"], config.get("batchnorm", False)
    per_copy = 8 * (parameter_count(sizes, batchnorm) + (2 * sum(sizes[1:-1]) + 8 if batchnorm else 0))
    return 6 * per_copy + (1 << 20)


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint` (no pickle is ever loaded; see the module doc)."""
    target = Path(path)
    if target.is_dir():
        target = target / "model.npz"
    where = f"checkpoint {target}"
    try:
        with open_regular(target, MAX_FILE_BYTES, "checkpoint") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size == 0:
                raise CheckpointError(f"{where} is empty (0 bytes): not a checkpoint; was its run killed before "
                                      "the first save?")
            try:
                archive = zipfile.ZipFile(handle)
            except (zipfile.BadZipFile, OSError, ValueError) as exc:
                raise CheckpointError(f"{where} is not a readable .npz file ({exc})") from None
            with archive:
                return _load(archive, where)
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint: no such file {target}") from None
    except InputFileError as exc:
        if "No such file" in str(exc):
            raise CheckpointError(f"checkpoint: no such file {target}") from None
        raise CheckpointError(str(exc)) from None


def _load(archive: zipfile.ZipFile, where: str) -> Checkpoint:
    infos = {info.filename: info for info in archive.infolist()}
    bad = [name for name in infos if not _KEY.match(name)]
    if bad:
        raise CheckpointError(f"{where}: unexpected entry {bad[0]!r} (not written by autograd_viz)")
    if "meta.npy" not in infos:
        raise CheckpointError(f"{where} has no 'meta' entry (not written by autograd_viz)")
    declared = sum(info.file_size for info in infos.values())
    if declared > MAX_FILE_BYTES:
        raise CheckpointError(f"{where}: its entries declare {declared:,} bytes, more than the {MAX_FILE_BYTES:,} "
                              "allowed (refused before inflating)")
    raw_meta = _read_entry(archive, infos.pop("meta.npy"), where, MAX_META_BYTES)
    if raw_meta.shape != () or raw_meta.dtype.kind != "U":
        raise CheckpointError(f"{where}: the meta entry is not one JSON string")
    try:
        meta = json.loads(str(raw_meta))
    except (json.JSONDecodeError, RecursionError) as exc:
        raise CheckpointError(f"{where}: bad metadata ({str(exc)[:80]})") from None
    meta = _check_meta(meta, where)
    budget = _budget(meta)
    if sum(info.file_size for info in infos.values()) > budget + 128 * len(infos):
        raise CheckpointError(f"{where}: its arrays declare more bytes than its configuration "
                              f"{meta['config']['sizes'][:6]} can hold ({budget:,}; refused before inflating)")
    arrays = {name[:-4]: _read_entry(archive, info, where, budget) for name, info in infos.items()}
    model_state = {k[6:]: v for k, v in arrays.items() if k.startswith("model/")}
    extra = {k[6:]: v for k, v in arrays.items() if k.startswith("extra/")}
    optimizer_state = None
    if "optimizer" in meta:
        info = meta["optimizer"]
        params: list[dict[str, Any]] = []
        for i, (step, initialised) in enumerate(zip(info["steps"], info["initialised"], strict=True)):
            st: dict[str, Any] = {"step": step} if initialised else {}
            prefix = f"optim/{i}/"
            st.update({k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)})
            params.append(st)
        stray = [k for k in arrays if k.startswith("optim/") and int(k.split("/")[1]) >= len(params)]
        if stray:
            raise CheckpointError(f"{where}: optimizer state {stray[0]!r} has no entry in optimizer.steps")
        optimizer_state = {"version": info.get("version", 1), "step_count": info["step_count"], "lr": info["lr"],
                           "params": params}
    elif any(k.startswith("optim/") for k in arrays):
        raise CheckpointError(f"{where}: optimizer arrays without optimizer metadata")
    return Checkpoint(model_state, meta, optimizer_state, extra)


def restore(checkpoint: Checkpoint, model: Module, optimizer: Optimizer | None = None) -> None:
    """Load a checkpoint's weights (and optimizer state) into a model built with the same layers."""
    try:
        model.load_state_dict(checkpoint.model_state)
    except AutogradVizError as exc:
        raise CheckpointError(f"checkpoint does not fit the model: {exc}") from None
    if optimizer is not None:
        if checkpoint.optimizer_state is None:
            raise CheckpointError("checkpoint has no optimizer state to resume from")
        saved = checkpoint.meta["optimizer"]["class"]
        if saved != type(optimizer).__name__:
            raise CheckpointError(f"checkpoint was trained with {saved}, not {type(optimizer).__name__}")
        params = checkpoint.optimizer_state["params"]
        if len(params) != len(optimizer.params):
            raise CheckpointError(f"checkpoint has optimizer state for {len(params)} parameters, the model has "
                                  f"{len(optimizer.params)}")
        wanted = set(optimizer.state_keys)
        for i, st in enumerate(params):
            keys = set(st) - {"step"}
            if st and keys != wanted:
                raise CheckpointError(f"checkpoint: optimizer state of parameter {i} has {sorted(keys) or 'nothing'}"
                                      f", {saved} needs {sorted(wanted)}")
        try:
            optimizer.load_state_dict(checkpoint.optimizer_state)
        except AutogradVizError as exc:
            raise CheckpointError(f"checkpoint's optimizer state does not fit: {exc}") from None
