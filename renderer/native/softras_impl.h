/* SoftRas pair kernels, one precision: included by softras.c with REAL and SUF(name) defined.
 *
 * The same operations, in the same order, as the torch path (renderer/soft/geometry.py
 * ``_edge_terms``, ``_inside_and_bary``, ``_TileGeometry``; renderer/soft/soft_pairs.py
 * ``_CoverageTile``; renderer/soft/softras.py ``pair_depths``, ``softmax_stats``), one pair at a
 * time instead of one op over every pair: no pair-sized temporaries, one pass over memory.
 *
 * geo: (21, F) row-major face table (ax ay bx by cx cy, 3 edges, 3 scaled edges, 3 corner view
 * depths); a face list of n entries gives each face's id and pixel box (c0, r0, w, h) and
 * whether it takes part in the colour softmax. Pixel centres: cx (S,), cy (S,), the NDC x of
 * each column and y of each row (renderer/camera.py pixel_centre_ndc, the one convention).
 */

static inline void SUF(load_face)(const REAL *geo, int64_t F, int64_t f, REAL *g) {
    for (int r = 0; r < 21; ++r) g[r] = geo[r * F + f];
}

/* log1p(exp(x)) as torch's softplus (x above 20: x). libm's log1p is several times slower than
 * log, so log1p(e) = log(u) e / (u - 1) with u = 1 + e (exact to a few ulp; Goldberg 1991). */
static inline REAL SUF(softplus)(REAL x) {
    if (x > (REAL)20) return x;
    REAL e = EXP(x), u = (REAL)1 + e;
    return u == (REAL)1 ? e : LOG(u) * (e / (u - (REAL)1));
}

static inline REAL SUF(sigmoid)(REAL x) {
    return (REAL)1 / ((REAL)1 + EXP(-x));
}

/* Pass 1 over every pair of the face list. Adds -softplus(x) of kept pairs to log_unc[pix]
 * and, for colour faces, keeps the per-pixel maximum of zbar in max_zbar (start it at the
 * background depth). Every kept pair is recorded, in loop order (face entry, row, column):
 * rec_pix, rec_x (coverage logit), the closest-point data the backward needs (rec_edge: the
 * closest edge, bit 2 set inside; rec_t,
 * rec_dx, rec_dy) and, for colour faces, rec_z and rec_zbar; rec_start[i] .. rec_start[i + 1]
 * are face entry i's records. Returns the number of records, or -1 when more than capacity. */
#ifndef ROW_BLOCK
#define ROW_BLOCK 64          /* pixels of a face's row computed together (vectorised) */
#endif

/* pair_geometry over `count` pixels of one row (NDC x in px[], the row's y = py), written to
 * arrays: branch-free so that the compiler vectorises it. */
