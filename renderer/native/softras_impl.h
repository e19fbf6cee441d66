/* SoftRas pair kernels, one precision: included by softras.c with REAL and SUF(name) defined.
 *
 * The same operations, in the same order, as the torch path (renderer/soft/geometry.py
 * ``_edge_terms``, ``_inside_and_bary``, ``_TileGeometry``; renderer/soft/soft_pairs.py
 * ``_CoverageTile``; renderer/soft/softras.py ``pair_depths``, ``softmax_stats``), one pair at a
 * time instead of one op over every pair: no pair-sized temporaries, one pass over memory.
 *
 * geo: (21, F) row-major face table (ax ay bx by cx cy, 3 edges, 3 scaled edges, 3 corner view
 * depths); a face list of n entries gives each face's id and pixel box (c0, r0, w, h) and
 * whether it takes part in the colour softmax. Pixel centres: x = -1 + (2c + 1)/S,
 * y = 1 - (2r + 1)/S (renderer/camera.py pixel_centre_ndc).
 */

typedef struct {
    REAL d2, x0, b0, b1, b2, t, dx, dy;
    int inside, edge;
} SUF(Pair);

static inline void SUF(load_face)(const REAL *geo, int64_t F, int64_t f, REAL *g) {
    for (int r = 0; r < 21; ++r) g[r] = geo[r * F + f];
}

