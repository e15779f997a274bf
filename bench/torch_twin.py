#!/usr/bin/env python3
"""torch_twin.py: a PyTorch (CPU, eager) twin of cgrpo's generator, the measured peer of issue 19.

The same network as src/models/dit.c, dit_block.c and src/nn/* (docs/design.md), written the way a
PyTorch user would write it (nn.Linear, F.layer_norm, F.scaled_dot_product_attention with a key
mask, F.gelu(approximate="tanh")), with the weights of models/base.safetensors under the very
names cgrpo's parameter table uses:

  one sequence per image, T = 64 target + 64 reference + 16 prompt tokens
    target    = patch_embed(patchify(x_t)) + pos_embed + type_embed[0]
    reference = patch_embed(patchify(ref)) + pos_embed + type_embed[1]
    text      = tok_embed[tokens] + text_pos + type_embed[2]
  c = t_embed.fc2(silu(t_embed.fc1(timestep_embedding(1000 sigma, 256))))
  6 DiT blocks, adaLN-Zero: [shift1 scale1 gate1 shift2 scale2 gate2] = ada(silu(c))
    x1 = x + gate1 * proj(attention(qkv(layernorm(x) * (1 + scale1) + shift1), key_mask))
    y  = x1 + gate2 * fc2(gelu_tanh(fc1(layernorm(x1) * (1 + scale2) + shift2)))
  final layer on the 64 target tokens: linear(layernorm(x) * (1 + scale) + shift), unpatchify
  key mask: target keys always; reference keys unless dropped; text keys unless PAD (id 0) or dropped
  layer norms without affine, eps 1e-6; images (B, 32, 32, 3) HWC in [-1, 1]

Commands (bench/peer.sh runs all three):
  check FILE            compare the twin with the dump of `build/bench/bench_peer check FILE`:
                        generator output and gradients, one block's output and gradients, one
                        SDE rollout (every step's x_{i+1} and log-prob), one GRPO micro-batch
                        (loss, new log-probs, gradients) and the clip + AdamW step; prints the
                        relative error ||twin - cgrpo|| / ||cgrpo|| of each
  time                  seconds of block_fwd, block_fwd_bwd, generator_fwd, generator_fwd_bwd at
                        B = 8 rows (one GRPO group), best of 3 rounds of the mean over >= --min-s
                        seconds, as bench_peer times cgrpo; forwards under torch.no_grad() (as a
                        rollout runs), forward + backward with every parameter's gradient
  grpo                  --iters GRPO iterations of the default `cgrpo train` config (4 pairs x 8
                        images, 10 dance-SDE steps at eta 0.7, own noise per sample, 6 trained
                        steps per group, PPO-clipped loss with eps 1e-4, KL to a frozen copy of
                        the base with beta 1, one optimizer step: global-norm clip 1, AdamW lr
                        1e-4, weight decay 1e-4 on matrices; the update runs backwards through the
                        rollout's kept forwards as cgrpo train's forward cache does, --recompute
                        reruns them); the REWARDS ARE RANDOM NUMBERS of
                        the same shape (2, P G) and the references and prompts random tensors of
                        the rollout's shapes: the cost measured is the generator's
All commands take --threads N (torch.set_num_threads) and --json OUT.

Requires torch (tools/requirements.txt lists it as optional); safetensors files are parsed here with
struct + json, so neither numpy nor the safetensors package is needed.
"""
import argparse
import json
import math
import os
import resource
import struct
import sys
import time
import warnings

warnings.filterwarnings("ignore", message="Failed to initialize NumPy")  # numpy is not needed here
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

LAYERNORM_EPS = 1e-6
TIME_SCALE = 1000.0
MAX_PERIOD = 10000.0
PAD = 0
LOG_SQRT_2PI = 0.91893853320467274178


# ---- safetensors ------------------------------------------------------------------------------------

