"""The machine's GPUs through NVML (nvidia-ml-py): utilisation, memory, temperature and the
processes holding them. Cheap (no torch), so the app polls it every couple of seconds. On a
machine without an NVIDIA driver the snapshot says so (`available=False`, `reason`)."""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

_LOCK = threading.Lock()
_INIT: dict[str, Any] = {"done": False, "error": None}


@dataclass
class GpuProcess:
    pid: int
    name: str
    used_mib: float | None


@dataclass
class GpuInfo:
    index: int
    name: str
    util_pct: float | None
    mem_used_mib: float
    mem_total_mib: float
    temp_c: float | None
    power_w: float | None
    compute_capability: tuple[int, int] | None
    processes: list[GpuProcess] = field(default_factory=list)

    @property
    def mem_free_mib(self) -> float:
        return max(0.0, self.mem_total_mib - self.mem_used_mib)


@dataclass
class GpuSnapshot:
    available: bool
    reason: str
    driver: str | None
    gpus: list[GpuInfo]
    taken_at: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        if not self.available:
            return f"no GPU: {self.reason}"
        free = sum(g.mem_free_mib for g in self.gpus) / 1024
        return f"{len(self.gpus)} GPU(s), {free:.1f} GiB free in all (driver {self.driver})"


def _init() -> str | None:
    """Initialise NVML once per process; return why it is unavailable (or None)."""
    with _LOCK:
        if _INIT["done"]:
            return _INIT["error"]
        _INIT["done"] = True
        try:
            import pynvml
        except ImportError:
            _INIT["error"] = "nvidia-ml-py is not installed (pip install nvidia-ml-py)"
            return _INIT["error"]
        try:
            pynvml.nvmlInit()
        except Exception as e:  # noqa: BLE001 - NVMLError_LibraryNotFound / DriverNotLoaded / ...: no GPU panel
            text = str(e) or type(e).__name__
            if "Library" in text or "not found" in text.lower() or "Driver" in text:
                text = f"no NVIDIA driver on this machine ({text}); training runs on CPU"
            _INIT["error"] = text
        return _INIT["error"]


def gpu_snapshot() -> GpuSnapshot:
    err = _init()
    now = time.time()
    if err:
        return GpuSnapshot(False, err, None, [], now)
    import pynvml

    def safe(fn: Any, *a: Any) -> Any:
        try:
            return fn(*a)
        except Exception:  # noqa: BLE001 - an NVML query a GPU or driver does not support: the field stays empty
            return None

    try:
        n = pynvml.nvmlDeviceGetCount()
    except Exception as e:  # noqa: BLE001 - any NVML error means no GPU list; the message says which
        return GpuSnapshot(False, f"NVML error: {e}", None, [], now)
    driver = safe(pynvml.nvmlSystemGetDriverVersion)
    driver = driver.decode() if isinstance(driver, bytes) else driver
    gpus = []
    for i in range(n):
        h = pynvml.nvmlDeviceGetHandleByIndex(i)
        name = safe(pynvml.nvmlDeviceGetName, h) or f"GPU {i}"
        name = name.decode() if isinstance(name, bytes) else name
        mem = safe(pynvml.nvmlDeviceGetMemoryInfo, h)
        util = safe(pynvml.nvmlDeviceGetUtilizationRates, h)
        temp = safe(pynvml.nvmlDeviceGetTemperature, h, pynvml.NVML_TEMPERATURE_GPU)
        power = safe(pynvml.nvmlDeviceGetPowerUsage, h)
        cc = safe(pynvml.nvmlDeviceGetCudaComputeCapability, h)
        procs = []
        for p in safe(pynvml.nvmlDeviceGetComputeRunningProcesses, h) or []:
            used = getattr(p, "usedGpuMemory", None)
            procs.append(GpuProcess(int(p.pid), _proc_name(int(p.pid)), used / 2**20 if used else None))
        gpus.append(
            GpuInfo(
                index=i,
                name=name,
                util_pct=float(util.gpu) if util is not None else None,
                mem_used_mib=mem.used / 2**20 if mem else 0.0,
                mem_total_mib=mem.total / 2**20 if mem else 0.0,
                temp_c=float(temp) if temp is not None else None,
                power_w=power / 1000 if power else None,
                compute_capability=tuple(cc) if cc else None,
                processes=procs,
            )
        )
    if not gpus:
        return GpuSnapshot(False, "the NVIDIA driver reports no GPU", driver, [], now)
    return GpuSnapshot(True, "", driver, gpus, now)


def _proc_name(pid: int) -> str:
    try:
        import psutil

        p = psutil.Process(pid)
        return " ".join(p.cmdline()[:3])[:60] or p.name()
    except Exception:  # noqa: BLE001 - psutil missing, access denied or the process gone: no name to show
        return "?"
