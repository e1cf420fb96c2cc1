/**
 * Password guessing (issue 13, finding 4): Quay's per-user login backoff on /api/v1/signin, /v2/auth and
 * Basic on /v2 (429 with Retry-After, exponential), concurrent guesses checked one at a time, and password
 * hashing off the event loop: 8 guessing clients leave /health/instance fast. Real registry on Postgres.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { basicAuth, scaleOutConfig, startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { Api, createUser, initialize } from './fixture.js';

let reg: RegistryProcess;
let admin: Api;

beforeAll(async () => {
  reg = await startRegistry({ label: 'backoff', config: await scaleOutConfig({ FEATURE_USER_INITIALIZE: true }) });
  admin = (await initialize(reg)).api;
});

afterAll(async () => {
  await reg?.stop();
});

const signinAs = (username: string, password: string) =>
  fetch(`${reg.url}/api/v1/signin`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });

const v2auth = (username: string, password: string) => fetch(`${reg.url}/v2/auth?service=${reg.hostPort}`, { headers: { authorization: basicAuth(username, password) } });

test('a failed login makes the next attempt wait, on every password entry point, with 429 and Retry-After', async () => {
  const password = await createUser(admin, 'guessed');
  // Three failures (waiting out the 0.5 s and 1.5 s delays): the next attempt must wait 3.5 s, time enough
  // to try every entry point on a busy machine.
  for (const wait of [600, 1600, 0]) {
    expect((await signinAs('guessed', 'wrong-password')).status).toBe(403);
    await sleep(wait);
  }

  const api = await signinAs('guessed', password);
  expect(api.status).toBe(429);
  expect(Number(api.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  expect(await api.json()).toMatchObject({ status: 429, error_message: expect.stringMatching(/^Too many login attempts/) });

  const token = await v2auth('guessed', password);
  expect(token.status).toBe(429);
  expect(token.headers.get('retry-after')).toMatch(/^[0-9]+$/);
  expect(((await token.json()) as { errors: { code: string }[] }).errors[0].code).toBe('TOOMANYREQUESTS');

  const direct = await fetch(`${reg.url}/v2/_catalog`, { headers: { authorization: basicAuth('guessed', password) } });
  expect(direct.status).toBe(429);

  // The 429s did not count: after the third delay (3.5 s) the right password works and clears the count.
  await sleep(3700);
  expect((await signinAs('guessed', password)).status).toBe(200);
  // Cleared: the next wrong password is checked (403), not held off for 7.5 s.
  expect((await signinAs('guessed', 'wrong-password')).status).toBe(403);
});

test('the delay doubles with each failure (Quay: 0.5 s × (2^n − 1))', async () => {
  await createUser(admin, 'doubling');
  for (let n = 1; n <= 4; n++) {
    const window = 0.5 * (2 ** n - 1);
    expect((await signinAs('doubling', 'wrong-password')).status).toBe(403);
    const blocked = await signinAs('doubling', 'wrong-password');
    expect(blocked.status).toBe(429);
    // Whole seconds left of the window, less whatever the two requests took on a busy machine.
    const retryAfter = Number(blocked.headers.get('retry-after'));
    expect(retryAfter).toBeLessThanOrEqual(Math.ceil(window));
    expect(retryAfter).toBeGreaterThanOrEqual(Math.max(1, Math.ceil(window) - 1));
    if (n < 4) await sleep(window * 1000 + 300);
  }
});

test('concurrent guesses at one user: one is checked, the rest wait', async () => {
  await createUser(admin, 'stampede');
  // After one failure and its 0.5 s delay, the next window is 1.5 s: longer than the stampede takes.
  expect((await signinAs('stampede', 'wrong-password')).status).toBe(403);
  await sleep(700);
  const statuses = (await Promise.all(Array.from({ length: 20 }, () => signinAs('stampede', 'wrong-password')))).map((r) => r.status);
  expect(statuses.filter((s) => s === 403)).toHaveLength(1);
  expect(statuses.filter((s) => s === 429)).toHaveLength(19);
});

test('a burst of requests with the right password is never held back', async () => {
  const password = await createUser(admin, 'busyclient');
  const auth = { authorization: basicAuth('busyclient', password) };
  const statuses = await Promise.all(
    Array.from({ length: 20 }, (_, i) => (i % 2 ? v2auth('busyclient', password) : fetch(`${reg.url}/v2/`, { headers: auth })).then((r) => r.status)),
  );
  expect(statuses).toEqual(Array(20).fill(200));
});

test('8 clients guessing passwords leave /health/instance latency within a small factor of its baseline', async () => {
  const users = Array.from({ length: 48 }, (_, i) => `spray${i}`);
  for (const u of users) await createUser(admin, u);

  const healthLatencies = async (until: () => boolean, min: number): Promise<number[]> => {
    const ms: number[] = [];
    while (!until() || ms.length < min) {
      const t = performance.now();
      const r = await fetch(`${reg.url}/health/instance`);
      await r.arrayBuffer();
      ms.push(performance.now() - t);
      await sleep(20);
    }
    return ms;
  };
  const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.floor(q * (xs.length - 1))];

  const baseline = await healthLatencies(() => true, 50);
  let stop = false;
  let checked = 0;
  // Each client sprays its own six users, honouring Retry-After: every guess it sends is a password check.
  // (Guessing on through the 429s would flood both event loops, the registry's and this test's, with cheap
  // refusals, and measure that flood instead of where the hashing runs.)
  const guessers = Array.from({ length: 8 }, async (_, c) => {
    const notBefore = new Array<number>(6).fill(0);
    for (let i = 0; !stop; i++) {
      const u = i % 6;
      if (notBefore[u] > Date.now()) {
        await sleep(Math.min(...notBefore) - Date.now());
        continue;
      }
      const r = await signinAs(users[c * 6 + u], `guess-${i}`);
      await r.arrayBuffer();
      if (r.status === 403) checked++;
      else if (r.status === 429) notBefore[u] = Date.now() + 1000 * Number(r.headers.get('retry-after'));
    }
  });
  const started = Date.now();
  const underLoad = await healthLatencies(() => Date.now() - started > 8000, 100);
  stop = true;
  await Promise.all(guessers);

  const report = { baselineMedian: quantile(baseline, 0.5), median: quantile(underLoad, 0.5), p90: quantile(underLoad, 0.9), samples: underLoad.length, passwordsChecked: checked };
  console.log('health latency under password guessing (ms):', JSON.stringify(report));
  // The load was real: bcrypt verifications ran all along (with bcryptjs each blocked the loop for 50-250 ms).
  expect(checked).toBeGreaterThanOrEqual(24);
  // Relative to the same run's baseline, so a machine busy with other work does not decide the result:
  // hashing on the event loop (bcryptjs) or on every pool thread multiplied it by 10 and more.
  expect(report.median).toBeLessThan(4 * Math.max(report.baselineMedian, 10));
});
