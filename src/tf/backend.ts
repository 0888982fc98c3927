/**
 * Run-time choice of the TensorFlow.js backend: TensorFlow's native kernels through tfjs-node-gpu or
 * tfjs-node when they load, pure JavaScript otherwise (with a loud warning, since convolutional training is
 * then about a thousand times slower). All three share one `@tensorflow/tfjs` module, so model code imports
 * that module directly and runs on whichever backend is active.
 *
 * `scripts/native-tf/setup.js` (npm postinstall) is what makes the native packages load on machines that
 * cannot reach Google storage; see docs/native-tensorflow.md.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ConfigError, EcgflowError } from '../errors';

/** What the caller asks for: `auto` = GPU, then CPU native, then pure JS. */
export type BackendPreference = 'auto' | 'gpu' | 'native' | 'js';

/** The backend that actually runs the ops (`cpu` is tfjs's pure-JavaScript backend). */
export type BackendKind = 'tensorflow-gpu' | 'tensorflow' | 'cpu';

export interface TfRuntime {
  /** The shared `@tensorflow/tfjs` module; the selected backend is already active. */
  tf: typeof tf;
  backend: BackendKind;
  /** True for the two TensorFlow backends. */
  native: boolean;
  /** TensorFlow's own version, read from the native binding (e.g. "2.21.0"); `none` on pure JS. */
  tfVersion: string;
  /** Version of @tensorflow/tfjs (the JavaScript side). */
  tfjsVersion: string;
  /** npm package that provided the backend. */
  packageName: '@tensorflow/tfjs-node-gpu' | '@tensorflow/tfjs-node' | '@tensorflow/tfjs';
  /** Intra-op threads (the ones a convolution uses); 1 for pure JavaScript. */
  threads: number;
  interOpThreads: number;
  /** Where the thread counts come from: TF_NUM_INTRAOP_THREADS / TF_NUM_INTEROP_THREADS, or TF's default. */
  threadsSource: 'env' | 'default' | 'single-threaded';
  /** Whether TensorFlow placed ops on a GPU (tfjs-node-gpu only). */
  gpuDevice: boolean;
  /** How scripts/native-tf/setup.js installed the native package, when it recorded that. */
  installMethod?: string;
  /** Why a preferred backend was not used, in the order they were tried. */
  fallbackReasons: string[];
}

/** The requested backend cannot be loaded (e.g. ECGFLOW_TF_BACKEND=native without a working addon). */
export class TfBackendError extends EcgflowError {
  constructor(message: string, cause?: unknown) {
    super('TF_BACKEND', message, { field: 'ECGFLOW_TF_BACKEND' }, false, cause);
  }
}

const PREFERENCES: readonly BackendPreference[] = ['auto', 'gpu', 'native', 'js'];

/** The backend preference from a flag, then `ECGFLOW_TF_BACKEND`, then `auto`. */
export function resolveBackendPreference(
  flag?: string,
  env: NodeJS.ProcessEnv = process.env,
): BackendPreference {
  const raw = (flag ?? env.ECGFLOW_TF_BACKEND ?? 'auto').trim().toLowerCase();
  const value = raw === '' ? 'auto' : raw;
  if (!(PREFERENCES as readonly string[]).includes(value)) {
    throw new ConfigError(`backend "${raw}" is not one of ${PREFERENCES.join(', ')}`, 'tf-backend');
  }
  return value as BackendPreference;
}

export interface LoadTfOptions {
  prefer?: BackendPreference;
  /** Where the loud fallback warning goes (default: stderr). */
  warn?: (message: string) => void;
  /** Environment consulted for thread settings (default: process.env). */
  env?: NodeJS.ProcessEnv;
}

let loaded: { runtime: TfRuntime; prefer: BackendPreference } | undefined;

interface NativeBackendLike {
  binding?: { TF_Version?: string };
  isUsingGpuDevice?: boolean;
}

/**
 * Load TensorFlow.js on the best available backend and make it the active one. The first call decides for
 * the whole process (a native addon cannot be unloaded); later calls return the same runtime, or throw
 * when they ask for something incompatible with it.
 */
