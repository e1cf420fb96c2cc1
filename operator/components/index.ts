/** Every component module, by kind. */
import type { ComponentKind } from '../types.js';
import type { ComponentModule } from './common.js';
import { quay } from './quay.js';
import { postgres } from './postgres.js';
import { clair } from './clair.js';
import { clairpostgres } from './clairpostgres.js';
import { redis } from './redis.js';
import { hpa } from './hpa.js';
import { objectstorage } from './objectstorage.js';
import { route } from './route.js';
import { mirror } from './mirror.js';
import { monitoring } from './monitoring.js';
import { tls } from './tls.js';

export const COMPONENTS: Record<ComponentKind, ComponentModule> = {
  quay,
  postgres,
  clair,
  clairpostgres,
  redis,
  horizontalpodautoscaler: hpa,
  objectstorage,
  route,
  mirror,
  monitoring,
  tls,
};