def load_safetensors(path):
    """{name: float32 tensor}, {metadata}: 8-byte little-endian header length, JSON header, data."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    meta = header.pop("__metadata__", {})
    data = memoryview(blob)[8 + n:]
    out = {}
    for name, t in header.items():
        if t["dtype"] != "F32":
            raise SystemExit(f"{path}: tensor {name} is {t['dtype']}, only F32 is read here")
        lo, hi = t["data_offsets"]
        out[name] = torch.frombuffer(bytearray(data[lo:hi]), dtype=torch.float32).reshape(t["shape"])
    return out, meta


# ---- the model ----------------------------------------------------------------------------------------

def patchify(img, P):
    """(B, H, W, CH) -> (B, (H/P)(W/P), P P CH), features in (py, px, ch) order."""
    B, H, W, CH = img.shape
    x = img.reshape(B, H // P, P, W // P, P, CH).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(B, (H // P) * (W // P), P * P * CH)


def unpatchify(tok, H, W, CH, P):
    B = tok.shape[0]
    x = tok.reshape(B, H // P, W // P, P, P, CH).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(B, H, W, CH)


def timestep_embedding(t, dim):
    """[cos(t f_i), sin(t f_i)], f_i = exp(-log(max_period) i / half), in double, rounded once."""
    half = dim // 2
    freqs = torch.exp(-math.log(MAX_PERIOD) * torch.arange(half, dtype=torch.float64) / half)
    arg = t.to(torch.float64)[:, None] * freqs[None, :]
    return torch.cat([torch.cos(arg), torch.sin(arg)], dim=1).to(torch.float32)


def modulate(x, shift, scale):
    return x * (1 + scale) + shift


class Attention(nn.Module):
    def __init__(self, C, NH):
        super().__init__()
        self.NH = NH
        self.qkv = nn.Linear(C, 3 * C)
        self.proj = nn.Linear(C, C)

    def forward(self, h, key_mask):
        B, T, C = h.shape
        qkv = self.qkv(h).view(B, T, 3, self.NH, C // self.NH).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], attn_mask=key_mask)  # scale 1/sqrt(hs)
        return self.proj(a.transpose(1, 2).reshape(B, T, C))


class Mlp(nn.Module):
    def __init__(self, C):
        super().__init__()
        self.fc1 = nn.Linear(C, 4 * C)
        self.fc2 = nn.Linear(4 * C, C)

    def forward(self, h):
        return self.fc2(F.gelu(self.fc1(h), approximate="tanh"))


class DiTBlock(nn.Module):
    def __init__(self, C, NH):
        super().__init__()
        self.ada = nn.Linear(C, 6 * C)
        self.attn = Attention(C, NH)
        self.mlp = Mlp(C)

    def forward(self, x, c, key_mask):
        """x (B, T, C), c (B, C), key_mask (B, 1, 1, T) bool (True = attend)."""
        C = x.shape[-1]
        sh1, sc1, g1, sh2, sc2, g2 = self.ada(F.silu(c)).unsqueeze(1).chunk(6, dim=-1)
        x1 = x + g1 * self.attn(modulate(F.layer_norm(x, (C,), eps=LAYERNORM_EPS), sh1, sc1), key_mask)
        return x1 + g2 * self.mlp(modulate(F.layer_norm(x1, (C,), eps=LAYERNORM_EPS), sh2, sc2))


class TEmbed(nn.Module):
    def __init__(self, tdim, C):
        super().__init__()
        self.fc1 = nn.Linear(tdim, C)
        self.fc2 = nn.Linear(C, C)


class Final(nn.Module):
    def __init__(self, C, PPC):
        super().__init__()
        self.ada = nn.Linear(C, 2 * C)
        self.linear = nn.Linear(C, PPC)


class DiT(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        C, P, CH = cfg["width"], cfg["patch"], cfg["channels"]
        self.Ti = (cfg["img"] // P) ** 2
        PPC = P * P * CH
        self.patch_embed = nn.Linear(PPC, C)
        self.pos_embed = nn.Parameter(torch.zeros(self.Ti, C))
        self.type_embed = nn.Parameter(torch.zeros(3, C))
        self.tok_embed = nn.Embedding(cfg["vocab"], C)
        self.text_pos = nn.Parameter(torch.zeros(cfg["text_len"], C))
        self.t_embed = TEmbed(cfg["tdim"], C)
        self.blocks = nn.ModuleList([DiTBlock(C, cfg["heads"]) for _ in range(cfg["depth"])])
        self.final = Final(C, PPC)

    def key_mask(self, B, ref, tokens, drop_ref, drop_txt):
        """(B, T) bool: target keys always, reference unless absent or dropped, text unless PAD or dropped."""
        Ti = self.Ti
        use_ref = torch.full((B,), ref is not None, dtype=torch.bool)
        if drop_ref is not None:
            use_ref = use_ref & ~drop_ref
        use_txt = torch.ones(B, dtype=torch.bool)
        if drop_txt is not None:
            use_txt = use_txt & ~drop_txt
        return torch.cat([torch.ones(B, Ti, dtype=torch.bool), use_ref[:, None].expand(B, Ti),
                          use_txt[:, None] & (tokens != PAD)], dim=1)

    def embed(self, x_t, sigma, ref, tokens, drop_ref=None, drop_txt=None):
        """The embedded sequence (B, T, C), the conditioning c (B, C), the key mask (B, T)."""
        B = x_t.shape[0]
        P = self.cfg["patch"]
        if ref is None:
            pref = torch.zeros_like(patchify(x_t, P))
        else:
            pref = patchify(ref, P)
        ptok = self.patch_embed(torch.cat([patchify(x_t, P), pref], dim=1))
        pos = torch.cat([self.pos_embed + self.type_embed[0], self.pos_embed + self.type_embed[1]], dim=0)
        txt = self.tok_embed(tokens) + self.text_pos + self.type_embed[2]
        seq = torch.cat([ptok + pos, txt], dim=1)
        temb = timestep_embedding(TIME_SCALE * sigma, self.cfg["tdim"])
        c = self.t_embed.fc2(F.silu(self.t_embed.fc1(temb)))
        return seq, c, self.key_mask(B, ref, tokens, drop_ref, drop_txt)

    def forward(self, x_t, sigma, ref, tokens, drop_ref=None, drop_txt=None):
        """velocity (B, H, W, CH) at x_t (B, H, W, CH), sigma (B), ref (B, H, W, CH) or None, tokens (B, Lt)."""
        seq, c, mask = self.embed(x_t, sigma, ref, tokens, drop_ref, drop_txt)
        km = mask[:, None, None, :]
        for blk in self.blocks:
            seq = blk(seq, c, km)
        C = seq.shape[-1]
        shift, scale = self.final.ada(F.silu(c)).unsqueeze(1).chunk(2, dim=-1)
        h = modulate(F.layer_norm(seq[:, :self.Ti], (C,), eps=LAYERNORM_EPS), shift, scale)
        cf = self.cfg
        return unpatchify(self.final.linear(h), cf["img"], cf["img"], cf["channels"], P=cf["patch"])


def dit_config(meta):
    return {k: int(meta["dit." + k]) for k in ("img", "patch", "channels", "width", "depth", "heads", "text_len",
                                                "vocab", "tdim")}


def load_dit(path, prefix=""):
    tensors, meta = load_safetensors(path)
    model = DiT(dit_config(meta))
    state = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)} if prefix else tensors
    model.load_state_dict(state, strict=True)
    return model, tensors, meta


def decays(name):
    """cgrpo's decay flags (src/models/dit.c): matrices decay, biases and embedding tables do not."""
    return name.endswith(".weight") and name != "tok_embed.weight"


