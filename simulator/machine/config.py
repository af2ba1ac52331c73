"""Machine configuration: composed frozen dataclasses, TOML presets, `--set` overrides.

Every hardware number the model uses lives here, with its unit in the field name
(`_bytes`, `_cycles`, `_ghz`, `_gb_per_s`). The engine never reads a number from anywhere else.
Presets are TOML files in `simulator/presets/`; their comments say which values are public
(Hot Chips 2023 coverage of the PIUMA chip) and which are assumed, and why.
"""
from __future__ import annotations

import dataclasses
import difflib
import hashlib
import math
import importlib.resources
import sys
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

import tomli_w

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

# Access classes a kernel program can tag a DRAM region with. The cache config names the classes
# that bypass the per-pipeline cache (PIUMA's caches are user-configurable per access).
ACCESS_CLASSES: tuple[str, ...] = ("default", "stream", "random", "output")


def _min(value: float) -> dict[str, Any]:
    return {"min": value}


def _pos() -> dict[str, Any]:
    return {"min": 1}


def _check_fields(obj: Any) -> None:
    """Check types and the `min` metadata of a config dataclass's own scalar fields."""
    hints = typing.get_type_hints(type(obj))
    for f in fields(obj):
        value = getattr(obj, f.name)
        kind = hints[f.name]
        if dataclasses.is_dataclass(kind):
            if not isinstance(value, kind):
                raise TypeError(f"{f.name}: expected a {kind.__name__}, got {type(value).__name__}")
            continue
        if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise TypeError(f"{f.name}: expected an integer, got {value!r}")
        if kind is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"{f.name}: expected a number, got {value!r}")
            object.__setattr__(obj, f.name, float(value))
            value = float(value)
            if not math.isfinite(value):
                raise ValueError(f"{f.name}: must be a finite number, got {value!r}")
        if kind is str and not isinstance(value, str):
            raise TypeError(f"{f.name}: expected a string, got {value!r}")
        if kind is bool and not isinstance(value, bool):
            raise TypeError(f"{f.name}: expected true or false, got {value!r}")
        if typing.get_origin(kind) is tuple:
            if not isinstance(value, (tuple, list)):
                raise TypeError(f"{f.name}: expected a list, got {value!r}")
            elem = typing.get_args(kind)[0]
            for v in value:
                if elem is int and (isinstance(v, bool) or not isinstance(v, int)):
                    raise TypeError(f"{f.name}: expected a list of integers, got {list(value)!r}")
                if elem is str and not isinstance(v, str):
                    raise TypeError(f"{f.name}: expected a list of strings, got {list(value)!r}")
            object.__setattr__(obj, f.name, tuple(value))
        lo = f.metadata.get("min")
        if lo is not None and value < lo:
            raise ValueError(f"{f.name}: must be >= {lo:g}, got {value!r}")


def _check_pow2(obj: Any, name: str) -> None:
    v = getattr(obj, name)
    if v & (v - 1):
        raise ValueError(f"{name}: must be a power of two, got {v}")


@dataclass(frozen=True)
class CoreConfig:
    """One core's pipelines: multi-threaded (MTP, round-robin) and single-threaded (STP)."""
    mtps: int = field(default=4, metadata=_min(0))
    threads_per_mtp: int = field(default=16, metadata=_pos())
    stps: int = field(default=2, metadata=_min(0))
    max_outstanding_per_thread: int = field(default=4, metadata=_pos())

    def __post_init__(self) -> None:
        _check_fields(self)
        if self.mtps + self.stps < 1:
            raise ValueError("mtps: a core needs at least one pipeline (mtps + stps >= 1)")

    @property
    def threads(self) -> int:
        return self.mtps * self.threads_per_mtp + self.stps

    @property
    def pipelines(self) -> int:
        return self.mtps + self.stps


@dataclass(frozen=True)
class SpadConfig:
    """Per-core scratchpad: banked SRAM, 8-byte-wide banks, `ports` requests accepted per cycle."""
    size_bytes: int = field(default=4 * 2**20, metadata=_min(0))
    banks: int = field(default=16, metadata=_pos())
    bank_width_bytes: int = field(default=8, metadata=_pos())
    latency_cycles: float = field(default=4.0, metadata=_min(0))
    ports: int = field(default=4, metadata=_pos())
    bank_occupancy_cycles: float = field(default=1.0, metadata=_min(1e-9))

    def __post_init__(self) -> None:
        _check_fields(self)
        _check_pow2(self, "bank_width_bytes")


