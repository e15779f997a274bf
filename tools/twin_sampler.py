#!/usr/bin/env python3
"""twin_sampler.py: an independent float64 reference for the flow schedule and the SDE steps.

Written from DESIGN.md section 6 and the public Flow-GRPO / DanceGRPO step functions (not from
the C code): the dance step goes through x0_hat and the score literally, the flow step through
Flow-GRPO's std_dev_t with sigma_max = sigmas[1] at sigma == 1. The gradient of the log-prob with
respect to the velocity is taken by complex-step differentiation (exact to rounding, and
independent of the closed form the C code uses). It writes two tiny fixtures that
tests/test_sampler.c reads:

  tests/fixtures/sampler/schedule.cgfx
      "sched<k>.config" = [N, shift]       "sched<k>.sigmas" (N + 1)
  tests/fixtures/sampler/steps.cgfx
      "step<k>.config"  = [kind, i, N, eta, B, n]   kind: 0 ode, 1 dance, 2 flow
      "step<k>.sigmas"  (N + 1)  the float32 schedule the step uses (input)
      "step<k>.x", "step<k>.v", "step<k>.x_next" (B, n)   inputs (x_next: a draw mean + std e)
      "step<k>.dlogprob" (B)      upstream weights for the gradient (input)
      "step<k>.mean" (B, n), "step<k>.std" (1), "step<k>.logprob" (B)   expected
      "step<k>.grad_v" (B, n)     d(sum_b dlogprob[b] logprob[b]) / d v   expected
      "step<k>.ode" (B, n)        the Euler step x + dS v   expected

Inputs are drawn and rounded to float32 (what the C side stores) and everything is then computed
in float64 from the rounded values, so the only difference the C test sees is its own rounding.

File format (little-endian), version 1 (the same as tools/twin_blocks.py, read by tests/fixture.h):
  "CGFX"  u32 version  u32 n_tensors
  n_tensors times: u32 name_len, name bytes (no NUL), u32 ndim, u32 dims[ndim], f32 data[prod(dims)]

Usage:  python3 tools/twin_sampler.py [--out DIR] [--seed N]     (numpy only)
"""
import argparse
import math
import os
import struct

import numpy as np

FIXTURE_VERSION = 1
ODE, DANCE, FLOW = 0, 1, 2


# ---- the math, written out from the definitions ---------------------------------------------------

def sigmas(N, k):
    s = np.linspace(1.0, 0.0, N + 1)
    return k * s / (1.0 + (k - 1.0) * s)


def dance_step(x, v, sig, i, eta):
    """DanceGRPO's flux_step with sde_solver: returns (mean, std)."""
    s, s_next = sig[i], sig[i + 1]
    dsigma = s_next - s
    mean = x + dsigma * v
    x0_hat = x - s * v
    score = -(x - x0_hat * (1.0 - s)) / s ** 2
    mean = mean + (-0.5 * eta ** 2 * score) * dsigma
    std = eta * math.sqrt(s - s_next)
    return mean, std


def flow_step(x, v, sig, i, a):
    """Flow-GRPO's sde_step_with_logprob (sde_type 'sde'): returns (mean, std)."""
    s, s_next = sig[i], sig[i + 1]
    sigma_max = sig[1]
    dt = s_next - s
    std_dev_t = math.sqrt(s / (1.0 - (sigma_max if s == 1.0 else s))) * a
    mean = x * (1.0 + std_dev_t ** 2 / (2.0 * s) * dt) + v * (1.0 + std_dev_t ** 2 * (1.0 - s) / (2.0 * s)) * dt
    return mean, std_dev_t * math.sqrt(-dt)


def ode_step(x, v, sig, i):
    return x + (sig[i + 1] - sig[i]) * v


def step(kind, x, v, sig, i, eta):
    return dance_step(x, v, sig, i, eta) if kind == DANCE else flow_step(x, v, sig, i, eta)


def logprob(x_next, mean, std):
    lp = -((x_next - mean) ** 2) / (2.0 * std ** 2) - math.log(std) - math.log(math.sqrt(2.0 * math.pi))
    return lp.mean(axis=1)


def grad_v_complex_step(kind, x, v, x_next, sig, i, eta, dlogprob):
    """d(sum_b dlogprob[b] logprob[b]) / dv by complex steps: Im f(v + i h e_k) / h, h tiny."""
    h = 1e-30
    g = np.zeros_like(v)
    for idx in np.ndindex(*v.shape):
        vc = v.astype(np.complex128)
        vc[idx] += 1j * h
        mean, std = step(kind, x.astype(np.complex128), vc, sig, i, eta)
        g[idx] = np.imag(np.sum(dlogprob * logprob(x_next, mean, std))) / h
    return g


# ---- fixtures -----------------------------------------------------------------------------------

def f32(a):
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def write_fixture(path, tensors):
    with open(path, 'wb') as f:
        f.write(b'CGFX')
        f.write(struct.pack('<II', FIXTURE_VERSION, len(tensors)))
        for name, arr in tensors:
            arr = np.atleast_1d(np.asarray(arr, dtype=np.float32))
            nb = name.encode()
            f.write(struct.pack('<I', len(nb)))
            f.write(nb)
            f.write(struct.pack('<I', arr.ndim))
            f.write(struct.pack('<%dI' % arr.ndim, *arr.shape))
            f.write(arr.astype('<f4').tobytes())
    print('wrote %s (%d tensors, %d bytes)' % (path, len(tensors), os.path.getsize(path)))


def schedule_fixture():
    out = []
    for k, (N, shift) in enumerate([(10, 3.0), (25, 3.0), (4, 1.0), (7, 2.5), (1, 3.0)]):
        out.append(('sched%d.config' % k, [N, shift]))
        out.append(('sched%d.sigmas' % k, sigmas(N, float(np.float32(shift)))))
    return out


def steps_fixture(rng):
    N, shift, B, n = 10, 3.0, 2, 6
    sig = f32(sigmas(N, shift))
    cases = [(DANCE, 0, 0.4), (DANCE, 4, 0.4), (DANCE, N - 1, 0.4), (DANCE, 2, 0.8),
             (FLOW, 0, 0.7), (FLOW, 4, 0.7), (FLOW, N - 1, 0.7), (FLOW, 7, 0.3)]
    out = []
    for k, (kind, i, eta) in enumerate(cases):
        eta = float(np.float32(eta))
        x = f32(rng.standard_normal((B, n)))
        v = f32(rng.standard_normal((B, n)))
        mean, std = step(kind, x, v, sig, i, eta)
        x_next = f32(mean + std * rng.standard_normal((B, n)))
        dlogprob = f32(rng.standard_normal(B))
        lp = logprob(x_next, mean, std)
        gv = grad_v_complex_step(kind, x, v, x_next, sig, i, eta, dlogprob)
        p = 'step%d.' % k
        out += [(p + 'config', [kind, i, N, eta, B, n]), (p + 'sigmas', sig), (p + 'x', x), (p + 'v', v),
                (p + 'x_next', x_next), (p + 'dlogprob', dlogprob), (p + 'mean', mean), (p + 'std', [std]),
                (p + 'logprob', lp), (p + 'grad_v', gv), (p + 'ode', ode_step(x, v, sig, i))]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', default=os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tests',
                                                  'fixtures', 'sampler'))
    ap.add_argument('--seed', type=int, default=20251018)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    write_fixture(os.path.join(args.out, 'schedule.cgfx'), schedule_fixture())
    write_fixture(os.path.join(args.out, 'steps.cgfx'), steps_fixture(rng))


if __name__ == '__main__':
    main()
