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

/* one out run (to the border): pixels lo..hi of its line, the reference colour at image pixel
 * ref, the two lever sums going to slot0 / slot1 of the swept faces' corners (-1: no lever) */
typedef struct {
    int32_t line, lo, hi, slot0, slot1;
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

/* Sums of one out run over the gathered line: sum_P max(0, A_P - g_P . ref) / (m |P - cross| +
 * eps) for both levers, skipping the blocks whose upper bound is below zero. */
static void SUF(nmr_out_run)(const nmr_run *run, REAL cross, REAL m0, REAL m1, REAL eps, int64_t c,
                             const REAL *ref, const REAL *a_line, const REAL *g_line, int64_t s,
                             const REAL *block_max, const REAL *block_gmin, const REAL *block_gmax,
                             REAL *w, double *sum0, double *sum1)
{
    double s0 = 0.0, s1 = 0.0;
    int64_t b, k, j, ch;
    int64_t first = run->lo / NMR_BLOCK, last = run->hi / NMR_BLOCK;
    for (b = first; b <= last; ++b) {
        /* upper bound of A_P - g_P . ref over the block: max A - sum_c min_P g_c ref_c, with a
         * margin for rounding (a block is skipped only when no pixel can count) */
        REAL bound = block_max[b], scale = fabs(block_max[b]);
        int64_t j0 = b * NMR_BLOCK < run->lo ? run->lo : b * NMR_BLOCK;
        int64_t j1 = (b + 1) * NMR_BLOCK - 1 > run->hi ? run->hi : (b + 1) * NMR_BLOCK - 1;
        for (ch = 0; ch < c; ++ch) {
            REAL low = ref[ch] >= 0 ? block_gmin[b * c + ch] * ref[ch] : block_gmax[b * c + ch] * ref[ch];
            bound -= low;
            scale += fabs(low);
        }
        if (bound < -(REAL)1e-5 * scale) continue;
        /* w = A - g_0 r_0 - g_1 r_1 - ... (sweep.runs._weights' order), vectorisable */
        for (j = j0; j <= j1; ++j) w[j - j0] = a_line[j];
        for (ch = 0; ch < c; ++ch) {
            const REAL *g = g_line + ch * s;
            REAL r = ref[ch];
            for (j = j0; j <= j1; ++j) w[j - j0] = w[j - j0] - g[j] * r;
        }
        for (k = 0; k <= j1 - j0; ++k) {
            if (w[k] > 0) {
                REAL u = (REAL)(j0 + k) - cross;
                u = u < 0 ? -u : u;
                s0 += (double)(w[k] / (m0 * u + eps));
                s1 += (double)(w[k] / (m1 * u + eps));
            }
        }
    }
    *sum0 = s0;
    *sum1 = s1;
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
    int64_t i, j, ch, n_faces = num_swept, n_runs = 0, cap_runs = 0;
    int32_t *faces = NULL;
    REAL *dot = NULL, *run_real = NULL, *lines = NULL, *bounds = NULL, *w = NULL;
    double *acc = NULL;
    nmr_run *runs = NULL;
    int64_t *line_start = NULL, *order = NULL;
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
        REAL a = image[i * c] * grad[i * c];
        for (ch = 1; ch < c; ++ch) a = a + image[i * c + ch] * grad[i * c + ch];
        dot[i] = a;
    }

    /* ---- the crossings (sweep._crossings); in runs summed here, out runs kept for later */
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
                REAL lo_f = ceil(p0s < p1s ? p0s : p1s), hi_f = floor(p0s < p1s ? p1s : p0s);
                int64_t lo, hi, d0;
                if (!(p0s != p1s)) continue;
                if (lo_f < 0) lo_f = 0;
                if (hi_f > fs - 1) hi_f = fs - 1;
                if (!(lo_f <= hi_f)) continue;           /* also NaN corners */
                lo = (int64_t)lo_f;
                hi = (int64_t)hi_f;
                for (d0 = lo; d0 <= hi; ++d0) {
                    const REAL d0f = (REAL)d0;
                    const REAL cross = (p1o - p0o) / (p1s - p0s) * (d0f - p0s) + p0o;
                    const REAL in_f = direction > 0 ? floor(cross) : ceil(cross);
                    const REAL out_f = in_f + (REAL)direction;
                    REAL c02, c12, cross2, limit_f, lever0, lever1;
                    int64_t d1_in, d1_out, limit, line, at_in, at_out, in_lo, in_hi;
                    int has0 = p1s != d0f, has1 = p0s != d0f;
                    if (!(in_f >= 0 && in_f < fs && out_f >= 0 && out_f < fs)) continue;
                    d1_in = (int64_t)in_f;
                    d1_out = (int64_t)out_f;
                    line = axis * s + d0;
                    at_in = nmr_image_index(s, line, d1_in);
                    at_out = nmr_image_index(s, line, d1_out);
                    lever0 = (p1s - p0s) / (has0 ? p1s - d0f : (REAL)1) * two_over_s;
                    lever1 = (p1s - p0s) / (has1 ? d0f - p0s : (REAL)1) * two_over_s;
                    /* the in run: from the edge to the face's opposite side, this face's pixels */
                    c02 = (p2o - p0o) / (p2s != p0s ? p2s - p0s : (REAL)1) * (d0f - p0s) + p0o;
                    c12 = (p1o - p2o) / (p1s != p2s ? p1s - p2s : (REAL)1) * (d0f - p2s) + p2o;
                    cross2 = (d0f - p0s) * (d0f - p2s) < 0 ? c02 : c12;
                    limit_f = direction > 0 ? ceil(cross2) : floor(cross2);
                    if (!(limit_f >= -1)) limit_f = -1;          /* only min/max with d1_in in 0..S-1 */
                    if (limit_f > fs) limit_f = fs;
                    limit = (int64_t)limit_f;
                    in_lo = d1_in < limit ? d1_in : limit;
                    in_hi = d1_in < limit ? limit : d1_in;
                    if (in_lo < 0) in_lo = 0;
                    if (in_hi > s - 1) in_hi = s - 1;
                    if (in_lo <= in_hi) {
                        const REAL *ref = image + at_out * c;
                        const REAL near = (REAL)in_lo - cross;
                        double sum0 = 0.0, sum1 = 0.0;
                        int64_t d1;
                        for (d1 = in_lo; d1 <= in_hi; ++d1) {
                            const int64_t p = nmr_image_index(s, line, d1);
                            REAL wp = dot[p], offset, dist;
                            if (fmap[p] != face) continue;
                            for (ch = 0; ch < c; ++ch) wp = wp - grad[p * c + ch] * ref[ch];
                            if (!(wp > 0)) continue;
                            offset = near + (REAL)(d1 - in_lo);
                            dist = lever0 * offset;
                            dist = dist > 0 ? dist + eps : dist - eps;     /* NMR: away from 0 */
                            sum0 += (double)(wp / dist);
                            dist = lever1 * offset;
                            dist = dist > 0 ? dist + eps : dist - eps;
                            sum1 += (double)(wp / dist);
                        }
                        if (has0) acc[slot0] -= (double)(REAL)sum0;
                        if (has1) acc[slot1] -= (double)(REAL)sum1;
                    }
                    /* the out run, when the edge is visible: to the border, away from the face */
                    if (fmap[at_in] == face && (has0 || has1)) {
                        if (n_runs == cap_runs) {
                            int64_t cap = cap_runs ? 2 * cap_runs : 4096;
                            nmr_run *grown = realloc(runs, (size_t)cap * sizeof(nmr_run));
                            REAL *grown_real = realloc(run_real, (size_t)cap * 5 * sizeof(REAL));
                            if (grown) runs = grown;
                            if (grown_real) run_real = grown_real;
                            if (!grown || !grown_real) goto done;
                            cap_runs = cap;
                        }
                        runs[n_runs].line = (int32_t)line;
                        runs[n_runs].lo = (int32_t)(direction > 0 ? d1_out : 0);
                        runs[n_runs].hi = (int32_t)(direction > 0 ? s - 1 : d1_out);
                        runs[n_runs].slot0 = has0 ? slot0 : -1;
                        runs[n_runs].slot1 = has1 ? slot1 : -1;
                        runs[n_runs].ref = at_in;
                        /* cross, |lever0|, |lever1|, and each sum's sign: -sign(lever) direction */
                        run_real[n_runs * 5] = cross;
                        run_real[n_runs * 5 + 1] = fabs(lever0);
                        run_real[n_runs * 5 + 2] = fabs(lever1);
                        run_real[n_runs * 5 + 3] = (REAL)(-((lever0 > 0) - (lever0 < 0)) * direction);
                        run_real[n_runs * 5 + 4] = (REAL)(-((lever1 > 0) - (lever1 < 0)) * direction);
                        ++n_runs;
                    }
                }
            }
        }
    }

    /* ---- the out runs, line by line: bucket them by line (a counting sort) */
    {
        const int64_t n_lines = 2 * s, n_blocks = (s + NMR_BLOCK - 1) / NMR_BLOCK;
        line_start = calloc((size_t)(n_lines + 1), sizeof(int64_t));
        order = malloc((size_t)(n_runs > 0 ? n_runs : 1) * sizeof(int64_t));
        lines = malloc((size_t)(s * (1 + c)) * sizeof(REAL));
        bounds = malloc((size_t)(n_blocks * (1 + 2 * c)) * sizeof(REAL));
        w = malloc(NMR_BLOCK * sizeof(REAL));
        if (!line_start || !order || !lines || !bounds || !w) goto done;
        for (i = 0; i < n_runs; ++i) ++line_start[runs[i].line + 1];
        for (i = 0; i < n_lines; ++i) line_start[i + 1] += line_start[i];
        {
            int64_t *fill = malloc((size_t)n_lines * sizeof(int64_t));
            if (!fill) goto done;
            memcpy(fill, line_start, (size_t)n_lines * sizeof(int64_t));
            for (i = 0; i < n_runs; ++i) order[fill[runs[i].line]++] = i;
            free(fill);
        }
        for (i = 0; i < n_lines; ++i) {
            REAL *a_line = lines, *g_line = lines + s;
            REAL *block_max = bounds, *block_gmin = bounds + n_blocks, *block_gmax = bounds + n_blocks * (1 + c);
            int64_t b, k;
            if (line_start[i] == line_start[i + 1]) continue;
            for (j = 0; j < s; ++j) {                     /* gather the line: A_P and g_P by channel */
                const int64_t p = nmr_image_index(s, i, j);
                a_line[j] = dot[p];
                for (ch = 0; ch < c; ++ch) g_line[ch * s + j] = grad[p * c + ch];
            }
            for (b = 0; b < n_blocks; ++b) {              /* per block: max A_P, min and max g_P */
                const int64_t j0 = b * NMR_BLOCK, j1 = j0 + NMR_BLOCK < s ? j0 + NMR_BLOCK : s;
                REAL top = a_line[j0];
                for (j = j0 + 1; j < j1; ++j) top = a_line[j] > top ? a_line[j] : top;
                block_max[b] = top;
                for (ch = 0; ch < c; ++ch) {
                    const REAL *g = g_line + ch * s;
                    REAL lo = g[j0], hi = g[j0];
                    for (j = j0 + 1; j < j1; ++j) {
                        lo = g[j] < lo ? g[j] : lo;
                        hi = g[j] > hi ? g[j] : hi;
                    }
                    block_gmin[b * c + ch] = lo;
                    block_gmax[b * c + ch] = hi;
                }
            }
            for (k = line_start[i]; k < line_start[i + 1]; ++k) {
                const int64_t q = order[k];
                const REAL *rr = run_real + q * 5;
                double sum0, sum1;
                SUF(nmr_out_run)(runs + q, rr[0], rr[1], rr[2], eps, c, image + runs[q].ref * c, a_line, g_line,
                                 s, block_max, block_gmin, block_gmax, w, &sum0, &sum1);
                if (runs[q].slot0 >= 0) acc[runs[q].slot0] += (double)((REAL)sum0 * rr[3]);
                if (runs[q].slot1 >= 0) acc[runs[q].slot1] += (double)((REAL)sum1 * rr[4]);
            }
        }
    }
    for (i = 0; i < n_faces; ++i)
        for (j = 0; j < 6; ++j) out[(int64_t)faces[i] * 6 + j] = (REAL)acc[i * 6 + j];
    status = 0;
done:
    free(faces); free(dot); free(acc); free(runs); free(run_real);
    free(line_start); free(order); free(lines); free(bounds); free(w);
    return status;
}

#endif