static void SUF(row_geometry)(const REAL *restrict g, const REAL *restrict px, REAL py, int count,
                              REAL *restrict d2, int32_t *restrict edge, int32_t *restrict inside, REAL *restrict t,
                              REAL *restrict dxo, REAL *restrict dyo, REAL *restrict b0, REAL *restrict b1,
                              REAL *restrict b2) {
    const REAL ax = g[0], ay = g[1], bx = g[2], by = g[3], cxv = g[4], cyv = g[5];
    const REAL e0x = g[6], e0y = g[7], e1x = g[8], e1y = g[9], e2x = g[10], e2y = g[11];
    const REAL s0x = g[12], s0y = g[13], s1x = g[14], s1y = g[15], s2x = g[16], s2y = g[17];
    const REAL r0y = py - ay, r1y = py - by, r2y = py - cyv;
    for (int j = 0; j < count; ++j) {
        REAL r0x = px[j] - ax, r1x = px[j] - bx, r2x = px[j] - cxv;
        REAL t0 = r0x * s0x + r0y * s0y, t1 = r1x * s1x + r1y * s1y, t2 = r2x * s2x + r2y * s2y;
        t0 = t0 < (REAL)0 ? (REAL)0 : t0;
        t0 = t0 > (REAL)1 ? (REAL)1 : t0;
        t1 = t1 < (REAL)0 ? (REAL)0 : t1;
        t1 = t1 > (REAL)1 ? (REAL)1 : t1;
        t2 = t2 < (REAL)0 ? (REAL)0 : t2;
        t2 = t2 > (REAL)1 ? (REAL)1 : t2;
        REAL dx0 = r0x - t0 * e0x, dy0 = r0y - t0 * e0y;
        REAL dx1 = r1x - t1 * e1x, dy1 = r1y - t1 * e1y;
        REAL dx2 = r2x - t2 * e2x, dy2 = r2y - t2 * e2y;
        REAL q0 = dx0 * dx0 + dy0 * dy0, q1 = dx1 * dx1 + dy1 * dy1, q2 = dx2 * dx2 + dy2 * dy2;
        REAL c0 = e0x * r0y - e0y * r0x, c1 = e1x * r1y - e1y * r1x, c2 = e2x * r2y - e2y * r2x;
        int32_t d01 = q1 < q0;
        REAL best = d01 ? q1 : q0, bt = d01 ? t1 : t0, bdx = d01 ? dx1 : dx0, bdy = d01 ? dy1 : dy0;
        int32_t d12 = q2 < best;
        d2[j] = d12 ? q2 : best;
        t[j] = d12 ? t2 : bt;
        dxo[j] = d12 ? dx2 : bdx;
        dyo[j] = d12 ? dy2 : bdy;
        edge[j] = d12 ? 2 : d01;
        REAL area2 = c0 + c1 + c2;
        int32_t pos = (c0 >= 0) & (c1 >= 0) & (c2 >= 0);
        int32_t neg = (c0 <= 0) & (c1 <= 0) & (c2 <= 0);
        int32_t proper = (area2 > (REAL)1e-12) | (area2 < (REAL)-1e-12);
        inside[j] = (pos | neg) & proper;
        REAL inv = (REAL)1 / (proper ? area2 : (REAL)1e-12);
        b0[j] = c1 * inv;
        b1[j] = c2 * inv;
        b2[j] = c0 * inv;
    }
}

/* From row_geometry's arrays: the logit x = d2 (+-1 / sigma), keep (inside or d2 < cutoff)
 * and, with depth, the view depth z and zbar of the clipped barycentrics (``pair_depths``). */
static void SUF(row_logits)(int count, const REAL *restrict d2, const int32_t *restrict inside, REAL rate_in,
                            REAL rate_out, REAL cutoff, REAL *restrict x, int32_t *restrict keep) {
    for (int j = 0; j < count; ++j) {
        x[j] = d2[j] * (inside[j] ? rate_in : rate_out);
        keep[j] = inside[j] | (d2[j] < cutoff);
    }
}

static void SUF(row_depths)(int count, const REAL *restrict b0, const REAL *restrict b1, const REAL *restrict b2,
                            REAL inv0, REAL inv1, REAL inv2, REAL far, REAL zrange, REAL *restrict z,
                            REAL *restrict zbar) {
    for (int j = 0; j < count; ++j) {
        REAL q0 = b0[j] < 0 ? (REAL)0 : b0[j], q1 = b1[j] < 0 ? (REAL)0 : b1[j];
        REAL q2 = b2[j] < 0 ? (REAL)0 : b2[j];
        REAL q = q0 * inv0 + q1 * inv1 + q2 * inv2;
        REAL sum = q0 + q1 + q2;
        z[j] = (sum < (REAL)1e-12 ? (REAL)1e-12 : sum) / q;
        zbar[j] = (far - z[j]) / zrange;
    }
}