@dataclass(frozen=True)
class CacheConfig:
    """Per-pipeline data cache: set-associative LRU, non-coherent, write-through no-allocate."""
    size_bytes: int = field(default=16 * 1024, metadata=_min(0))
    ways: int = field(default=4, metadata=_pos())
    line_bytes: int = field(default=64, metadata=_pos())
    latency_cycles: float = field(default=2.0, metadata=_min(0))
    bypass: tuple[str, ...] = ("random",)

    def __post_init__(self) -> None:
        _check_fields(self)
        for c in self.bypass:
            if c not in ACCESS_CLASSES:
                raise ValueError(f"bypass: unknown access class {c!r} (known: {', '.join(ACCESS_CLASSES)})")
        _check_pow2(self, "line_bytes")
        if self.size_bytes % (self.ways * self.line_bytes):
            raise ValueError(f"size_bytes: must be a multiple of ways x line_bytes "
                             f"({self.ways * self.line_bytes}), got {self.size_bytes}")

    @property
    def sets(self) -> int:
        return self.size_bytes // (self.ways * self.line_bytes)


@dataclass(frozen=True)
class DramConfig:
    """DRAM channels of one die: ranks, bank groups and banks with row buffers, JEDEC timings in
    memory-clock cycles (tCK), an address mapping and a controller (see `simulator.machine.dram`).

    `channel_bandwidth_gb_per_s` is the data bus's peak (transfer rate x bus width); with tCK it
    fixes the bus width and so the burst: burst_length x bus bytes (64 B for DDR4 x64 BL8 and for
    a DDR5 32-bit sub-channel BL16). Writes are posted to a buffer of `write_buffer` (0: not
    buffered) that drains when full, or when at least `write_low` are buffered and no command
    waits in the channel (0: only when full)."""
    channels_per_die: int = field(default=16, metadata=_pos())
    channel_bandwidth_gb_per_s: float = field(default=17.6, metadata=_min(1e-9))
    access_granularity_bytes: int = field(default=8, metadata=_pos())
    ranks: int = field(default=2, metadata=_pos())
    bank_groups: int = field(default=8, metadata=_pos())
    banks_per_group: int = field(default=4, metadata=_pos())
    rows: int = field(default=65536, metadata=_pos())
    row_bytes: int = field(default=4096, metadata=_pos())
    page_policy: str = "open"
    mapping: str = "ro,ra,ba,co,bg,ch"
    channel_hash: bool = True
    # a miniature (docs/sampling.md): the address mapping of mapping_fold x channels_per_die
    # channels, folded onto these (dram._fold); 1: the machine's own mapping
    mapping_fold: int = field(default=1, metadata=_pos())
    queue_depth: int = field(default=32, metadata=_min(0))
    bank_queue_depth: int = field(default=8, metadata=_min(0))
    write_buffer: int = field(default=32, metadata=_min(0))
    write_low: int = field(default=9, metadata=_min(0))
    controller_latency_ns: float = field(default=20.0, metadata=_min(0))
    tCK_ns: float = field(default=1.0 / 2.2, metadata=_min(1e-9))
    burst_length: int = field(default=16, metadata=_pos())
    tCL: int = field(default=36, metadata=_pos())
    tCWL: int = field(default=34, metadata=_pos())
    tRCD: int = field(default=36, metadata=_pos())
    tRP: int = field(default=36, metadata=_pos())
    tRAS: int = field(default=71, metadata=_pos())
    tRRD_S: int = field(default=8, metadata=_pos())
    tRRD_L: int = field(default=11, metadata=_pos())
    tFAW: int = field(default=32, metadata=_pos())
    tCCD_S: int = field(default=8, metadata=_pos())
    tCCD_L: int = field(default=11, metadata=_pos())
    tWTR_S: int = field(default=6, metadata=_pos())
    tWTR_L: int = field(default=22, metadata=_pos())
    tWR: int = field(default=66, metadata=_pos())
    tRTP: int = field(default=17, metadata=_pos())
    tRTRS: int = field(default=2, metadata=_min(0))
    tRFC: int = field(default=649, metadata=_min(0))
    tREFI: int = field(default=8580, metadata=_min(0))

    def __post_init__(self) -> None:
        _check_fields(self)
        for name in ("access_granularity_bytes", "row_bytes"):
            _check_pow2(self, name)
        if self.page_policy not in ("open", "close"):
            raise ValueError(f"page_policy: expected 'open' or 'close', got {self.page_policy!r}")
        from simulator.machine.dram import parse_mapping
        parse_mapping(self.mapping)
        bus = self.bus_bytes
        if abs(bus - round(bus)) > 0.02 * bus or round(bus) < 1:
            raise ValueError(f"channel_bandwidth_gb_per_s: {self.channel_bandwidth_gb_per_s:g} GB/s at "
                             f"tCK_ns {self.tCK_ns:g} is not a whole number of bus bytes "
                             f"({bus:.3f}): bandwidth = 2 x bus bytes / tCK")
        burst = self.burst_bytes
        if burst & (burst - 1):
            raise ValueError(f"burst_length: a burst of {burst} bytes (burst_length x {round(bus)} "
                             f"bus bytes) must be a power of two")
        if burst % self.access_granularity_bytes:
            raise ValueError(f"access_granularity_bytes: must divide the burst ({burst} bytes)")
        if self.row_bytes < burst:
            raise ValueError(f"row_bytes: must hold at least one burst ({burst} bytes)")
        if self.tRAS < self.tRCD:
            raise ValueError("tRAS: must be at least tRCD")
        if self.tREFI and self.tRFC >= self.tREFI:
            raise ValueError("tRFC: must be shorter than tREFI")

    @property
    def bus_bytes(self) -> float:
        """Data bus width in bytes (double data rate: two transfers per tCK)."""
        return self.channel_bandwidth_gb_per_s * self.tCK_ns / 2

    @property
    def burst_bytes(self) -> int:
        """Bytes one column command moves at full burst length."""
        return self.burst_length * round(self.bus_bytes)

    @property
    def banks(self) -> int:
        """Banks per channel (all ranks)."""
        return self.ranks * self.bank_groups * self.banks_per_group

    @property
    def tRC(self) -> int:
        return self.tRAS + self.tRP


