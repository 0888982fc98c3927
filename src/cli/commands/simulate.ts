/**
 * `ecgflow simulate mllp --records 100,101 --speed 1 --port 2575`: replay records as IHE PCD-01 messages
 * over MLLP to a gateway, one connection per record, waiting for each ACK (src/ingest/simulator.ts).
 */
import type { Command } from 'commander';
import { resolveDataDir } from '../../config/settings';
import { simulateMllp } from '../../ingest/simulator';
import { log, printJson, table } from '../../util/output';
import { Progress } from '../../util/progress';
import { readHeader } from '../../wfdb/record';
import {
  addDataDirOption,
  addJsonOption,
  parsePort,
  parsePositiveNumber,
  parseSpeed,
  resolveRecords,
} from '../options';

interface Flags {
  records: string;
  speed: number | 'max';
  host: string;
  port: number;
  lead: string;
  messageSeconds: number;
  seconds?: number;
  patientPrefix: string;
  ackTimeoutMs: number;
  dataDir?: string;
  json?: boolean;
}

export function register(program: Command): void {
  const simulate = program
    .command('simulate')
    .description('simulate bedside monitors from recorded databases');
  const cmd = simulate
    .command('mllp')
    .description('replay records as HL7 v2 PCD-01 waveform messages over MLLP (one connection per record)')
    .option('--records <list>', '"all" or comma-separated record names', '100')
    .option(
      '--speed <factor>',
      '"max" or a real-time factor (timestamps follow the record clock: latencies need 1)',
      parseSpeed,
      1 as number | 'max',
    )
    .option('--host <address>', 'gateway address', '127.0.0.1')
    .option('--port <port>', 'gateway MLLP port', parsePort, 2575)
    .option('--lead <name>', 'lead to send (the first signal if a record lacks it)', 'MLII')
    .option(
      '--message-seconds <s>',
      'seconds of signal per message',
      parsePositiveNumber('message-seconds'),
      1,
    )
    .option('--seconds <s>', 'send only the first S seconds of each record', parsePositiveNumber('seconds'))
    .option('--patient-prefix <prefix>', 'patient id (PID-3) = prefix + record name', '')
    .option(
      '--ack-timeout-ms <ms>',
      'resend a message whose ACK has not come within this long',
      parsePositiveNumber('ack-timeout-ms'),
      10_000,
    );
  addDataDirOption(cmd);
  addJsonOption(cmd);
  cmd.action(async (flags: Flags) => {
    const dataDir = resolveDataDir(flags.dataDir);
    const records = await resolveRecords(flags.records, dataDir);
    let total = 0;
    for (const r of records) {
      const h = await readHeader(dataDir, r);
      total += Math.min(
        h.frameCount ?? 0,
        flags.seconds === undefined ? Infinity : Math.round(flags.seconds * h.sampleRateHz),
      );
    }
    log(
      `simulate: ${records.length} record(s) to mllp://${flags.host}:${flags.port}, speed ${flags.speed}, ${flags.messageSeconds} s per message`,
    );
    const progress = new Progress('sent', total, ' samples', 2000);
    const summary = await simulateMllp(
      {
        host: flags.host,
        port: flags.port,
        dataDir,
        records,
        lead: flags.lead,
        speed: flags.speed,
        messageSeconds: flags.messageSeconds,
        seconds: flags.seconds,
        patientPrefix: flags.patientPrefix,
        ackTimeoutMs: flags.ackTimeoutMs,
      },
      log,
      (_record, samples) => progress.tick(samples),
    );
    progress.finish();
    process.stdout.write(
      `${table([
        ['records', 'messages', 'accepted', 'refused', 'resent', 'samples', 'seconds'],
        [
          summary.records,
          summary.messages,
          summary.accepted,
          summary.refused,
          summary.resent,
          summary.samples,
          Number(summary.seconds.toFixed(1)),
        ],
      ])}\n`,
    );
    if (flags.json) printJson(summary);
    if (summary.refused > 0) process.exitCode = 1;
  });
}
