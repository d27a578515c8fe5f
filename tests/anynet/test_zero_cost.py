"""Zero-cost predictors against hand computations on tiny networks, plus order invariance and score_all."""

from __future__ import annotations

import copy
import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from anynet import zero_cost
from anynet.arch import Arch
from anynet.model import build_model
from anynet.zero_cost import PREDICTORS, score_all

SMALL_ARCH = Arch((1, 1, 2, 1), (8, 16, 24, 32), (1, 2, 1, 1), (8, 4, 8, 16), stem_width=8)


def _linear(rng: np.random.Generator, d_in: int, d_out: int, bias: bool = True) -> nn.Linear:
    layer = nn.Linear(d_in, d_out, bias=bias).double()
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(rng.normal(size=(d_out, d_in))))
        if bias:
            layer.bias.copy_(torch.from_numpy(rng.normal(size=d_out)))
    return layer


def _mlp(rng: np.random.Generator, sizes: list[int], bn: bool = False) -> nn.Sequential:
    """Linear (+ BatchNorm1d) + ReLU between `sizes`, a plain Linear at the end; float64, weights from rng."""
    layers: list[nn.Module] = []
    for d_in, d_out in itertools.pairwise(sizes[:-1]):
        layers.append(_linear(rng, d_in, d_out))
        if bn:
            norm = nn.BatchNorm1d(d_out).double()
            with torch.no_grad():
                norm.weight.copy_(torch.from_numpy(rng.uniform(0.5, 2.0, size=d_out)))
                norm.bias.copy_(torch.from_numpy(rng.normal(size=d_out)))
            layers.append(norm)
        layers.append(nn.ReLU())
    layers.append(_linear(rng, sizes[-2], sizes[-1]))
    return nn.Sequential(*layers)


def _batch(rng: np.random.Generator, n: int, shape: tuple[int, ...], classes: int):
    images = torch.from_numpy(rng.normal(size=(n, *shape)))
    labels = torch.from_numpy(rng.integers(0, classes, size=n))
    return images, labels


def _np(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().numpy().astype(np.float64)


def _relu_mask(z: np.ndarray) -> np.ndarray:
    return (z > 0).astype(np.float64)


# -------------------------------------------------------------------------------------------------- synflow
def test_synflow_two_layer_linear_net_is_matrix_algebra(rng):
    net = nn.Sequential(_linear(rng, 5, 7, bias=False), nn.ReLU(), _linear(rng, 7, 3, bias=False))
    a1, a2 = np.abs(_np(net[0].weight)), np.abs(_np(net[2].weight))
    ones5, ones3 = np.ones(5), np.ones(3)
    r = ones3 @ a2 @ a1 @ ones5  # R = 1ᵀ |W2| |W1| 1: all positive, so the ReLU is the identity
    d_a1 = np.outer(a2.T @ ones3, ones5)  # ∂R/∂|W1|
    d_a2 = np.outer(ones3, a1 @ ones5)  # ∂R/∂|W2|
    expected = np.sum(a1 * d_a1) + np.sum(a2 * d_a2)
    images, labels = _batch(rng, 4, (5,), 3)
    assert zero_cost.synflow(net, images, labels) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(2 * r, rel=1e-12)  # each bias-free layer's sum is R (Euler)


def test_synflow_removes_batch_norm_and_counts_biases_in_r_only(rng):
    net = _mlp(rng, [5, 7, 3], bn=True)  # Linear, BatchNorm1d (γ, β ≠ 1, 0), ReLU, Linear
    a1, b1 = np.abs(_np(net[0].weight)), np.abs(_np(net[0].bias))
    a2 = np.abs(_np(net[3].weight))
    ones5, ones3 = np.ones(5), np.ones(3)
    hidden = a1 @ ones5 + b1
    # biases enter R but are not summed in the score (conv/linear weights only)
    expected = np.sum(a1 * np.outer(a2.T @ ones3, ones5)) + np.sum(a2 * np.outer(ones3, hidden))
    images, labels = _batch(rng, 4, (5,), 3)
    # a batch of one in train-mode BatchNorm1d would raise: BN must be gone, not merely in eval mode
    assert zero_cost.synflow(net, images, labels) == pytest.approx(expected, rel=1e-12)


def test_synflow_runs_in_float64_past_the_float32_range():
    layers = [nn.Linear(64, 64, bias=False) for _ in range(30)]
    for layer in layers:
        nn.init.constant_(layer.weight, -1.0)  # |w| = 1: each layer multiplies every unit by 64
    net = nn.Sequential(*layers)  # float32 as built
    images, labels = torch.randn(2, 64), torch.tensor([0, 1])
    r = 64.0**31  # 2^186 > float32's 3.4e38
    assert zero_cost.synflow(net, images, labels) == pytest.approx(30 * r, rel=1e-12)


def test_synflow_overflow_raises_instead_of_returning_inf():
    layers = [nn.Linear(4, 4, bias=False) for _ in range(40)]
    for layer in layers:
        nn.init.constant_(layer.weight, 1e10)  # R = 4 · (4e10)^40 ≈ 1e426
    with pytest.raises(OverflowError, match="float64"):
        zero_cost.synflow(nn.Sequential(*layers), torch.ones(2, 4), torch.tensor([0, 1]))


# ---------------------------------------------------------------------------------------- snip, grad_norm
def test_snip_and_grad_norm_of_softmax_regression_by_hand(rng):
    net = _linear(rng, 6, 4)
    images, labels = _batch(rng, 9, (6,), 4)
    w, b, x = _np(net.weight), _np(net.bias), _np(images)
    logits = x @ w.T + b
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    y = np.eye(4)[labels.numpy()]
    grad_w = (p - y).T @ x / len(x)  # ∂(mean cross-entropy)/∂W; the bias is not scored
    assert zero_cost.snip(copy.deepcopy(net), images, labels) == pytest.approx(
        np.abs(w * grad_w).sum(), rel=1e-10
    )
    assert zero_cost.grad_norm(net, images, labels) == pytest.approx(np.linalg.norm(grad_w), rel=1e-10)


def _conv_bn_net(rng: np.random.Generator) -> nn.Sequential:
    torch.manual_seed(int(rng.integers(1 << 31)))
    net = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1, bias=False),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Conv2d(4, 6, 3, stride=2, padding=1, bias=True),
        nn.BatchNorm2d(6),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(6, 5),
    ).double()
    with torch.no_grad():
        for norm in (net[1], net[4]):
            norm.weight.uniform_(0.5, 2.0)
            norm.bias.normal_()
    return net


