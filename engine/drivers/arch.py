"""Which GPUs a build's kernels run on, and which GPUs a CUDA toolkit can build for.

CUDA's binary compatibility (CUDA C++ Programming Guide, "Binary Compatibility"
and "Application Compatibility"): a cubin built for compute capability X.y runs
on X.z for z >= y, never on another major; PTX for compute_X.y is compiled by
the driver's JIT for any later GPU.  So sm_86 kernels run on an L4 (sm_89) but
not on an H100 (sm_90), where a build with neither sm_90 SASS nor PTX fails with
``no kernel image is available for execution on the device``.
"""

from __future__ import annotations

from engine.drivers.tables import BuildArch, Gpu, build_arch, tables


def runs_on(arch: BuildArch, gpu: Gpu) -> tuple[str, int | None]:
    """See :meth:`BuildArch.runs_on`."""
    return arch.runs_on(gpu.sm)


def toolkit_max_sm(cuda: tuple[int, int]) -> int | None:
    """The newest compute capability a CUDA toolkit can build SASS for.

    From gpu_arch.csv: the highest sm among GPUs whose first toolkit is at or
    before ``cuda`` (CUDA 11.7 -> sm_86; 11.8 added sm_89 and sm_90).
    """
    sms = [g.sm for g in tables().gpus if g.first_cuda is not None and g.first_cuda <= cuda and g.sm < 200]
    return max(sms) if sms else None


__all__ = ["BuildArch", "build_arch", "runs_on", "toolkit_max_sm"]
