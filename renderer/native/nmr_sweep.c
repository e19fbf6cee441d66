/* NMR's edge sweep (renderer/nmr/sweep.py, Kato et al. 2018) as one pass in C: the crossings of
 * the visible faces' edges with the image's columns and rows, the in runs summed as they are
 * found, the out runs bucketed by line and summed line by line over a gathered copy of the line.
 * Same formulas and the same operation order as the torch path (sweep.py, runs.py), in float
 * (nmr_sweep_f32) and double (nmr_sweep_f64); the sums over a run's pixels are kept in double.
 *
 * The file includes itself once per precision (REAL, SUF) so that the compiled library's cache
 * key, a hash of this file, covers every line of the kernel. */
#ifndef NMR_SWEEP_BODY

#pragma STDC FP_CONTRACT OFF   /* a * b + c rounded twice, as torch's separate ops */

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NMR_BLOCK 16            /* pixels per block of a line's upper bounds of A_P - g_P . r */

/* one run: pixels lo..hi of its line; face: -1 for an out run (to the border, every pixel),
 * else an in run's face (its pixels only); the reference colour at image pixel ref; the two lever
 * sums go to slot0 / slot1 of the swept faces' corners (-1: no such lever) */
typedef struct {
    int32_t line, lo, hi, slot0, slot1, face;
    int64_t ref;
} nmr_run;

static int64_t nmr_image_index(int64_t s, int64_t line, int64_t d1)
{   /* line layout (line, position) -> image pixel, row 0 at the top (runs.image_index) */
    return line < s ? (s - 1 - d1) * s + line : (s - 1 - (line - s)) * s + d1;
}