def test_snip_and_grad_norm_sum_conv_and_linear_weight_gradients_only(rng):
    net = _conv_bn_net(rng)
    images, labels = _batch(rng, 8, (3, 6, 6), 5)
    p = {name: t.detach().clone().requires_grad_(True) for name, t in net.named_parameters()}

    def loss_fn() -> torch.Tensor:  # the same network written out, BN on the batch's statistics
        h = F.relu(
            F.batch_norm(
                F.conv2d(images, p["0.weight"], padding=1),
                None,
                None,
                p["1.weight"],
                p["1.bias"],
                training=True,
            )
        )
        h = F.conv2d(h, p["3.weight"], p["3.bias"], stride=2, padding=1)
        h = F.relu(F.batch_norm(h, None, None, p["4.weight"], p["4.bias"], training=True))
        return F.cross_entropy(F.linear(h.mean((2, 3)), p["8.weight"], p["8.bias"]), labels)

    weights = [p["0.weight"], p["3.weight"], p["8.weight"]]
    grads = torch.autograd.grad(loss_fn(), weights)
    snip = sum(float((w * g).abs().sum().detach()) for w, g in zip(weights, grads, strict=True))
    norm = sum(float(torch.sqrt((g**2).sum())) for g in grads)
    assert zero_cost.snip(copy.deepcopy(net), images, labels) == pytest.approx(snip, rel=1e-10)
    assert zero_cost.grad_norm(net, images, labels) == pytest.approx(norm, rel=1e-10)


# ------------------------------------------------------------------------------------------- jacob_cov
def _jacob_cov_by_hand(jacobians: np.ndarray) -> float:
    eigenvalues = np.linalg.eigvalsh(np.corrcoef(jacobians))
    k = 1e-5
    return -float(np.sum(np.log(eigenvalues + k) + 1.0 / (eigenvalues + k)))


def test_jacob_cov_of_relu_mlp_from_per_sample_jacobians(rng):
    net = _mlp(rng, [6, 10, 3])
    images, labels = _batch(rng, 7, (6,), 3)
    w1, b1, w2 = _np(net[0].weight), _np(net[0].bias), _np(net[2].weight)
    masks = _relu_mask(_np(images) @ w1.T + b1)
    # J_n = ∂(Σ_k f_k)/∂x_n = W1ᵀ diag(mask_n) W2ᵀ 1
    jacobians = np.stack([w1.T @ (m * (w2.T @ np.ones(3))) for m in masks])
    assert zero_cost.jacob_cov(net, images, labels) == pytest.approx(_jacob_cov_by_hand(jacobians), rel=1e-9)


