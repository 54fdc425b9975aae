import { s } from './dom.js'

// Tandem's mark: two overlapping rounded squares (two people, one document).
export const logoMark = () => s('svg', { viewBox: '0 0 24 24', 'aria-hidden': 'true' },
  s('rect', { x: 2, y: 5, width: 13, height: 13, rx: 4, fill: '#4f46e5' }),
  s('rect', { x: 9, y: 6, width: 13, height: 13, rx: 4, fill: '#06b6d4', 'fill-opacity': 0.85 }))