# ---- the sampler and the GRPO loss (src/flow/sampler.c, src/rl/grpo.c) --------------------------------

def flow_sigmas(N, shift):
    s = [shift * t / (1 + (shift - 1) * t) for t in (1 - i / N for i in range(N + 1))]
    s = [float(torch.tensor(v, dtype=torch.float32)) for v in s]  # rounded to float once, as cgrpo stores them
    s[0], s[N] = 1.0, 0.0
    return s


class StepCoef:
    """The dance SDE's step i: mean = cx x + cv v, std = eta sqrt(-dS) (in double, as flow_step_coef_make)."""

    def __init__(self, sigmas, i, eta):
        self.i = i
        self.s, s_next = sigmas[i], sigmas[i + 1]
        dS = s_next - self.s
        g2 = eta * eta
        self.cx = 1 + g2 * dS / (2 * self.s)
        self.cv = dS * (1 + g2 * (1 - self.s) / (2 * self.s))
        self.std = eta * math.sqrt(-dS)


def step_mean(coef, x, v):
    return coef.cx * x.double() + coef.cv * v.double()


def step_logprob(coef, x, v, x_next):
    """(B) float64: the mean over a sample's values of the Gaussian log-density of x_next."""
    d = x_next.double() - step_mean(coef, x, v)
    return -(d * d).flatten(1).mean(1) / (2 * coef.std ** 2) - math.log(coef.std) - LOG_SQRT_2PI


