import { MemoryOrchestrator } from '../../../registry/build/orchestrator.js';

test('the in-memory orchestrator releases a lock when its key is deleted, as Redis does (a retried build completes again)', async () => {
  const orch = new MemoryOrchestrator('p/');
  expect(await orch.lock('p/lock/b1', 60)).toBe(true);
  expect(await orch.lock('p/lock/b1', 60)).toBe(false);
  await orch.delete('p/lock/b1');
  expect(await orch.lock('p/lock/b1', 60)).toBe(true);
  await orch.close();
});
