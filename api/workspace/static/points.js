/* Members as one WebGL draw call: a MapLibre custom layer drawing gl.POINTS from typed arrays.
 *
 * A city has 56,000 members. As a GeoJSON source MapLibre's worker would cut them into tiles first (seconds on a
 * busy office PC); here the points go to the GPU as they are, positions relative to the city's centre (float32
 * keeps centimetres), one style code each (bit 0 covered by a station, bit 1 dispersed). Filters upload the
 * matching subset; a click finds the nearest point within a few pixels. Mercator only, like the rest of the map.
 */
'use strict';

class PointLayer {
  /**
   * @param {string} id        layer id
   * @param {number[]} lon     WGS-84 longitudes
   * @param {number[]} lat     WGS-84 latitudes
   * @param {number[]} style   style code per point (bit 0 covered, bit 1 dispersed; with a palette: its index)
   * @param {number[][]|null} palette  up to 8 [r, g, b] colours (0–1) indexed by the style code, instead of
   *                           the covered/dispersed colours (the comparison's difference map)
   */
  constructor(id, lon, lat, style, palette = null) {
    this.id = id;
    this.palette = palette ? Float32Array.from(Array.from({ length: 8 }, (_, k) => palette[k] || [0, 0, 0]).flat()) : null;
    this.type = 'custom';
    this.renderingMode = '2d';
    const n = lon.length;
    this.mx = new Float64Array(n);
    this.my = new Float64Array(n);
    let sx = 0, sy = 0;
    for (let i = 0; i < n; i++) {
      this.mx[i] = (lon[i] + 180) / 360;
      const s = Math.sin(lat[i] * Math.PI / 180);
      this.my[i] = 0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI);
      sx += this.mx[i]; sy += this.my[i];
    }
    this.ox = n ? sx / n : 0;
    this.oy = n ? sy / n : 0;
    this.style = style;
    this.indices = null;
    this.count = 0;
    this.setIndices(null);
  }

  /** Draw only these member indices (null: all). */
  setIndices(keep) {
    const n = this.mx.length;
    const idx = [];
    for (let i = 0; i < n; i++) if (!keep || keep(i)) idx.push(i);
    this.indices = Int32Array.from(idx);
    this.count = idx.length;
    const data = new Float32Array(idx.length * 3);
    for (let k = 0; k < idx.length; k++) {
      const i = idx[k];
      data[3 * k] = this.mx[i] - this.ox;
      data[3 * k + 1] = this.my[i] - this.oy;
      data[3 * k + 2] = this.style[i];
    }
    this.data = data;
    if (this.gl) this.upload();
    if (this.map) this.map.triggerRepaint();
  }

  upload() {
    const gl = this.gl;
    gl.bindBuffer(gl.ARRAY_BUFFER, this.buffer);
    gl.bufferData(gl.ARRAY_BUFFER, this.data, gl.STATIC_DRAW);
  }

  onAdd(map, gl) {
    this.map = map;
    this.gl = gl;
    const vs = `attribute vec2 a_pos; attribute float a_s; uniform mat4 u_matrix; uniform float u_size; varying float v_s;
      void main() { gl_Position = u_matrix * vec4(a_pos, 0.0, 1.0); gl_PointSize = u_size; v_s = a_s; }`;
    const fs = `precision mediump float; varying float v_s; uniform float u_ring;
      void main() {
        vec2 c = gl_PointCoord - vec2(0.5); float r = length(c);
        if (r > 0.5) discard;
        vec3 col = mod(v_s, 2.0) > 0.5 ? vec3(0.102, 0.596, 0.314) : vec3(0.957, 0.427, 0.263);
        if (v_s > 1.5 && r > u_ring) col = vec3(0.478, 0.004, 0.467);
        gl_FragColor = vec4(col * 0.9, 0.9);
      }`;
    // a palette: the vertex shader looks the colour up (uniform arrays take a computed index there)
    const vsPal = `attribute vec2 a_pos; attribute float a_s; uniform mat4 u_matrix; uniform float u_size; uniform vec3 u_pal[8];
      varying vec3 v_col;
      void main() { gl_Position = u_matrix * vec4(a_pos, 0.0, 1.0); gl_PointSize = u_size; v_col = u_pal[int(a_s + 0.5)]; }`;
    const fsPal = `precision mediump float; varying vec3 v_col;
      void main() { if (length(gl_PointCoord - vec2(0.5)) > 0.5) discard; gl_FragColor = vec4(v_col * 0.9, 0.9); }`;
    const shader = (type, src) => {
      const s = gl.createShader(type);
      gl.shaderSource(s, src);
      gl.compileShader(s);
      if (!gl.getShaderParameter(s, gl.COMPILE_STATUS)) throw new Error(gl.getShaderInfoLog(s));
      return s;
    };
    const p = gl.createProgram();
    gl.attachShader(p, shader(gl.VERTEX_SHADER, this.palette ? vsPal : vs));
    gl.attachShader(p, shader(gl.FRAGMENT_SHADER, this.palette ? fsPal : fs));
    gl.linkProgram(p);
    this.program = p;
    this.aPos = gl.getAttribLocation(p, 'a_pos');
    this.aS = gl.getAttribLocation(p, 'a_s');
    this.uMatrix = gl.getUniformLocation(p, 'u_matrix');
    this.uSize = gl.getUniformLocation(p, 'u_size');
    this.uRing = gl.getUniformLocation(p, 'u_ring');
    this.uPal = this.palette ? gl.getUniformLocation(p, 'u_pal') : null;
    this.buffer = gl.createBuffer();
    this.vao = typeof gl.createVertexArray === 'function' ? gl.createVertexArray() : null;
    this.upload();
  }

  /** Point diameter in CSS pixels at the map's zoom. */
  size() { return Math.max(3, Math.min(10, 3 + (this.map.getZoom() - 10) * 1.1)); }

  render(gl, options) {
    if (!this.count) return;
    // mercator 0..1 → clip space (MapLibre 5: defaultProjectionData.mainMatrix; before 5 the argument itself)
    const m = (options.defaultProjectionData && options.defaultProjectionData.mainMatrix) || options;
    const t = new Float32Array(16);  // m × translate(ox, oy): the large part computed in float64 here
    for (let k = 0; k < 16; k++) t[k] = m[k];
    for (let r = 0; r < 4; r++) t[12 + r] = m[r] * this.ox + m[4 + r] * this.oy + m[12 + r];
    const px = this.size() * window.devicePixelRatio;
    // MapLibre draws with vertex array objects and tile stencils: use our own VAO, draw unclipped
    if (this.vao) gl.bindVertexArray(this.vao);
    gl.disable(gl.STENCIL_TEST);
    gl.disable(gl.DEPTH_TEST);
    gl.useProgram(this.program);
    gl.uniformMatrix4fv(this.uMatrix, false, t);
    gl.uniform1f(this.uSize, px);
    if (this.palette) gl.uniform3fv(this.uPal, this.palette);
    else gl.uniform1f(this.uRing, Math.max(0.25, 0.5 - 1.2 / px));
    gl.bindBuffer(gl.ARRAY_BUFFER, this.buffer);
    gl.enableVertexAttribArray(this.aPos);
    gl.vertexAttribPointer(this.aPos, 2, gl.FLOAT, false, 12, 0);
    gl.enableVertexAttribArray(this.aS);
    gl.vertexAttribPointer(this.aS, 1, gl.FLOAT, false, 12, 8);
    gl.enable(gl.BLEND);
    gl.blendFunc(gl.ONE, gl.ONE_MINUS_SRC_ALPHA);
    gl.drawArrays(gl.POINTS, 0, this.count);
    if (this.vao) gl.bindVertexArray(null);
    else { gl.disableVertexAttribArray(this.aPos); gl.disableVertexAttribArray(this.aS); }
    this.glError = gl.getError();
    this.renders = (this.renders || 0) + 1;
  }

  /** The member index drawn nearest to a clicked point (within the point's radius + 3 px), or -1. */
  pick(lngLat) {
    const x = (lngLat.lng + 180) / 360;
    const s = Math.sin(lngLat.lat * Math.PI / 180);
    const y = 0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI);
    const perPx = 1 / (512 * Math.pow(2, this.map.getZoom()));
    const tol = (this.size() / 2 + 3) * perPx;
    let best = -1, bestD = tol * tol;
    for (let k = 0; k < this.indices.length; k++) {
      const i = this.indices[k];
      const dx = this.mx[i] - x, dy = this.my[i] - y, d = dx * dx + dy * dy;
      if (d <= bestD) { bestD = d; best = i; }
    }
    return best;
  }
}
