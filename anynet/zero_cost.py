"""Zero-cost proxies: scores of an untrained network from one minibatch, meant to rank architectures.

Five predictors, each `score(model, images, labels) -> float` in `PREDICTORS`, all with one convention:
**higher score = predicted better (lower error)**. The sign is each paper's predicted direction, not a
guarantee: a proxy can anti-correlate with error on some task, which is what a study measures.

- `synflow` (Tanaka et al. 2020, as used by Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS",
  ICLR 2021): every parameter and buffer replaced by its absolute value, BatchNorm removed (identity), one
  all-ones input image, R = Σ outputs; score = Σ |θ ⊙ ∂R/∂θ| over the weights of conv and linear layers.
  R sums the products of |weights| along every input→output path, so the score grows with the number and
  strength of paths that carry signal. Higher = better: no path is pruned away (Abdelfattah: positive ρ).
- `snip` (Lee et al. 2019; Abdelfattah 2021): score = Σ |θ ⊙ ∂L/∂θ| over conv/linear weights, L the mean
  cross-entropy of the batch. Each term is the loss change a first-order Taylor step predicts for removing
  that weight; a large sum means the loss is sensitive to many weights. Higher = better.
- `grad_norm` (Abdelfattah 2021): score = Σ_layers ‖∂L/∂W‖₂ over conv/linear layers, the Euclidean
  (Frobenius) norm of each layer's weight gradient, biases and BatchNorm parameters excluded, as the
  authors' code does. Larger gradients at init = the signal reaches the weights. Higher = better.
- `jacob_cov` (Mellor et al., arXiv 2006.04647v1, as used by Abdelfattah 2021): J_n = ∂(Σ_k f_k(x_n))/∂x_n,
  the per-sample input Jacobian of the summed logits; C = correlation matrix of the rows J_n (N × N);
  score = -Σ_i [log(λ_i + k) + 1/(λ_i + k)] over C's eigenvalues λ_i, k = 1e-5. log λ + 1/λ is smallest
  at λ = 1, so the sum is smallest when the Jacobians of different images are uncorrelated (the network
  treats them differently); the minus makes that the highest score. Higher = better.
- `naswot` (Mellor et al., "Neural Architecture Search without Training", ICML 2021): each image gets a
  binary code, 1 for every ReLU unit it activates (all units of every nn.ReLU / ReLU6 / LeakyReLU module,
  the modules the authors' name match selects; functional relu calls are not seen). K_ij = number of units
  on which images i and j agree (N_A − Hamming distance); score = log det K. Distinct codes make K closer
  to diagonal and its determinant larger: the network separates the images. Higher = better.

BatchNorm. synflow removes it (its batch-of-one, all-positive pass would otherwise be normalised away), as
the authors' code does. The other four normalise with this batch's statistics (train mode, the state of a
freshly built network and the authors' setting), which are symmetric in the samples, so every score is
invariant to the order of the batch up to floating-point summation order. jacob_cov holds the batch
statistics constant while differentiating, so J_n is exactly sample n's Jacobian of the network the batch
defines (the eval-mode network whose running statistics are this batch's). Change from the authors' code,
which backpropagates the batch sum through the statistics too: that adds cross-sample terms of O(1) to each
row (with a linear head straight after BN they cancel the direct term exactly); the two agree without BN,
and on 20 demo-band AnyNetX (32 px, batch 64, seed 0) they rank with Spearman ρ = 0.92.

Precision. synflow runs in float64, as the authors' code does: R is a product of |weights| along paths
and overflows float32 (3.4e38) well inside the T22 band (at 32 px, seed-0 band architectures reach 1e113).
float64 suffices for all of AnyNetX at pycls init: the largest network of the space (d = 16, w = 1024,
b = 1, g = 32 in every stage) measured 7.0e237 at 224 px (1.5e237 with strides 2,2,2,2; 1.7e230 at 32 px),
below float64's 1.8e308. A non-finite synflow raises `OverflowError` rather than returning inf (a silent
tie at the top). The other predictors run in the model's dtype with their sums, K and C accumulated in
float64. On CUDA, torch's default TF32 convolutions move float32 scores by up to ~3e-3 relative to the CPU
(grad_norm, measured on an H200; 1e-7 with TF32 off); pass a float64 model or turn TF32 off where that
matters.

Other choices, documented where they differ from the papers' code: dropout is switched off (a zero-cost
score describes the network, not a dropout mask); eigenvalues come from `eigvalsh` (C is symmetric; the
authors' `eig` can return complex values); a degenerate batch (an image whose Jacobian is constant, or a
singular K: identical codes) scores -inf, the worst, where the authors' code gives nan or a meaningless
log |det|; naswot codes come from one forward pass (the authors' extra forward and backward pass before it
changes nothing the codes depend on).

Each predictor modifies the model it is given (absolute weights, float64, BatchNorm statistics, hooks,
patched BatchNorm forwards): give it a throwaway model. `score_all` builds a fresh one per predictor.
"""

