/**
 * ensureBroker's KAFKA_BROKERS path: an external broker is used as given and never started or stopped.
 * (Starting a local broker is covered by test/integration/broker.test.ts.)
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { ConfigError } from '../../../src/errors';
import { ensureBroker, withBroker } from '../../../src/kafka/localBroker';

test('KAFKA_BROKERS is used as is, and stop() is a no-op', async () => {
  const broker = await ensureBroker({ env: { KAFKA_BROKERS: 'kafka-a:9092, kafka-b:9093' } });
  assert.deepEqual(broker.brokers, ['kafka-a:9092', 'kafka-b:9093']);
  assert.equal(broker.started, false);
  assert.equal(broker.name, undefined);
  await broker.stop();
});

test('withBroker hands the KAFKA_BROKERS list to the callback and returns its result', async () => {
  const result = await withBroker(async (brokers) => brokers.length, { env: { KAFKA_BROKERS: 'h:1' } });
  assert.equal(result, 1);
});

test('a malformed KAFKA_BROKERS is a ConfigError naming the field', async () => {
  await assert.rejects(ensureBroker({ env: { KAFKA_BROKERS: 'no-port' } }), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.equal(err.location.field, 'brokers');
    return true;
  });
});