int64_t SUF(soft_forward)(const REAL *geo, int64_t F, int64_t n, const int64_t *face, const int64_t *c0,
                          const int64_t *r0, const int64_t *w, const int64_t *h, const uint8_t *is_color,
                          int64_t S, const REAL *cx, const REAL *cy, REAL sigma, REAL cutoff, REAL far,
                          REAL zrange, REAL *log_unc, REAL *max_zbar, int64_t capacity, int64_t *rec_start,
                          int32_t *rec_pix, REAL *rec_x, uint8_t *rec_edge, REAL *rec_t, REAL *rec_dx,
                          REAL *rec_dy, REAL *rec_z, REAL *rec_zbar) {
    int64_t count = 0;
    REAL g[21];
    REAL rate_in = (REAL)1 / sigma, rate_out = (REAL)-1 / sigma;
    REAL d2[ROW_BLOCK], t[ROW_BLOCK], dx[ROW_BLOCK], dy[ROW_BLOCK], b0[ROW_BLOCK], b1[ROW_BLOCK], b2[ROW_BLOCK];
    REAL x[ROW_BLOCK], z[ROW_BLOCK], zbar[ROW_BLOCK];
    int32_t edge[ROW_BLOCK], inside[ROW_BLOCK], keep[ROW_BLOCK];
    for (int64_t i = 0; i < n; ++i) {
        rec_start[i] = count;
        if (count + w[i] * h[i] > capacity) return -1;
        SUF(load_face)(geo, F, face[i], g);
        int color = is_color[i];
        REAL inv0 = (REAL)1 / g[18], inv1 = (REAL)1 / g[19], inv2 = (REAL)1 / g[20];
        for (int64_t r = r0[i]; r < r0[i] + h[i]; ++r) {
            for (int64_t cs = c0[i]; cs < c0[i] + w[i]; cs += ROW_BLOCK) {
                int span = (int)(c0[i] + w[i] - cs < ROW_BLOCK ? c0[i] + w[i] - cs : ROW_BLOCK);
                SUF(row_geometry)(g, cx + cs, cy[r], span, d2, edge, inside, t, dx, dy, b0, b1, b2);
                SUF(row_logits)(span, d2, inside, rate_in, rate_out, cutoff, x, keep);
                if (color) SUF(row_depths)(span, b0, b1, b2, inv0, inv1, inv2, far, zrange, z, zbar);
                int64_t row_pix = r * S + cs;
                for (int j = 0; j < span; ++j) {
                    if (!keep[j]) continue;
                    int64_t pix = row_pix + j;
                    log_unc[pix] -= SUF(softplus)(x[j]);
                    rec_pix[count] = (int32_t)pix;
                    rec_x[count] = x[j];
                    rec_edge[count] = (uint8_t)(edge[j] | (inside[j] << 2));   /* bit 2: inside */
                    rec_t[count] = t[j];
                    rec_dx[count] = dx[j];
                    rec_dy[count] = dy[j];
                    if (color) {
                        if (zbar[j] > max_zbar[pix]) max_zbar[pix] = zbar[j];
                        rec_z[count] = z[j];
                        rec_zbar[count] = zbar[j];
                    }
                    ++count;
                }
            }
        }
    }
    rec_start[n] = count;
    return count;
}

/* The colour softmax over the colour faces' records: e = sigmoid(x) exp((zbar - shift[pix]) /
 * gamma) (written to rec_e), summed per pixel into denom and, times z, into zsum. */
void SUF(soft_softmax)(int64_t n, const uint8_t *is_color, const int64_t *rec_start, const int32_t *rec_pix,
                       const REAL *rec_x, const REAL *rec_z, const REAL *rec_zbar, const REAL *shift,
                       REAL gamma, REAL *rec_e, REAL *denom, REAL *zsum) {
    for (int64_t i = 0; i < n; ++i) {
        if (!is_color[i]) continue;
        for (int64_t k = rec_start[i]; k < rec_start[i + 1]; ++k) {
            int32_t pix = rec_pix[k];
            REAL e = SUF(sigmoid)(rec_x[k]) * EXP((rec_zbar[k] - shift[pix]) / gamma);
            rec_e[k] = e;
            denom[pix] += e;
            zsum[pix] += e * rec_z[k];
        }
    }
}

/* The pairs to shade: colour records whose normalised weight w = e / total[pix] is at least
 * `floor` -> their record indices in `selected` (ascending) and face entries in `entry`; the
 * others' w summed per pixel into dropped. Returns how many. */
int64_t SUF(soft_select)(int64_t n, const uint8_t *is_color, const int64_t *rec_start, const int32_t *rec_pix,
                         const REAL *rec_e, const REAL *total, REAL floor_, int64_t *selected, int64_t *entry,
                         REAL *dropped) {
    int64_t count = 0;
    for (int64_t i = 0; i < n; ++i) {
        if (!is_color[i]) continue;
        for (int64_t k = rec_start[i]; k < rec_start[i + 1]; ++k) {
            REAL wk = rec_e[k] / total[rec_pix[k]];
            if (wk >= floor_) {
                selected[count] = k;
                entry[count++] = i;
            } else {
                dropped[rec_pix[k]] += wk;
            }
        }
    }
    return count;
}

