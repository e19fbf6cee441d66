/* NMR's edge sweep (renderer/nmr/sweep.py, Kato et al. 2018) in C: the crossings of the visible
 * faces' edges with the image's columns and rows, each giving an in run (across the face) and,
 * where the edge is visible, an out run (to the border); the runs are written bucketed by line
 * and summed line by line over a gathered copy of the line. Same formulas and operation order as
 * the torch path (sweep.py, runs.py), in float (nmr_sweep_f32) and double (nmr_sweep_f64); the
 * sums over a run's pixels are kept in double.
 *
 * Memory comes from a workspace the caller keeps between calls (fresh pages cost more than the
 * sums: about 1.3 us each); what does not fit is malloc'ed, and the size needed is reported.
 *
 * The file includes itself once per precision (REAL, SUF) so that the compiled library's cache
 * key, a hash of this file, covers every line of the kernel. */
#ifndef NMR_SWEEP_BODY

#pragma STDC FP_CONTRACT OFF   /* a * b + c rounded twice, as torch's separate ops */

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NMR_BLOCK 16            /* pixels per block (a power of 2, >= 8) of a line's upper bounds of A_P - g_P . r */
#define NMR_TILE 32             /* columns gathered together (the image is read a row at a time) */
#define NMR_FLUSH 8             /* live blocks a lane sums before it goes into the double sums */
#define NMR_HEAP 16
#define NMR_MAX_CHANNELS 16

/* the workspace: carved in order; what does not fit goes to malloc (freed by nmr_release) */
typedef struct {
    unsigned char *base;
    size_t size, used, need;
    void *heap[NMR_HEAP];
    int n_heap;
} nmr_arena;

static void *nmr_alloc(nmr_arena *ar, size_t bytes)
{
    void *p;
    bytes = (bytes + 63) / 64 * 64;
    ar->need += bytes;
    if (ar->base && ar->used + bytes <= ar->size) {
        p = ar->base + ar->used;
        ar->used += bytes;
        return p;
    }
    if (ar->n_heap == NMR_HEAP) return NULL;
    p = malloc(bytes);
    if (p) ar->heap[ar->n_heap++] = p;
    return p;
}

static void nmr_release(nmr_arena *ar)
{
    int i;
    for (i = 0; i < ar->n_heap; ++i) free(ar->heap[i]);
    ar->n_heap = 0;
}

static int64_t nmr_image_index(int64_t s, int64_t line, int64_t d1)
{   /* line layout (line, position) -> image pixel, row 0 at the top (runs.image_index) */
    return line < s ? (s - 1 - d1) * s + line : (s - 1 - (line - s)) * s + d1;
}

static int32_t *nmr_swept_faces(nmr_arena *ar, int64_t s, int64_t num_faces, const int64_t *fmap, int64_t *count)
{   /* the sorted ids of the faces visible in the face map */
    unsigned char *seen = nmr_alloc(ar, (size_t)(num_faces > 0 ? num_faces : 1));
    int32_t *ids;
    int64_t i, n = 0;
    if (!seen) return NULL;
    memset(seen, 0, (size_t)(num_faces > 0 ? num_faces : 1));
    for (i = 0; i < s * s; ++i)
        if (fmap[i] >= 0 && fmap[i] < num_faces && !seen[fmap[i]]) { seen[fmap[i]] = 1; ++n; }
    ids = nmr_alloc(ar, (size_t)(n > 0 ? n : 1) * sizeof(int32_t));
    if (ids) {
        n = 0;
        for (i = 0; i < num_faces; ++i)
            if (seen[i]) ids[n++] = (int32_t)i;
    }
    *count = n;
    return ids;
}

#define NMR_SWEEP_BODY
#define REAL float
#define SUF(name) name##_f32
#include __FILE__
#undef REAL
#undef SUF

#define REAL double
#define SUF(name) name##_f64
#include __FILE__
#undef REAL
#undef SUF

