// The favicon, shared by build.mjs (which writes it as an asset) and the pages' logo.
export const FAVICON_SVG = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><rect x="2" y="5" width="13" height="13" rx="4" fill="#4f46e5"/><rect x="9" y="6" width="13" height="13" rx="4" fill="#06b6d4" fill-opacity="0.85"/></svg>\n'