/* Backward of pass 1 from the records: dL/dx = -softplus'(x) g_log[pix] (g_log may be NULL)
 * plus g_rec[k] (may be NULL); dL/dd2 = dL/dx rate; the closest-point rule (corner k of the
 * closest edge gets 1 - t, the next corner t) gives dL/d(corners), added to grad (6, F). */
void SUF(soft_backward)(int64_t F, int64_t n, const int64_t *face, const int64_t *rec_start,
                        const int32_t *rec_pix, const REAL *rec_x, const uint8_t *rec_edge, const REAL *rec_t,
                        const REAL *rec_dx, const REAL *rec_dy, REAL sigma, const REAL *g_log,
                        const REAL *g_rec, REAL *grad) {
    REAL rate_in = (REAL)1 / sigma, rate_out = (REAL)-1 / sigma;
    for (int64_t i = 0; i < n; ++i) {
        double acc[6] = {0, 0, 0, 0, 0, 0};
        for (int64_t k = rec_start[i]; k < rec_start[i + 1]; ++k) {
            REAL x = rec_x[k];
            double gx = g_rec ? (double)g_rec[k] : 0.0;
            if (g_log) {
                double slope = x > (REAL)20 ? 1.0 : (double)SUF(sigmoid)(x);
                gx -= slope * (double)g_log[rec_pix[k]];
            }
            double gd2 = gx * (double)((rec_edge[k] & 4) ? rate_in : rate_out);
            double ox = -2 * gd2 * (double)rec_dx[k], oy = -2 * gd2 * (double)rec_dy[k];
            int a = rec_edge[k] & 3, b = (a + 1) % 3;
            double t = (double)rec_t[k];
            acc[2 * a] += (1 - t) * ox;
            acc[2 * a + 1] += (1 - t) * oy;
            acc[2 * b] += t * ox;
            acc[2 * b + 1] += t * oy;
        }
        for (int j = 0; j < 6; ++j) grad[j * F + face[i]] += (REAL)acc[j];
    }
}

/* Colour geometry and softmax weight of the shaded pairs (softras.py ``shade_pairs``): screen
 * barycentrics of the pixel centre, clipped to the face and renormalised, made perspective-correct
 * with the corner view depths -> attribute rows attrs[a] (m,) = sum_k w_k table[k, a, face] (table:
 * (3, C, F); attrs: C row pointers, so that each attribute group can be its own tensor)
 * and e (m,) = sg exp((zbar - shift[pix]) / gamma), sg = sigmoid(x) (m,), zbar = (far - z) / zrange.
 * The pair's face is face[j], its flat pixel pix[j]. */
#ifndef MAX_ATTRS
#define MAX_ATTRS 64          /* colour-table rows per corner the backward keeps on the stack */
#endif

typedef struct {
    REAL cr[3], inv, b[3], c[3], s, bn[3], o[3], I, w[3];
    int proper, s_active;
} SUF(Colour);

/* rz: the reciprocal corner depths 1 / g[18 + k]. Reciprocals are multiplied where torch
 * divides (a few ulp apart; a division chain per pair made this latency-bound) */
static inline void SUF(colour_geometry)(const REAL *g, const REAL *rz, REAL px, REAL py, SUF(Colour) *o) {
    for (int k = 0; k < 3; ++k)
        o->cr[k] = g[6 + 2 * k] * (py - g[2 * k + 1]) - g[7 + 2 * k] * (px - g[2 * k]);
    REAL area2 = o->cr[0] + o->cr[1] + o->cr[2];
    o->proper = fabs((double)area2) > 1e-12;
    o->inv = (REAL)1 / (o->proper ? area2 : (REAL)1e-12);
    o->b[0] = o->cr[1] * o->inv;
    o->b[1] = o->cr[2] * o->inv;
    o->b[2] = o->cr[0] * o->inv;
    for (int k = 0; k < 3; ++k) o->c[k] = o->b[k] < 0 ? (REAL)0 : o->b[k];
    REAL sum = o->c[0] + o->c[1] + o->c[2];
    o->s_active = sum >= (REAL)1e-12;
    o->s = o->s_active ? sum : (REAL)1e-12;
    REAL rs = (REAL)1 / o->s;
    for (int k = 0; k < 3; ++k) {
        o->bn[k] = o->c[k] * rs;
        o->o[k] = o->bn[k] * rz[k];
    }
    o->I = o->o[0] + o->o[1] + o->o[2];
    REAL rI = (REAL)1 / o->I;
    for (int k = 0; k < 3; ++k) o->w[k] = o->o[k] * rI;
}

