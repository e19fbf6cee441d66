/* NMR sweep kernel (nmr_sweep.c), per precision REAL / SUF: the runs of one gathered line. */

/* one run: pixels lo..hi of its line; face: -1 for an out run (to the border, every pixel), else
 * an in run's face (its pixels only); ref: the image pixel of its reference colour; the two lever
 * sums go to slot0 / slot1 of the swept faces' corners (-1: no such lever). In runs: lever0,
 * lever1 as they are; out runs: their magnitudes, and sign0, sign1 = -sign(lever) direction. */
typedef struct {
    int32_t lo, hi, slot0, slot1, face, ref;
    REAL cross, lever0, lever1, sign0, sign1;
} SUF(nmr_run);

/* floor and ceil without a libm call (SSE2 has no rounding instruction); exact for every finite
 * value, NaN and huge values go to libm */
static REAL SUF(nmr_floor)(REAL x)
{
    if (x > (REAL)-4e15 && x < (REAL)4e15) {
        REAL t = (REAL)(int64_t)x;
        return t > x ? t - 1 : t;
    }
    return (REAL)floor(x);
}

static REAL SUF(nmr_ceil)(REAL x)
{
    if (x > (REAL)-4e15 && x < (REAL)4e15) {
        REAL t = (REAL)(int64_t)x;
        return t < x ? t + 1 : t;
    }
    return (REAL)ceil(x);
}

/* The line's gathered copy: a (A_P), g (channel ch at g + ch * stride), fl (face map), pos (P as
 * a REAL); per block of NMR_BLOCK pixels: bmax (max A), bgmin, bgmax (min, max g_c at
 * + ch * n_blocks); bound, scale: room for a run's block bounds. */
typedef struct {
    const REAL *a, *g, *pos, *bmax, *bgmin, *bgmax;
    const int32_t *fl;
    REAL *bound, *scale;
    int64_t stride, n_blocks;
} SUF(nmr_line);

/* lanes (NMR_BLOCK, all >= 0) added pairwise to *sum, and zeroed */
static void SUF(nmr_flush)(REAL *lanes, double *sum)
{
    int64_t half, j;
    for (half = NMR_BLOCK / 2; half >= 4; half /= 2)
        for (j = 0; j < half; ++j) lanes[j] += lanes[j + half];
    *sum += (double)(lanes[0] + lanes[2]) + (double)(lanes[1] + lanes[3]);
    for (j = 0; j < NMR_BLOCK; ++j) lanes[j] = 0;
}

/* An out run's two sums: sum_P max(0, A_P - g_P . ref) / (m |P - cross| + eps), a block at a
 * time, skipping the blocks whose upper bound of A_P - g_P . ref (max A - sum_c min_P g_c ref_c)
 * is below zero by more than rounding: there no pixel can count (the sign gating). Inlined with
 * c a constant where it can be, so that the channel loops unroll and the pixel loop vectorises. */
