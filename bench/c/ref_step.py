#!/usr/bin/env python3
"""Spec-literal, slow reference of docs/kernel.md for the configuration and workload of
bench/c/step.c (read its header comment). Written independently of step.c, straight
from the spec, unfused: the update of step t is applied right after step t.

    python3 bench/c/ref_step.py H B steps seed [dL_scale]

prints the same lines as `build/firmware/host/step dump H B steps seed dL_scale`, so

    diff <(python3 bench/c/ref_step.py 16 4 60 7 1e-3) <(build/firmware/host/step dump 16 4 60 7 1e-3)

must print nothing. Python ints are exact and floats are binary64, so nothing here
depends on the platform. Keep H*H*B*steps below ~1e7 (a few seconds).
"""
import json
import math
import re
import sys
from pathlib import Path

MASK64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15

# Configuration (bench/c/step.c): Q3.12 input/weight/pre/output, Q0.15 activity,
# 16-bit signed, nearest, sat; tanh; no mismatch; noise 4 LSB; lr 0.1; I = O = 1.
IF, WF, PF, AF, OF = 12, 12, 12, 15, 12
I, O = 1, 1
LO, HI = -32768, 32767
LR = 0.1
NOISE_LSB = 4.0


def mix64(z):
    z &= MASK64
    z ^= z >> 30
    z = (z * 0xBF58476D1CE4E5B9) & MASK64
    z ^= z >> 27
    z = (z * 0x94D049BB133111EB) & MASK64
    z ^= z >> 31
    return z


def key(seed, stream, a, b):
    return mix64(mix64(mix64(seed ^ ((stream * GOLDEN) & MASK64)) ^ a) ^ b)


SD = math.sqrt(4.0 * (65536.0 * 65536.0 - 1.0) / 12.0)


def gauss(sigma_lsb, h):
    scale = round(sigma_lsb * 4294967296.0 / SD)  # round(): ties to even
    s = sum((h >> (16 * k)) & 0xFFFF for k in range(4))
    return ((s - 131070) * scale + (1 << 31)) >> 32


def ovf(x):
    return LO if x < LO else HI if x > HI else x


def rshift(x, s):
    if s <= 0:
        return x << -s
    q = x >> s
    rem = x - (q << s)
    half = 1 << (s - 1)
    return q + 1 if rem > half or (rem == half and q & 1) else q


def requant(x, from_frac, to_frac):
    return ovf(rshift(x, from_frac - to_frac))


def wrap32(x):
    x &= 0xFFFFFFFF
    return x - (1 << 32) if x >= 1 << 31 else x


ROOT = Path(__file__).resolve().parents[2]
_src = (ROOT / 'assembly' / 'tanh-table.ts').read_text()
T = [int(v) for v in re.search(r'TANH_TABLE[^=]*=\s*\[([^\]]*)\]', _src).group(1).split(',') if v.strip()]
assert len(T) == 513


def act(a):
    if a < 0:
        return -act(-a)
    z = a << (16 - PF)
    k, f = z >> 10, z & 1023
    y = T[512] if k >= 512 else T[k] + (((T[k + 1] - T[k]) * f + 512) >> 10)
    return ovf(rshift(y, 15 - AF))


def fnv(h, codes):
    for c in codes:
        u = c & 0xFFFF
        h = ((h ^ (u & 0xFF)) * 0x100000001B3) & MASK64
        h = ((h ^ (u >> 8)) * 0x100000001B3) & MASK64
    return h


def flat(m):
    return [v for row in m for v in row]


def hashes(tag, t, W, R, V):
    off = 0xCBF29CE484222325
    allh = fnv(fnv(fnv(off, flat(W)), flat(R)), flat(V))
    return ('{"%s":true,"t":%d,"fnv1a64":"%016x","w":"%016x","r":"%016x","v":"%016x"}'
            % (tag, t, allh, fnv(off, flat(W)), fnv(off, flat(R)), fnv(off, flat(V))))