def test_jacob_cov_holds_batch_norm_statistics_constant(rng):
    net = _mlp(rng, [6, 10, 3], bn=True)
    images, labels = _batch(rng, 9, (6,), 3)
    w1, b1, w2 = _np(net[0].weight), _np(net[0].bias), _np(net[3].weight)
    gamma, beta, eps = _np(net[1].weight), _np(net[1].bias), net[1].eps
    z = _np(images) @ w1.T + b1
    scale = gamma / np.sqrt(z.var(axis=0) + eps)  # the batch's biased variance, as BN in train mode
    masks = _relu_mask((z - z.mean(axis=0)) * scale + beta)
    jacobians = np.stack([w1.T @ (scale * m * (w2.T @ np.ones(3))) for m in masks])
    assert zero_cost.jacob_cov(net, images, labels) == pytest.approx(_jacob_cov_by_hand(jacobians), rel=1e-9)


def test_jacob_cov_batch_norm_is_train_mode_forward_with_per_sample_gradients(rng):
    bn = nn.BatchNorm2d(3).double()
    with torch.no_grad():
        bn.weight.uniform_(0.5, 2.0)
        bn.bias.normal_()
    x = torch.from_numpy(rng.normal(size=(4, 3, 2, 2)))
    assert torch.allclose(zero_cost._batch_norm_constant_statistics(bn, x), bn.train()(x), atol=1e-14)
    jac = torch.autograd.functional.jacobian(lambda t: zero_cost._batch_norm_constant_statistics(bn, t), x)
    per_sample = jac.reshape(4, 12, 4, 12)
    for m in range(4):
        for n in range(4):
            assert (per_sample[m, :, n].abs().max() > 0) == (m == n)  # no cross-sample terms


def test_jacob_cov_of_a_constant_jacobian_is_minus_infinity():
    jacobians = torch.tensor([[1.0, 2.0, 3.0], [2.0, 2.0, 2.0], [0.0, 1.0, 5.0]])
    assert zero_cost.jacob_cov_from_jacobians(jacobians) == -np.inf


# ---------------------------------------------------------------------------------------------- naswot
def test_naswot_is_log_det_of_code_agreements_by_hand(rng):
    net = _mlp(rng, [6, 12, 9, 3])
    images, labels = _batch(rng, 8, (6,), 3)
    (w1, b1), (w2, b2) = [(_np(net[i].weight), _np(net[i].bias)) for i in (0, 2)]
    h1 = np.maximum(_np(images) @ w1.T + b1, 0)
    codes = np.concatenate([h1 > 0, h1 @ w2.T + b2 > 0], axis=1)  # both ReLU modules' units
    agree = (codes[:, None, :] == codes[None, :, :]).sum(axis=2).astype(np.float64)
    sign, logdet = np.linalg.slogdet(agree)
    assert sign > 0
    assert zero_cost.naswot(net, images, labels) == pytest.approx(logdet, rel=1e-12)


def test_agreement_counts_are_exact_across_chunks(rng, monkeypatch):
    codes = torch.from_numpy(rng.random((5, 3, 7, 7)) > 0.4)
    flat = codes.flatten(1).numpy()
    expected = (flat[:, None, :] == flat[None, :, :]).sum(axis=2)
    monkeypatch.setattr(zero_cost, "_GRAM_CHUNK", 5 * 16)  # 16 units per chunk: 10 chunks, the last short
    assert np.array_equal(zero_cost.agreement_counts(codes).numpy(), expected)


def test_naswot_needs_relu_modules(rng):
    net = nn.Sequential(_linear(rng, 4, 3))
    with pytest.raises(ValueError, match="ReLU"):
        zero_cost.naswot(net, *_batch(rng, 3, (4,), 3))


# ------------------------------------------------------------------------------------ properties, sign
@pytest.mark.parametrize("name", list(PREDICTORS))
@pytest.mark.parametrize("dtype, rel", [(torch.float64, 1e-9), (torch.float32, 1e-4)])
def test_scores_are_invariant_to_the_order_of_the_batch(name, dtype, rel, rng):
    images, labels = _batch(rng, 12, (3, 32, 32), 10)
    order = torch.from_numpy(rng.permutation(12))

    def factory() -> nn.Module:
        return build_model(SMALL_ARCH, 10).to(dtype)

    score, _ = score_all(factory, images, labels, [name])[name]
    permuted, _ = score_all(factory, images[order], labels[order], [name])[name]
    assert np.isfinite(score)
    assert permuted == pytest.approx(score, rel=rel)


def _prune(net: nn.Sequential, rng: np.random.Generator, keep: float) -> nn.Sequential:
    pruned = copy.deepcopy(net)
    with torch.no_grad():
        for layer in pruned:
            if isinstance(layer, nn.Linear):
                layer.weight.mul_(torch.from_numpy(rng.random(layer.weight.shape) < keep))
    return pruned


