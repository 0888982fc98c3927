/**
 * `ecgflow info`: which TensorFlow backend this installation runs on (native or pure JS), TensorFlow's
 * version and thread counts, and the machine. The quick check after `npm install`.
 */
import * as os from 'node:os';
import { Option, type Command } from 'commander';
import { loadTf, resolveBackendPreference } from '../../tf/backend';
import { printJson, table } from '../../util/output';
import { addJsonOption } from '../options';

export interface InfoConfig {
  backend: ReturnType<typeof resolveBackendPreference>;
  json: boolean;
}

export interface InfoReport {
  backend: string;
  native: boolean;
  tfVersion: string;
  tfjsVersion: string;
  tfjsPackage: string;
  threads: number;
  interOpThreads: number;
  threadsSource: string;
  gpuDevice: boolean;
  installMethod: string | null;
  fallbackReasons: string[];
  node: string;
  platform: string;
  arch: string;
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
}

/** The `--tf-backend` flag, shared by every command that loads TensorFlow. */
export function tfBackendOption(): Option {
  return new Option(
    '--tf-backend <name>',
    'TensorFlow backend: auto (GPU, then native CPU, then pure JS), gpu, native or js (env ECGFLOW_TF_BACKEND)',
  ).choices(['auto', 'gpu', 'native', 'js']);
}

export async function collectInfo(config: InfoConfig): Promise<InfoReport> {
  const rt = await loadTf({ prefer: config.backend });
  const cpus = os.cpus();
  return {
    backend: rt.backend,
    native: rt.native,
    tfVersion: rt.tfVersion,
    tfjsVersion: rt.tfjsVersion,
    tfjsPackage: rt.packageName,
    threads: rt.threads,
    interOpThreads: rt.interOpThreads,
    threadsSource: rt.threadsSource,
    gpuDevice: rt.gpuDevice,
    installMethod: rt.installMethod ?? null,
    fallbackReasons: rt.fallbackReasons,
    node: process.version,
    platform: process.platform,
    arch: process.arch,
    cpus: typeof os.availableParallelism === 'function' ? os.availableParallelism() : cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
  };
}

export function register(program: Command): void {
  addJsonOption(
    program
      .command('info')
      .description(
        'show the TensorFlow backend (native or pure JS), its version and threads, and the machine',
      )
      .addOption(tfBackendOption()),
  ).action(async (flags: { tfBackend?: string; json?: boolean }) => {
    const config: InfoConfig = {
      backend: resolveBackendPreference(flags.tfBackend),
      json: Boolean(flags.json),
    };
    const info = await collectInfo(config);
    if (config.json) {
      printJson(info);
      return;
    }
    process.stdout.write(
      `${table([
        [
          'backend',
          `${info.backend}${info.native ? '' : '  (pure JavaScript: slow, see docs/native-tensorflow.md)'}`,
        ],
        ['TensorFlow', info.tfVersion],
        ['tfjs', `${info.tfjsVersion} (${info.tfjsPackage})`],
        ['threads', `${info.threads} intra-op, ${info.interOpThreads} inter-op (${info.threadsSource})`],
        ['installed by', info.installMethod ?? '-'],
        ['node', `${info.node} ${info.platform}-${info.arch}`],
        ['cpus', `${info.cpus} x ${info.cpuModel}`],
        ['memory', `${info.memoryGiB} GiB`],
        ...info.fallbackReasons.map((r): [string, string] => ['not used', r]),
      ])}\n`,
    );
  });
}
