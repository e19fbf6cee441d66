/* NMR sweep kernel (nmr_sweep.c), per precision REAL / SUF: the crossings and the line loop. */

/* NMR's dL/d(face corners) (sweep.sweep_gradient). s: image size; num_faces: F; tri: (F, 3, 2)
 * NDC corners; fmap: (S, S) visible face (-1 background); the image's channels and dL/dimage:
 * image0, grad0 (S, S, c0) then image1, grad1 (S, S, c1) (c0 >= 1; c1 = 0: none, the pointers
 * unused but valid; c0 + c1 <= NMR_MAX_CHANNELS); eps; swept: sorted ids of the faces to sweep
 * (num_swept of them), or NULL for those in fmap; out: (F, 3, 2), zeroed by the caller, gets
 * the gradient; work: work_bytes of workspace (may be NULL), *work_need gets the bytes this call
 * wanted. Returns 0; -1 out of memory, -2 image too large (S S >= 2^31) or too many channels;
 * out is then untouched. */
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
