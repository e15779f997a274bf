#!/usr/bin/env python3
"""twin_blocks.py: an independent reference for the DiT and ViT transformer blocks.

Written from the block definitions in DESIGN.md section 5 (not from the C code), with automatic
differentiation (HIPS autograd on numpy) in float64. For a fixed seed it writes tiny
configurations to versioned binary fixtures that tests/test_blocks.c reads:

  tests/fixtures/blocks/dit.cgfx   DiT block, adaLN-Zero with NON-ZERO adaLN weights, key mask
  tests/fixtures/blocks/vit.cgfx   ViT block, pre-LN with affine LayerNorms, key mask

Each fixture holds: "config" = [B, T, C, NH]; the inputs x (B, T, C), c (B, C) (DiT only),
key_mask (B, T) as 0/1 floats; every weight under the same name the C parameter table uses
(e.g. "attn.qkv.weight"); the output y (B, T, C); the probe R (B, T, C); and the gradients of
L = sum(y * R) with respect to x, c and every weight, named "grad.<name>".

Inputs and weights are drawn, rounded to float32 (what the C side stores), and the whole
computation then runs in float64 on those rounded values, so the only difference the C test
sees is its own float32 arithmetic.

File format (little-endian), version 1:
  "CGFX"  u32 version  u32 n_tensors
  n_tensors times: u32 name_len, name bytes (no NUL), u32 ndim, u32 dims[ndim], f32 data[prod(dims)]

Usage:  pip install -r tools/requirements.txt && python3 tools/twin_blocks.py [--out DIR] [--seed N]
"""
import argparse
import os
import struct

import autograd.numpy as anp
import numpy as np
from autograd import grad

LAYERNORM_EPS = 1e-6
FIXTURE_VERSION = 1


# ---- the math, written out from the definitions ---------------------------------------------------

def layernorm(x, w=None, b=None):
    # normalize over the last axis with the biased variance, eps inside the square root
    mu = anp.mean(x, axis=-1, keepdims=True)
    var = anp.mean((x - mu) ** 2, axis=-1, keepdims=True)
    xhat = (x - mu) / anp.sqrt(var + LAYERNORM_EPS)
    if w is not None:
        xhat = xhat * w + b
    return xhat


def silu(x):
    return x / (1.0 + anp.exp(-x))


def gelu_tanh(x):
    return 0.5 * x * (1.0 + anp.tanh(anp.sqrt(2.0 / anp.pi) * (x + 0.044715 * x ** 3)))


def linear(x, w, b):
    # w is (out, in) as in PyTorch
    return anp.dot(x, w.T) + b


def attention(qkv, key_mask, NH):
    # qkv (B, T, 3C) = [q | k | v]; head h owns channels [h hs, (h+1) hs) of each; scale 1/sqrt(hs)
    B, T, C3 = qkv.shape
    C = C3 // 3
    hs = C // NH

    def heads(z):  # (B, T, C) -> (B, NH, T, hs)
        return anp.transpose(anp.reshape(z, (B, T, NH, hs)), (0, 2, 1, 3))

    q, k, v = heads(qkv[:, :, :C]), heads(qkv[:, :, C:2 * C]), heads(qkv[:, :, 2 * C:])
    scores = anp.einsum('bhqd,bhkd->bhqk', q, k) / np.sqrt(hs)
    allowed = key_mask[:, None, None, :] > 0.5  # (B, 1, 1, T): which keys may be attended to
    scores = anp.where(allowed, scores, -1e30)
    scores = scores - anp.max(scores, axis=-1, keepdims=True)
    p = anp.exp(scores)
    p = p / anp.sum(p, axis=-1, keepdims=True)
    out = anp.einsum('bhqk,bhkd->bhqd', p, v)  # (B, NH, T, hs)
    return anp.reshape(anp.transpose(out, (0, 2, 1, 3)), (B, T, C))


