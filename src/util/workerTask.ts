/**
 * Modules that also run as worker threads (the bench's load generator and serve instances) start their
 * work when loaded as a worker whose `workerData` is theirs; imported anywhere else they only export.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';

/**
 * The parent port and the task's data when this thread is a worker started with a `workerData` object
 * that has the property `key` (which tells the tasks apart); undefined otherwise.
 */
export function workerTask<T extends object>(
  key: keyof T & string,
): { port: MessagePort; data: T } | undefined {
  if (parentPort === null || workerData === null || typeof workerData !== 'object') return undefined;
  if (!(key in (workerData as object))) return undefined;
  return { port: parentPort, data: workerData as T };
}

/** An error as text for a message to the parent thread. */
export function errorText(err: unknown): string {
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
}
