/** Signed, expiring links (exported logs, Clair's layer URLs): valid until the expiry, bound to subject and purpose. */
import { SignedLinks } from '../../../registry/auth/signed_links.js';
import { LayerUrlSigner } from '../../../registry/scan/layer_urls.js';

const parse = (link: string) => {
  const u = new URL(link);
  return { path: u.pathname, expires: u.searchParams.get('expires') ?? undefined, signature: u.searchParams.get('signature') ?? undefined };
};

test('a link opens its subject until it expires, and nothing else', () => {
  const links = new SignedLinks('k1', 'http://reg.example', 'exported-logs', '/exportedlogs/');
  const now = Date.UTC(2026, 0, 1);
  const l = parse(links.link('abc', 60, now));
  expect(l.path).toBe('/exportedlogs/abc');
  expect(links.verify('abc', l.expires, l.signature, now + 59_000)).toBe(true);
  expect(links.verify('abc', l.expires, l.signature, now + 61_000)).toBe(false);
  expect(links.verify('abd', l.expires, l.signature, now)).toBe(false);
  expect(links.verify('abc', String(Number(l.expires) + 3600), l.signature, now)).toBe(false);
  expect(links.verify('abc', l.expires, undefined, now)).toBe(false);
  expect(links.verify('abc', '1e12', l.signature, now)).toBe(false);
  expect(new SignedLinks('k2', 'http://reg.example', 'exported-logs', '/exportedlogs/').verify('abc', l.expires, l.signature, now)).toBe(false);
  // The same key for another feature does not accept the link.
  expect(new SignedLinks('k1', 'http://reg.example', 'secscan-layer', '/exportedlogs/').verify('abc', l.expires, l.signature, now)).toBe(false);
  expect(new LayerUrlSigner('k1', 'http://reg.example').verify('abc', l.expires, l.signature, now)).toBe(false);
});

test("Clair's layer URLs keep their shape and 60 s lifetime", () => {
  const s = new LayerUrlSigner('k1', 'http://reg.example');
  const digest = `sha256:${'a'.repeat(64)}`;
  const now = Date.UTC(2026, 0, 1);
  const l = parse(s.url(digest, now));
  expect(l.path).toBe(`/secscan/blobs/${digest}`);
  expect(Number(l.expires)).toBe(now / 1000 + 60);
  expect(s.verify(digest, l.expires, l.signature, now)).toBe(true);
});
