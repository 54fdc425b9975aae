// Small SVG charts drawn by hand: a sparkline with an area under it.
import { s } from '../shared/dom.js'

// `slots`: the window's capacity; values fill it from the right, as time goes on.
export const sparkline = (values, { width = 220, height = 44, color = '#4f46e5', min = 0, slots = 40 } = {}) => {
  const svg = s('svg', { class: 'spark', viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: 'none', role: 'img', 'aria-hidden': 'true' })
  const pts = values.filter(v => Number.isFinite(v))
  if (pts.length < 2) {
    svg.append(s('line', { x1: 0, y1: height - 1, x2: width, y2: height - 1, stroke: '#e3e6ee', 'stroke-width': 1 }))
    return svg
  }
  const max = Math.max(...pts, min + 1e-9)
  const lo = Math.min(min, ...pts)
  const n = values.length
  const cap = Math.max(slots, n)
  const x = (i) => ((cap - n + i) / (cap - 1)) * width
  const y = (v) => height - 2 - ((v - lo) / (max - lo || 1)) * (height - 6)
  let d = ''
  values.forEach((v, i) => { if (Number.isFinite(v)) d += `${d ? 'L' : 'M'}${x(i).toFixed(1)} ${y(v).toFixed(1)}` })
  const firstI = values.findIndex(v => Number.isFinite(v))
  const lastI = n - 1 - [...values].reverse().findIndex(v => Number.isFinite(v))
  svg.append(
    s('path', { d: `${d}L${x(lastI).toFixed(1)} ${height}L${x(firstI).toFixed(1)} ${height}Z`, fill: color, 'fill-opacity': 0.12, stroke: 'none' }),
    s('path', { d, fill: 'none', stroke: color, 'stroke-width': 1.6, 'vector-effect': 'non-scaling-stroke', 'stroke-linejoin': 'round' }),
    s('circle', { cx: x(lastI), cy: y(values[lastI]), r: 2.5, fill: color }))
  return svg
}