@dataclass(frozen=True)
class AtomicConfig:
    """The scratchpad's atomic unit: an atomic holds its bank for `occupancy_cycles` (atomics
    on one bank, and so on one address, serialize; different banks pipeline), and its result
    is ready `latency_cycles` after the bank access."""
    latency_cycles: float = field(default=4.0, metadata=_min(0))
    occupancy_cycles: float = field(default=2.0, metadata=_min(1e-9))

    def __post_init__(self) -> None:
        _check_fields(self)


@dataclass(frozen=True)
class McAtomicConfig:
    """A memory-controller atomic unit (one per DRAM channel): it reads the operand from DRAM,
    computes, and writes the result back (posted). Operations enter it one per
    `interval_cycles` (different addresses pipeline); an operation on an address waits until
    the previous one on the same address has held it `occupancy_cycles` (same-address
    operations serialize, the value forwarded inside the unit); the result is ready
    `latency_cycles` after the operation starts."""
    latency_cycles: float = field(default=10.0, metadata=_min(0))
    occupancy_cycles: float = field(default=4.0, metadata=_min(1e-9))
    interval_cycles: float = field(default=1.0, metadata=_min(1e-9))

    def __post_init__(self) -> None:
        _check_fields(self)


@dataclass(frozen=True)
class DmaConfig:
    """Per-core DMA (offload) engine: asynchronous copies and gathers."""
    bandwidth_gb_per_s: float = field(default=64.0, metadata=_min(1e-9))
    setup_cycles: float = field(default=20.0, metadata=_min(0))
    queue_depth: int = field(default=16, metadata=_pos())

    def __post_init__(self) -> None:
        _check_fields(self)