#else  /* ------------------------------------------------------------------- the kernel body */

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

/* NMR's dL/d(face corners) (sweep.sweep_gradient). s: image size; num_faces: F; tri: (F, 3, 2)
 * NDC corners; fmap: (S, S) visible face (-1 background); the image's channels and dL/dimage:
 * image0, grad0 (S, S, c0) then image1, grad1 (S, S, c1) (c0 >= 1; c1 = 0: none, the pointers
 * unused but valid; c0 + c1 <= NMR_MAX_CHANNELS); eps; swept: sorted ids of the faces to sweep (num_swept of them), or NULL for those in fmap;
 * out: (F, 3, 2), zeroed by the caller, gets the gradient; work: work_bytes of workspace (may be
 * NULL), *work_need gets the bytes this call wanted. Returns 0; -1 out of memory, -2 image too
 * large (S S >= 2^31) or too many channels; out is then untouched. */
int SUF(nmr_sweep)(int64_t s, int64_t num_faces, const REAL *tri, const int64_t *fmap, int64_t c0,
                   const REAL *image0, const REAL *grad0, int64_t c1, const REAL *image1, const REAL *grad1,
                   double eps_in, int64_t num_swept,
                   const int64_t *swept, REAL *out, void *work, int64_t work_bytes, int64_t *work_need)
{
    const REAL eps = (REAL)eps_in, two_over_s = (REAL)(2.0 / (double)s), fs = (REAL)s;
    const int64_t n_blocks = (s + NMR_BLOCK - 1) / NMR_BLOCK, padded = n_blocks * NMR_BLOCK;
    /* the gathered lines' stride: not a multiple of 4 KiB, or the tile's many streams of stores
     * would all fall in the same cache sets (3x slower gathers at 1024 pixels) */
    const int64_t stride = padded + NMR_BLOCK;
    const int64_t n_lines = 2 * s, c = c0 + c1;
    nmr_arena ar;
    int64_t i, j, t, ch, n_faces = num_swept, n_slots, n_tile = 1, busy;
    int32_t *faces, *fl;
    REAL *rast, *lines, *blocks, *pos;
    double *acc;
    SUF(nmr_run) *runs;
    int64_t *line_start, *fill;
    int status = -1;

    memset(&ar, 0, sizeof(ar));
    ar.base = work;
    ar.size = work && work_bytes > 0 ? (size_t)work_bytes : 0;
    if (s > 46340 || c0 < 1 || c1 < 0 || c > NMR_MAX_CHANNELS) { status = -2; goto done; }
    if (swept) {
        faces = nmr_alloc(&ar, (size_t)(n_faces > 0 ? n_faces : 1) * sizeof(int32_t));
        if (!faces) goto done;
        for (i = 0; i < n_faces; ++i) faces[i] = (int32_t)swept[i];
    } else {
        faces = nmr_swept_faces(&ar, s, num_faces, fmap, &n_faces);
        if (!faces) goto done;
    }
    acc = nmr_alloc(&ar, (size_t)(n_faces > 0 ? n_faces : 1) * 6 * sizeof(double));
    rast = nmr_alloc(&ar, (size_t)(n_faces > 0 ? n_faces : 1) * 6 * sizeof(REAL));
    line_start = nmr_alloc(&ar, (size_t)(n_lines + 1) * sizeof(int64_t));
    fill = nmr_alloc(&ar, (size_t)(n_lines + 1) * sizeof(int64_t));
    if (!acc || !rast || !line_start || !fill) goto done;
    memset(acc, 0, (size_t)(n_faces > 0 ? n_faces : 1) * 6 * sizeof(double));
    memset(line_start, 0, (size_t)(n_lines + 1) * sizeof(int64_t));

    /* ---- each face's raster corners, counter-clockwise (sweep._ccw_order, sweep.to_raster; a
     * clockwise face's corners 1 and 2 swap: its corner k is stored at 5 - k there), and an upper
     * bound of each line's runs: two per edge crossing */
    for (i = 0; i < n_faces; ++i) {
        const REAL *tf = tri + (int64_t)faces[i] * 6;
        REAL *r = rast + i * 6;
        const REAL e1x = tf[2] - tf[0], e1y = tf[3] - tf[1], e2x = tf[4] - tf[0], e2y = tf[5] - tf[1];
        const int cw = e1x * e2y - e1y * e2x < 0;
        int k, e, axis;
        for (k = 0; k < 3; ++k) {
            const int corner = cw && k ? 3 - k : k;
            r[k * 2] = (REAL)0.5 * (tf[corner * 2] * fs + fs - 1);
            r[k * 2 + 1] = (REAL)0.5 * (tf[corner * 2 + 1] * fs + fs - 1);
        }
        for (e = 0; e < 3; ++e) {
            for (axis = 0; axis < 2; ++axis) {
                const REAL p0s = r[e * 2 + axis], p1s = r[(e + 1) % 3 * 2 + axis];
                REAL lo_f = SUF(nmr_ceil)(p0s < p1s ? p0s : p1s), hi_f = SUF(nmr_floor)(p0s < p1s ? p1s : p0s);
                if (!(p0s != p1s)) continue;
                if (lo_f < 0) lo_f = 0;
                if (hi_f > fs - 1) hi_f = fs - 1;
                if (!(lo_f <= hi_f)) continue;           /* also NaN corners */
                line_start[axis * s + (int64_t)lo_f] += 2;
                line_start[axis * s + (int64_t)hi_f + 1] -= 2;
            }
        }
    }
    {   /* -> each line's first slot */
        int64_t level = 0, at = 0;
        for (i = 0; i < n_lines; ++i) {
            level += line_start[i];
            line_start[i] = at;
            fill[i] = at;
            at += level;
        }
        line_start[n_lines] = at;
        n_slots = at;
    }
    runs = nmr_alloc(&ar, (size_t)(n_slots > 0 ? n_slots : 1) * sizeof(SUF(nmr_run)));
    if (!runs) goto done;

    /* ---- the crossings (sweep._crossings) and their runs */
    for (i = 0; i < n_faces; ++i) {
        const int64_t face = faces[i];
        const REAL *r = rast + i * 6;
        const REAL *tf = tri + face * 6;
        const REAL e1x = tf[2] - tf[0], e1y = tf[3] - tf[1], e2x = tf[4] - tf[0], e2y = tf[5] - tf[1];
        const int cw = e1x * e2y - e1y * e2x < 0;
        int e, axis;
        for (e = 0; e < 3; ++e) {
            for (axis = 0; axis < 2; ++axis) {
                const int other = 1 - axis, comp = 1 - axis;
                const int e1 = (e + 1) % 3, e2 = (e + 2) % 3;
                const REAL p0s = r[e * 2 + axis], p1s = r[e1 * 2 + axis], p2s = r[e2 * 2 + axis];
                const REAL p0o = r[e * 2 + other], p1o = r[e1 * 2 + other], p2o = r[e2 * 2 + other];
                const int32_t slot0 = (int32_t)(i * 6 + (cw && e ? 3 - e : e) * 2 + comp);
                const int32_t slot1 = (int32_t)(i * 6 + (cw && e1 ? 3 - e1 : e1) * 2 + comp);
                const int direction = ((axis == 0) == (p0s < p1s)) ? -1 : 1;
                /* per edge, as torch computes them per crossing (same operands, same values) */
                const REAL slope = (p1o - p0o) / (p1s - p0s);
                const REAL slope02 = (p2o - p0o) / (p2s != p0s ? p2s - p0s : (REAL)1);
                const REAL slope12 = (p1o - p2o) / (p1s != p2s ? p1s - p2s : (REAL)1);
                REAL lo_f = SUF(nmr_ceil)(p0s < p1s ? p0s : p1s), hi_f = SUF(nmr_floor)(p0s < p1s ? p1s : p0s);
                int64_t d0, lo, hi;
                if (!(p0s != p1s)) continue;
                if (lo_f < 0) lo_f = 0;
                if (hi_f > fs - 1) hi_f = fs - 1;
                if (!(lo_f <= hi_f)) continue;
                lo = (int64_t)lo_f;
                hi = (int64_t)hi_f;
                for (d0 = lo; d0 <= hi; ++d0) {
                    const REAL d0f = (REAL)d0;
                    const REAL cross = slope * (d0f - p0s) + p0o;
                    const REAL in_f = direction > 0 ? SUF(nmr_floor)(cross) : SUF(nmr_ceil)(cross);
                    const REAL out_f = in_f + (REAL)direction;
                    const int has0 = p1s != d0f, has1 = p0s != d0f;
                    const int64_t line = axis * s + d0;
                    REAL cross2, limit_f, lever0, lever1;
                    int64_t d1_in, d1_out, limit, at_in, at_out, in_lo, in_hi;
                    if (!(in_f >= 0 && in_f < fs && out_f >= 0 && out_f < fs)) continue;
                    if (!has0 && !has1) continue;
                    d1_in = (int64_t)in_f;
                    d1_out = (int64_t)out_f;
                    at_in = nmr_image_index(s, line, d1_in);
                    at_out = nmr_image_index(s, line, d1_out);
                    lever0 = (p1s - p0s) / (has0 ? p1s - d0f : (REAL)1) * two_over_s;
                    lever1 = (p1s - p0s) / (has1 ? d0f - p0s : (REAL)1) * two_over_s;
                    /* the in run: from the edge to the face's opposite side along the line */
                    cross2 = (d0f - p0s) * (d0f - p2s) < 0 ? slope02 * (d0f - p0s) + p0o : slope12 * (d0f - p2s) + p2o;
                    limit_f = direction > 0 ? SUF(nmr_ceil)(cross2) : SUF(nmr_floor)(cross2);
                    if (!(limit_f >= -1)) limit_f = -1;          /* only min/max with d1_in in 0..S-1 */
                    if (limit_f > fs) limit_f = fs;
                    limit = (int64_t)limit_f;
                    in_lo = d1_in < limit ? d1_in : limit;
                    in_hi = d1_in < limit ? limit : d1_in;
                    if (in_lo < 0) in_lo = 0;
                    if (in_hi > s - 1) in_hi = s - 1;
                    if (in_lo <= in_hi) {
                        SUF(nmr_run) *run = runs + fill[line]++;
                        run->lo = (int32_t)in_lo; run->hi = (int32_t)in_hi;
                        run->slot0 = has0 ? slot0 : -1; run->slot1 = has1 ? slot1 : -1;
                        run->face = (int32_t)face; run->ref = (int32_t)at_out;          /* I_out */
                        run->cross = cross; run->lever0 = lever0; run->lever1 = lever1;
                        run->sign0 = run->sign1 = 0;
                    }
                    /* the out run, when the edge is visible: to the border, away from the face */
                    if (fmap[at_in] == face) {
                        SUF(nmr_run) *run = runs + fill[line]++;
                        run->lo = (int32_t)(direction > 0 ? d1_out : 0);
                        run->hi = (int32_t)(direction > 0 ? s - 1 : d1_out);
                        run->slot0 = has0 ? slot0 : -1; run->slot1 = has1 ? slot1 : -1;
                        run->face = -1; run->ref = (int32_t)at_in;                      /* I_in */
                        run->cross = cross;
                        run->lever0 = lever0 < 0 ? -lever0 : lever0;
                        run->lever1 = lever1 < 0 ? -lever1 : lever1;
                        run->sign0 = (REAL)(-((lever0 > 0) - (lever0 < 0)) * direction);
                        run->sign1 = (REAL)(-((lever1 > 0) - (lever1 < 0)) * direction);
                    }
                }
            }
        }
    }

    /* ---- the runs, line by line, from a gathered copy of the line; columns NMR_TILE at a time */
    lines = nmr_alloc(&ar, (size_t)(NMR_TILE * stride * (1 + c)) * sizeof(REAL));
    fl = nmr_alloc(&ar, (size_t)(NMR_TILE * stride) * sizeof(int32_t));
    pos = nmr_alloc(&ar, (size_t)padded * sizeof(REAL));
    blocks = nmr_alloc(&ar, (size_t)(n_blocks * (3 + 2 * c)) * sizeof(REAL));
    if (!lines || !fl || !pos || !blocks) goto done;
    for (j = 0; j < padded; ++j) pos[j] = (REAL)j;
    for (t = 0; t < NMR_TILE; ++t) {                    /* the last block's pixels past the border */
        for (j = s; j < padded; ++j) {
            lines[t * stride + j] = 0;
            fl[t * stride + j] = -1;
            for (ch = 0; ch < c; ++ch) lines[(NMR_TILE + t * c + ch) * stride + j] = 0;
        }
    }
    for (i = 0; i < n_lines; i += n_tile) {
        n_tile = i < s ? (s - i < NMR_TILE ? s - i : NMR_TILE) : 1;     /* columns never spill into rows */
        busy = 0;
        for (t = 0; t < n_tile; ++t) busy |= fill[i + t] > line_start[i + t];
        if (!busy) continue;
        if (c0 == 3 && c1 == 1)          /* the usual channel counts, unrolled */
            SUF(nmr_gather)(3, 1, s, i, n_tile, stride, image0, grad0, image1, grad1, fmap, lines, fl);
        else if (c0 == 3 && c1 == 0)
            SUF(nmr_gather)(3, 0, s, i, n_tile, stride, image0, grad0, image1, grad1, fmap, lines, fl);
        else if (c0 == 1 && c1 == 0)
            SUF(nmr_gather)(1, 0, s, i, n_tile, stride, image0, grad0, image1, grad1, fmap, lines, fl);
        else if (c0 == 4 && c1 == 0)
            SUF(nmr_gather)(4, 0, s, i, n_tile, stride, image0, grad0, image1, grad1, fmap, lines, fl);
        else
            SUF(nmr_gather)(c0, c1, s, i, n_tile, stride, image0, grad0, image1, grad1, fmap, lines, fl);
        for (t = 0; t < n_tile; ++t) {
            SUF(nmr_line) ln;
            if (fill[i + t] == line_start[i + t]) continue;
            ln.a = lines + t * stride;
            ln.g = lines + (NMR_TILE + t * c) * stride;
            ln.stride = stride;
            ln.fl = fl + t * stride;
            ln.pos = pos;
            ln.n_blocks = n_blocks;
            ln.bmax = blocks;
            ln.bgmin = blocks + n_blocks;
            ln.bgmax = blocks + n_blocks * (1 + c);
            ln.bound = blocks + n_blocks * (1 + 2 * c);
            ln.scale = ln.bound + n_blocks;
            SUF(nmr_block_max)(ln.a, n_blocks, blocks);
            for (ch = 0; ch < c; ++ch)
                SUF(nmr_block_minmax)(ln.g + ch * stride, n_blocks, blocks + n_blocks * (1 + ch),
                                      blocks + n_blocks * (1 + c + ch));
            SUF(nmr_line_runs)(runs, line_start[i + t], fill[i + t], image0, c0, image1, c1, eps, &ln, acc);
        }
    }
    for (i = 0; i < n_faces; ++i)
        for (j = 0; j < 6; ++j) out[(int64_t)faces[i] * 6 + j] = (REAL)acc[i * 6 + j];
    status = 0;
done:
    if (work_need) *work_need = (int64_t)ar.need;
    nmr_release(&ar);
    return status;
}

#endif
