export { createServer, parsePredictBody } from './server.js';
export type { FinetuneServer, ServeOptions } from './server.js';
export { prioritizeEventLoop, DEFAULT_BACKGROUND_NICE } from './priority.js';