def main():
    H, B, K, seed = (int(a, 0) for a in sys.argv[1:5])
    dl_scale = float(sys.argv[5]) if len(sys.argv) > 5 else 1e-5
    M = 14 - (B - 1).bit_length()  # 14 - ceil(log2 B)
    sqrt_n = math.sqrt(I + H + O)
    F = max(IF, AF)

    sr = round(0.9 * 4096.0 / math.sqrt(H))
    sv = round(4096.0 / math.sqrt(H))
    W = [[gauss(4096.0, mix64(key(seed, 100, 0, 0) ^ (i * I + j))) for j in range(I)] for i in range(H)]
    R = [[gauss(sr, mix64(key(seed, 101, 0, 0) ^ (i * H + j))) for j in range(H)] for i in range(H)]
    V = [[gauss(sv, mix64(key(seed, 102, 0, 0) ^ (o * H + j))) for j in range(H)] for o in range(O)]
    r = [[0] * H for _ in range(B)]
    rn = [[0] * H for _ in range(B)]
    changed = [0, 0, 0]
    print(hashes('init', 0, W, R, V))

    def update(Wm, c, delta, pre, rows, cols):
        A = abs(c) * max(abs(d) for row in delta for d in row)
        if A == 0:
            return 0
        e = math.frexp(A)[1] - 1  # floor(log2 A), exact
        s = min(30, max(0, M - 1 - e))
        lim = 2 ** M - 1
        m = [[int(max(-lim, min(lim, round(c * delta[b][i] * 2.0 ** s)))) for i in range(rows)] for b in range(B)]
        n = 0
        for i in range(rows):
            for j in range(cols):
                p = sum(m[b][i] * pre[b][j] for b in range(B))
                w = ovf(Wm[i][j] + ovf(rshift(p, s)))  # the change is saturated to int16 first
                n += w != Wm[i][j]
                Wm[i][j] = w
        return n

    for t in range(K):
        x = [[gauss(2048.0, mix64(key(seed, 103, b, t) ^ j)) for j in range(I)] for b in range(B)]
        ys, yns, da, dy, r_new = [], [], [], [], []
        for b in range(B):
            nk = key(seed, 1, b, t)
            a, an = [], []
            for i in range(H):
                wx = wrap32(sum(W[i][j] * x[b][j] for j in range(I)))
                rc = wrap32(sum(R[i][j] * r[b][j] for j in range(H)))
                rnn = wrap32(sum(R[i][j] * rn[b][j] for j in range(H)))
                acc = wrap32((wx << (F - IF)) + (rc << (F - AF)))
                accn = wrap32((wx << (F - IF)) + (rnn << (F - AF)))
                a.append(requant(acc, WF + F, PF))
                an.append(ovf(requant(accn, WF + F, PF) + gauss(NOISE_LSB, mix64(nk ^ i))))
            rb = [act(v) for v in a]
            rnb = [act(v) for v in an]
            y = [requant(wrap32(sum(V[o][j] * rb[j] for j in range(H))), WF + AF, OF) for o in range(O)]
            yn = [ovf(requant(wrap32(sum(V[o][j] * rnb[j] for j in range(H))), WF + AF, OF)
                      + gauss(NOISE_LSB, mix64(nk ^ (H + o)))) for o in range(O)]
            da.append([an[i] - a[i] for i in range(H)])
            dy.append([yn[o] - y[o] for o in range(O)])
            r_new.append(rb)
            rn[b] = rnb
            ys += y
            yns += yn
        dL = float(gauss(4096.0, mix64(key(seed, 104, t, 0) ^ 0))) / 4096.0 * dl_scale
        print('{"t":%d,"y":%s,"yn":%s,"dL":%.17g}' % (t, json.dumps(ys, separators=(',', ':')),
                                                   json.dumps(yns, separators=(',', ':')), dL))
        Sh = sum(d * d for row in da for d in row)
        So = sum(d * d for row in dy for d in row)
        if Sh:
            cw = -LR * sqrt_n * dL * 2.0 ** (PF + WF - IF) / (B * Sh)
            cr = -LR * sqrt_n * dL * 2.0 ** (PF + WF - AF) / (B * Sh)
            changed[0] += update(W, cw, da, x, H, I)
            changed[1] += update(R, cr, da, r, H, H)  # presynaptic: clean activity before the step
        if So:
            cv = -LR * sqrt_n * dL * 2.0 ** (OF + WF - AF) / (B * So)
            changed[2] += update(V, cv, dy, r_new, O, H)  # presynaptic: clean activity after it
        r = r_new
    print(hashes('final', K, W, R, V))
    print('{"changed":{"w":%d,"r":%d,"v":%d}}' % tuple(changed))


if __name__ == '__main__':
    main()
