"""Probes of one training step: the attention kernel it ran and the device's peak (its FLOPs:
compare.training.flops; its page faults: compare.training.step_timer)."""

from __future__ import annotations

import torch

#: Dense bf16 peak FLOP/s of GPUs we know, for model FLOPs utilisation (override with --peak-flops).
PEAK_BF16_FLOPS = {"H100": 989e12, "H200": 989e12, "A100": 312e12, "L40S": 362e12, "A10G": 125e12, "L4": 121e12}


#: aten op of scaled_dot_product_attention -> the kernel it names.
SDPA_KERNELS = {
    "_scaled_dot_product_flash_attention_for_cpu": "flash (CPU)",
    "_scaled_dot_product_flash_attention": "flash",
    "_scaled_dot_product_efficient_attention": "memory-efficient",
    "_scaled_dot_product_cudnn_attention": "cuDNN",
    "_scaled_dot_product_fused_attention_overrideable": "fused (backend)",
}


def aten_ops(model: torch.nn.Module, inputs: torch.Tensor, autocast) -> set[str]:
    """Names of the aten ops one forward pass dispatches (e.g. which attention kernel ran)."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class OpRecorder(TorchDispatchMode):
        def __init__(self) -> None:
            super().__init__()
            self.names: set[str] = set()

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            self.names.add(func.overloadpacket.__name__)
            return func(*args, **(kwargs or {}))

    with torch.no_grad(), autocast(), OpRecorder() as recorder:
        model(inputs)
    return recorder.names


def uses_sdpa(model) -> bool:
    """True when ``model`` (a compare.models.SequenceModel) runs through scaled_dot_product_attention."""
    return model.runs_sdpa


def sdpa_kernel(model: torch.nn.Module, inputs: torch.Tensor, autocast) -> str | None:
    """Which scaled_dot_product_attention kernel a forward pass ran (from the aten ops it dispatched)."""
    names = aten_ops(model, inputs, autocast)
    found = [kernel for op, kernel in SDPA_KERNELS.items() if op in names]
    if found:
        return ", ".join(found)
    # SDPA's math fallback decomposes into plain matmuls and softmax.
    return "math (unfused)" if uses_sdpa(model) else None


def device_peak_flops(device: torch.device) -> float | None:
    """The device's dense bf16 peak, when it is a GPU we know."""
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((peak for key, peak in PEAK_BF16_FLOPS.items() if key in name), None)
