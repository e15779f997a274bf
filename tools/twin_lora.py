#!/usr/bin/env python3
"""twin_lora.py: an independent reference for the LoRA linear of src/nn/lora.h.

Written from the definition (issue 21), not from the C code: a frozen linear with a low-rank
adapter,

    y = x W^T + b + s (x A^T) B^T,   s = alpha / R,   A (R, C), B (OC, R),

differentiated by HIPS autograd on numpy in float64. For a fixed seed it writes one tiny case to
the versioned binary fixture tests/fixtures/lora/linear.cgfx, which tests/test_lora.c reads:

  "config" = [N, C, OC, R, alpha]; x (N, C), W (OC, C), b (OC), A (R, C), B (OC, R) (non-zero,
  so that every term carries signal); the probe P (N, OC); y (N, OC); the gradients of
  L = sum(y * P) with respect to x, A and B ("grad.x", "grad.A", "grad.B"); and the merged
  weight "W_merged" = W + s B A.

Inputs are drawn, rounded to float32 (what the C side stores), and the computation then runs in
float64 on those values, so the C test sees only its own float32 rounding. The fixture format is
tests/fixture.h's ("CGFX", version 1, little-endian).

Usage:  pip install -r tools/requirements.txt && python3 tools/twin_lora.py [--out DIR] [--seed N]
"""
import argparse
import os

import autograd.numpy as anp
import numpy as np
from autograd import grad

from twin_blocks import f32, write_fixture  # float32 rounding; the fixture format of tests/fixture.h


def adapted_linear(x, W, b, A, B, s):
    return anp.dot(x, W.T) + b + s * anp.dot(anp.dot(x, A.T), B.T)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', default=os.path.join(os.path.dirname(__file__), '..', 'tests', 'fixtures', 'lora'))
    ap.add_argument('--seed', type=int, default=21)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    N, C, OC, R, alpha = 5, 6, 7, 3, 4.5
    s = alpha / R
    x = f32(rng.standard_normal((N, C)))
    W = f32(rng.standard_normal((OC, C)) / np.sqrt(C))
    b = f32(rng.standard_normal(OC) * 0.1)
    A = f32(rng.uniform(-1, 1, (R, C)) / np.sqrt(C))
    B = f32(rng.standard_normal((OC, R)) * 0.5)
    P = f32(rng.standard_normal((N, OC)))

    def loss(x_, A_, B_):
        return anp.sum(adapted_linear(x_, W, b, A_, B_, s) * P)

    gx, gA, gB = (grad(loss, k)(x, A, B) for k in range(3))
    # a guard against a wrong twin setup: central differences on the float64 function itself
    for k, (arr, g) in enumerate([(x, gx), (A, gA), (B, gB)]):
        i = np.unravel_index(np.argmax(np.abs(g)), arr.shape)
        args3 = [x.copy(), A.copy(), B.copy()]
        args3[k][i] += 1e-6
        lp = loss(*args3)
        args3[k][i] -= 2e-6
        lm = loss(*args3)
        assert abs((lp - lm) / 2e-6 - g[i]) < 1e-6 * (1 + abs(g[i])), 'twin self-check failed'
    y = adapted_linear(x, W, b, A, B, s)
    tensors = [('config', np.array([N, C, OC, R, alpha])), ('x', x), ('W', W), ('b', b), ('A', A), ('B', B),
               ('P', P), ('y', y), ('grad.x', gx), ('grad.A', gA), ('grad.B', gB), ('W_merged', W + s * B @ A)]
    os.makedirs(args.out, exist_ok=True)
    write_fixture(os.path.join(args.out, 'linear.cgfx'), tensors)


if __name__ == '__main__':
    main()