def dit_block(x, c, key_mask, P, NH):
    C = x.shape[-1]
    mod = linear(silu(c), P['ada.weight'], P['ada.bias'])  # (B, 6C)
    shift1, scale1, gate1, shift2, scale2, gate2 = [mod[:, None, i * C:(i + 1) * C] for i in range(6)]
    h = layernorm(x) * (1.0 + scale1) + shift1
    a = attention(linear(h, P['attn.qkv.weight'], P['attn.qkv.bias']), key_mask, NH)
    x1 = x + gate1 * linear(a, P['attn.proj.weight'], P['attn.proj.bias'])
    h2 = layernorm(x1) * (1.0 + scale2) + shift2
    m = linear(gelu_tanh(linear(h2, P['mlp.fc1.weight'], P['mlp.fc1.bias'])),
               P['mlp.fc2.weight'], P['mlp.fc2.bias'])
    return x1 + gate2 * m


def vit_block(x, key_mask, P, NH):
    h = layernorm(x, P['norm1.weight'], P['norm1.bias'])
    a = attention(linear(h, P['attn.qkv.weight'], P['attn.qkv.bias']), key_mask, NH)
    x1 = x + linear(a, P['attn.proj.weight'], P['attn.proj.bias'])
    h2 = layernorm(x1, P['norm2.weight'], P['norm2.bias'])
    return x1 + linear(gelu_tanh(linear(h2, P['mlp.fc1.weight'], P['mlp.fc1.bias'])),
                       P['mlp.fc2.weight'], P['mlp.fc2.bias'])


# ---- random test cases ---------------------------------------------------------------------------

def f32(a):
    """Round to float32 and come back to float64: the values the C side will hold exactly."""
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def linear_params(rng, P, name, out, inp, wscale=None, bscale=0.1):
    wscale = 1.0 / np.sqrt(inp) if wscale is None else wscale
    P[name + '.weight'] = f32(rng.standard_normal((out, inp)) * wscale)
    P[name + '.bias'] = f32(rng.standard_normal(out) * bscale)


def key_mask_for(B, T, masked):
    m = np.ones((B, T))
    for b, t in masked:
        m[b, t] = 0.0
    return m


def make_dit_case(rng, B, T, C, NH):
    P = {}
    # non-zero adaLN weights so that every gate, shift and scale is active
    linear_params(rng, P, 'ada', 6 * C, C, wscale=0.6 / np.sqrt(C), bscale=0.3)
    linear_params(rng, P, 'attn.qkv', 3 * C, C)
    linear_params(rng, P, 'attn.proj', C, C)
    linear_params(rng, P, 'mlp.fc1', 4 * C, C)
    linear_params(rng, P, 'mlp.fc2', C, 4 * C)
    x = rng.standard_normal((B, T, C))
    x[0, 3] *= 3e-3  # a near-constant token: its LayerNorm output depends on eps (variance ~1e-5)
    x = f32(x)
    c = f32(rng.standard_normal((B, C)))
    R = f32(rng.standard_normal((B, T, C)))
    key_mask = key_mask_for(B, T, [(1, 2), (1, 5)])  # batch item 1 cannot attend to keys 2 and 5

    def loss(args):
        x_, c_, P_ = args
        return anp.sum(dit_block(x_, c_, key_mask, P_, NH) * R)

    y = dit_block(x, c, key_mask, P, NH)
    gx, gc, gP = grad(loss)((x, c, P))
    tensors = [('config', np.array([B, T, C, NH], dtype=np.float64)), ('x', x), ('c', c),
               ('key_mask', key_mask), ('R', R)]
    tensors += [(k, P[k]) for k in sorted(P)]
    tensors += [('y', y), ('grad.x', gx), ('grad.c', gc)]
    tensors += [('grad.' + k, gP[k]) for k in sorted(gP)]
    return tensors