def grpo_microbatch(policy, reference, coef, x, x_next, logp_old, adv, count, clip_eps, kl_beta, ref_img, tokens,
                    v=None):
    """One group at one step: the clipped policy loss plus the KL to the reference, as grpo_group_step.
    v: the policy's velocity kept (with its graph) from the rollout, or None to recompute it.
    Returns (loss tensor (float64, differentiable), logp_new (G), kl_sum)."""
    G = x.shape[0]
    sigma = torch.full((G,), coef.s, dtype=torch.float32)
    if v is None:
        v = policy(x, sigma, ref_img, tokens)
    logp_new = step_logprob(coef, x, v, x_next)
    r = torch.exp(logp_new - logp_old.double())
    A = adv.double()
    unclipped = -A * r
    clipped = -A * r.clamp(1 - clip_eps, 1 + clip_eps)
    loss = torch.where(clipped > unclipped, clipped, unclipped).sum() / count
    kl_sum = torch.zeros((), dtype=torch.float64)
    if kl_beta > 0:
        with torch.no_grad():
            v_ref = reference(x, sigma, ref_img, tokens)
        k = coef.cv ** 2 / (2 * coef.std ** 2)
        kl = k * ((v.double() - v_ref.double()) ** 2).flatten(1).mean(1)
        kl_sum = kl.sum()
        loss = loss + kl_beta * kl_sum / count
    return loss, logp_new.detach(), float(kl_sum.detach())


def clip_grad_norm(params, max_norm):
    """cgrpo's clip_grad_norm: the global L2 norm (double); g *= max_norm / norm when norm > max_norm."""
    grads = [p.grad for p in params if p.grad is not None]
    norm = math.sqrt(sum(float((g.double() ** 2).sum()) for g in grads))
    if math.isfinite(norm) and norm > max_norm:
        torch._foreach_mul_(grads, max_norm / norm)
    return norm