/* d2, inside, closest edge (t, dx, dy) and, with want_bary, the screen barycentrics */
static inline void SUF(pair_geometry)(const REAL *g, REAL px, REAL py, int want_bary, SUF(Pair) *o) {
    REAL t[3], dx[3], dy[3], dist[3], cross[3];
    for (int k = 0; k < 3; ++k) {
        REAL vx = g[2 * k], vy = g[2 * k + 1], ex = g[6 + 2 * k], ey = g[7 + 2 * k];
        REAL sx = g[12 + 2 * k], sy = g[13 + 2 * k];
        REAL rx = px - vx, ry = py - vy;
        REAL tk = rx * sx + ry * sy;
        tk = tk < (REAL)0 ? (REAL)0 : (tk > (REAL)1 ? (REAL)1 : tk);   /* NaN stays NaN */
        t[k] = tk;
        dx[k] = rx - tk * ex;
        dy[k] = ry - tk * ey;
        dist[k] = dx[k] * dx[k] + dy[k] * dy[k];
        cross[k] = ex * ry - ey * rx;
    }
    int d01 = dist[1] < dist[0];
    REAL best = d01 ? dist[1] : dist[0];
    int d12 = dist[2] < best;
    int e = d12 ? 2 : d01;
    o->d2 = d12 ? dist[2] : best;
    o->edge = e;
    o->t = t[e];
    o->dx = dx[e];
    o->dy = dy[e];
    REAL area2 = cross[0] + cross[1] + cross[2];
    int pos = cross[0] >= 0 && cross[1] >= 0 && cross[2] >= 0;
    int neg = cross[0] <= 0 && cross[1] <= 0 && cross[2] <= 0;
    int proper = fabs((double)area2) > 1e-12;
    o->inside = (pos || neg) && proper;
    if (want_bary) {
        REAL inv = (REAL)1 / (proper ? area2 : (REAL)1e-12);
        o->b0 = cross[1] * inv;
        o->b1 = cross[2] * inv;
        o->b2 = cross[0] * inv;
    }
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
int64_t SUF(soft_forward)(const REAL *geo, int64_t F, int64_t n, const int64_t *face, const int64_t *c0,
                          const int64_t *r0, const int64_t *w, const int64_t *h, const uint8_t *is_color,
                          int64_t S, REAL sigma, REAL cutoff, REAL far, REAL zrange,
                          REAL *log_unc, REAL *max_zbar, int64_t capacity, int64_t *rec_start,
                          int32_t *rec_pix, REAL *rec_x, uint8_t *rec_edge, REAL *rec_t, REAL *rec_dx,
                          REAL *rec_dy, REAL *rec_z, REAL *rec_zbar) {
    int64_t count = 0;
    REAL g[21];
    REAL rate_in = (REAL)1 / sigma, rate_out = (REAL)-1 / sigma;
    for (int64_t i = 0; i < n; ++i) {
        rec_start[i] = count;
        if (count + w[i] * h[i] > capacity) return -1;
        SUF(load_face)(geo, F, face[i], g);
        int color = is_color[i];
        REAL inv0 = (REAL)1 / g[18], inv1 = (REAL)1 / g[19], inv2 = (REAL)1 / g[20];
        for (int64_t r = r0[i]; r < r0[i] + h[i]; ++r) {
            REAL py = (REAL)1 - (REAL)(2 * r + 1) / (REAL)S;
            for (int64_t c = c0[i]; c < c0[i] + w[i]; ++c) {
                REAL px = (REAL)-1 + (REAL)(2 * c + 1) / (REAL)S;
                SUF(Pair) p;
                SUF(pair_geometry)(g, px, py, color, &p);
                if (!(p.inside || p.d2 < cutoff)) continue;
                REAL x = p.d2 * (p.inside ? rate_in : rate_out);
                int64_t pix = r * S + c;
                log_unc[pix] += -SUF(softplus)(x);
                rec_pix[count] = (int32_t)pix;
                rec_x[count] = x;
                rec_edge[count] = (uint8_t)(p.edge | (p.inside << 2));   /* bit 2: inside */
                rec_t[count] = p.t;
                rec_dx[count] = p.dx;
                rec_dy[count] = p.dy;
                if (color) {
                    REAL b0 = p.b0 < 0 ? (REAL)0 : p.b0, b1 = p.b1 < 0 ? (REAL)0 : p.b1;
                    REAL b2 = p.b2 < 0 ? (REAL)0 : p.b2;
                    REAL q = b0 * inv0 + b1 * inv1 + b2 * inv2;
                    REAL sum = b0 + b1 + b2;
                    REAL z = (sum < (REAL)1e-12 ? (REAL)1e-12 : sum) / q;
                    REAL zbar = (far - z) / zrange;
                    if (zbar > max_zbar[pix]) max_zbar[pix] = zbar;
                    rec_z[count] = z;
                    rec_zbar[count] = zbar;
                }
                ++count;
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

/* Colour geometry of the shaded pairs (softras.py ``shade_pairs``): screen barycentrics of the
 * pixel centre, clipped to the face and renormalised, made perspective-correct with the corner
 * view depths -> zbar (m,) = (far - z) / zrange and attrs (C, m) = sum_k w_k table[k, :, face]
 * (table: (3, C, F)). The pair's face is face[j], its flat pixel pix[j]. */
typedef struct {
    REAL cr[3], inv, b[3], c[3], s, bn[3], o[3], I, w[3];
    int proper, s_active;
} SUF(Colour);

static inline void SUF(colour_geometry)(const REAL *g, int64_t S, int64_t pixel, SUF(Colour) *o) {
    int64_t r = pixel / S, c = pixel - r * S;
    REAL px = (REAL)-1 + (REAL)(2 * c + 1) / (REAL)S;
    REAL py = (REAL)1 - (REAL)(2 * r + 1) / (REAL)S;
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
    for (int k = 0; k < 3; ++k) {
        o->bn[k] = o->c[k] / o->s;
        o->o[k] = o->bn[k] / g[18 + k];
    }
    o->I = o->o[0] + o->o[1] + o->o[2];
    for (int k = 0; k < 3; ++k) o->w[k] = o->o[k] / o->I;
}

void SUF(soft_interpolate)(const REAL *geo, int64_t F, int64_t m, const int64_t *face, const int64_t *pix,
                           int64_t S, const REAL *table, int64_t C, REAL far, REAL zrange, REAL *zbar,
                           REAL *attrs) {
    REAL g[21];
    int64_t loaded = -1;
    for (int64_t j = 0; j < m; ++j) {
        int64_t f = face[j];
        if (f != loaded) SUF(load_face)(geo, F, f, g), loaded = f;
        SUF(Colour) q;
        SUF(colour_geometry)(g, S, pix[j], &q);
        REAL z = (REAL)1 / q.I;
        zbar[j] = (far - z) / zrange;
        for (int64_t a = 0; a < C; ++a) {
            const REAL *t = table + a * F + f;
            attrs[a * m + j] = q.w[0] * t[0] + q.w[1] * t[C * F] + q.w[2] * t[2 * C * F];
        }
    }
}

/* Backward of soft_interpolate: g_zbar (m,) and g_attrs (C, m) (either may be NULL) ->
 * added to grad_geo (21, F) (corner rows 0-5 and depth rows 18-20; the edge rows are functions
 * of the corners and get none) and grad_table (3, C, F). */
void SUF(soft_interpolate_backward)(const REAL *geo, int64_t F, int64_t m, const int64_t *face,
                                    const int64_t *pix, int64_t S, const REAL *table, int64_t C, REAL zrange,
                                    const REAL *g_zbar, const REAL *g_attrs, REAL *grad_geo, REAL *grad_table) {
    REAL g[21];
    int64_t loaded = -1;
    for (int64_t j = 0; j < m; ++j) {
        int64_t f = face[j];
        if (f != loaded) SUF(load_face)(geo, F, f, g), loaded = f;
        SUF(Colour) q;
        SUF(colour_geometry)(g, S, pix[j], &q);
        REAL gw[3] = {0, 0, 0};
        if (g_attrs) {
            for (int64_t a = 0; a < C; ++a) {
                REAL ga = g_attrs[a * m + j];
                for (int k = 0; k < 3; ++k) {
                    gw[k] += ga * table[(k * C + a) * F + f];
                    grad_table[(k * C + a) * F + f] += q.w[k] * ga;
                }
            }
        }
        REAL I2 = q.I * q.I;
        REAL gI = g_zbar ? (-g_zbar[j] / zrange) * ((REAL)-1 / I2) : (REAL)0;
        for (int k = 0; k < 3; ++k) gI += gw[k] * (-q.o[k] / I2);
        REAL gbn[3], gs = 0;
        for (int k = 0; k < 3; ++k) {
            REAL zk = g[18 + k], go = gw[k] / q.I + gI;
            gbn[k] = go / zk;
            grad_geo[(18 + k) * F + f] += -go * q.bn[k] / (zk * zk);
            gs += -gbn[k] * q.c[k] / (q.s * q.s);
        }
        REAL gb[3];
        for (int k = 0; k < 3; ++k) {
            REAL gc = gbn[k] / q.s + (q.s_active ? gs : (REAL)0);
            gb[k] = q.b[k] >= 0 ? gc : (REAL)0;
        }
        /* bary = (cr1, cr2, cr0) inv */
        REAL gcr[3] = {gb[2] * q.inv, gb[0] * q.inv, gb[1] * q.inv};
        if (q.proper) {
            REAL ginv = gb[0] * q.cr[1] + gb[1] * q.cr[2] + gb[2] * q.cr[0];
            REAL garea = ginv * (-q.inv * q.inv);
            for (int k = 0; k < 3; ++k) gcr[k] += garea;
        }
        int64_t r = pix[j] / S, c = pix[j] - r * S;
        REAL px = (REAL)-1 + (REAL)(2 * c + 1) / (REAL)S;
        REAL py = (REAL)1 - (REAL)(2 * r + 1) / (REAL)S;
        /* cr_k = (v_k+1 - v_k) x (p - v_k): d/dv_k = (v_k+1.y - py, px - v_k+1.x),
         * d/dv_k+1 = (py - v_k.y, v_k.x - px) */
        for (int k = 0; k < 3; ++k) {
            int n1 = (k + 1) % 3;
            REAL vx = g[2 * k], vy = g[2 * k + 1], ux = g[2 * n1], uy = g[2 * n1 + 1];
            grad_geo[(2 * k) * F + f] += gcr[k] * (uy - py);
            grad_geo[(2 * k + 1) * F + f] += gcr[k] * (px - ux);
            grad_geo[(2 * n1) * F + f] += gcr[k] * (py - vy);
            grad_geo[(2 * n1 + 1) * F + f] += gcr[k] * (vx - px);
        }
    }
}