@dataclass(frozen=True)
class NetworkConfig:
    """On-die mesh (per-link servers, X-then-Y routing) and die-to-die links in a HyperX (per-link
    servers, dimension-order routing); see docs/network.md."""
    mesh_rows: int = field(default=2, metadata=_pos())
    mesh_cols: int = field(default=4, metadata=_pos())
    hop_latency_cycles: float = field(default=2.0, metadata=_min(0))
    mesh_link_bytes_per_cycle: float = field(default=64.0, metadata=_min(1e-9))
    header_bytes: int = field(default=8, metadata=_min(0))
    interface_routers: tuple[int, ...] = (0,)
    die_shape: tuple[int, ...] = (1,)
    link_bandwidth_gb_per_s: float = field(default=32.0, metadata=_min(1e-9))
    link_latency_cycles: float = field(default=200.0, metadata=_min(0))

    def __post_init__(self) -> None:
        _check_fields(self)
        if not self.die_shape or any(d < 1 for d in self.die_shape):
            raise ValueError(f"die_shape: must be a non-empty list of positive sizes, got {list(self.die_shape)}")
        ifr = list(self.interface_routers)
        if not ifr or any(r < 0 or r >= self.mesh_rows * self.mesh_cols for r in ifr) \
                or len(set(ifr)) < len(ifr):
            raise ValueError(f"interface_routers: {ifr} must be distinct routers of the "
                             f"{self.mesh_rows}x{self.mesh_cols} mesh (0..{self.mesh_rows * self.mesh_cols - 1})")

    @property
    def links_per_die(self) -> int:
        """Die-to-die links leaving a die: all-to-all within each HyperX dimension."""
        return sum(d - 1 for d in self.die_shape)

    def port_router(self, j: int) -> int:
        """The router at which a die's HyperX out-link j (its links in order: dimension 0's to
        the coordinates 0, 1, ... but its own, then dimension 1's, ...) attaches: the interface
        routers in turn. A link arrives on the other die at the router of that die's link back."""
        return self.interface_routers[j % len(self.interface_routers)]


@dataclass(frozen=True)
class SyncConfig:
    """Barriers between phases and inside traces."""
    barrier_cycles: float = field(default=100.0, metadata=_min(0))

    def __post_init__(self) -> None:
        _check_fields(self)


@dataclass(frozen=True)
class MachineConfig:
    """A whole machine: `dies` x `cores_per_die` cores, memory, network and sync parameters."""
    name: str = "custom"
    description: str = ""
    clock_ghz: float = field(default=1.0, metadata=_min(1e-9))
    dies: int = field(default=1, metadata=_pos())
    cores_per_die: int = field(default=8, metadata=_pos())
    core: CoreConfig = CoreConfig()
    spad: SpadConfig = SpadConfig()
    cache: CacheConfig = CacheConfig()
    dram: DramConfig = DramConfig()
    spad_atomic: AtomicConfig = AtomicConfig()
    mc_atomic: McAtomicConfig = McAtomicConfig()
    dma: DmaConfig = DmaConfig()
    network: NetworkConfig = NetworkConfig()
    sync: SyncConfig = SyncConfig()

    def __post_init__(self) -> None:
        _check_fields(self)
        net = self.network
        if net.mesh_rows * net.mesh_cols < self.cores_per_die:
            raise ValueError(f"network.mesh_rows: a {net.mesh_rows}x{net.mesh_cols} mesh cannot hold "
                             f"{self.cores_per_die} cores per die")
        prod = 1
        for d in net.die_shape:
            prod *= d
        if prod != self.dies:
            raise ValueError(f"network.die_shape: {list(net.die_shape)} holds {prod} dies, "
                             f"but dies = {self.dies}")
        if self.cache.size_bytes and self.cache.line_bytes > self.dram.burst_bytes:
            raise ValueError(f"cache.line_bytes: must be at most the DRAM burst "
                             f"({self.dram.burst_bytes} bytes), so that a line is one access")

    # Derived quantities (in cycles and bytes) used by the engine and the closed forms.
    @property
    def cores(self) -> int:
        return self.dies * self.cores_per_die

    @property
    def threads(self) -> int:
        return self.cores * self.core.threads

    @property
    def channels(self) -> int:
        return self.dies * self.dram.channels_per_die

    @property
    def channel_bytes_per_cycle(self) -> float:
        return self.dram.channel_bandwidth_gb_per_s / self.clock_ghz

    @property
    def peak_dram_bytes_per_cycle(self) -> float:
        return self.channels * self.channel_bytes_per_cycle

    @property
    def dram_burst_bytes(self) -> int:
        return self.dram.burst_bytes

    def replace(self, **changes: Any) -> "MachineConfig":
        return dataclasses.replace(self, **changes)


