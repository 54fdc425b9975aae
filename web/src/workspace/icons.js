// Stroke icons drawn for Tandem (24x24 grid), inlined as SVG: no icon font, no external asset.
import { s } from '../shared/dom.js'

const P = {
  bold: ['M7 5h6a3.5 3.5 0 0 1 0 7H7z', 'M7 12h7a3.5 3.5 0 0 1 0 7H7z'],
  italic: ['M10 5h8', 'M6 19h8', 'M14 5l-4 14'],
  link: ['M10 14a4 4 0 0 0 5.7 0l3-3a4 4 0 0 0-5.7-5.7l-1 1', 'M14 10a4 4 0 0 0-5.7 0l-3 3a4 4 0 0 0 5.7 5.7l1-1'],
  bullets: ['M9 6h11', 'M9 12h11', 'M9 18h11', 'M4.5 6h.01', 'M4.5 12h.01', 'M4.5 18h.01'],
  numbers: ['M10 6h10', 'M10 12h10', 'M10 18h10', 'M4 5l1.5-1v5', 'M4 14.5c0-1 2.5-1.5 2.5 0 0 1-2.5 2-2.5 3.5h2.5'],
  undo: ['M9 14L4 9l5-5', 'M4 9h10.5a5.5 5.5 0 0 1 0 11H11'],
  redo: ['M15 14l5-5-5-5', 'M20 9H9.5a5.5 5.5 0 0 0 0 11H13'],
  copy: ['M9 9h10v10H9z', 'M5 15V5h10'],
  rect: ['M4 6h16v12H4z'],
  ellipse: ['M12 6c4.4 0 8 2.7 8 6s-3.6 6-8 6-8-2.7-8-6 3.6-6 8-6z'],
  text: ['M5 6h14', 'M12 6v13', 'M9 19h6'],
  connect: ['M5 19L19 5', 'M12 5h7v7'],
  trash: ['M4 7h16', 'M10 11v6', 'M14 11v6', 'M6 7l1 13h10l1-13', 'M9 7V4h6v3'],
  plus: ['M12 5v14', 'M5 12h14'],
  grip: ['M9 6h.01', 'M15 6h.01', 'M9 12h.01', 'M15 12h.01', 'M9 18h.01', 'M15 18h.01'],
  key: ['M14.5 9.5m-4.5 0a4.5 4.5 0 1 0 9 0a4.5 4.5 0 1 0-9 0', 'M11 12.5L4 19.5', 'M7 16.5l2 2', 'M5 18.5l1.5 1.5'],
  doc: ['M6 3h8l4 4v14H6z', 'M14 3v4h4', 'M9 12h6', 'M9 16h6'],
  diagram: ['M3 4h7v6H3z', 'M14 14h7v6h-7z', 'M6.5 10v4a2 2 0 0 0 2 2H14'],
  tasks: ['M4 6l1.5 1.5L8 5', 'M11 6h9', 'M4 12l1.5 1.5L8 11', 'M11 12h9', 'M4 18h4', 'M11 18h9'],
  x: ['M6 6l12 12', 'M18 6L6 18'],
  check: ['M5 12.5l4.5 4.5L19 7.5'],
  arrowRight: ['M5 12h14', 'M13 6l6 6-6 6'],
  user: ['M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8z', 'M4 21a8 8 0 0 1 16 0']
}

export const icon = (name, size = 18) => s('svg', {
  class: `icon icon-${name}`, width: size, height: size, viewBox: '0 0 24 24', fill: 'none',
  stroke: 'currentColor', 'stroke-width': name === 'bullets' || name === 'grip' ? 2.4 : 1.9,
  'stroke-linecap': 'round', 'stroke-linejoin': 'round', 'aria-hidden': 'true', focusable: 'false'
}, (P[name] || []).map(d => s('path', { d })))