static inline void SUF(nmr_out_run)(const int64_t c, const SUF(nmr_run) *run, const REAL *ref,
                                    const SUF(nmr_line) *ln, REAL eps, double *sum0, double *sum1)
{
    const int64_t b0 = run->lo / NMR_BLOCK, nb = run->hi / NMR_BLOCK - b0 + 1;
    const REAL cross = run->cross, m0 = run->lever0, m1 = run->lever1;
    const REAL lo = (REAL)run->lo, hi = (REAL)run->hi;
    REAL *bound = ln->bound, *scale = ln->scale;
    double s0 = 0.0, s1 = 0.0;
    REAL t0[NMR_BLOCK], t1[NMR_BLOCK];
    int64_t b, j, ch, live = 0;
    for (b = 0; b < nb; ++b) {
        bound[b] = ln->bmax[b0 + b];
        scale[b] = bound[b] < 0 ? -bound[b] : bound[b];
    }
    for (ch = 0; ch < c; ++ch) {
        const REAL r = ref[ch];
        const REAL *gs = (r >= 0 ? ln->bgmin : ln->bgmax) + ch * ln->n_blocks + b0;
        for (b = 0; b < nb; ++b) {
            const REAL low = gs[b] * r;
            bound[b] -= low;
            scale[b] += low < 0 ? -low : low;
        }
    }
    for (j = 0; j < NMR_BLOCK; ++j) t0[j] = t1[j] = 0;
    for (b = 0; b < nb; ++b) {
        const int64_t j0 = (b0 + b) * NMR_BLOCK;
        const REAL *a = ln->a + j0, *g = ln->g + j0, *pos = ln->pos + j0;
        if (bound[b] < (REAL)-1e-5 * scale[b]) continue;
        for (j = 0; j < NMR_BLOCK; ++j) {
            REAL w = a[j], u = pos[j] - cross, wp;
            for (ch = 0; ch < c; ++ch) w = w - g[ch * ln->stride + j] * ref[ch];   /* runs._weights' order */
            wp = w > 0 && pos[j] >= lo && pos[j] <= hi ? w : 0;
            u = u < 0 ? -u : u;
            t0[j] += wp / (m0 * u + eps);                 /* terms >= 0, a sum per lane */
            t1[j] += wp / (m1 * u + eps);
        }
        if (++live == NMR_FLUSH) {                       /* lanes summed pairwise into the double sums */
            SUF(nmr_flush)(t0, &s0);
            SUF(nmr_flush)(t1, &s1);
            live = 0;
        }
    }
    if (live) {
        SUF(nmr_flush)(t0, &s0);
        SUF(nmr_flush)(t1, &s1);
    }
    *sum0 = s0;
    *sum1 = s1;
}

/* An in run's two sums (runs.in_run_sums: offset = (lo - cross) + step, NMR's signed distance
 * pushed away from 0 by eps), over this face's pixels only; negated. */
static void SUF(nmr_in_run)(int64_t c, const SUF(nmr_run) *run, const REAL *ref, const SUF(nmr_line) *ln,
                            REAL eps, double *sum0, double *sum1)
{
    const REAL near = ln->pos[run->lo] - run->cross;
    double s0 = 0.0, s1 = 0.0;
    int64_t j, ch;
    for (j = run->lo; j <= run->hi; ++j) {
        REAL w = ln->a[j], offset, dist;
        if (ln->fl[j] != run->face) continue;
        for (ch = 0; ch < c; ++ch) w = w - ln->g[ch * ln->stride + j] * ref[ch];
        if (!(w > 0)) continue;
        offset = near + ln->pos[j - run->lo];
        dist = run->lever0 * offset;
        dist = dist > 0 ? dist + eps : dist - eps;
        s0 += (double)(w / dist);
        dist = run->lever1 * offset;
        dist = dist > 0 ? dist + eps : dist - eps;
        s1 += (double)(w / dist);
    }
    *sum0 = -(double)(REAL)s0;
    *sum1 = -(double)(REAL)s1;
}

static void SUF(nmr_line_runs)(const SUF(nmr_run) *runs, int64_t first, int64_t stop, const REAL *image0,
                               int64_t c0, const REAL *image1, int64_t c1, REAL eps, const SUF(nmr_line) *ln,
                               double *acc)
{
    const int64_t c = c0 + c1;
    int64_t k, ch;
    for (k = first; k < stop; ++k) {
        const SUF(nmr_run) *run = runs + k;
        REAL ref[NMR_MAX_CHANNELS];
        double s0, s1;
        for (ch = 0; ch < c0; ++ch) ref[ch] = image0[(int64_t)run->ref * c0 + ch];
        for (ch = 0; ch < c1; ++ch) ref[c0 + ch] = image1[(int64_t)run->ref * c1 + ch];
        if (run->face >= 0) {
            SUF(nmr_in_run)(c, run, ref, ln, eps, &s0, &s1);
        } else {
            switch (c) {                 /* the usual channel counts, unrolled */
            case 1: SUF(nmr_out_run)(1, run, ref, ln, eps, &s0, &s1); break;
            case 3: SUF(nmr_out_run)(3, run, ref, ln, eps, &s0, &s1); break;
            case 4: SUF(nmr_out_run)(4, run, ref, ln, eps, &s0, &s1); break;
            default: SUF(nmr_out_run)(c, run, ref, ln, eps, &s0, &s1); break;
            }
            s0 = (double)((REAL)s0 * run->sign0);
            s1 = (double)((REAL)s1 * run->sign1);
        }
        if (run->slot0 >= 0) acc[run->slot0] += s0;
        if (run->slot1 >= 0) acc[run->slot1] += s1;
    }
}

