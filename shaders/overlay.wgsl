// Overlay primitives, one instanced quad each: glyphs from the R8 atlas, rounded
// background plates (signed distance field, so corners stay smooth at any size),
// and box outlines / corner brackets around faces.
//
// Coordinates are pixels, origin top left, y down, as the layout computes them.

struct Globals {
    screen: vec2<f32>,
    atlas_size: vec2<f32>,
};

@group(0) @binding(0) var<uniform> globals: Globals;
@group(0) @binding(1) var atlas: texture_2d<f32>;
@group(0) @binding(2) var atlas_sampler: sampler;

struct Instance {
    // x0, y0, x1, y1 in pixels.
    @location(0) rect: vec4<f32>,
    // Glyphs: atlas texels x0, y0, x1, y1.
    @location(1) uv: vec4<f32>,
    // Straight (not premultiplied) RGBA, 0..1.
    @location(2) color: vec4<f32>,
    // kind (0 glyph, 1 plate, 2 outline, 3 brackets), corner radius, stroke width,
    // bracket arm length.
    @location(3) params: vec4<f32>,
};

struct VsOut {
    @builtin(position) pos: vec4<f32>,
    @location(0) uv: vec2<f32>,
    @location(1) local: vec2<f32>,
    @location(2) half_size: vec2<f32>,
    @location(3) color: vec4<f32>,
    @location(4) params: vec4<f32>,
};

@vertex
fn vs_main(@builtin(vertex_index) vi: u32, inst: Instance) -> VsOut {
    var corners = array<vec2<f32>, 6>(
        vec2<f32>(0.0, 0.0), vec2<f32>(1.0, 0.0), vec2<f32>(0.0, 1.0),
        vec2<f32>(0.0, 1.0), vec2<f32>(1.0, 0.0), vec2<f32>(1.0, 1.0),
    );
    let c = corners[vi];
    let p = mix(inst.rect.xy, inst.rect.zw, c);
    let half_size = (inst.rect.zw - inst.rect.xy) * 0.5;
    var out: VsOut;
    out.pos = vec4<f32>(
        p.x / globals.screen.x * 2.0 - 1.0,
        1.0 - p.y / globals.screen.y * 2.0,
        0.0,
        1.0,
    );
    out.uv = mix(inst.uv.xy, inst.uv.zw, c) / globals.atlas_size;
    out.local = p - (inst.rect.xy + half_size);
    out.half_size = half_size;
    out.color = inst.color;
    out.params = inst.params;
    return out;
}

// Signed distance from p (relative to the centre) to a box with rounded corners.
fn sd_round_box(p: vec2<f32>, half_size: vec2<f32>, radius: f32) -> f32 {
    let r = min(radius, min(half_size.x, half_size.y));
    let q = abs(p) - half_size + vec2<f32>(r, r);
    return length(max(q, vec2<f32>(0.0, 0.0))) + min(max(q.x, q.y), 0.0) - r;
}

@fragment
fn fs_main(in: VsOut) -> @location(0) vec4<f32> {
    // Sampled unconditionally: texture sampling must stay in uniform control flow.
    let coverage = textureSampleLevel(atlas, atlas_sampler, in.uv, 0.0).r;
    let kind = u32(in.params.x + 0.5);
    let d = sd_round_box(in.local, in.half_size, in.params.y);
    var a = 0.0;
    if kind == 0u {
        a = coverage;
    } else if kind == 1u {
        a = clamp(0.5 - d, 0.0, 1.0);
    } else {
        // A stroke of width params.z just inside the box edge.
        let s = in.params.z;
        a = clamp(0.5 - (abs(d + s * 0.5) - s * 0.5), 0.0, 1.0);
        if kind == 3u {
            // Brackets: keep only the stroke near the four corners.
            let arm = in.params.w;
            let near_x = abs(in.local.x) > in.half_size.x - arm;
            let near_y = abs(in.local.y) > in.half_size.y - arm;
            if !(near_x && near_y) {
                a = 0.0;
            }
        }
    }
    return vec4<f32>(in.color.rgb, in.color.a * a);
}
