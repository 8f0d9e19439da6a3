#!/usr/bin/env python3
"""Golden values for test/diffusion/*.test.ts, computed independently of the TypeScript code.

How: numpy float64, vectorised closed forms (np.linspace, np.cumprod, cos^2 schedule), written
straight from the DDPM / improved-DDPM / DDIM / v-parameterisation formulas, not from src/.
Run:  python3 scripts/golden/diffusion_golden.py   (numpy >= 1.20; this file was generated with
numpy 2.4.6) -> test/diffusion/golden/diffusion_golden.json
"""
import json
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, '..', '..', 'test', 'diffusion', 'golden', 'diffusion_golden.json')


def linear_betas(T, start=1e-5, end=0.02):
    return np.linspace(start, end, T, dtype=np.float64)


def cosine_betas(T, s=0.008):
    x = np.linspace(0, T, T + 1, dtype=np.float64)
    ac = np.cos(((x / T) + s) / (1 + s) * np.pi * 0.5) ** 2
    ac = ac / ac[0]
    return np.clip(1 - ac[1:] / ac[:-1], 0, 0.999)


def derived(betas):
    alphas = 1.0 - betas
    ac = np.cumprod(alphas)
    acp = np.concatenate([[1.0], ac[:-1]])
    post_var = betas * (1 - acp) / (1 - ac)
    snr = ac / (1 - ac)
    return {
        'betas': betas,
        'alphasCumprod': ac,
        'alphasCumprodPrev': acp,
        'sqrtAlphasCumprod': np.sqrt(ac),
        'sqrtOneMinusAlphasCumprod': np.sqrt(1 - ac),
        'sqrtRecipAlphasCumprod': np.sqrt(1 / ac),
        'sqrtRecipm1AlphasCumprod': np.sqrt(1 / ac - 1),
        'posteriorVariance': post_var,
        'posteriorLogVarianceClipped': np.log(np.maximum(post_var, 1e-20)),
        'posteriorMeanCoef1': betas * np.sqrt(acp) / (1 - ac),
        'posteriorMeanCoef2': (1 - acp) * np.sqrt(alphas) / (1 - ac),
        'snr': snr,
        'weight_noise': np.ones_like(snr),
        'weight_x0': snr,
        'weight_v': snr / (snr + 1),
        'weight_v_minsnr5': np.minimum(snr, 5.0) / (snr + 1),
    }


def pick(arr, idx):
    return [float(arr[i]) for i in idx]


schedules = {}
for kind, fn in (('linear', linear_betas), ('cosine', cosine_betas)):
    for T in (1000, 500):
        d = derived(fn(T))
        idx = sorted({0, 1, 2, 10, 100, T // 2, T - 2, T - 1})
        schedules[f'{kind}{T}'] = {'kind': kind, 'T': T, 't': idx, **{k: pick(v, idx) for k, v in d.items()}}

# Conversions on a fixed small example: linear T = 500 (the GPD release's schedule).
d = derived(linear_betas(500))
x0 = np.array([[0.5, -1.2, 2.0], [0.0, 0.3, -0.7]])
noise = np.array([[1.1, -0.4, 0.25], [-1.5, 0.9, 0.05]])
t = np.array([3, 250])
col = lambda name: d[name][t][:, None]
xt = col('sqrtAlphasCumprod') * x0 + col('sqrtOneMinusAlphasCumprod') * noise
v = col('sqrtAlphasCumprod') * noise - col('sqrtOneMinusAlphasCumprod') * x0
x0_from_v = col('sqrtAlphasCumprod') * xt - col('sqrtOneMinusAlphasCumprod') * v
x0_from_noise = col('sqrtRecipAlphasCumprod') * xt - col('sqrtRecipm1AlphasCumprod') * noise
post_mean = col('posteriorMeanCoef1') * x0 + col('posteriorMeanCoef2') * xt
# The posterior mean in its other closed form (Ho et al. eq. 11): (x_t - beta/sqrt(1-abar) eps) / sqrt(alpha).
post_mean_eps = (xt - col('betas') / col('sqrtOneMinusAlphasCumprod') * noise) / np.sqrt(1 - col('betas'))
# A prediction x0_hat and the network outputs of each objective that imply it; weighted losses.
x0_hat = x0 + np.array([[0.1, -0.2, 0.05], [0.3, 0.0, -0.1]])
eps_hat = (col('sqrtRecipAlphasCumprod') * xt - x0_hat) / col('sqrtRecipm1AlphasCumprod')
v_hat = col('sqrtAlphasCumprod') * eps_hat - col('sqrtOneMinusAlphasCumprod') * x0_hat
w = lambda name: d[name][t]
losses = {
    'noise': float(np.mean(w('weight_noise') * np.mean((eps_hat - noise) ** 2, axis=1))),
    'x0': float(np.mean(w('weight_x0') * np.mean((x0_hat - x0) ** 2, axis=1))),
    'v': float(np.mean(w('weight_v') * np.mean((v_hat - v) ** 2, axis=1))),
}
conversions = {
    'T': 500, 'kind': 'linear', 't': t.tolist(), 'x0': x0.tolist(), 'noise': noise.tolist(), 'xt': xt.tolist(),
    'v': v.tolist(), 'x0_from_v': x0_from_v.tolist(), 'x0_from_noise': x0_from_noise.tolist(),
    'posterior_mean': post_mean.tolist(), 'posterior_mean_eps_form': post_mean_eps.tolist(),
    'x0_hat': x0_hat.tolist(), 'eps_hat': eps_hat.tolist(), 'v_hat': v_hat.tolist(), 'weighted_losses': losses,
}

# DDIM: visited steps for T = 500, S = 20 (evenly spaced on [-1, T-1], truncated) and one update's coefficients.
T, S = 500, 20
times = [int(np.trunc(-1 + k * T / S)) for k in range(S + 1)][::-1]
ddim = {'T': T, 'S': S, 'times': times, 'coefficients': []}
ac = d['alphasCumprod']
for (tt, tn) in [(499, 474), (274, 249), (24, -1), (1, 0)]:
    for eta in (0.0, 0.5, 1.0):
        a = ac[tt]
        an = 1.0 if tn < 0 else ac[tn]
        sigma = eta * np.sqrt((1 - an) / (1 - a) * (1 - a / an))
        ddim['coefficients'].append({
            't': tt, 'tNext': tn, 'eta': eta, 'sqrtAlphaNext': float(np.sqrt(an)), 'sigma': float(sigma),
            'dirCoef': float(np.sqrt(max(0.0, 1 - an - sigma ** 2))),
        })

facts = {
    'reference_T500_sqrt_alphas_cumprod_last': float(np.sqrt(derived(linear_betas(500))['alphasCumprod'][-1])),
    'reference_T1000_sqrt_alphas_cumprod_last': float(np.sqrt(derived(linear_betas(1000))['alphasCumprod'][-1])),
    'linear100_sqrt_alphas_cumprod_last': float(np.sqrt(derived(linear_betas(100))['alphasCumprod'][-1])),
}

out = {
    '_comment': 'Generated by scripts/golden/diffusion_golden.py with numpy float64 closed forms; do not edit by hand.',
    'numpy': np.__version__, 'schedules': schedules, 'conversions': conversions, 'ddim': ddim, 'facts': facts,
}
os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, 'w') as f:
    json.dump(out, f, indent=1)
    f.write('\n')
print('wrote', os.path.normpath(OUT))
print(json.dumps(facts))
