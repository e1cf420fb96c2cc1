import { ByteLru } from '../../../registry/cache/lru.js';

describe('ByteLru', () => {
  test('keeps at most maxBytes, pushing out the least recently used first', () => {
    const c = new ByteLru<string>('t', 100);
    c.set('a', 'A', 10);
    c.set('b', 'B', 10);
    c.set('c', 'C', 10);
    expect(c.get('a')).toBe('A'); // a is now the newest
    for (let i = 0; i < 8; i++) c.set(`x${i}`, 'X', 10); // 110 bytes asked for: one goes
    expect(c.bytes).toBe(100);
    expect(c.get('b')).toBeUndefined();
    expect(c.get('a')).toBe('A');
    expect(c.evictions).toBe(1);
    expect(c.hits).toBe(2);
    expect(c.misses).toBe(1);
  });

  test('does not keep a value larger than an eighth of the bound; replacing a key does not count it twice', () => {
    const c = new ByteLru<string>('t', 80);
    c.set('big', 'B', 11);
    expect(c.size).toBe(0);
    c.set('k', 'one', 10);
    c.set('k', 'two', 5);
    expect(c.bytes).toBe(5);
    expect(c.get('k')).toBe('two');
  });

  test('deleteWhere and clear free the bytes', () => {
    const c = new ByteLru<number>('t', 1000);
    c.set('ns/a', 1, 10);
    c.set('ns/b', 2, 10);
    c.set('other/a', 3, 10);
    c.deleteWhere((k) => k.startsWith('ns/'));
    expect(c.size).toBe(1);
    expect(c.bytes).toBe(10);
    c.clear();
    expect(c.bytes).toBe(0);
  });
});
