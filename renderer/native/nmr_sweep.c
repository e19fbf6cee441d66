/* NMR's edge sweep in C: the crossings of the visible faces' edges with the image's columns and
 * rows (renderer/nmr/sweep.py, Kato et al. 2018), each giving an in run (across the face) and,
 * where the edge is visible, an out run (to the border); the runs are written bucketed by line
 * and summed line by line over a gathered copy of the line (nmr_sweep_runs.h). Same formulas
 * and operation order as the torch path (sweep.py, runs.py), in float (nmr_sweep_f32) and double
 * (nmr_sweep_f64); a run's sums go to double every NMR_FLUSH blocks of pixels.
 *
 * Memory comes from a workspace the caller keeps between calls (fresh pages cost more than the
 * sums: about 1.3 us each); what does not fit is malloc'ed, and the size needed is reported.
 * The library's cache key hashes this file and the headers beside it. */

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

#define REAL float
#define SUF(name) name##_f32
#include "nmr_sweep_runs.h"
#include "nmr_sweep_impl.h"
#undef REAL
#undef SUF

#define REAL double
#define SUF(name) name##_f64
#include "nmr_sweep_runs.h"
#include "nmr_sweep_impl.h"
#undef REAL
#undef SUF