static int32_t *nmr_swept_faces(int64_t s, int64_t num_faces, const int64_t *fmap, int64_t *count)
{   /* the sorted ids of the faces visible in the face map */
    unsigned char *seen = calloc((size_t)(num_faces > 0 ? num_faces : 1), 1);
    int32_t *ids;
    int64_t i, n = 0;
    if (!seen) return NULL;
    for (i = 0; i < s * s; ++i)
        if (fmap[i] >= 0 && fmap[i] < num_faces && !seen[fmap[i]]) { seen[fmap[i]] = 1; ++n; }
    ids = malloc((size_t)(n > 0 ? n : 1) * sizeof(int32_t));
    if (ids) {
        n = 0;
        for (i = 0; i < num_faces; ++i)
            if (seen[i]) ids[n++] = (int32_t)i;
    }
    free(seen);
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

/* The runs of one line, from its gathered copy: a (A_P), g (channel ch at g + ch * stride), fl
 * (face map), pos (P as a REAL); bmax, bgmin, bgmax: per block of NMR_BLOCK pixels, max A and
 * min / max g by channel (bgmin + ch * n_blocks). Sums go to acc. */
static void SUF(nmr_line_runs)(const nmr_run *runs, int64_t first, int64_t stop,
                               const REAL *run_real, const REAL *image, int64_t c, REAL eps,
                               const REAL *a, const REAL *g, int64_t stride, const int32_t *fl, const REAL *pos,
                               const REAL *bmax, const REAL *bgmin, const REAL *bgmax, int64_t n_blocks,
                               REAL *bound, REAL *scale, double *acc)
{
    int64_t k, b, j, ch;
    for (k = first; k < stop; ++k) {
        const nmr_run *run = runs + k;
        const REAL *rr = run_real + k * 5, *ref = image + run->ref * c;
        const REAL cross = rr[0], m0 = rr[1], m1 = rr[2];
        double s0 = 0.0, s1 = 0.0;
        if (run->face >= 0) {
            /* in run: this face's pixels, NMR's signed distance pushed away from 0 by eps
             * (runs.in_run_sums: offset = (lo - cross) + step) */
            const REAL near = pos[run->lo] - cross;
            for (j = run->lo; j <= run->hi; ++j) {
                REAL w = a[j], offset, dist;
                if (fl[j] != run->face) continue;
                for (ch = 0; ch < c; ++ch) w = w - g[ch * stride + j] * ref[ch];
                if (!(w > 0)) continue;
                offset = near + pos[j - run->lo];
                dist = m0 * offset;
                dist = dist > 0 ? dist + eps : dist - eps;
                s0 += (double)(w / dist);
                dist = m1 * offset;
                dist = dist > 0 ? dist + eps : dist - eps;
                s1 += (double)(w / dist);
            }
            if (run->slot0 >= 0) acc[run->slot0] -= (double)(REAL)s0;
            if (run->slot1 >= 0) acc[run->slot1] -= (double)(REAL)s1;
            continue;
        }
        {
            /* out run: sum_P max(0, A_P - g_P . ref) / (m |P - cross| + eps), a block at a time,
             * skipping the blocks whose upper bound of A_P - g_P . ref (max A - sum_c min_P g_c
             * ref_c) is below zero by more than rounding: there no pixel can count */
            const int64_t b0 = run->lo / NMR_BLOCK, b1 = run->hi / NMR_BLOCK, nb = b1 - b0 + 1;
            (void)n_blocks;
            for (b = 0; b < nb; ++b) {
                bound[b] = bmax[b0 + b];
                scale[b] = bound[b] < 0 ? -bound[b] : bound[b];
            }
            for (ch = 0; ch < c; ++ch) {
                const REAL r = ref[ch];
                const REAL *gs = (r >= 0 ? bgmin : bgmax) + ch * n_blocks + b0;
                for (b = 0; b < nb; ++b) {
                    const REAL low = gs[b] * r;
                    bound[b] -= low;
                    scale[b] += low < 0 ? -low : low;
                }
            }
            for (b = 0; b < nb; ++b) {
                const int64_t j0 = (b0 + b) * NMR_BLOCK;
                REAL w[NMR_BLOCK], t0[NMR_BLOCK], t1[NMR_BLOCK];
                if (bound[b] < (REAL)-1e-5 * scale[b]) continue;
                for (j = 0; j < NMR_BLOCK; ++j) w[j] = a[j0 + j];
                for (ch = 0; ch < c; ++ch) {
                    const REAL *gc = g + ch * stride + j0, r = ref[ch];
                    for (j = 0; j < NMR_BLOCK; ++j) w[j] = w[j] - gc[j] * r;
                }
                if (j0 < run->lo)                         /* the run's first and last block */
                    for (j = 0; j < run->lo - j0; ++j) w[j] = 0;
                if (j0 + NMR_BLOCK - 1 > run->hi)
                    for (j = run->hi - j0 + 1; j < NMR_BLOCK; ++j) w[j] = 0;
                for (j = 0; j < NMR_BLOCK; ++j) {         /* vectorised: no branch */
                    REAL u = pos[j0 + j] - cross;
                    const REAL wp = w[j] > 0 ? w[j] : 0;
                    u = u < 0 ? -u : u;
                    t0[j] = wp / (m0 * u + eps);
                    t1[j] = wp / (m1 * u + eps);
                }
                /* the block's terms (all >= 0) added pairwise */
                for (j = 0; j < NMR_BLOCK / 2; ++j) { t0[j] += t0[j + NMR_BLOCK / 2]; t1[j] += t1[j + NMR_BLOCK / 2]; }
                for (j = 0; j < NMR_BLOCK / 4; ++j) { t0[j] += t0[j + NMR_BLOCK / 4]; t1[j] += t1[j + NMR_BLOCK / 4]; }
                for (j = 0; j < NMR_BLOCK / 8; ++j) { t0[j] += t0[j + NMR_BLOCK / 8]; t1[j] += t1[j + NMR_BLOCK / 8]; }
                s0 += (double)t0[0] + (double)t0[1];
                s1 += (double)t1[0] + (double)t1[1];
            }
            if (run->slot0 >= 0) acc[run->slot0] += (double)((REAL)s0 * rr[3]);
            if (run->slot1 >= 0) acc[run->slot1] += (double)((REAL)s1 * rr[4]);
        }
    }
}

static int SUF(nmr_push)(nmr_run **runs, REAL **run_real, int64_t *n, int64_t *cap)
{
    if (*n == *cap) {
        const int64_t grow = *cap ? 2 * *cap : 4096;
        nmr_run *r = realloc(*runs, (size_t)grow * sizeof(nmr_run));
        REAL *q;
        if (!r) return -1;
        *runs = r;
        q = realloc(*run_real, (size_t)grow * 5 * sizeof(REAL));
        if (!q) return -1;
        *run_real = q;
        *cap = grow;
    }
    return 0;
}

/* NMR's dL/d(face corners) (sweep.sweep_gradient). s: image size; c: channels; num_faces: F;
 * tri: (F, 3, 2) NDC corners; fmap: (S, S) visible face (-1 background); image, grad: (S, S, C);
 * eps; swept: sorted ids of the faces to sweep (num_swept of them), or NULL for those in fmap;
 * out: (F, 3, 2), zeroed by the caller, gets the gradient. Returns 0, or -1 when out of memory
 * (out is then untouched). */
int SUF(nmr_sweep)(int64_t s, int64_t c, int64_t num_faces, const REAL *tri, const int64_t *fmap,
                   const REAL *image, const REAL *grad, double eps_in, int64_t num_swept,
                   const int64_t *swept, REAL *out)
{
    const REAL eps = (REAL)eps_in, two_over_s = (REAL)(2.0 / (double)s), fs = (REAL)s;
    const int64_t n_blocks = (s + NMR_BLOCK - 1) / NMR_BLOCK, padded = n_blocks * NMR_BLOCK;
    int64_t i, j, ch, n_faces = num_swept, n_runs = 0, cap_runs = 0;
    int32_t *faces = NULL, *fl = NULL;
    REAL *dot = NULL, *run_real = NULL, *lines = NULL, *blocks = NULL, *pos = NULL;
    double *acc = NULL;
    nmr_run *runs = NULL;
    int64_t *line_start = NULL;
    int status = -1;

    if (swept) {
        faces = malloc((size_t)(n_faces > 0 ? n_faces : 1) * sizeof(int32_t));
        if (!faces) goto done;
        for (i = 0; i < n_faces; ++i) faces[i] = (int32_t)swept[i];
    } else {
        faces = nmr_swept_faces(s, num_faces, fmap, &n_faces);
        if (!faces) goto done;
    }
    dot = malloc((size_t)(s * s) * sizeof(REAL));
    acc = calloc((size_t)(n_faces > 0 ? n_faces : 1) * 6, sizeof(double));
    if (!dot || !acc) goto done;
    for (i = 0; i < s * s; ++i) {           /* A_P = sum_c I_c g_c */
        REAL d = image[i * c] * grad[i * c];
        for (ch = 1; ch < c; ++ch) d = d + image[i * c + ch] * grad[i * c + ch];
        dot[i] = d;
    }

    /* ---- the crossings (sweep._crossings) and their runs: an in run for every crossing whose
     * face reaches along the line, an out run for every visible one */
    for (i = 0; i < n_faces; ++i) {
        const int64_t face = faces[i];
        const REAL *t = tri + face * 6;
        REAL r[3][2];
        int corner[3] = {0, 1, 2}, e, axis, k;
        REAL e1x = t[2] - t[0], e1y = t[3] - t[1], e2x = t[4] - t[0], e2y = t[5] - t[1];
        if (e1x * e2y - e1y * e2x < 0) { corner[1] = 2; corner[2] = 1; }   /* counter-clockwise */
        for (k = 0; k < 3; ++k) {
            r[k][0] = (REAL)0.5 * (t[corner[k] * 2] * fs + fs - 1);        /* sweep.to_raster */
            r[k][1] = (REAL)0.5 * (t[corner[k] * 2 + 1] * fs + fs - 1);
        }
        for (e = 0; e < 3; ++e) {
            for (axis = 0; axis < 2; ++axis) {
                const int other = 1 - axis, comp = 1 - axis;
                const REAL p0s = r[e][axis], p1s = r[(e + 1) % 3][axis], p2s = r[(e + 2) % 3][axis];
                const REAL p0o = r[e][other], p1o = r[(e + 1) % 3][other], p2o = r[(e + 2) % 3][other];
                const int32_t slot0 = (int32_t)(i * 6 + corner[e] * 2 + comp);
                const int32_t slot1 = (int32_t)(i * 6 + corner[(e + 1) % 3] * 2 + comp);
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
                if (!(lo_f <= hi_f)) continue;           /* also NaN corners */
                lo = (int64_t)lo_f;
                hi = (int64_t)hi_f;
                for (d0 = lo; d0 <= hi; ++d0) {
                    const REAL d0f = (REAL)d0;
                    const REAL cross = slope * (d0f - p0s) + p0o;
                    const REAL in_f = direction > 0 ? SUF(nmr_floor)(cross) : SUF(nmr_ceil)(cross);
                    const REAL out_f = in_f + (REAL)direction;
                    const int has0 = p1s != d0f, has1 = p0s != d0f;
                    REAL cross2, limit_f, lever0, lever1;
                    int64_t d1_in, d1_out, limit, line, at_in, at_out, in_lo, in_hi;
                    if (!(in_f >= 0 && in_f < fs && out_f >= 0 && out_f < fs)) continue;
                    if (!has0 && !has1) continue;
                    d1_in = (int64_t)in_f;
                    d1_out = (int64_t)out_f;
                    line = axis * s + d0;
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
                        nmr_run *run;
                        REAL *rr;
                        if (SUF(nmr_push)(&runs, &run_real, &n_runs, &cap_runs)) goto done;
                        run = runs + n_runs;
                        rr = run_real + n_runs * 5;
                        run->line = (int32_t)line; run->lo = (int32_t)in_lo; run->hi = (int32_t)in_hi;
                        run->slot0 = has0 ? slot0 : -1; run->slot1 = has1 ? slot1 : -1;
                        run->face = (int32_t)face; run->ref = at_out;          /* I_out */
                        rr[0] = cross; rr[1] = lever0; rr[2] = lever1; rr[3] = rr[4] = 0;
                        ++n_runs;
                    }
                    /* the out run, when the edge is visible: to the border, away from the face */
                    if (fmap[at_in] == face) {
                        nmr_run *run;
                        REAL *rr;
                        if (SUF(nmr_push)(&runs, &run_real, &n_runs, &cap_runs)) goto done;
                        run = runs + n_runs;
                        rr = run_real + n_runs * 5;
                        run->line = (int32_t)line;
                        run->lo = (int32_t)(direction > 0 ? d1_out : 0);
                        run->hi = (int32_t)(direction > 0 ? s - 1 : d1_out);
                        run->slot0 = has0 ? slot0 : -1; run->slot1 = has1 ? slot1 : -1;
                        run->face = -1; run->ref = at_in;                      /* I_in */
                        /* cross, |lever0|, |lever1|, and each sum's sign: -sign(lever) direction */
                        rr[0] = cross;
                        rr[1] = lever0 < 0 ? -lever0 : lever0;
                        rr[2] = lever1 < 0 ? -lever1 : lever1;
                        rr[3] = (REAL)(-((lever0 > 0) - (lever0 < 0)) * direction);
                        rr[4] = (REAL)(-((lever1 > 0) - (lever1 < 0)) * direction);
                        ++n_runs;
                    }
                }
            }
        }
    }

    /* ---- the runs, line by line (bucketed by a counting sort), from a gathered copy of the line */
    {
        const int64_t n_lines = 2 * s;
        REAL *a_line, *g_line, *bmax, *bgmin, *bgmax, *bound, *scale;
        line_start = calloc((size_t)(n_lines + 1), sizeof(int64_t));
        lines = malloc((size_t)(padded * (1 + c)) * sizeof(REAL));
        fl = malloc((size_t)padded * sizeof(int32_t));
        pos = malloc((size_t)padded * sizeof(REAL));
        blocks = malloc((size_t)(n_blocks * (3 + 2 * c)) * sizeof(REAL));
        if (!line_start || !lines || !fl || !pos || !blocks) goto done;
        a_line = lines;
        g_line = lines + padded;
        bmax = blocks;
        bgmin = blocks + n_blocks;
        bgmax = bgmin + n_blocks * c;
        bound = bgmax + n_blocks * c;
        scale = bound + n_blocks;
        for (j = 0; j < padded; ++j) pos[j] = (REAL)j;
        for (j = s; j < padded; ++j) {                    /* the last block's pixels past the border */
            a_line[j] = 0;
            fl[j] = -1;
            for (ch = 0; ch < c; ++ch) g_line[ch * padded + j] = 0;
        }
        for (i = 0; i < n_runs; ++i) ++line_start[runs[i].line + 1];
        for (i = 0; i < n_lines; ++i) line_start[i + 1] += line_start[i];
        {   /* the runs moved into line order: the line loop then reads them in sequence */
            int64_t *fill = malloc((size_t)n_lines * sizeof(int64_t));
            nmr_run *sorted = malloc((size_t)(n_runs > 0 ? n_runs : 1) * sizeof(nmr_run));
            REAL *sorted_real = malloc((size_t)(n_runs > 0 ? n_runs : 1) * 5 * sizeof(REAL));
            if (!fill || !sorted || !sorted_real) { free(fill); free(sorted); free(sorted_real); goto done; }
            memcpy(fill, line_start, (size_t)n_lines * sizeof(int64_t));
            for (i = 0; i < n_runs; ++i) {
                const int64_t at = fill[runs[i].line]++;
                sorted[at] = runs[i];
                memcpy(sorted_real + at * 5, run_real + i * 5, 5 * sizeof(REAL));
            }
            free(fill);
            free(runs);
            free(run_real);
            runs = sorted;
            run_real = sorted_real;
        }
        for (i = 0; i < n_lines; ++i) {
            int64_t b;
            if (line_start[i] == line_start[i + 1]) continue;
            if (i < s) {                                  /* column i, from the bottom row up */
                for (j = 0; j < s; ++j) {
                    const int64_t p = (s - 1 - j) * s + i;
                    a_line[j] = dot[p];
                    fl[j] = (int32_t)fmap[p];
                    for (ch = 0; ch < c; ++ch) g_line[ch * padded + j] = grad[p * c + ch];
                }
            } else {                                      /* row i - s from the bottom */
                const int64_t p0 = (s - 1 - (i - s)) * s;
                for (j = 0; j < s; ++j) {
                    a_line[j] = dot[p0 + j];
                    fl[j] = (int32_t)fmap[p0 + j];
                }
                for (ch = 0; ch < c; ++ch)
                    for (j = 0; j < s; ++j) g_line[ch * padded + j] = grad[(p0 + j) * c + ch];
            }
            for (b = 0; b < n_blocks; ++b) {              /* per block: max A, min and max g */
                const REAL *ab = a_line + b * NMR_BLOCK;
                REAL top = ab[0];
                for (j = 1; j < NMR_BLOCK; ++j) top = ab[j] > top ? ab[j] : top;
                bmax[b] = top;
            }
            for (ch = 0; ch < c; ++ch) {
                for (b = 0; b < n_blocks; ++b) {
                    const REAL *gb = g_line + ch * padded + b * NMR_BLOCK;
                    REAL lo = gb[0], hi = gb[0];
                    for (j = 1; j < NMR_BLOCK; ++j) {
                        lo = gb[j] < lo ? gb[j] : lo;
                        hi = gb[j] > hi ? gb[j] : hi;
                    }
                    bgmin[ch * n_blocks + b] = lo;
                    bgmax[ch * n_blocks + b] = hi;
                }
            }
            SUF(nmr_line_runs)(runs, line_start[i], line_start[i + 1], run_real, image, c, eps,
                               a_line, g_line, padded, fl, pos, bmax, bgmin, bgmax, n_blocks, bound, scale, acc);
        }
    }
    for (i = 0; i < n_faces; ++i)
        for (j = 0; j < 6; ++j) out[(int64_t)faces[i] * 6 + j] = (REAL)acc[i * 6 + j];
    status = 0;
done:
    free(faces); free(dot); free(acc); free(runs); free(run_real);
    free(line_start); free(lines); free(fl); free(pos); free(blocks);
    return status;
}

#endif