# ----------------------------------------------------------------------------------------------
# Dict / TOML conversion

def _type_name(kind: Any) -> str:
    if kind is int:
        return "an integer"
    if kind is float:
        return "a number"
    if kind is bool:
        return "true or false"
    if kind is str:
        return "a string"
    return "a list"


def _known_paths(cls: type = MachineConfig, prefix: str = "") -> list[str]:
    hints = typing.get_type_hints(cls)
    out = []
    for f in fields(cls):
        kind = hints[f.name]
        path = prefix + f.name
        if dataclasses.is_dataclass(kind):
            out.extend(_known_paths(kind, path + "."))
        else:
            out.append(path)
    return out


def _unknown_key(path: str) -> ValueError:
    close = difflib.get_close_matches(path, _known_paths(), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return ValueError(f"unknown config key '{path}'{hint}")


def _build(cls: type, data: Mapping[str, Any], prefix: str) -> Any:
    if not isinstance(data, Mapping):
        raise ValueError(f"{prefix.rstrip('.') or 'config'}: expected a table, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in fields(cls)}
    for key in data:
        if key not in names:
            raise _unknown_key(prefix + key)
    kwargs: dict[str, Any] = {}
    for f in fields(cls):
        if f.name not in data:
            continue
        kind = hints[f.name]
        value = data[f.name]
        if dataclasses.is_dataclass(kind):
            kwargs[f.name] = _build(kind, value, prefix + f.name + ".")
        else:
            kwargs[f.name] = value
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as exc:
        # Field-level messages start with "<field>:"; give them their full path.
        raise type(exc)(prefix + str(exc)) from None


def config_from_dict(data: Mapping[str, Any]) -> MachineConfig:
    """Build a MachineConfig from nested dicts (as read from TOML); unknown keys are rejected."""
    return _build(MachineConfig, data, "")


def config_to_dict(cfg: MachineConfig) -> dict[str, Any]:
    def conv(obj: Any) -> Any:
        if dataclasses.is_dataclass(obj):
            return {f.name: conv(getattr(obj, f.name)) for f in fields(obj)}
        if isinstance(obj, tuple):
            return list(obj)
        return obj
    return conv(cfg)


def dump_toml(cfg: MachineConfig) -> str:
    """The config as TOML text (loadable again by `load_config`)."""
    return tomli_w.dumps(config_to_dict(cfg))


def config_hash(cfg: MachineConfig) -> str:
    """A short stable hash of the machine parameters (name and description excluded)."""
    data = config_to_dict(cfg)
    data.pop("name")
    data.pop("description")
    return hashlib.sha256(tomli_w.dumps(data).encode()).hexdigest()[:12]


# ----------------------------------------------------------------------------------------------
# Presets, files, overrides

def _preset_files() -> dict[str, Any]:
    root = importlib.resources.files("simulator") / "presets"
    out = {}
    for entry in root.iterdir():
        if entry.name.endswith(".toml"):
            out[entry.name[:-5]] = entry
    return dict(sorted(out.items()))


def preset_names() -> list[str]:
    return list(_preset_files())


def _read_toml_text(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{source}: invalid TOML: {exc}") from None


def _parse_value(path: str, kind: Any, text: str) -> Any:
    raw = text.strip()
    if kind is bool:
        if raw.lower() in ("true", "yes", "1", "on"):
            return True
        if raw.lower() in ("false", "no", "0", "off"):
            return False
        raise ValueError(f"{path}: expected true or false, got {text!r}")
    if kind is int:
        try:
            return int(raw.replace("_", ""), 0)
        except ValueError:
            try:
                f = float(raw)
            except ValueError:
                f = None
            if f is not None and f.is_integer():
                return int(f)
            raise ValueError(f"{path}: expected an integer, got {text!r}") from None
    if kind is float:
        try:
            return float(raw.replace("_", ""))
        except ValueError:
            raise ValueError(f"{path}: expected a number, got {text!r}") from None
    if kind is str:
        return raw
    if typing.get_origin(kind) is tuple:
        elem = typing.get_args(kind)[0]
        body = raw[1:-1] if raw.startswith("[") and raw.endswith("]") else raw
        items = [s.strip().strip("'\"") for s in body.split(",") if s.strip()]
        return tuple(_parse_value(path, elem, s) for s in items)
    raise ValueError(f"{path}: cannot be set from the command line")  # pragma: no cover


def _field_kind(path: str) -> Any:
    cls: Any = MachineConfig
    parts = path.split(".")
    for i, part in enumerate(parts):
        hints = typing.get_type_hints(cls)
        if part not in hints:
            raise _unknown_key(path)
        kind = hints[part]
        last = i == len(parts) - 1
        if dataclasses.is_dataclass(kind):
            if last:
                raise ValueError(f"{path}: is a section; set one of its keys (e.g. '{path}.{fields(kind)[0].name}')")
            cls = kind
        elif not last:
            raise _unknown_key(path)
        else:
            return kind
    raise _unknown_key(path)  # pragma: no cover


def apply_overrides(data: dict[str, Any], overrides: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """Apply `path=value` overrides to a nested dict; values are parsed by the field's type."""
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"--set expects path=value, got {item!r}")
        path, _, text = item.partition("=")
        path = path.strip()
        kind = _field_kind(path)
        value = _parse_value(path, kind, text)
        node = data
        parts = path.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    paths = {item.partition("=")[0].strip() for item in overrides}
    if "dies" in paths and "network.die_shape" not in paths:
        net = data.setdefault("network", {})
        net["die_shape"] = sliced_die_shape(list(net.get("die_shape", [1])), int(data["dies"]))
    return data


def sliced_die_shape(shape: list[int], dies: int) -> list[int]:
    """The HyperX shape of `dies` dies cut from a machine of `shape` (e.g. piuma-node's 4 x 4):
    fill its dimensions in order, each by the largest common factor of what is left and its
    size (8 of 4 x 4 -> 4 x 2, 2 -> 2); a count that does not fit is an error."""
    out, left = [], dies
    for size in shape:
        g = math.gcd(left, size)
        out.append(g)
        left //= g
    if left != 1:
        raise ValueError(f"dies: {dies} dies do not fit the preset's HyperX "
                         f"{' x '.join(map(str, shape))} (set network.die_shape too)")
    while len(out) > 1 and out[-1] == 1:
        out.pop()
    return out


def load_config(name_or_path: str | Path | None = "piuma-core",
                overrides: list[str] | tuple[str, ...] = ()) -> MachineConfig:
    """A preset name or a TOML file path, with `path=value` overrides applied on top."""
    name_or_path = "piuma-core" if name_or_path is None else str(name_or_path)
    presets = _preset_files()
    if name_or_path in presets:
        text = presets[name_or_path].read_text(encoding="utf-8")
        source = f"preset {name_or_path}"
    else:
        p = Path(name_or_path)
        if not p.suffix and not p.exists():
            raise ValueError(f"unknown preset {name_or_path!r} (known: {', '.join(presets)})")
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise OSError(f"cannot read config file {name_or_path!r}: {exc.strerror}") from None
        source = str(p)
    data = _read_toml_text(text, source)
    data = apply_overrides(data, list(overrides))
    return config_from_dict(data)


def preset_descriptions() -> dict[str, str]:
    out = {}
    for name, entry in _preset_files().items():
        data = _read_toml_text(entry.read_text(encoding="utf-8"), f"preset {name}")
        out[name] = str(data.get("description", ""))
    return out


def preset_text(name: str) -> str:
    """The preset file as shipped (with its public/assumed comments)."""
    presets = _preset_files()
    if name not in presets:
        raise ValueError(f"unknown preset {name!r} (known: {', '.join(presets)})")
    return presets[name].read_text(encoding="utf-8")
