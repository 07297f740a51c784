"""``DeviceProfile``: where a model will run and what its blocks cost there, stored as plain JSON.

A profile is either *measured* (block tables plus a learned correction; ``estimate ==
"measured-profile"``) or a *roofline* of a device that is not at hand (published peaks only;
``estimate == "roofline"``). Everything, the fitted predictor included, is plain numbers in JSON: no
pickle.

JSON layout (``format: autogt-device-profile``, ``format_version: 1``)::

    {"name", "kind": "cpu"|"cuda", "hardware": {...}, "measurement": {...}, "reference": {...},
     "tables": {"local:gine": {"axes": [["width", [...]], ...], "latency_ms": [...], "memory_mb": [...],
                               "ops": [...], "flops": [...], "bytes": [...]}, ...},
     "latency_correction": {"features": [...], "coef": [...], "intercept": 0.0, ...},
     "memory_correction": {...}, "samples": [{"spec": {...}, "batch", "nodes", "edges", "nodes_sq",
     "latency_ms", "memory_mb"}, ...], "roofline": {...} | null, "roofline_fit": {...} | null}

Names: :func:`load_profile` takes a ``DeviceProfile``, a JSON path, the stem of a file in
``profiles/`` (e.g. ``cpu-2core``), ``cpu``/``cuda`` (the shipped or measured profile of that kind) or a
roofline name registered under registry kind ``device`` (``h100 h200 a100 l4 t4``).

Example:
    >>> dev = load_profile("h100")
    >>> dev.kind, dev.estimate, dev.roofline.bandwidth_gbs
    ('cuda', 'roofline', 3350.0)
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autogt.hardware._roofline import ROOFLINES, RooflineSpec, match_roofline
from autogt.hardware._table import BlockTable
from autogt.registry import UnknownNameError, get, names, register

__all__ = [
    "DeviceProfile",
    "Correction",
    "Sample",
    "ProfileError",
    "load_profile",
    "profile_dirs",
    "profile_names",
    "roofline_profile",
    "known_devices",
    "FORMAT",
]

FORMAT = "autogt-device-profile"
FORMAT_VERSION = 1


class ProfileError(ValueError):
    """A profile file that cannot be read, or a device with no profile; the message says what to do."""


@dataclass(frozen=True)
class Correction:
    """A linear model fitted with scikit-learn: ``z = intercept + sum(coef[i] * x[features[i]])``, and the
    prediction is ``z`` (``space="linear"``) or ``exp(z)`` (``space="log"``).

    Attributes:
        features: feature names, in order.
        coef: one non-negative coefficient per feature.
        intercept: constant term.
        space: ``linear`` or ``log`` (the model was fitted to the log of the target).
        fit_mape: mean absolute percentage error on the samples it was fitted to.
        samples: how many samples it was fitted to.

    Example:
        >>> Correction(("a", "b"), (2.0, 1.0), 0.5)({"a": 1.0, "b": 3.0})
        5.5
        >>> Correction(("lograw",), (1.0,), 0.0, space="log")({"lograw": 0.0})
        1.0
    """

    features: tuple[str, ...]
    coef: tuple[float, ...]
    intercept: float = 0.0
    space: str = "linear"
    fit_mape: float | None = None
    samples: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "features", tuple(self.features))
        object.__setattr__(self, "coef", tuple(float(c) for c in self.coef))
        if len(self.features) != len(self.coef):
            raise ValueError(f"correction: {len(self.features)} features but {len(self.coef)} coefficients")
        if self.space not in ("linear", "log"):
            raise ValueError(f"correction space: {self.space!r} is not allowed; choose one of linear, log")

    def __call__(self, x: Mapping[str, float]) -> float:
        z = self.intercept + sum(c * x.get(f, 0.0) for f, c in zip(self.features, self.coef, strict=True))
        return math.exp(min(z, 700.0)) if self.space == "log" else z

    def to_dict(self) -> dict[str, Any]:
        return {"features": list(self.features), "coef": list(self.coef), "intercept": self.intercept,
                "space": self.space, "fit_mape": self.fit_mape, "samples": self.samples}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Correction:
        return cls(tuple(data["features"]), tuple(data["coef"]), float(data.get("intercept", 0.0)),
                   str(data.get("space", "linear")), data.get("fit_mape"), int(data.get("samples", 0)))


@dataclass(frozen=True)
class Sample:
    """One whole-model measurement: ``spec`` (canonical dict) on ``batch`` graphs of the given mean size."""

    spec: dict[str, Any]
    batch: int
    nodes: float
    edges: float
    nodes_sq: float
    latency_ms: float
    memory_mb: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Sample:
        allowed = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in allowed})


@dataclass
class DeviceProfile:
    """How much an architecture costs on one device (see module docstring).

    Attributes:
        name: profile name (file stem by convention, e.g. ``cpu-2core``).
        kind: ``cpu`` or ``cuda``.
        hardware: facts about the device (CPU model and cores, GPU name, memory, torch version...).
        measurement: how it was measured (threads, clock, warm-up, repeats, grid, data, duration...).
        reference: the task the blocks were measured on (``task``: its description, ``degree``: directed
            edges per node of the measured batches).
        tables: block key -> :class:`~autogt.hardware._table.BlockTable`.
        latency_correction, memory_correction: learned over whole-model measurements (``samples``).
        samples: the whole-model measurements the corrections were fitted to.
        roofline: published peaks (roofline profiles, and measured GPU profiles of a known card).
        roofline_fit: roofline efficiencies fitted to this (measured CUDA) profile's samples.
        source: the file it was read from (not stored).
    """

    name: str
    kind: str
    hardware: dict[str, Any] = field(default_factory=dict)
    measurement: dict[str, Any] = field(default_factory=dict)
    reference: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, BlockTable] = field(default_factory=dict)
    latency_correction: Correction | None = None
    memory_correction: Correction | None = None
    samples: list[Sample] = field(default_factory=list)
    roofline: RooflineSpec | None = None
    roofline_fit: dict[str, float] | None = None
    source: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ("cpu", "cuda"):
            raise ProfileError(f"kind: {self.kind!r} is not allowed; choose one of cpu, cuda")
        if not self.tables and self.roofline is None:
            raise ProfileError(f"profile {self.name!r} has neither measured tables nor a roofline")

    @property
    def estimate(self) -> str:
        """``measured-profile`` when predictions come from measurements, else ``roofline``."""
        return "measured-profile" if self.tables else "roofline"

    @property
    def ref_degree(self) -> float | None:
        degree = self.reference.get("degree")
        return float(degree) if degree else None

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "name": self.name,
            "kind": self.kind,
            "estimate": self.estimate,
            "hardware": self.hardware,
            "measurement": self.measurement,
            "reference": self.reference,
            "latency_correction": self.latency_correction.to_dict() if self.latency_correction else None,
            "memory_correction": self.memory_correction.to_dict() if self.memory_correction else None,
            "roofline": self.roofline.to_dict() if self.roofline else None,
            "roofline_fit": self.roofline_fit,
            "tables": {k: t.to_dict() for k, t in sorted(self.tables.items())},
            "samples": [s.to_dict() for s in self.samples],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "") -> DeviceProfile:
        if data.get("format") != FORMAT:
            raise ProfileError(f"{source or 'profile'}: not an autogt device profile "
                               f"(format is {data.get('format')!r}, expected {FORMAT!r})")
        if int(data.get("format_version", 0)) > FORMAT_VERSION:
            raise ProfileError(f"{source or 'profile'}: format_version {data.get('format_version')} is newer than "
                               f"this autogt reads ({FORMAT_VERSION}); upgrade autogt")
        try:
            lat, mem, roof = data.get("latency_correction"), data.get("memory_correction"), data.get("roofline")
            return cls(
                name=str(data["name"]),
                kind=str(data["kind"]),
                hardware=dict(data.get("hardware") or {}),
                measurement=dict(data.get("measurement") or {}),
                reference=dict(data.get("reference") or {}),
                tables={k: BlockTable.from_dict(t) for k, t in (data.get("tables") or {}).items()},
                latency_correction=Correction.from_dict(lat) if lat else None,
                memory_correction=Correction.from_dict(mem) if mem else None,
                samples=[Sample.from_dict(s) for s in data.get("samples") or ()],
                roofline=RooflineSpec.from_dict(roof) if roof else None,
                roofline_fit=dict(data["roofline_fit"]) if data.get("roofline_fit") else None,
                source=source,
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ProfileError):
                raise
            raise ProfileError(f"{source or 'profile'}: corrupt device profile: {exc}") from exc

    def to_json(self) -> str:
        """JSON text: one line per table and per sample, numbers rounded to 6 significant digits."""
        items = list(self.to_dict().items())
        lines = ["{"]
        for i, (key, value) in enumerate(items):
            if key in ("tables", "samples") and value:
                rows = value.items() if isinstance(value, dict) else enumerate(value)
                body = [(f"{json.dumps(k)}: " if isinstance(value, dict) else "") + _compact(v) for k, v in rows]
                open_, close = ("{", "}") if isinstance(value, dict) else ("[", "]")
                text = open_ + "\n  " + ",\n  ".join(body) + "\n " + close
            else:
                text = json.dumps(value)
            lines.append(f" {json.dumps(key)}: {text}" + ("," if i < len(items) - 1 else ""))
        return "\n".join(lines + ["}"])

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the profile as JSON (creating folders); returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(self.to_json() + "\n")
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> DeviceProfile:
        """Read a profile JSON file.

        Raises:
            ProfileError: missing file, invalid JSON or not a device profile.
        """
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise ProfileError(f"{path}: no such profile file") from None
        except (OSError, json.JSONDecodeError) as exc:
            raise ProfileError(f"{path}: cannot read device profile: {exc}") from exc
        if not isinstance(data, dict):
            raise ProfileError(f"{path}: not an autogt device profile")
        return cls.from_dict(data, source=str(path))


def _round(obj: Any) -> Any:
    if isinstance(obj, float):
        return float(f"{obj:.6g}") if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _round(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_round(v) for v in obj]
    return obj


def _compact(obj: Any) -> str:
    return json.dumps(_round(obj), separators=(",", ":"))


# ----------------------------------------------------------------------------- profiles on disk
def profile_dirs() -> list[Path]:
    """Where named profiles are looked up: ``$AUTOGT_PROFILES`` (if set), then the bundled ``profiles/``."""
    from autogt._paths import resource

    dirs = []
    env = os.environ.get("AUTOGT_PROFILES")
    if env:
        dirs += [Path(p).expanduser() for p in env.split(os.pathsep) if p]
    dirs.append(resource("profiles"))
    return dirs


def _profile_files() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for d in profile_dirs():
        if d.is_dir():
            for p in sorted(d.glob("*.json")):
                out.setdefault(p.stem, p)
    return out


def profile_names() -> list[str]:
    """Stems of the profile files found in :func:`profile_dirs`."""
    return sorted(_profile_files())


_FILE_CACHE: dict[tuple[str, float], DeviceProfile] = {}


def _read_cached(path: Path) -> DeviceProfile:
    try:
        key = (str(path.resolve()), path.stat().st_mtime)
    except OSError:
        raise ProfileError(f"{path}: no such profile file") from None
    prof = _FILE_CACHE.get(key)
    if prof is None:
        prof = _FILE_CACHE[key] = DeviceProfile.load(path)
    return prof


def measured_profiles(kind: str | None = None) -> list[DeviceProfile]:
    """Measured profiles in :func:`profile_dirs` (optionally of one ``kind``); unreadable files are skipped."""
    out = []
    for path in _profile_files().values():
        try:
            prof = _read_cached(path)
        except ProfileError:
            continue
        if prof.tables and (kind is None or prof.kind == kind):
            out.append(prof)
    return out


def _host_matches(prof: DeviceProfile) -> bool:
    if prof.kind == "cpu":
        from autogt.hardware._host import cpu_facts

        facts = cpu_facts()
        return all(prof.hardware.get(k) == facts.get(k) for k in ("cpu_model", "cores") if facts.get(k) is not None)
    try:
        import torch

        return torch.cuda.is_available() and prof.hardware.get("gpu_name") == torch.cuda.get_device_name()
    except Exception:  # pragma: no cover - broken CUDA setups
        return False


def shipped_profile(kind: str) -> DeviceProfile:
    """The measured profile used for ``cpu`` / ``cuda``: one named exactly so, else one measured on this
    host's hardware, else the first by name.

    Raises:
        ProfileError: no measured profile of that kind (and, for ``cuda``, no known GPU to build a roofline of).
    """
    found = measured_profiles(kind)
    for prof in found:
        if prof.name == kind:
            return prof
    for prof in found:
        if _host_matches(prof):
            return prof
    if found:
        return sorted(found, key=lambda p: p.name)[0]
    if kind == "cuda":
        gpu = _detected_roofline()
        if gpu is not None:
            return roofline_profile(gpu)
    dirs = ", ".join(str(d) for d in profile_dirs())
    raise ProfileError(f"no measured {kind} profile in {dirs}; measure one with "
                       f"`autogt profile --device {kind} --out profiles/{kind}-NAME.json` or name a roofline "
                       f"device ({', '.join(sorted(ROOFLINES))})")


def _detected_roofline() -> str | None:
    try:
        import torch

        if not torch.cuda.is_available():
            return None
        return match_roofline(torch.cuda.get_device_name())
    except Exception:  # pragma: no cover - broken CUDA setups
        return None


def roofline_profile(name: str, *, calibrate: bool = True) -> DeviceProfile:
    """A roofline profile of a shipped device, or the measured profile of that card when one exists.

    With ``calibrate`` the efficiencies fitted to a measured CUDA profile (``roofline_fit``; the one of the
    same card first) replace the defaults; the result is still labelled ``roofline``.
    """
    spec = ROOFLINES.get(name)
    if spec is None:
        raise UnknownNameError("device", name, known_devices())
    measured = measured_profiles("cuda")
    for prof in measured:
        if prof.hardware.get("roofline") == name or match_roofline(str(prof.hardware.get("gpu_name", ""))) == name:
            return prof
    if calibrate:
        fits = [p.roofline_fit for p in measured if p.roofline_fit]
        if fits:
            fit = fits[0]
            spec = dataclasses.replace(spec, compute_eff=float(fit["compute_eff"]),
                                       bandwidth_eff=float(fit["bandwidth_eff"]), launch_us=float(fit["launch_us"]),
                                       calibrated=True)
    return DeviceProfile(name=name, kind="cuda", hardware={"card": spec.card}, roofline=spec)


def known_devices() -> list[str]:
    """Every name :func:`load_profile` accepts besides paths: registered devices and profile files."""
    return sorted(set(names("device")) | set(profile_names()))


def load_profile(device: DeviceProfile | str | os.PathLike[str]) -> DeviceProfile:
    """Resolve a device: a ``DeviceProfile``, a profile JSON path, a profile name in ``profiles/``,
    ``cpu`` / ``cuda`` / ``cuda:N`` or a roofline name (``h100 h200 a100 l4 t4``).

    Raises:
        UnknownNameError: an unknown name; the message lists the known ones.
        ProfileError: an unreadable file, or ``cpu``/``cuda`` with no measured profile.

    Example:
        >>> load_profile("a100").roofline.fp32_tflops
        19.5
    """
    if isinstance(device, DeviceProfile):
        return device
    text = os.fspath(device)
    path = Path(text)
    if path.suffix.lower() == ".json" or os.sep in text or path.is_file():
        return _read_cached(path)
    name = text.strip().lower()
    if name.startswith("cuda:"):
        name = "cuda"
    files = _profile_files()
    if text in files:
        return _read_cached(files[text])
    if name in names("device"):
        return get("device", name)()
    raise UnknownNameError("device", text, known_devices())


# ----------------------------------------------------------------------------- registry
def _register_devices() -> None:
    register("device", "cpu", lambda: shipped_profile("cpu"))
    register("device", "cuda", lambda: shipped_profile("cuda"))
    for name in ROOFLINES:
        register("device", name, lambda name=name: roofline_profile(name))


_register_devices()
