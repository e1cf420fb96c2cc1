/**
 * Features a config.yaml may switch on that this registry does not implement yet. Quay serves their
 * endpoints; here, rather than a silent 404, a request to one of them answers 501 naming the feature, and
 * the registry warns at start. This is the ONE list: a feature that gets built removes its entry (its real
 * routes then answer before this fallback is reached).
 */
import type { QuayConfig } from '../../../config/index.js';
import { ApiError } from './errors.js';

interface UnbuiltFeature {
  flag: keyof QuayConfig & `FEATURE_${string}`;
  what: string;
  /** Paths under /api/v1 (without the prefix) that belong to the feature. */
  paths: RegExp[];
}

export const UNBUILT_FEATURES: readonly UnbuiltFeature[] = [];

/** The configured-on features this registry does not implement (warned about at start). */
export function enabledUnbuiltFeatures(config: QuayConfig): readonly UnbuiltFeature[] {
  return UNBUILT_FEATURES.filter((f) => config[f.flag] === true);
}

/** The error for a request to an endpoint of a configured-on, unbuilt feature; null for any other path. */
export function unbuiltFeatureError(config: QuayConfig, apiPath: string): ApiError | null {
  const feature = enabledUnbuiltFeatures(config).find((f) => f.paths.some((p) => p.test(apiPath)));
  if (!feature) return null;
  return new ApiError(501, 'feature_not_implemented', `${feature.flag} is enabled in the configuration, but this registry does not implement ${feature.what}`);
}