export async function loadTf(options: LoadTfOptions = {}): Promise<TfRuntime> {
  const prefer = options.prefer ?? 'auto';
  const env = options.env ?? process.env;
  const warn = options.warn ?? ((m: string) => process.stderr.write(`${m}\n`));
  if (loaded !== undefined) {
    if (!compatible(loaded.runtime.backend, prefer)) {
      throw new TfBackendError(
        `backend ${loaded.runtime.backend} is already loaded in this process; cannot switch to "${prefer}"`,
      );
    }
    await tf.setBackend(loaded.runtime.backend === 'cpu' ? 'cpu' : 'tensorflow');
    return loaded.runtime;
  }

  const reasons: string[] = [];
  const candidates: ('@tensorflow/tfjs-node-gpu' | '@tensorflow/tfjs-node')[] = [];
  if (prefer === 'gpu') candidates.push('@tensorflow/tfjs-node-gpu');
  if (prefer === 'auto') {
    if (nvidiaDriverPresent()) candidates.push('@tensorflow/tfjs-node-gpu');
    else reasons.push('@tensorflow/tfjs-node-gpu: not tried (no NVIDIA driver on this machine)');
  }
  if (prefer === 'auto' || prefer === 'native') candidates.push('@tensorflow/tfjs-node');

  // TensorFlow's INFO lines (oneDNN notice, one block per graph-engine model load: model/graphInference.ts)
  // would flood serve's log at every hot swap; warnings and errors still show. TF reads this when it loads.
  // Set TF_CPP_MIN_LOG_LEVEL=0 to see them.
  if (candidates.length > 0 && process.env.TF_CPP_MIN_LOG_LEVEL === undefined)
    process.env.TF_CPP_MIN_LOG_LEVEL = '1';
  for (const pkg of candidates) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      require(pkg);
      await tf.setBackend('tensorflow');
      await tf.ready();
      const runtime = describeNative(pkg, env, reasons);
      loaded = { runtime, prefer };
      return runtime;
    } catch (err) {
      reasons.push(`${pkg}: ${firstLine(err)}`);
    }
  }

  if (prefer === 'gpu' || prefer === 'native') {
    throw new TfBackendError(
      `the ${prefer} TensorFlow backend was requested but does not load:\n  ${reasons.join('\n  ')}\n` +
        'run `node scripts/native-tf/setup.js` (see docs/native-tensorflow.md)',
    );
  }
  await tf.setBackend('cpu');
  await tf.ready();
  if (prefer === 'auto') {
    const bar = '!'.repeat(78);
    warn(
      [
        bar,
        '!! ecgflow: NO NATIVE TENSORFLOW. Running on the pure-JavaScript backend (tfjs "cpu"):',
        '!! convolutional training is about 1000x slower than on the native backend.',
        ...reasons.map((r) => `!!   ${r}`),
        '!! Fix: node scripts/native-tf/setup.js   (details: docs/native-tensorflow.md)',
        '!! Set ECGFLOW_TF_BACKEND=js to choose pure JavaScript on purpose and silence this warning.',
        bar,
      ].join('\n'),
    );
  }
  const runtime: TfRuntime = {
    tf,
    backend: 'cpu',
    native: false,
    tfVersion: 'none',
    tfjsVersion: tf.version.tfjs,
    packageName: '@tensorflow/tfjs',
    threads: 1,
    interOpThreads: 1,
    threadsSource: 'single-threaded',
    gpuDevice: false,
    fallbackReasons: reasons,
  };
  loaded = { runtime, prefer };
  return runtime;
}

function compatible(backend: BackendKind, prefer: BackendPreference): boolean {
  if (prefer === 'auto') return true;
  if (prefer === 'js') return true; // the pure-JS backend is registered alongside a native one
  if (prefer === 'native') return backend === 'tensorflow' || backend === 'tensorflow-gpu';
  return backend === 'tensorflow-gpu';
}

function describeNative(
  pkg: '@tensorflow/tfjs-node-gpu' | '@tensorflow/tfjs-node',
  env: NodeJS.ProcessEnv,
  reasons: string[],
): TfRuntime {
  const backend = tf.backend() as unknown as NativeBackendLike;
  const gpuDevice = Boolean(backend.isUsingGpuDevice);
  const intraEnv = positiveInt(env.TF_NUM_INTRAOP_THREADS);
  const interEnv = positiveInt(env.TF_NUM_INTEROP_THREADS);
  // TensorFlow's default for both pools is the number of CPUs this process may run on.
  const cpus = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return {
    tf,
    backend: pkg === '@tensorflow/tfjs-node-gpu' ? 'tensorflow-gpu' : 'tensorflow',
    native: true,
    tfVersion: backend.binding?.TF_Version ?? 'unknown',
    tfjsVersion: tf.version.tfjs,
    packageName: pkg,
    threads: intraEnv ?? cpus,
    interOpThreads: interEnv ?? cpus,
    threadsSource: intraEnv !== undefined || interEnv !== undefined ? 'env' : 'default',
    gpuDevice,
    installMethod: readInstallMethod(pkg),
    fallbackReasons: reasons,
  };
}

function readInstallMethod(pkg: string): string | undefined {
  try {
    const dir = path.dirname(require.resolve(`${pkg}/package.json`));
    const state = JSON.parse(fs.readFileSync(path.join(dir, 'deps', 'ecgflow-native-tf.json'), 'utf8')) as {
      method?: string;
    };
    return state.method;
  } catch {
    return undefined;
  }
}

function positiveInt(raw: string | undefined): number | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const n = Number(raw);
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

function nvidiaDriverPresent(): boolean {
  return fs.existsSync('/proc/driver/nvidia/version') || fs.existsSync('/dev/nvidia0');
}

function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split('\n').find((l) => l.trim() !== '') ?? text;
}

/** One object for reports and metrics: which backend, which TensorFlow, how many threads. */
export function runtimeSummary(rt: TfRuntime): {
  backend: BackendKind;
  tfVersion: string;
  tfjsVersion: string;
  threads: number;
  interOpThreads: number;
  native: boolean;
} {
  return {
    backend: rt.backend,
    tfVersion: rt.tfVersion,
    tfjsVersion: rt.tfjsVersion,
    threads: rt.threads,
    interOpThreads: rt.interOpThreads,
    native: rt.native,
  };
}