def make_adamw(model, lr, betas, eps, weight_decay):
    named = list(model.named_parameters())
    groups = [{"params": [p for n, p in named if decays(n)], "weight_decay": weight_decay},
              {"params": [p for n, p in named if not decays(n)], "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=betas, eps=eps)


# Trainer defaults (src/rl/trainer.c, train_config_default); the twin's iteration mirrors them.
DEFAULTS = dict(pairs=4, group_size=8, steps=10, shift=3.0, eta=0.7, timestep_fraction=0.6, clip_eps=1e-4,
                kl_beta=1.0, lr=1e-4, beta1=0.9, beta2=0.999, adam_eps=1e-8, weight_decay=1e-4, grad_clip=1.0,
                gamma=0.4, adv_clamp=5.0)


def tdw_prompt_weight(i, N):
    t25 = ((2 * i + 1) * 25) // (2 * N)
    if t25 < 6:
        return 0.7
    if t25 >= 22:
        return 0.5
    return 0.3 + 0.4 * (1 - 1 / (1 + math.exp(-0.8 * (t25 - 10))))


def advantages(rewards, P, G, N, gamma, clamp):
    """SARS + TDW (the customized preset): rewards (2, P G) -> (P, G, N); rl/advantage.c."""
    r = rewards.double().view(2, P, G)
    z = (r - r.mean(2, keepdim=True)) / (r.std(2, keepdim=True) + 1e-8)  # unbiased std
    a_id, a_pr = z[0], z[1]
    t = torch.tanh(a_pr * a_id)
    bonus = torch.where((a_pr > 0) | (a_id > 0), gamma * t, -gamma * t)
    w_pr = torch.tensor([tdw_prompt_weight(i, N) for i in range(N)], dtype=torch.float64)
    adv = (1 - w_pr) * a_id[..., None] + w_pr * a_pr[..., None] + bonus[..., None]
    return adv.clamp(-clamp, clamp).float()


class GrpoTwin:
    """One GRPO iteration at the default config (docs/design.md, "One GRPO iteration").

    reuse (the default, as `cgrpo train`'s forward cache): the step subsets are drawn before the
    rollout, whose forwards of the trained steps run with autograd on and are kept, graph and all;
    the update then runs only their backward (exact: with one optimizer step per iteration the
    policy still has the rollout's weights). reuse=False recomputes each trained step's forward."""

    def __init__(self, model_path, seed=1, reuse=True):
        self.reuse = reuse
        self.policy, _, _ = load_dit(model_path)
        self.reference, _, _ = load_dit(model_path)
        for p in self.reference.parameters():
            p.requires_grad_(False)
        d = self.d = DEFAULTS
        self.P, self.G, self.N = d["pairs"], d["group_size"], d["steps"]
        self.K = max(1, min(self.N, int(math.floor(d["timestep_fraction"] * self.N + 1e-6))))
        self.sigmas = flow_sigmas(self.N, d["shift"])
        self.coefs = [StepCoef(self.sigmas, i, d["eta"]) for i in range(self.N)]
        self.opt = make_adamw(self.policy, d["lr"], (d["beta1"], d["beta2"]), d["adam_eps"], d["weight_decay"])
        self.gen = torch.Generator().manual_seed(seed)
        cf = self.policy.cfg
        self.shape = (cf["img"], cf["img"], cf["channels"])
        self.text_len, self.vocab = cf["text_len"], cf["vocab"]

    def inputs(self):
        """The P pairs' references and prompts, shared by the G rows of a group (random stand-ins)."""
        P, G = self.P, self.G
        refs = torch.rand((P, 1) + self.shape, generator=self.gen) * 2 - 1
        toks = torch.zeros(P, 1, self.text_len, dtype=torch.long)
        for p in range(P):
            words = 4 + int(torch.randint(0, 5, (1,), generator=self.gen))
            toks[p, 0, :words] = torch.randint(1, self.vocab, (words,), generator=self.gen)
        return refs.expand((P, G) + self.shape), toks.expand(P, G, self.text_len)

    def iteration(self):
        P, G, N, K, d = self.P, self.G, self.N, self.K, self.d
        t0 = time.perf_counter()
        refs, toks = self.inputs()
        # the steps each group trains (K of N, ascending), drawn first so the rollout knows them
        subsets = [sorted(torch.randperm(N, generator=self.gen)[:K].tolist()) for _ in range(P)]
        # 1. rollouts: one batch of G rows per group, every x_i and log-prob stored
        traj = torch.empty((P, N + 1, G) + self.shape)
        logp = torch.empty(P, N, G, dtype=torch.float64)
        kept = {}
        with torch.no_grad():
            for p in range(P):
                x = torch.randn((G,) + self.shape, generator=self.gen)  # own noise per sample
                traj[p, 0] = x
                for i, c in enumerate(self.coefs):
                    sigma = torch.full((G,), c.s)
                    if self.reuse and i in subsets[p]:
                        with torch.enable_grad():
                            kept[(p, i)] = self.policy(x, sigma, refs[p], toks[p])
                        v = kept[(p, i)].detach()
                    else:
                        v = self.policy(x, sigma, refs[p], toks[p])
                    e = torch.randn((G,) + self.shape, generator=self.gen)
                    x_next = (step_mean(c, x, v) + c.std * e.double()).float()
                    logp[p, i] = step_logprob(c, x, v, x_next)
                    traj[p, i + 1] = x = x_next
        t1 = time.perf_counter()
        # 2. rewards (RANDOM, the shape of cgrpo's (2, P G) scores), 3. advantages (SARS + TDW)
        rewards = 60 + 5 * torch.randn(2, P * G, generator=self.gen)
        adv = advantages(rewards, P, G, N, d["gamma"], d["adv_clamp"])
        t2 = time.perf_counter()
        # 5. update: K steps per group, one micro-batch per (group, step), one optimizer step
        self.opt.zero_grad(set_to_none=True)
        count = P * K * G
        loss_sum = 0.0
        for p in range(P):
            for i in subsets[p]:
                loss, _, _ = grpo_microbatch(self.policy, self.reference, self.coefs[i], traj[p, i], traj[p, i + 1],
                                             logp[p, i], adv[p, :, i], count, d["clip_eps"], d["kl_beta"], refs[p],
                                             toks[p], v=kept.pop((p, i), None))
                loss.backward()
                loss_sum += float(loss.detach())
        gn = clip_grad_norm(list(self.policy.parameters()), d["grad_clip"])
        self.opt.step()
        t3 = time.perf_counter()
        return {"t_rollout": t1 - t0, "t_reward": t2 - t1, "t_update": t3 - t2, "total": t3 - t0, "loss": loss_sum,
                "grad_norm": gn}


# ---- check --------------------------------------------------------------------------------------------

def rel(a, b):
    a, b = a.double().flatten(), b.double().flatten()
    nb = float(b.norm())
    return float((a - b).norm()) / nb if nb > 0 else float((a - b).norm())


def rel_many(pairs):
    """Relative error over the concatenation of (twin, cgrpo) pairs, and the worst single tensor."""
    num = sum(float((a.double() - b.double()).norm() ** 2) for _, a, b in pairs)
    den = sum(float(b.double().norm() ** 2) for _, _, b in pairs)
    worst = max(pairs, key=lambda t: rel(t[1], t[2]))
    return math.sqrt(num / den), worst[0], rel(worst[1], worst[2])


def cmd_check(args):
    D, meta = load_safetensors(args.file)
    model, base, _ = load_dit(args.model)
    res = {"blas_core": meta.get("blas.core")}

    # the generator: output and every parameter's gradient of sum(v * dv)
    tokens = D["gen.tokens"].long()
    v = model(D["gen.x"], D["gen.sigma"], D["gen.ref"], tokens, D["gen.drop_ref"] > 0, D["gen.drop_txt"] > 0)
    (v * D["gen.dv"]).sum().backward()
    res["generator_out"] = rel(v.detach(), D["gen.v"])
    g = [(n, p.grad, D["gen.grad." + n]) for n, p in model.named_parameters()]
    res["generator_grads"], worst, res["generator_grads_worst"] = rel_many(g)
    res["generator_grads_worst_tensor"] = worst
    model.zero_grad(set_to_none=True)

    # block 0 on the generator's embedded sequence: y, dx, dc and the weight gradients
    blk = model.blocks[0]
    x = D["block.x"].clone().requires_grad_(True)
    c = D["block.c"].clone().requires_grad_(True)
    y = blk(x, c, (D["block.mask"] > 0)[:, None, None, :])
    (y * D["block.dy"]).sum().backward()
    res["block_out"] = rel(y.detach(), D["block.y"])
    res["block_dx"] = rel(x.grad, D["block.dx"])
    res["block_dc"] = rel(c.grad, D["block.dc"])
    g = [(n, p.grad, D["block.grad." + n]) for n, p in blk.named_parameters()]
    res["block_grads"], worst, res["block_grads_worst"] = rel_many(g)
    res["block_grads_worst_tensor"] = worst
    model.zero_grad(set_to_none=True)

    # the GRPO pieces: the perturbed policy, the base as reference
    policy = DiT(model.cfg)
    policy.load_state_dict({k[len("grpo.policy."):]: t for k, t in D.items() if k.startswith("grpo.policy.")})
    reference = model
    for p in reference.parameters():
        p.requires_grad_(False)
    sig = D["grpo.sigmas"].tolist()
    eta = float(D["grpo.eta"])
    N = len(sig) - 1
    coefs = [StepCoef(sig, i, eta) for i in range(N)]
    traj, noise, logps = D["grpo.traj"], D["grpo.noise"], D["grpo.logprobs"]
    G = traj.shape[1]
    shape = (G,) + tuple(D["gen.x"].shape[1:])
    refs, toks = D["grpo.ref"], D["grpo.tokens"].long()
    xs = [traj[i].reshape(shape) for i in range(N + 1)]
    nxt, lps = [], []
    with torch.no_grad():
        for i, cf in enumerate(coefs):
            vv = policy(xs[i], torch.full((G,), cf.s), refs, toks)
            x_next = (step_mean(cf, xs[i], vv) + cf.std * noise[i].reshape(shape).double()).float()
            nxt.append((f"step {i}", x_next, xs[i + 1]))
            lps.append((f"step {i}", step_logprob(cf, xs[i], vv, xs[i + 1]), logps[i]))
    res["rollout_x_next"], res["rollout_x_next_worst_tensor"], res["rollout_x_next_worst"] = rel_many(nxt)
    res["rollout_logprob"], res["rollout_logprob_worst_tensor"], res["rollout_logprob_worst"] = rel_many(lps)

    i = int(D["grpo.step"])
    loss, logp_new, kl_sum = grpo_microbatch(policy, reference, coefs[i], xs[i], xs[i + 1], logps[i], D["grpo.adv"],
                                             int(D["grpo.count"]), float(D["grpo.clip_eps"]), float(D["grpo.kl_beta"]),
                                             refs, toks)
    loss.backward()
    res["grpo_loss"] = rel(loss.detach(), D["grpo.loss"])
    res["grpo_kl"] = rel(torch.tensor(kl_sum), D["grpo.kl_sum"])
    res["grpo_logp_new"] = rel(logp_new, D["grpo.logp_new"])
    g = [(n, p.grad, D["grpo.grad." + n]) for n, p in policy.named_parameters()]
    res["grpo_grads"], worst, res["grpo_grads_worst"] = rel_many(g)
    res["grpo_grads_worst_tensor"] = worst
    gn = clip_grad_norm(list(policy.parameters()), float(D["grpo.grad_clip"]))
    res["grad_norm"] = rel(torch.tensor(gn), D["grpo.grad_norm"])
    before = {n: p.detach().clone() for n, p in policy.named_parameters()}
    opt = make_adamw(policy, float(D["grpo.lr"]), (DEFAULTS["beta1"], DEFAULTS["beta2"]), DEFAULTS["adam_eps"],
                     float(D["grpo.weight_decay"]))
    opt.step()
    upd = [(n, p.detach() - before[n], D["grpo.adamw." + n] - before[n]) for n, p in policy.named_parameters()]
    res["adamw_update"], worst, res["adamw_update_worst"] = rel_many(upd)
    res["adamw_update_worst_tensor"] = worst

    print(f"twin check against cgrpo (relative error ||twin - cgrpo|| / ||cgrpo||; cgrpo's blas.core "
          f"{res['blas_core']}, torch {torch.__version__}):")
    rows = [("generator output v (B 8, 1 reference and 1 prompt dropped, PAD tokens)", "generator_out"),
            ("generator parameter gradients (all, one norm)", "generator_grads"),
            ("block 0 output y", "block_out"), ("block 0 dx", "block_dx"), ("block 0 dc", "block_dc"),
            ("block 0 parameter gradients", "block_grads"),
            ("SDE rollout x_{i+1} from cgrpo's x_i and noise (10 steps)", "rollout_x_next"),
            ("SDE rollout log-probs (10 steps)", "rollout_logprob"),
            ("GRPO micro-batch loss (clipped + KL)", "grpo_loss"), ("GRPO KL to the reference", "grpo_kl"),
            ("GRPO new log-probs", "grpo_logp_new"), ("GRPO parameter gradients", "grpo_grads"),
            ("gradient norm before the clip", "grad_norm"), ("AdamW update (clip 1, step 1)", "adamw_update")]
    for label, key in rows:
        extra = ""
        if key + "_worst" in res:
            extra = f"   (worst tensor {res[key + '_worst']:.2e}"
            extra += f" {res[key + '_worst_tensor']})" if key + "_worst_tensor" in res else ")"
        print(f"  {label:72s} {res[key]:.2e}{extra}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
    bad = [key for _, key in rows if not res[key] < args.tol]
    if bad:
        print(f"twin check: FAILED (above {args.tol:g}): {', '.join(bad)}")
        return 1
    print(f"twin check: every relative error is below {args.tol:g}")
    return 0


# ---- time ---------------------------------------------------------------------------------------------

def best_mean(fn, min_s, rounds=3):
    """Best of `rounds` rounds of the mean over >= min_s seconds, after one warm-up call."""
    fn()
    best = math.inf
    for _ in range(rounds):
        n, t0 = 0, time.perf_counter()
        while True:
            fn()
            n += 1
            el = time.perf_counter() - t0
            if el >= min_s:
                break
        best = min(best, el / n)
    return best


def cmd_time(args):
    model, _, _ = load_dit(args.model)
    cf = model.cfg
    B, S, CH = 8, cf["img"], cf["channels"]
    gen = torch.Generator().manual_seed(1234)
    x = torch.randn(B, S, S, CH, generator=gen)
    ref = torch.rand(B, S, S, CH, generator=gen) * 2 - 1
    dv = torch.randn(B, S, S, CH, generator=gen)
    sig = flow_sigmas(10, 3.0)
    sigma = torch.tensor([sig[b % 10] for b in range(B)])
    tokens = torch.zeros(B, cf["text_len"], dtype=torch.long)
    for b in range(B):
        w = 4 + b % 5
        tokens[b, :w] = torch.randint(1, cf["vocab"], (w,), generator=gen)
    with torch.no_grad():
        seq, c, mask = model.embed(x, sigma, ref, tokens)
    km = mask[:, None, None, :]
    blk = model.blocks[0]
    dy = torch.randn(seq.shape, generator=gen)
    out = {}

    def block_fwd():
        with torch.no_grad():
            blk(seq, c, km)

    xg, cg = seq.clone().requires_grad_(True), c.clone().requires_grad_(True)

    def block_fwd_bwd():
        xg.grad = cg.grad = None
        blk.zero_grad(set_to_none=True)
        blk(xg, cg, km).backward(dy)

    def generator_fwd():
        with torch.no_grad():
            model(x, sigma, ref, tokens)

    def generator_fwd_bwd():
        model.zero_grad(set_to_none=True)
        model(x, sigma, ref, tokens).backward(dv)

    for name, fn in [("block_fwd", block_fwd), ("block_fwd_bwd", block_fwd_bwd), ("generator_fwd", generator_fwd),
                     ("generator_fwd_bwd", generator_fwd_bwd)]:
        out[name] = best_mean(fn, args.min_s)
        print(f"torch {name:18s} {out[name] * 1e3:9.3f} ms  ({torch.get_num_threads()} threads)")
    res = {"threads": torch.get_num_threads(), "torch": torch.__version__, "min_s": args.min_s, "items": out}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
    return 0


def cmd_grpo(args):
    twin = GrpoTwin(args.model, reuse=not args.recompute)
    rows = []
    print("torch GRPO iteration at the default config ("
          + ("the update recomputes the trained steps' forwards" if args.recompute else
             "the update reuses the rollout's forwards of the trained steps, as cgrpo train does")
          + "); REWARDS ARE RANDOM NUMBERS of cgrpo's reward shape (2, P G), references and prompts random "
          "tensors of the rollout's shapes")
    for it in range(1, args.iters + 1):
        r = twin.iteration()
        rows.append(r)
        print(f"torch grpo iter {it}: rollout {r['t_rollout']:.2f} s, reward+advantages {r['t_reward']:.3f} s, "
              f"update {r['t_update']:.2f} s, total {r['total']:.2f} s (loss {r['loss']:.4g}, grad norm "
              f"{r['grad_norm']:.3g})")
    later = rows[1:] if len(rows) > 1 else rows  # the first pays for page faults and allocation
    mean = {k: sum(r[k] for r in later) / len(later) for k in ("t_rollout", "t_reward", "t_update", "total")}
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    res = {"threads": torch.get_num_threads(), "torch": torch.__version__, "iterations": rows, "mean_of_later": mean,
           "peak_rss_mib": rss_kib / 1024.0, "rewards": "random", "reuse_forwards": not args.recompute}
    print(f"torch grpo: mean of iterations {2 if len(rows) > 1 else 1}..{len(rows)}: {mean['total']:.2f} s; "
          f"peak RSS {rss_kib / 1024.0:.0f} MiB")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("command", choices=["check", "time", "grpo"])
    ap.add_argument("file", nargs="?", help="check: the dump of build/bench/bench_peer check")
    ap.add_argument("--model", default="models/base.safetensors")
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: torch's default)")
    ap.add_argument("--min-s", type=float, default=0.5)
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--recompute", action="store_true",
                    help="grpo: recompute the trained steps' forwards in the update instead of keeping the rollout's")
    ap.add_argument("--tol", type=float, default=1e-4, help="check: the largest relative error that passes")
    ap.add_argument("--json")
    args = ap.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(0)
    if args.command == "check":
        if not args.file:
            ap.error("check needs the dump file")
        return cmd_check(args)
    return cmd_time(args) if args.command == "time" else cmd_grpo(args)


if __name__ == "__main__":
    sys.exit(main())
