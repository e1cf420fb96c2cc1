export * from './schema.js';
export * from './load.js';
export * from './node.js';
export * from './frontend.js';
export * from './unsupported.js';
