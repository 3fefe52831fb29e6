"""Muon for the demo model's weight matrices: SGD momentum whose update is orthogonalized by a
Newton-Schulz iteration (Keller Jordan's Muon). The iteration runs on float32 tensors, its
products under bf16 autocast where the trainer chose bf16 (icchat.model.train.matmul_precision:
oneDNN's bf16 kernels, 1.5x here; torch.optim.Muon's plain bfloat16 tensors were ~50x slower).

The step is scaled by 0.2 * sqrt(max(rows, cols)) so that its RMS matches AdamW's and the same
learning rate (and schedule) serves both optimizers.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)  # quintic iteration tuned to converge in 5 steps


def orthogonalize(update: torch.Tensor, steps: int = 5) -> torch.Tensor:
    """Approximately U V^T for update = U S V^T (singular values pushed towards 1)."""
    a, b, c = NS_COEFFICIENTS
    x = update / (update.norm() + 1e-7)
    tall = x.shape[0] > x.shape[1]
    if tall:  # iterate on the smaller Gram matrix
        x = x.T
    for _ in range(steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * gram @ gram) @ x
    return x.T if tall else x


class Muon(torch.optim.Optimizer):
    """Nesterov momentum, orthogonalized, decoupled weight decay; 2-D parameters only."""

    def __init__(self, params: Iterable[Any], lr: float, momentum: float = 0.95,
                 weight_decay: float = 0.0, ns_steps: int = 5, bf16: bool = False) -> None:
        super().__init__(params, {"lr": lr, "momentum": momentum, "weight_decay": weight_decay,
                                  "ns_steps": ns_steps})
        self.bf16 = bf16  # the iteration's products under bf16 autocast (where the CPU has bf16 units)
        for group in self.param_groups:
            if any(p.dim() != 2 for p in group["params"]):
                raise ValueError("Muon takes 2-D weight matrices only")

    @torch.no_grad()
    def step(self, closure: Any = None) -> None:
        for group in self.param_groups:
            lr, momentum = group["lr"], group["momentum"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                buffer = self.state[p].setdefault("momentum", torch.zeros_like(p))
                buffer.lerp_(p.grad, 1 - momentum)
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
                    update = orthogonalize(p.grad.lerp(buffer, momentum), group["ns_steps"]).float()
                p.mul_(1 - lr * group["weight_decay"])
                p.add_(update, alpha=-lr * 0.2 * max(p.shape) ** 0.5)