void SUF(soft_interpolate)(const REAL *geo, int64_t F, int64_t m, const int64_t *face, const int64_t *pix,
                           int64_t S, const REAL *cx, const REAL *cy, const REAL *table, int64_t C, REAL far,
                           REAL zrange, const REAL *x, const REAL *shift, REAL gamma, REAL *e, REAL *sg,
                           REAL *const *attrs) {
    REAL g[21], rz[3];
    int64_t loaded = -1;
    for (int64_t j = 0; j < m; ++j) {
        int64_t f = face[j], r = pix[j] / S;
        if (f != loaded) {
            SUF(load_face)(geo, F, f, g);
            for (int k = 0; k < 3; ++k) rz[k] = (REAL)1 / g[18 + k];
            loaded = f;
        }
        SUF(Colour) q;
        SUF(colour_geometry)(g, rz, cx[pix[j] - r * S], cy[r], &q);
        REAL z = (REAL)1 / q.I;
        REAL zbar = (far - z) / zrange;
        sg[j] = SUF(sigmoid)(x[j]);
        e[j] = sg[j] * EXP((zbar - shift[pix[j]]) / gamma);
        for (int64_t a = 0; a < C; ++a) {
            const REAL *t = table + a * F + f;
            attrs[a][j] = q.w[0] * t[0] + q.w[1] * t[C * F] + q.w[2] * t[2 * C * F];
        }
    }
}

/* Backward of soft_interpolate: g_e (m,) and the C gradient rows g_attrs[a] (m,) (g_e, g_attrs or
 * any row may be NULL: zero) -> g_x (m,)
 * and, added, grad_geo (21, F) (corner rows 0-5 and depth rows 18-20; the edge rows are
 * functions of the corners and get none) and grad_table (3, C, F). */
