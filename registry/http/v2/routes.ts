/**
 * The distribution API's route table: for every path pattern and method, its handler and the action the caller
 * must hold on the repository. The dispatcher (index.ts) authorizes every request from this table, once,
 * before the handler runs; a handler never checks permissions itself.
 */
import type { V2Handler } from './context.js';
import { catalog, ping } from './base.js';
import { deleteBlob, getBlob } from './blobs.js';
import { cancelUpload, patchUpload, putUpload, startUpload, uploadStatus } from './uploads.js';
import { deleteManifest, getManifest, putManifest } from './manifests.js';
import { listTags } from './tags.js';
import { listReferrers } from './referrers.js';

/**
 * `pull`/`push`/`delete` on the repository named in the path (`delete` is also satisfied by `push` or `*`, as
 * Quay's token service grants it); `none` for routes outside a repository, whose handlers decide on their own
 * who may see what (the login probe, the catalog filtered by permissions).
 */
export type V2Action = 'pull' | 'push' | 'delete' | 'none';

export type V2Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface V2Endpoint {
  handler: V2Handler;
  action: V2Action;
}

export interface V2Route {
  name: string;
  pattern: RegExp;
  methods: Partial<Record<V2Method, V2Endpoint>>;
  /** false for routes that are not under a repository name */
  repo: boolean;
}

const NAME = '(.+?)';
const pull = (handler: V2Handler): V2Endpoint => ({ handler, action: 'pull' });
const push = (handler: V2Handler): V2Endpoint => ({ handler, action: 'push' });
const del = (handler: V2Handler): V2Endpoint => ({ handler, action: 'delete' });
const open = (handler: V2Handler): V2Endpoint => ({ handler, action: 'none' });

/** Matched in order from the top; repository names contain slashes, so the fixed keyword after the name decides. */
export const V2_ROUTES: readonly V2Route[] = [
  { name: 'v2_base', pattern: /^$/, methods: { GET: open(ping), HEAD: open(ping) }, repo: false },
  { name: 'v2_catalog', pattern: /^_catalog$/, methods: { GET: open(catalog) }, repo: false },
  { name: 'v2_tags', pattern: new RegExp(`^${NAME}/tags/list$`), methods: { GET: pull(listTags) }, repo: true },
  {
    name: 'v2_manifest',
    pattern: new RegExp(`^${NAME}/manifests/([^/]+)$`),
    methods: { GET: pull(getManifest), HEAD: pull(getManifest), PUT: push(putManifest), DELETE: del(deleteManifest) },
    repo: true,
  },
  { name: 'v2_upload_start', pattern: new RegExp(`^${NAME}/blobs/uploads/?$`), methods: { POST: push(startUpload) }, repo: true },
  {
    name: 'v2_upload',
    pattern: new RegExp(`^${NAME}/blobs/uploads/([^/]+)$`),
    methods: { GET: push(uploadStatus), PATCH: push(patchUpload), PUT: push(putUpload), DELETE: push(cancelUpload) },
    repo: true,
  },
  { name: 'v2_blob', pattern: new RegExp(`^${NAME}/blobs/([^/]+)$`), methods: { GET: pull(getBlob), HEAD: pull(getBlob), DELETE: del(deleteBlob) }, repo: true },
  { name: 'v2_referrers', pattern: new RegExp(`^${NAME}/referrers/([^/]+)$`), methods: { GET: pull(listReferrers) }, repo: true },
];
