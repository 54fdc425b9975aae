// The Node packages tests/adversarial/ needs. Bare imports resolve from the importing file's
// folder, and node_modules lives here, so that suite imports them through this file.
export * as Y from 'yjs'
export * as encoding from 'lib0/encoding'
export * as decoding from 'lib0/decoding'
export * as awarenessProtocol from 'y-protocols/awareness'
export { default as WebSocket } from 'ws'
export { WebsocketProvider } from 'y-websocket'