/* the largest and the smallest of each block of NMR_BLOCK values, pairwise (vectorised) */
static void SUF(nmr_block_max)(const REAL *x, int64_t n_blocks, REAL *top)
{
    int64_t b, k;
    for (b = 0; b < n_blocks; ++b) {
        const REAL *xb = x + b * NMR_BLOCK;
        REAL h[NMR_BLOCK / 2];
        int64_t half;
        for (k = 0; k < NMR_BLOCK / 2; ++k) h[k] = xb[k] > xb[k + NMR_BLOCK / 2] ? xb[k] : xb[k + NMR_BLOCK / 2];
        for (half = NMR_BLOCK / 4; half >= 1; half /= 2)
            for (k = 0; k < half; ++k) h[k] = h[k] > h[k + half] ? h[k] : h[k + half];
        top[b] = h[0];
    }
}

static void SUF(nmr_block_minmax)(const REAL *x, int64_t n_blocks, REAL *low, REAL *top)
{
    int64_t b, k;
    for (b = 0; b < n_blocks; ++b) {
        const REAL *xb = x + b * NMR_BLOCK;
        REAL l[NMR_BLOCK / 2], h[NMR_BLOCK / 2];
        int64_t half;
        for (k = 0; k < NMR_BLOCK / 2; ++k) {
            const REAL p = xb[k], q = xb[k + NMR_BLOCK / 2];
            l[k] = p < q ? p : q;
            h[k] = p > q ? p : q;
        }
        for (half = NMR_BLOCK / 4; half >= 1; half /= 2)
            for (k = 0; k < half; ++k) {
                l[k] = l[k] < l[k + half] ? l[k] : l[k + half];
                h[k] = h[k] > h[k + half] ? h[k] : h[k + half];
            }
        low[b] = l[0];
        top[b] = h[0];
    }
}

/* Gather lines i .. i + n_tile - 1 (columns from the bottom row up, or one row from the bottom)
 * into lines: A_P (as torch's (image * grad).sum(-1), the channels of image0 then image1's) of
 * line t at t * stride, g_c at (NMR_TILE + t c + ch) * stride; the face map into fl. Inlined with
 * c0, c1 constants where it can. */
static inline void SUF(nmr_gather)(const int64_t c0, const int64_t c1, int64_t s, int64_t i, int64_t n_tile,
                                   int64_t stride, const REAL *image0, const REAL *grad0, const REAL *image1,
                                   const REAL *grad1, const int64_t *fmap, REAL *lines, int32_t *fl)
{
    const int64_t c = c0 + c1;
    int64_t j, t, ch;
    for (j = 0; j < s; ++j) {
        const int64_t first = i < s ? (s - 1 - j) * s + i : (s - 1 - (i - s)) * s + j;
        for (t = 0; t < n_tile; ++t) {
            const int64_t p = first + t;
            const REAL *im0 = image0 + p * c0, *gr0 = grad0 + p * c0;
            const REAL *im1 = image1 + p * c1, *gr1 = grad1 + p * c1;
            REAL d = im0[0] * gr0[0];
            for (ch = 1; ch < c0; ++ch) d = d + im0[ch] * gr0[ch];
            for (ch = 0; ch < c1; ++ch) d = d + im1[ch] * gr1[ch];
            lines[t * stride + j] = d;
            fl[t * stride + j] = (int32_t)fmap[p];
            for (ch = 0; ch < c0; ++ch) lines[(NMR_TILE + t * c + ch) * stride + j] = gr0[ch];
            for (ch = 0; ch < c1; ++ch) lines[(NMR_TILE + t * c + c0 + ch) * stride + j] = gr1[ch];
        }
    }
}
