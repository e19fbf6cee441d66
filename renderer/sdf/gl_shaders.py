"""GLSL of the ``gl_sdf`` reference: fragment-shader sphere tracing of the same SDF as the torch
renderers (same primitives, operations and colour rule as ``renderer.sdf.shapes``; the grid as a
3D texture read with texelFetch, so the trilinear weights are exact floats, not the 8-bit
fixed-point weights some GPUs filter with), shaded by the mesh reference's own GLSL ``shade``
function (copied out of ``renderer.gl.shaders``, so the formulas have one definition)."""
from __future__ import annotations

from ..gl.shaders import MAX_LIGHTS, shading_glsl

MAX_PRIMITIVES = 32

VERTEX = """
#version 330
void main() {
    // one triangle covering the viewport
    vec2 p = vec2((gl_VertexID << 1) & 2, gl_VertexID & 2);
    gl_Position = vec4(p * 2.0 - 1.0, 0.0, 1.0);
}
"""


_FRAGMENT = """
#version 330
#define MAX_LIGHTS {max_lights}
#define MAX_PRIMS {max_prims}
uniform mat3 u_rot;             // rows: camera right, up, back (world)
uniform vec3 u_eye;
uniform float u_p00;
uniform float u_p11;
uniform float u_size;           // render-target size in pixels
uniform vec3 u_bcentre;         // bounding sphere
uniform float u_bradius;
uniform float u_near;
uniform float u_threshold;
uniform int u_max_steps;
uniform float u_grad_step;

uniform int u_source;           // 0 primitives, 1 grid
uniform int u_num_prims;
uniform int u_prim_type[MAX_PRIMS];
uniform int u_prim_op[MAX_PRIMS];
uniform float u_prim_blend[MAX_PRIMS];
uniform vec4 u_prim_a[MAX_PRIMS];        // cx cy cz p3
uniform vec4 u_prim_b[MAX_PRIMS];        // p4 p5 - -
uniform vec3 u_prim_albedo[MAX_PRIMS];
uniform sampler3D u_grid;
uniform vec3 u_lo;
uniform vec3 u_hi;
uniform ivec3 u_dims;

uniform vec3 u_albedo;


layout(location = 0) out vec4 out_color;          // rgb, hit (1) or not (0)
layout(location = 1) out vec4 out_normal_depth;   // world unit normal, view depth
layout(location = 2) out vec4 out_position;       // world position, steps

float prim_dist(int i, vec3 p) {{
    vec3 d = p - u_prim_a[i].xyz;
    int kind = u_prim_type[i];
    if (kind == 0) return length(d) - u_prim_a[i].w;
    if (kind == 1) {{
        vec3 q = abs(d) - vec3(u_prim_a[i].w, u_prim_b[i].x, u_prim_b[i].y);
        return length(max(q, 0.0)) + min(max(q.x, max(q.y, q.z)), 0.0);
    }}
    vec2 q = vec2(length(d.xz) - u_prim_a[i].w, d.y);
    return length(q) - u_prim_b[i].x;
}}

// f and albedo, combined as renderer/sdf/shapes.py does
vec4 primitives(vec3 p) {{
    float dist = prim_dist(0, p);
    vec3 col = u_prim_albedo[0];
    for (int i = 1; i < u_num_prims; ++i) {{
        float b = prim_dist(i, p);
        int op = u_prim_op[i];
        float w;
        if (op == 0) {{ w = b < dist ? 1.0 : 0.0; dist = min(dist, b); }}
        else if (op == 2) {{ w = b > dist ? 1.0 : 0.0; dist = max(dist, b); }}
        else if (op == 3) {{ w = 0.0; dist = max(dist, -b); }}
        else {{
            float k = max(u_prim_blend[i], 1e-12);
            float h = clamp(0.5 + 0.5 * (dist - b) / k, 0.0, 1.0);
            dist = dist + (b - dist) * h - k * h * (1.0 - h);
            w = h;
        }}
        col = col + (u_prim_albedo[i] - col) * w;
    }}
    return vec4(col, dist);
}}

float node(ivec3 i) {{ return texelFetch(u_grid, ivec3(i.z, i.y, i.x), 0).r; }}

float grid(vec3 p) {{
    vec3 inside = clamp(p, u_lo, u_hi);
    vec3 u = (inside - u_lo) / (u_hi - u_lo) * vec3(u_dims - 1);
    ivec3 i0 = clamp(ivec3(floor(u)), ivec3(0), u_dims - 2);
    vec3 w = u - vec3(i0);
    float v = 0.0;
    for (int dx = 0; dx < 2; ++dx)
        for (int dy = 0; dy < 2; ++dy)
            for (int dz = 0; dz < 2; ++dz) {{
                float wx = dx == 1 ? w.x : 1.0 - w.x;
                float wy = dy == 1 ? w.y : 1.0 - w.y;
                float wz = dz == 1 ? w.z : 1.0 - w.z;
                v += wx * wy * wz * node(i0 + ivec3(dx, dy, dz));
            }}
    return v + length(p - inside);
}}

float sdf(vec3 p) {{ return u_source == 0 ? primitives(p).w : grid(p); }}

vec3 sdf_gradient(vec3 p) {{
    float h = u_grad_step;
    return vec3(sdf(p + vec3(h, 0, 0)) - sdf(p - vec3(h, 0, 0)),
                sdf(p + vec3(0, h, 0)) - sdf(p - vec3(0, h, 0)),
                sdf(p + vec3(0, 0, h)) - sdf(p - vec3(0, 0, h))) / (2.0 * h);
}}

{shading}

void main() {{
    // pixel centre in NDC (gl_FragCoord is at the centre, row 0 at the bottom)
    vec2 ndc = gl_FragCoord.xy / u_size * 2.0 - 1.0;
    vec3 dv = vec3(ndc.x / u_p00, ndc.y / u_p11, -1.0);
    float len_v = length(dv);
    vec3 d = normalize(transpose(u_rot) * (dv / len_v));
    vec3 oc = u_eye - u_bcentre;
    float b = dot(d, oc);
    float disc = b * b - (dot(oc, oc) - u_bradius * u_bradius);
    out_color = vec4(0.0);
    out_normal_depth = vec4(0.0);
    out_position = vec4(0.0);
    if (disc <= 0.0) return;
    float t_exit = -b + sqrt(disc);
    float t = max(-b - sqrt(disc), u_near);
    bool hit = false;
    int steps = 0;
    for (int k = 0; k < u_max_steps; ++k) {{
        float f = sdf(u_eye + t * d);
        steps += 1;
        if (k == 0 && f < -u_threshold) break;        // the camera is inside: no hit
        if (abs(f) < u_threshold) {{ hit = true; break; }}
        t += f;
        if (t > t_exit) break;
    }}
    out_position.w = float(steps);
    if (!hit) return;
    vec3 p = u_eye + t * d;
    // the torch renderer's value: one Newton step from the converged point
    vec3 g0 = sdf_gradient(p);
    float cosine = dot(g0, d);
    cosine = cosine < 0.0 ? min(cosine, -1e-3) : max(cosine, 1e-3);
    t -= sdf(p) / cosine;
    p = u_eye + t * d;
    vec4 fa = u_source == 0 ? primitives(p) : vec4(u_albedo, 0.0);
    vec3 n = normalize(sdf_gradient(p));
    out_color = vec4(shade(fa.rgb, n, p), 1.0);
    out_normal_depth = vec4(n, t / len_v);
    out_position = vec4(p, float(steps));
}}
"""


def fragment_source() -> str:
    return _FRAGMENT.format(max_lights=MAX_LIGHTS, max_prims=MAX_PRIMITIVES, shading=shading_glsl())