def make_vit_case(rng, B, T, C, NH):
    P = {}
    P['norm1.weight'] = f32(1.0 + 0.2 * rng.standard_normal(C))
    P['norm1.bias'] = f32(0.1 * rng.standard_normal(C))
    linear_params(rng, P, 'attn.qkv', 3 * C, C)
    linear_params(rng, P, 'attn.proj', C, C)
    P['norm2.weight'] = f32(1.0 + 0.2 * rng.standard_normal(C))
    P['norm2.bias'] = f32(0.1 * rng.standard_normal(C))
    linear_params(rng, P, 'mlp.fc1', 4 * C, C)
    linear_params(rng, P, 'mlp.fc2', C, 4 * C)
    x = rng.standard_normal((B, T, C))
    x[1, 0] *= 3e-3  # a near-constant token: its LayerNorm output depends on eps (variance ~1e-5)
    x = f32(x)
    R = f32(rng.standard_normal((B, T, C)))
    key_mask = key_mask_for(B, T, [(0, 4)])  # batch item 0 cannot attend to its last key

    def loss(args):
        x_, P_ = args
        return anp.sum(vit_block(x_, key_mask, P_, NH) * R)

    y = vit_block(x, key_mask, P, NH)
    gx, gP = grad(loss)((x, P))
    tensors = [('config', np.array([B, T, C, NH], dtype=np.float64)), ('x', x),
               ('key_mask', key_mask), ('R', R)]
    tensors += [(k, P[k]) for k in sorted(P)]
    tensors += [('y', y), ('grad.x', gx)]
    tensors += [('grad.' + k, gP[k]) for k in sorted(gP)]
    return tensors


# ---- fixture file --------------------------------------------------------------------------------

def write_fixture(path, tensors):
    with open(path, 'wb') as f:
        f.write(b'CGFX')
        f.write(struct.pack('<II', FIXTURE_VERSION, len(tensors)))
        for name, arr in tensors:
            arr = np.asarray(arr, dtype=np.float64)
            nb = name.encode('ascii')
            f.write(struct.pack('<I', len(nb)))
            f.write(nb)
            f.write(struct.pack('<I', arr.ndim))
            f.write(struct.pack('<%dI' % arr.ndim, *arr.shape))
            f.write(np.ascontiguousarray(arr, dtype='<f4').tobytes())
    print('wrote %s (%d tensors, %d bytes)' % (path, len(tensors), os.path.getsize(path)))


def self_check(tensors, fn):
    """Finite differences on the float64 twin itself: a guard against a wrong twin setup."""
    d = dict(tensors)
    for name in [n for n, _ in tensors if n.startswith('grad.')][:4]:
        key = name[len('grad.'):]
        base = d[key].copy()
        idx = np.unravel_index(np.argmax(np.abs(d[name])), base.shape)
        h = 1e-6
        plus, minus = base.copy(), base.copy()
        plus[idx] += h
        minus[idx] -= h
        fd = (fn(key, plus) - fn(key, minus)) / (2 * h)
        assert abs(fd - d[name][idx]) <= 1e-6 * (1 + abs(fd)), (name, fd, d[name][idx])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  '..', 'tests', 'fixtures', 'blocks'))
    ap.add_argument('--seed', type=int, default=20251018)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(args.seed)

    dit = make_dit_case(rng, B=2, T=7, C=16, NH=2)
    dd = dict(dit)

    def dit_loss(key, val):
        P = {k: dd[k] for k in dd if k.count('.') and not k.startswith('grad.')}
        x, c = dd['x'], dd['c']
        if key == 'x':
            x = val
        elif key == 'c':
            c = val
        else:
            P[key] = val
        return np.sum(dit_block(x, c, dd['key_mask'], P, 2) * dd['R'])

    self_check(dit, dit_loss)
    write_fixture(os.path.join(args.out, 'dit.cgfx'), dit)

    vit = make_vit_case(rng, B=2, T=5, C=8, NH=2)
    vd = dict(vit)

    def vit_loss(key, val):
        P = {k: vd[k] for k in vd if k.count('.') and not k.startswith('grad.')}
        x = vd['x']
        if key == 'x':
            x = val
        else:
            P[key] = val
        return np.sum(vit_block(x, vd['key_mask'], P, 2) * vd['R'])

    self_check(vit, vit_loss)
    write_fixture(os.path.join(args.out, 'vit.cgfx'), vit)


if __name__ == '__main__':
    main()
