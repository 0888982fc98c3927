/**
 * Pick the bus a command runs on: Kafka when brokers are configured (`--brokers` / `KAFKA_BROKERS`),
 * otherwise the embedded in-process bus.
 */
import { KafkaBus } from './kafkaBus';
import { MemoryBus } from './memoryBus';
import type { Bus } from './types';

export function openBus(brokers: readonly string[] | undefined, clientId = 'ecgflow'): Bus {
  return brokers === undefined ? new MemoryBus() : new KafkaBus({ brokers, clientId });
}

export function describeBus(bus: Bus, brokers: readonly string[] | undefined): string {
  return bus.kind === 'kafka' ? `Kafka at ${brokers?.join(',')}` : 'embedded in-process bus (no Kafka)';
}
