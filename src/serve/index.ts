export { createServer, parsePredictBody } from './server.js';
export type { FinetuneServer, ServeOptions } from './server.js';
