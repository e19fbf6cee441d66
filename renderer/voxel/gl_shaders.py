"""GLSL of the voxel reference: a full-screen pass that walks each pixel's ray through the grid
(Amanatides-Woo), accumulating DRC's expected images and finding the hard surface (the first
cell with occupancy >= 0.5). Shading is DESIGN.md §4 with the entry face's normal, the same
formulas as ``renderer.shading.shade`` (the SH function comes from ``renderer.lighting``)."""
from __future__ import annotations

from ..gl.shaders import MAX_LIGHTS, shading_glsl

FULLSCREEN_VERTEX = """
#version 330
void main() {
    // one triangle covering the viewport: (-1,-1), (3,-1), (-1,3)
    vec2 p = vec2((gl_VertexID == 1) ? 3.0 : -1.0, (gl_VertexID == 2) ? 3.0 : -1.0);
    gl_Position = vec4(p, 0.0, 1.0);
}
"""

_MARCH_TEMPLATE = """
#version 330
#define MAX_LIGHTS {max_lights}
uniform sampler3D u_occupancy;      // texel (k, j, i) = occupancy[i, j, k]
uniform sampler3D u_colors;
uniform bool u_has_colors;
uniform vec3 u_albedo;
uniform ivec3 u_dims;               // (Dx, Dy, Dz)
uniform vec3 u_lo;
uniform vec3 u_hi;
uniform vec3 u_eye;
uniform vec3 u_right;
uniform vec3 u_up;
uniform vec3 u_back;
uniform float u_tan_half_fov;
uniform float u_size;
uniform vec3 u_background;
uniform float u_threshold;


layout(location = 0) out vec4 out_color;      // expected rgb (background composited), alpha
layout(location = 1) out vec4 out_depth;      // expected view depth, hard depth, hard cell + 1, 0
layout(location = 2) out vec4 out_normal;     // hard surface normal
layout(location = 3) out vec4 out_position;   // hard surface position

{shading}
float plane_t(int axis, int index, vec3 dir) {{
    float plane = u_lo[axis] + (u_hi[axis] - u_lo[axis]) * float(index) / float(u_dims[axis]);
    return (plane - u_eye[axis]) / dir[axis];
}}

void main() {{
    vec2 ndc = -1.0 + 2.0 * gl_FragCoord.xy / u_size;     // pixel centres (DESIGN.md §2)
    vec3 dir = ndc.x * u_tan_half_fov * u_right + ndc.y * u_tan_half_fov * u_up - u_back;
    vec3 h = (u_hi - u_lo) / vec3(u_dims);
    float big = 3.0e38;
    vec3 t_lo, t_hi;
    for (int a = 0; a < 3; ++a) {{
        if (abs(dir[a]) < 1e-30) {{
            bool inside = u_eye[a] >= u_lo[a] && u_eye[a] <= u_hi[a];
            t_lo[a] = inside ? -big : big;
            t_hi[a] = inside ? big : -big;
        }} else {{
            float t0 = (u_lo[a] - u_eye[a]) / dir[a];
            float t1 = (u_hi[a] - u_eye[a]) / dir[a];
            t_lo[a] = min(t0, t1);
            t_hi[a] = max(t0, t1);
        }}
    }}
    int entry = 0;
    float t_near = t_lo.x;
    if (t_lo.y > t_near) {{ t_near = t_lo.y; entry = 1; }}
    if (t_lo.z > t_near) {{ t_near = t_lo.z; entry = 2; }}
    float t_far = min(t_hi.x, min(t_hi.y, t_hi.z));
    if (t_near <= 0.0) {{ t_near = 0.0; entry = -1; }}

    vec3 rgb = vec3(0.0);
    float transmit = 1.0;
    float depth_sum = 0.0;
    float hard_depth = 0.0;
    float hard_cell = 0.0;
    vec3 hard_normal = vec3(0.0);
    vec3 hard_position = vec3(0.0);
    if (t_far > t_near) {{
        // the first cell: the midpoint of a short step in, clamped; the entry axis is exact
        ivec3 step_dir = ivec3(sign(dir));
        float t_probe = t_near + 1e-4 * min(h.x, min(h.y, h.z)) / length(dir);
        vec3 p0 = u_eye + t_probe * dir;
        ivec3 cell = clamp(ivec3(floor((p0 - u_lo) / h)), ivec3(0), u_dims - 1);
        if (entry >= 0) cell[entry] = step_dir[entry] > 0 ? 0 : u_dims[entry] - 1;
        vec3 t_next;
        for (int a = 0; a < 3; ++a)
            t_next[a] = step_dir[a] == 0 ? big : plane_t(a, cell[a] + (step_dir[a] > 0 ? 1 : 0), dir);
        float t = t_near;
        int axis = entry;
        int max_steps = u_dims.x + u_dims.y + u_dims.z + 3;
        for (int n = 0; n < max_steps; ++n) {{
            int a = 0;
            if (t_next.y < t_next[a]) a = 1;
            if (t_next.z < t_next[a]) a = 2;
            float t_exit = min(t_next[a], t_far);
            if (t_exit > t + 1e-9 * min(h.x, min(h.y, h.z))) {{
                float x = texelFetch(u_occupancy, ivec3(cell.z, cell.y, cell.x), 0).r;
                vec3 n_face = axis >= 0 ? vec3(0.0) : -normalize(dir);
                if (axis >= 0) n_face[axis] = -float(step_dir[axis]);
                vec3 p = u_eye + t * dir;
                vec3 albedo = u_has_colors ? texelFetch(u_colors, ivec3(cell.z, cell.y, cell.x), 0).rgb : u_albedo;
                float q = x * transmit;
                rgb += q * shade(albedo, n_face, p);
                depth_sum += q * t;
                transmit *= 1.0 - x;
                if (hard_cell == 0.0 && x >= u_threshold) {{
                    hard_cell = float((cell.x * u_dims.y + cell.y) * u_dims.z + cell.z) + 1.0;
                    hard_depth = t;
                    hard_normal = n_face;
                    hard_position = p;
                }}
            }}
            if (t_next[a] >= t_far) break;
            t = t_next[a];
            axis = a;
            cell[a] += step_dir[a];
            if (cell[a] < 0 || cell[a] >= u_dims[a]) break;
            t_next[a] = plane_t(a, cell[a] + (step_dir[a] > 0 ? 1 : 0), dir);
        }}
    }}
    float alpha = 1.0 - transmit;
    out_color = vec4(rgb + transmit * u_background, alpha);
    out_depth = vec4(alpha > 0.0 ? depth_sum / alpha : 0.0, hard_depth, hard_cell, 0.0);
    out_normal = vec4(hard_normal, 0.0);
    out_position = vec4(hard_position, 0.0);
}}
"""


def march_fragment_source() -> str:
    return _MARCH_TEMPLATE.format(max_lights=MAX_LIGHTS, shading=shading_glsl())