void SUF(soft_interpolate_backward)(const REAL *geo, int64_t F, int64_t m, const int64_t *face,
                                    const int64_t *pix, int64_t S, const REAL *cx, const REAL *cy,
                                    const REAL *table, int64_t C, REAL zrange, const REAL *e, const REAL *sg,
                                    REAL gamma, const REAL *g_e, const REAL *const *g_attrs, REAL *g_x, REAL *grad_geo,
                                    REAL *grad_table) {
    REAL g[21], tab[3 * MAX_ATTRS], rz[3];
    REAL acc_geo[21], acc_tab[3 * MAX_ATTRS];
    int64_t loaded = -1;
    /* pairs come grouped by face (ascending): sums stay in registers until the face changes */
    for (int64_t j = 0; j <= m; ++j) {
        int64_t f = j < m ? face[j] : -2;
        if (f != loaded) {
            if (loaded >= 0) {
                for (int r = 0; r < 21; ++r) grad_geo[r * F + loaded] += acc_geo[r];
                for (int64_t i = 0; i < 3 * C; ++i) grad_table[i * F + loaded] += acc_tab[i];
            }
            if (j == m) break;
            SUF(load_face)(geo, F, f, g);
            for (int64_t i = 0; i < 3 * C; ++i) tab[i] = table[i * F + f];
            for (int r = 0; r < 21; ++r) acc_geo[r] = 0;
            for (int64_t i = 0; i < 3 * C; ++i) acc_tab[i] = 0;
            for (int k = 0; k < 3; ++k) rz[k] = (REAL)1 / g[18 + k];
            loaded = f;
        }
        int64_t r = pix[j] / S;
        REAL px = cx[pix[j] - r * S], py = cy[r];
        SUF(Colour) q;
        SUF(colour_geometry)(g, rz, px, py, &q);
        REAL gw[3] = {0, 0, 0};
        if (g_attrs) {
            for (int64_t a = 0; a < C; ++a) {
                if (!g_attrs[a]) continue;
                REAL ga = g_attrs[a][j];
                for (int k = 0; k < 3; ++k) {
                    gw[k] += ga * tab[k * C + a];
                    acc_tab[k * C + a] += q.w[k] * ga;
                }
            }
        }
        /* e = sigmoid(x) exp((zbar - shift) / gamma): de/dx = e (1 - sigmoid(x)), de/dzbar = e / gamma */
        REAL g_zbar = 0;
        if (g_e) {
            g_x[j] = g_e[j] * e[j] * ((REAL)1 - sg[j]);
            g_zbar = g_e[j] * e[j] / gamma;
        }
        REAL rI = (REAL)1 / q.I, rI2 = rI * rI, rs = (REAL)1 / q.s;
        /* z = 1 / I and w_k = o_k / I */
        REAL gI = (g_zbar / zrange) * rI2;
        for (int k = 0; k < 3; ++k) gI -= gw[k] * q.o[k] * rI2;
        REAL gbn[3], gs = 0;
        for (int k = 0; k < 3; ++k) {
            REAL go = gw[k] * rI + gI;          /* o_k = bn_k / z_k */
            gbn[k] = go * rz[k];
            acc_geo[18 + k] -= go * q.bn[k] * rz[k] * rz[k];
            gs -= gbn[k] * q.c[k] * rs * rs;
        }
        REAL gb[3];
        for (int k = 0; k < 3; ++k) {
            REAL gc = gbn[k] * rs + (q.s_active ? gs : (REAL)0);
            gb[k] = q.b[k] >= 0 ? gc : (REAL)0;
        }
        /* bary = (cr1, cr2, cr0) inv */
        REAL gcr[3] = {gb[2] * q.inv, gb[0] * q.inv, gb[1] * q.inv};
        if (q.proper) {
            REAL ginv = gb[0] * q.cr[1] + gb[1] * q.cr[2] + gb[2] * q.cr[0];
            REAL garea = ginv * (-q.inv * q.inv);
            for (int k = 0; k < 3; ++k) gcr[k] += garea;
        }
        /* cr_k = (v_k+1 - v_k) x (p - v_k): d/dv_k = (v_k+1.y - py, px - v_k+1.x),
         * d/dv_k+1 = (py - v_k.y, v_k.x - px) */
        for (int k = 0; k < 3; ++k) {
            int n1 = (k + 1) % 3;
            REAL vx = g[2 * k], vy = g[2 * k + 1], ux = g[2 * n1], uy = g[2 * n1 + 1];
            acc_geo[2 * k] += gcr[k] * (uy - py);
            acc_geo[2 * k + 1] += gcr[k] * (px - ux);
            acc_geo[2 * n1] += gcr[k] * (py - vy);
            acc_geo[2 * n1 + 1] += gcr[k] * (vx - px);
        }
    }
}

/* The colour softmax's sums over the shaded pairs: numer (3, n) += e color, denom (n,) += e at
 * each pair's pixel; color: (3, m). */
void SUF(soft_aggregate)(int64_t m, int64_t n, const int64_t *pix, const REAL *e, const REAL *color, REAL *numer,
                         REAL *denom) {
    for (int64_t j = 0; j < m; ++j) {
        int64_t p = pix[j];
        denom[p] += e[j];
        for (int c = 0; c < 3; ++c) numer[c * n + p] += e[j] * color[c * m + j];
    }
}

/* Its backward: g_numer (3, n), g_denom (n,) (either NULL: zero) -> g_e (m,), g_color (3, m). */
void SUF(soft_aggregate_backward)(int64_t m, int64_t n, const int64_t *pix, const REAL *e, const REAL *color,
                                  const REAL *g_numer, const REAL *g_denom, REAL *g_e, REAL *g_color) {
    for (int64_t j = 0; j < m; ++j) {
        int64_t p = pix[j];
        REAL ge = g_denom ? g_denom[p] : (REAL)0;
        for (int c = 0; c < 3; ++c) {
            REAL gn = g_numer ? g_numer[c * n + p] : (REAL)0;
            ge += gn * color[c * m + j];
            g_color[c * m + j] = gn * e[j];
        }
        g_e[j] = ge;
    }
}
