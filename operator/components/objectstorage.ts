/** Object storage through an ObjectBucketClaim (NooBaa/ODF, Rook): the bucket's credentials feed the config. */
import { meta, notReady, observedKey, prefixed, ready } from './common.js';
import type { ComponentModule, Named } from './common.js';

export const bucketClaimName = (ctx: Named) => prefixed(ctx, 'quay-datastore');

export const objectstorage: ComponentModule = {
  kind: 'objectstorage',
  fieldGroup: ['DISTRIBUTED_STORAGE_CONFIG', 'DISTRIBUTED_STORAGE_PREFERENCE', 'DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS', 'FEATURE_STORAGE_REPLICATION'],
  config(ctx) {
    const b = ctx.objectBucket;
    if (!b) return {};
    return {
      FEATURE_PROXY_STORAGE: true,
      FEATURE_STORAGE_REPLICATION: false,
      DISTRIBUTED_STORAGE_PREFERENCE: ['local_us'],
      DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS: ['local_us'],
      DISTRIBUTED_STORAGE_CONFIG: {
        local_us: [
          'RHOCSStorage',
          {
            hostname: b.host,
            port: b.port,
            is_secure: b.secure,
            bucket_name: b.bucket,
            access_key: b.accessKey,
            secret_key: b.secretKey,
            storage_path: '/datastorage/registry',
          },
        ],
      },
    };
  },
  objects(ctx) {
    return [
      {
        apiVersion: 'objectbucket.io/v1alpha1',
        kind: 'ObjectBucketClaim',
        metadata: meta(ctx, bucketClaimName(ctx), 'objectstorage', 'objectstorage'),
        spec: {
          generateBucketName: bucketClaimName(ctx),
          storageClassName: ctx.settings.bucketStorageClass,
        },
      },
    ];
  },
  ready(ctx, observed) {
    const claim = observed.get(observedKey('ObjectBucketClaim', bucketClaimName(ctx)));
    if (!claim) return notReady('Unable to locate object bucket claim');
    return claim.status?.phase === 'Bound' ? ready('Object bucket claim bound') : notReady('Object bucket claim not bound');
  },
};