@pytest.mark.parametrize("name", ["synflow", "snip", "grad_norm"])
def test_a_mostly_zeroed_network_scores_lower(name, rng):
    healthy = _mlp(rng, [16, 32, 32, 5])
    pruned = _prune(healthy, rng, keep=0.1)
    images, labels = _batch(rng, 16, (16,), 5)
    predictor = PREDICTORS[name]
    assert predictor(healthy, images, labels) > predictor(pruned, images, labels)


def test_jacob_cov_ranks_a_linear_network_below_a_relu_one(rng):
    relu_net = _mlp(rng, [16, 32, 5])
    linear_net = copy.deepcopy(relu_net)
    linear_net[1] = nn.Identity()  # every image then has the same Jacobian: correlation 1
    images, labels = _batch(rng, 16, (16,), 5)
    assert zero_cost.jacob_cov(relu_net, images, labels) > zero_cost.jacob_cov(linear_net, images, labels)


def test_naswot_ranks_a_saturated_network_below_a_normal_one(rng):
    normal = _mlp(rng, [16, 32, 32, 5])
    saturated = copy.deepcopy(normal)
    with torch.no_grad():
        saturated[0].bias.fill_(
            1e3
        )  # every unit of the first layer always on: codes stop telling images apart
        saturated[2].bias.fill_(1e6)
    images, labels = _batch(rng, 16, (16,), 5)
    low = zero_cost.naswot(saturated, images, labels)
    assert zero_cost.naswot(normal, images, labels) > low
    assert low == -np.inf  # every image has the same code: K is singular


# -------------------------------------------------------------------------------------------- score_all
def test_score_all_scores_fresh_copies_and_leaves_the_model_alone(rng):
    model = build_model(SMALL_ARCH, 10)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    calls = []

    def factory() -> nn.Module:
        calls.append(1)
        return copy.deepcopy(model)

    images, labels = _batch(rng, 8, (3, 32, 32), 10)
    images = images.float()
    results = score_all(factory, images, labels)
    assert list(results) == list(PREDICTORS)
    assert len(calls) == len(PREDICTORS)
    for name, (score, seconds) in results.items():
        assert np.isfinite(score) and seconds >= 0
        assert score == PREDICTORS[name](copy.deepcopy(model), images, labels)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # weights, signs, dtype, BN statistics
    assert all(p.requires_grad and p.grad is None for p in model.parameters())


def test_score_all_seeds_each_build_without_touching_the_callers_rng(rng):
    images, labels = _batch(rng, 6, (3, 32, 32), 10)

    def scores(caller_seed: int, seed: int) -> dict[str, float]:
        torch.manual_seed(caller_seed)
        state = torch.get_rng_state()
        out = score_all(lambda: build_model(SMALL_ARCH, 10), images, labels, ["snip", "naswot"], seed=seed)
        assert torch.equal(torch.get_rng_state(), state)
        return {name: score for name, (score, _) in out.items()}

    assert scores(1, seed=3) == scores(2, seed=3)  # the weights follow `seed`, not the caller's state
    assert scores(1, seed=4) != scores(1, seed=3)


def test_score_all_refuses_unknown_names_and_a_factory_that_reuses_its_model(rng):
    images, labels = _batch(rng, 4, (6,), 3)
    net = _mlp(rng, [6, 8, 3])
    with pytest.raises(ValueError, match=r"allowed:.*synflow"):
        score_all(lambda: copy.deepcopy(net), images, labels, ["synflow", "zen"])
    with pytest.raises(ValueError, match="same module twice"):
        score_all(lambda: net, images, labels, ["snip", "grad_norm"])


def test_bad_batches_raise_one_clear_error(rng):
    net = _mlp(rng, [6, 8, 3])
    images, labels = _batch(rng, 4, (6,), 3)
    with pytest.raises(ValueError, match="labels has 3 entries for 4 images"):
        zero_cost.snip(net, images, labels[:3])
    with pytest.raises(ValueError, match="N >= 2"):
        zero_cost.naswot(net, images[:1], labels[:1])


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_score_all_on_cuda_matches_cpu(rng):
    images, labels = _batch(rng, 8, (3, 32, 32), 10)

    def factory() -> nn.Module:
        return build_model(SMALL_ARCH, 10).double()

    cpu = score_all(factory, images, labels)
    cuda = score_all(factory, images, labels, device="cuda")
    for name in PREDICTORS:
        assert cuda[name][0] == pytest.approx(cpu[name][0], rel=1e-6)
