/** Every schema migration in order. Add new ones at the end; never edit one that has shipped. */
import core from './001_core.js';

export const MIGRATIONS: ReadonlyArray<{ version: number; name: string; sql: string }> = [
  { version: 1, name: 'core', sql: core },
];