from __future__ import annotations

import functools
import math
import time
import weakref
from collections.abc import Callable, Iterable

import torch
import torch.nn.functional as F
from torch import nn

JACOB_COV_K = 1e-5  # the authors' regulariser on the eigenvalues of the Jacobian correlation matrix
_WEIGHTED = (nn.modules.conv._ConvNd, nn.Linear)
_BATCH_NORM = nn.modules.batchnorm._BatchNorm
_DROPOUT = nn.modules.dropout._DropoutNd
_RELUS = (nn.ReLU, nn.ReLU6, nn.LeakyReLU)
_GRAM_CHUNK = 1 << 22  # elements per float32 chunk of ReLU codes: bounds memory, keeps counts exact (< 2^24)

Predictor = Callable[[nn.Module, torch.Tensor, torch.Tensor], float]


# ------------------------------------------------------------------------------------------ predictors
def synflow(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Σ |θ ⊙ ∂R/∂θ| over conv/linear weights; R = Σ outputs of the |θ| net (no BN), input all ones."""
    x, _ = _check_batch(model, images, labels)
    _weights(model, "synflow")  # fail before touching the model
    with torch.no_grad():
        for tensor in (*model.parameters(), *model.buffers()):
            if tensor.is_floating_point():
                tensor.abs_()
    model.double()
    for module in model.modules():
        if isinstance(module, _BATCH_NORM):
            module.forward = _identity  # instance attribute: shadows the class's forward
    model.eval()  # dropout off; BN is gone
    model.requires_grad_(False)
    weights = _weights(model, "synflow")  # after .double(), whatever it does to the parameter objects
    for weight in weights:
        weight.requires_grad_(True)
    ones = torch.ones((1, *x.shape[1:]), dtype=torch.float64, device=x.device)
    r = _logits(model, ones).sum()
    grads = torch.autograd.grad(r, weights, allow_unused=True)
    score = _sum64(torch.sum(torch.abs(w * g), dtype=torch.float64) for w, g in _used(weights, grads))
    if not (math.isfinite(r.item()) and math.isfinite(score)):
        raise OverflowError(
            f"synflow of {type(model).__name__} overflowed float64 (R = {r.item()}): the products of "
            "|weights| along its paths exceed 1.8e308; this proxy cannot rank a network that deep or wide "
            "at this init"
        )
    return score


def snip(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Σ |θ ⊙ ∂L/∂θ| over conv/linear weights, L = mean cross-entropy of the batch (BN: batch statistics)."""
    pairs = _loss_grads(model, images, labels, "snip")
    return _sum64(torch.sum(torch.abs(w * g), dtype=torch.float64) for w, g in pairs)


def grad_norm(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Σ over conv/linear layers of ‖∂L/∂W‖₂ (Frobenius), L = mean cross-entropy (BN: batch statistics)."""
    pairs = _loss_grads(model, images, labels, "grad_norm")
    return _sum64(torch.linalg.vector_norm(g, dtype=torch.float64) for _, g in pairs)


def jacob_cov(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """-Σ [log(λ + k) + 1/(λ + k)] over eigenvalues λ of the correlation of per-sample input Jacobians."""
    x, _ = _check_batch(model, images, labels)
    _batch_statistics_mode(model)
    for module in model.modules():
        if isinstance(module, _BATCH_NORM):
            module.forward = functools.partial(_batch_norm_constant_statistics, module)
    model.requires_grad_(False)  # only the input needs a gradient: skips every weight-gradient kernel
    x = x.detach().clone().requires_grad_(True)
    (jacobians,) = torch.autograd.grad(_logits(model, x).sum(), x)
    return jacob_cov_from_jacobians(jacobians.flatten(1))


def naswot(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """log det K, K_ij = number of ReLU units on which images i and j agree (active or both inactive)."""
    x, _ = _check_batch(model, images, labels)
    relus = [module for module in model.modules() if isinstance(module, _RELUS)]
    if not relus:
        raise ValueError(
            f"naswot needs nn.ReLU (or ReLU6/LeakyReLU) modules to read binary codes from; "
            f"{type(model).__name__} has none (functional relu calls cannot be hooked)"
        )
    _batch_statistics_mode(model)
    n = x.shape[0]
    agree = torch.zeros((n, n), dtype=torch.float64, device=x.device)

    def count_agreements(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        # output > 0 ⇔ input > 0 for the ReLU family; reading the output is also right for inplace ReLUs
        agree.add_(agreement_counts(output > 0))

    handles = [module.register_forward_hook(count_agreements) for module in relus]
    try:
        with torch.no_grad():
            _logits(model, x)
    finally:
        for handle in handles:
            handle.remove()
    return naswot_from_agreements(agree)


PREDICTORS: dict[str, Predictor] = {
    "synflow": synflow,
    "snip": snip,
    "grad_norm": grad_norm,
    "jacob_cov": jacob_cov,
    "naswot": naswot,
}


def score_all(
    model_factory: Callable[[], nn.Module],
    images: torch.Tensor,
    labels: torch.Tensor,
    predictors: Iterable[str] | None = None,
    device: str | torch.device = "cpu",
    *,
    seed: int | None = 0,
) -> dict[str, tuple[float, float]]:
    """{name: (score, seconds)} for each predictor (default: all), each on a fresh `model_factory()`.

    Each model is built with torch's CPU generator seeded with `seed` (inside `fork_rng`: the caller's
    random state is untouched), so every predictor scores the same initial weights; `seed=None` leaves
    seeding to the factory. The model is then moved to `device`. Seconds are wall-clock time of the
    predictor alone (not the build), synchronised on CUDA.
    """
    names = list(PREDICTORS) if predictors is None else list(predictors)
    unknown = [name for name in names if name not in PREDICTORS]
    if unknown:
        raise ValueError(f"unknown zero-cost predictor(s) {unknown}; allowed: {list(PREDICTORS)}")
    device = torch.device(device)
    images, labels = images.to(device), labels.to(device)
    results: dict[str, tuple[float, float]] = {}
    previous: weakref.ref | None = None
    for name in names:
        model = _build(model_factory, seed)
        if previous is not None and previous() is model:
            raise ValueError(
                "model_factory returned the same module twice, so one predictor would score what the last "
                "one left; it must build a new module per call, e.g. lambda: copy.deepcopy(model)"
            )
        previous = weakref.ref(model)
        model.to(device)
        start = time.perf_counter()
        score = PREDICTORS[name](model, images, labels)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        results[name] = (score, time.perf_counter() - start)
        del model
    return results


# ------------------------------------------------------------------------- formulas on plain tensors
def jacob_cov_from_jacobians(jacobians: torch.Tensor, k: float = JACOB_COV_K) -> float:
    """jacob_cov of an (N, D) matrix of per-sample Jacobians; -inf when a row is constant."""
    j = jacobians.detach().to(torch.float64)
    centred = j - j.mean(dim=1, keepdim=True)
    norms = torch.linalg.vector_norm(centred, dim=1)
    if bool((norms == 0).any()):  # correlation undefined: the output ignores that image's pixels
        return -math.inf
    unit = centred / norms[:, None]
    eigenvalues = torch.linalg.eigvalsh(unit @ unit.T)
    return -float(torch.sum(torch.log(eigenvalues + k) + 1.0 / (eigenvalues + k)))


def agreement_counts(codes: torch.Tensor) -> torch.Tensor:
    """(N, N) float64: how many of the units in `codes` (bool, (N, ...)) images i and j agree on."""
    codes = codes.flatten(1)
    n, units = codes.shape
    active = codes.sum(dim=1, dtype=torch.float64)
    both = torch.zeros((n, n), dtype=torch.float64, device=codes.device)
    step = max(1, _GRAM_CHUNK // n)
    for chunk in codes.split(step, dim=1):  # float32 Gram of 0/1 values: exact while a dot is < 2^24
        c = chunk.to(torch.float32)
        both.add_((c @ c.T).to(torch.float64))
    # agree = both active + both inactive = both + (units - a_i - a_j + both)
    return units - active[:, None] - active[None, :] + 2.0 * both


def naswot_from_agreements(agree: torch.Tensor) -> float:
    """log det of the agreement kernel; -inf when it is singular (two images with the same code)."""
    sign, logabsdet = torch.linalg.slogdet(agree.detach().to(torch.float64).cpu())
    return float(logabsdet) if sign > 0 else -math.inf


# ---------------------------------------------------------------------------------------------- helpers
def _check_batch(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """images and labels on the model's device, images in its floating dtype; one error per bad input."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"a zero-cost predictor needs a torch nn.Module, got {type(model).__name__}")
    parameter = next(model.parameters(), None)
    if parameter is None:
        raise ValueError(f"{type(model).__name__} has no parameters: there is nothing to score")
    problems = []
    if not isinstance(images, torch.Tensor) or images.dim() < 2 or images.shape[0] < 2:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        problems.append(f"images {shape} must be a tensor (N, ...) with N >= 2 samples")
    if not isinstance(labels, torch.Tensor) or labels.dim() != 1 or labels.is_floating_point():
        shape = tuple(labels.shape) if isinstance(labels, torch.Tensor) else type(labels).__name__
        problems.append(f"labels {shape} must be a 1-D integer tensor of class indices")
    elif isinstance(images, torch.Tensor) and images.dim() >= 1 and labels.shape[0] != images.shape[0]:
        problems.append(
            f"labels has {labels.shape[0]} entries for {images.shape[0]} images; give one per image"
        )
    if problems:
        raise ValueError("bad zero-cost batch: " + "; ".join(problems))
    dtype = parameter.dtype if parameter.is_floating_point() else torch.float32
    return images.to(device=parameter.device, dtype=dtype), labels.to(device=parameter.device)


def _weights(model: nn.Module, name: str) -> list[torch.Tensor]:
    weights = [module.weight for module in model.modules() if isinstance(module, _WEIGHTED)]
    if not weights:
        raise ValueError(f"{name} sums over conv and linear weights; {type(model).__name__} has none")
    return weights


def _loss_grads(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, name: str
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(weight, ∂L/∂weight) of every conv/linear layer the loss reaches, L = mean cross-entropy."""
    x, y = _check_batch(model, images, labels)
    weights = _weights(model, name)
    _batch_statistics_mode(model)
    model.requires_grad_(False)
    for weight in weights:
        weight.requires_grad_(True)
    loss = F.cross_entropy(_logits(model, x), y)
    grads = torch.autograd.grad(loss, weights, allow_unused=True)
    return list(_used(weights, grads))


def _used(weights: list[torch.Tensor], grads: tuple) -> Iterable[tuple[torch.Tensor, torch.Tensor]]:
    """Pairs whose weight the output depends on (an unused layer contributes 0, as in the authors' code)."""
    return ((w.detach(), g) for w, g in zip(weights, grads, strict=True) if g is not None)


def _logits(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    out = model(x)
    if not isinstance(out, torch.Tensor) or out.dim() != 2 or out.shape[0] != x.shape[0]:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(
            f"{type(model).__name__} returned {shape} for {x.shape[0]} images; zero-cost predictors need a "
            "classifier returning logits (N, num_classes)"
        )
    return out


def _batch_statistics_mode(model: nn.Module) -> None:
    """BatchNorm on the batch's statistics (train mode), dropout off."""
    model.train()
    for module in model.modules():
        if isinstance(module, _DROPOUT):
            module.eval()


def _batch_norm_constant_statistics(bn: nn.modules.batchnorm._BatchNorm, x: torch.Tensor) -> torch.Tensor:
    """BatchNorm with this batch's mean and (biased) variance, treated as constants by autograd."""
    dims = [0, *range(2, x.dim())]
    mean = x.detach().mean(dim=dims)
    var = x.detach().var(dim=dims, unbiased=False)
    return F.batch_norm(x, mean, var, bn.weight, bn.bias, training=False, eps=bn.eps)


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


def _sum64(values: Iterable[torch.Tensor]) -> float:
    return float(sum((value.item() for value in values), 0.0))


def _build(model_factory: Callable[[], nn.Module], seed: int | None) -> nn.Module:
    with torch.random.fork_rng(devices=[], enabled=seed is not None):
        if seed is not None:
            torch.default_generator.manual_seed(seed)  # CPU only: a CUDA seed would leak out of the fork
        model = model_factory()
    if not isinstance(model, nn.Module):
        raise TypeError(f"model_factory must return a torch nn.Module, got {type(model).__name__}")
    return model
