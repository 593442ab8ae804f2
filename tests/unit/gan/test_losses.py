"""The GAN's losses and penalties on hand-computable inputs."""

from __future__ import annotations

import math

import torch

from gan import losses


def _linear_disc(weight: torch.Tensor):  # type: ignore[no-untyped-def]
    """D(x) = sum over the sequence of <weight, x>: its input gradient is ``weight`` everywhere."""
    return lambda x, mask: (x * weight[: x.shape[1]]).sum((1, 2))


def test_gradient_penalty_zero_for_unit_norm_gradient() -> None:
    weight = torch.zeros(6, 4)
    weight[0, 0] = 1.0  # gradient norm exactly 1 for every sample
    real, fake = torch.rand(3, 6, 4), torch.rand(5, 4, 4)
    mask_r, mask_f = torch.zeros(3, 6, dtype=torch.bool), torch.zeros(5, 4, dtype=torch.bool)
    assert losses.gradient_penalty(_linear_disc(weight), real, mask_r, fake, mask_f).item() == 0.0


def test_gradient_penalty_positive_otherwise() -> None:
    real, fake = torch.rand(3, 6, 4), torch.rand(3, 6, 4)
    mask = torch.zeros(3, 6, dtype=torch.bool)
    weight = torch.zeros(6, 4)
    weight[0, 0] = 3.0  # norm 3 -> (3 - 1)^2
    assert math.isclose(losses.gradient_penalty(_linear_disc(weight), real, mask, fake, mask).item(), 4.0)
    constant = losses.gradient_penalty(lambda x, m: x.sum((1, 2)) * 0.0, real, mask, fake, mask)
    assert math.isclose(constant.item(), 1.0)  # zero gradient -> (0 - 1)^2


def test_gradient_penalty_backpropagates_to_discriminator() -> None:
    weight = torch.full((6, 4), 0.5, requires_grad=True)
    mask = torch.zeros(2, 6, dtype=torch.bool)
    losses.gradient_penalty(_linear_disc(weight), torch.rand(2, 6, 4), mask, torch.rand(2, 6, 4), mask).backward()
    assert weight.grad is not None and weight.grad.abs().sum() > 0


def test_code_penalty_bounds() -> None:
    vocab = 5
    uniform = torch.eye(vocab).repeat(2, 1).unsqueeze(0)  # (1, 10, V): every phone used equally
    mask = torch.zeros(1, 10, dtype=torch.bool)
    assert abs(losses.code_penalty(uniform, mask).item()) < 1e-6
    single = torch.zeros(1, 10, vocab)
    single[..., 2] = 1.0
    assert math.isclose(losses.code_penalty(single, mask).item(), 1 - 1 / vocab, rel_tol=1e-5)


def test_code_penalty_ignores_padding() -> None:
    probs = torch.zeros(1, 4, 3)
    probs[0, 0, 0] = probs[0, 1, 1] = probs[0, 2, 2] = 1.0
    probs[0, 3, 0] = 1.0  # padding: would unbalance the usage
    mask = torch.tensor([[False, False, False, True]])
    assert abs(losses.code_penalty(probs, mask).item()) < 1e-6


def test_smoothness_penalty() -> None:
    mask = torch.tensor([[False, False, True]])
    constant = torch.ones(1, 3, 4)
    assert losses.smoothness_penalty(constant, mask).item() == 0.0
    logits = torch.zeros(1, 3, 4)
    logits[0, 1] = 2.0
    logits[0, 2] = 100.0  # padding: ignored
    assert math.isclose(losses.smoothness_penalty(logits, mask).item(), 4.0)


def test_adversarial_losses_reward_the_right_side() -> None:
    confident = losses.discriminator_loss(torch.full((4,), 10.0), torch.full((4,), -10.0))
    fooled = losses.discriminator_loss(torch.full((4,), -10.0), torch.full((4,), 10.0))
    assert confident.item() < 1e-3 < fooled.item()
    assert losses.generator_loss(torch.full((4,), 10.0)).item() < losses.generator_loss(torch.zeros(4)).item()
