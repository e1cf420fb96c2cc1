/**
 * The events benchmark's webhook and Slack receivers, in a process of their own, as a receiver is another
 * host in production: in the benchmark's process their request handling shared one event loop with the
 * pushing client and slowed the pushes with notifications on, whatever the registry did. The benchmark
 * (bench/events/main.ts) forks it and asks over IPC: `{ op: 'counts' }` answers `{ webhook, slack }` (requests
 * received), `{ op: 'records' }` the bodies and arrival times (ms since epoch, the one wall clock both share).
 */
import { startReceiver } from '../../test/helpers/receiver.js';

export interface ReceiverRecords {
  webhook: Array<{ body: string; at: number }>;
  slack: Array<{ body: string; at: number }>;
}

const [webhook, slack] = await Promise.all([startReceiver(), startReceiver()]);
const send = (m: unknown) => process.send?.(m);
process.on('message', (m: { id: number; op: 'counts' | 'records' }) => {
  if (m.op === 'counts') send({ id: m.id, webhook: webhook.received.length, slack: slack.received.length });
  else {
    const pick = (r: typeof webhook) => r.received.map((x) => ({ body: x.body, at: x.at }));
    send({ id: m.id, webhook: pick(webhook), slack: pick(slack) } satisfies ReceiverRecords & { id: number });
  }
});
process.on('disconnect', () => {
  void Promise.all([webhook.close(), slack.close()]).finally(() => process.exit(0));
});
send({ ready: true, webhook: webhook.url, slack: slack.url });
