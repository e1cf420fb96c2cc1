/** Every schema migration in order. Add new ones at the end; never edit one that has shipped. */
import core from './001_core.js';
import lifecycle from './003_lifecycle.js';

export const MIGRATIONS: ReadonlyArray<{ version: number; name: string; sql: string }> = [
  { version: 1, name: 'core', sql: core },
  // 2 is tenancy (organizations, teams, robots, OAuth), added by its own change.
  { version: 3, name: 'lifecycle', sql: lifecycle },
];
