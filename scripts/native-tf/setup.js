#!/usr/bin/env node
/**
 * postinstall step: make TensorFlow's native kernels available to @tensorflow/tfjs-node.
 *
 * Order of attempts (each one is skipped when an earlier one already gave a loading addon):
 *   1. the addon already loads (second `npm install`, or npm ran the package's own install script);
 *   2. the package's standard install (downloads libtensorflow 2.9.1 and a prebuilt addon from Google
 *      storage) when that host answers;
 *   3. the offline recipe: libtensorflow from PyPI's tensorflow-cpu wheel (pip download, cached outside the
 *      repository), tfjs-node's deps/ filled by hand, the addon compiled locally with node-gyp (the compiled
 *      addon is cached too, keyed by every input that changes it).
 * Whatever happens, this script exits 0: a missing native backend must never break `npm install`; it is
 * explained loudly instead, and the runtime falls back to pure JavaScript with a warning.
 *
 * Environment: ECGFLOW_SKIP_NATIVE_TF=1 skips everything; ECGFLOW_NATIVE_TF_OFFLINE=1 skips the standard
 * download; ECGFLOW_NATIVE_TF_REBUILD=1 ignores the cached addon; ECGFLOW_TF_WHEEL=/path/to.whl uses a wheel
 * brought in by hand (air-gapped networks); ECGFLOW_CACHE_DIR moves the cache (default ~/.cache/ecgflow).
 * Plain Node on purpose: it runs before the TypeScript build and before any project code exists.
 */
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');
const https = require('node:https');
const { spawnSync } = require('node:child_process');

const ROOT = path.resolve(__dirname, '..', '..');
const TAG = '[ecgflow native-tf]';
const T0 = Date.now();

/** The wheel whose shared libraries replace libtensorflow; its C API serves tfjs-node 4.22. */
const WHEEL = { name: 'tensorflow-cpu', version: '2.21.0' };
/** Inside the wheel: the two libraries, and the only headers tfjs-node's binding includes (1.5 MB of 287 MB). */
const WHEEL_LIBS = ['tensorflow/libtensorflow_cc.so.2', 'tensorflow/libtensorflow_framework.so.2'];
const WHEEL_HEADERS = [
  'tensorflow/include/tensorflow/c/*',
  'tensorflow/include/tensorflow/core/platform/ctstring*',
  'tensorflow/include/tsl/platform/ctstring*',
  'tensorflow/include/xla/tsl/c/*',
];
const WHEEL_ALL_HEADERS = ['tensorflow/include/*'];
const STATE_FILE = 'ecgflow-native-tf.json';

function elapsed() {
  return `${((Date.now() - T0) / 1000).toFixed(1)}s`;
}

function log(message) {
  process.stderr.write(`${TAG} ${elapsed().padStart(6)}  ${message}\n`);
}

function envFlag(name) {
  const v = process.env[name];
  return v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
}

function cacheRoot() {
  if (process.env.ECGFLOW_CACHE_DIR) return path.resolve(process.env.ECGFLOW_CACHE_DIR);
  const xdg = process.env.XDG_CACHE_HOME;
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(os.homedir(), '.cache');
  return path.join(base, 'ecgflow');
}

function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Pinned versions come from the project's package.json so that there is a single place to change them. */
function wantedVersion(pkgName) {
  const pkg = readJson(path.join(ROOT, 'package.json')) || {};
  const spec = (pkg.optionalDependencies || {})[pkgName] || (pkg.dependencies || {})[pkgName] || '4.22.0';
  return spec.replace(/^[\^~=v]+/, '');
}

function run(cmd, args, options = {}) {
  const res = spawnSync(cmd, args, {
    cwd: options.cwd || ROOT,
    env: options.env || process.env,
    stdio: options.capture ? ['ignore', 'pipe', 'pipe'] : ['ignore', 'inherit', 'inherit'],
    encoding: 'utf8',
    timeout: options.timeoutMs,
    maxBuffer: 64 * 1024 * 1024,
  });
  const timedOut = res.error !== undefined && res.error.code === 'ETIMEDOUT';
  return {
    ok: res.status === 0,
    status: res.status,
    timedOut,
    error: res.error,
    stdout: res.stdout || '',
    stderr: res.stderr || '',
  };
}

function which(cmd) {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    if (dir === '') continue;
    const file = path.join(dir, cmd);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * Load the package in a child process (a broken addon can abort the process that loads it) and report
 * what TensorFlow says about itself. Returns undefined when it does not load.
 */
function probeAddon(pkgDir) {
  if (!fs.existsSync(path.join(pkgDir, 'package.json')))
    return { loads: false, reason: 'package not installed' };
  const code = [
    `const tf = require(${JSON.stringify(pkgDir)});`,
    'const b = tf.backend();',
    'process.stdout.write(JSON.stringify({ backend: tf.getBackend(),',
    '  tfVersion: b.binding && b.binding.TF_Version, gpu: Boolean(b.isUsingGpuDevice) }));',
  ].join('\n');
  const res = run(process.execPath, ['-e', code], {
    capture: true,
    timeoutMs: 120000,
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' },
  });
  if (res.ok) {
    const info = (() => {
      try {
        return JSON.parse(res.stdout.trim().split('\n').pop());
      } catch {
        return undefined;
      }
    })();
    if (info && info.backend === 'tensorflow') return { loads: true, ...info };
    return { loads: false, reason: `loaded but backend is ${info ? info.backend : 'unknown'}` };
  }
  const lines = `${res.stderr}`.split('\n').map((l) => l.trim());
  const reason =
    lines.find((l) => /^\w*Error:/.test(l)) ||
    lines.find((l) => /cannot open|not found|undefined symbol/.test(l)) ||
    `exit ${res.status}`;
  return { loads: false, reason: reason.slice(0, 300) };
}

/**
 * The host the package's own installer downloads from. Any HTTP answer counts as reachable; a DNS failure
 * or an 8-second silence does not. With a proxy configured the question cannot be answered cheaply, so the
 * standard install is simply tried.
 */
function downloadHostReachable() {
  const proxy =
    process.env.HTTPS_PROXY || process.env.https_proxy || process.env.HTTP_PROXY || process.env.http_proxy;
  if (proxy) return Promise.resolve({ reachable: true, how: `proxy ${proxy}` });
  const base =
    process.env.TFJS_NODE_CDN_STORAGE ||
    process.env.npm_config_TFJS_NODE_CDN_STORAGE ||
    process.env.npm_config_tfjs_node_cdn_storage ||
    process.env.CDN_STORAGE ||
    'https://storage.googleapis.com/';
  return new Promise((resolve) => {
    let settled = false;
    const done = (value) => {
      if (!settled) {
        settled = true;
        resolve(value);
      }
    };
    try {
      const client = base.startsWith('http:') ? http : https;
      const req = client.request(base, { method: 'HEAD', timeout: 8000 }, (res) => {
        res.resume();
        done({ reachable: true, how: `${base} answered HTTP ${res.statusCode}` });
      });
      req.on('timeout', () => {
        req.destroy();
        done({ reachable: false, how: `${base} did not answer within 8 s` });
      });
      req.on('error', (err) => done({ reachable: false, how: `${base}: ${err.code || err.message}` }));
      req.end();
    } catch (err) {
      done({ reachable: false, how: `${base}: ${err.message}` });
    }
  });
}

/** Environment for the package's scripts: local bins on PATH, Node headers from this installation. */
function buildEnv() {
  const env = { ...process.env };
  env.PATH = [path.join(ROOT, 'node_modules', '.bin'), env.PATH || ''].join(path.delimiter);
  if (!env.npm_config_nodedir) {
    // node-gyp downloads the headers unless told where they are; a packaged Node keeps them under <prefix>/include.
    const prefix = path.dirname(path.dirname(process.execPath));
    if (fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h'))) env.npm_config_nodedir = prefix;
  }
  if (!env.npm_config_node_gyp) {
    const bundled = path.join(
      path.dirname(path.dirname(process.execPath)),
      'lib',
      'node_modules',
      'npm',
      'node_modules',
      'node-gyp',
      'bin',
      'node-gyp.js',
    );
    if (fs.existsSync(bundled)) env.npm_config_node_gyp = bundled;
  }
  return env;
}

/**
 * npm removes an optional dependency whose install script failed (npm 10 offline), taking its own
 * dependencies with it. Put it back without scripts so that the offline recipe has something to fill.
 */
function restorePackage(pkgName) {
  const version = wantedVersion(pkgName);
  log(
    `${pkgName} is missing (npm removes an optional package whose install script failed); reinstalling ${version} without scripts`,
  );
  const npmCli = process.env.npm_execpath;
  const args = [
    'install',
    '--no-save',
    '--ignore-scripts',
    '--no-audit',
    '--no-fund',
    `${pkgName}@${version}`,
  ];
  const res =
    npmCli && fs.existsSync(npmCli) && npmCli.endsWith('.js')
      ? run(process.execPath, [npmCli, ...args], { capture: true, timeoutMs: 600000 })
      : run('npm', args, { capture: true, timeoutMs: 600000 });
  if (!res.ok)
    throw new Error(`npm could not reinstall ${pkgName}: ${(res.stderr || res.stdout).trim().slice(-400)}`);
}

function standardInstall(pkgDir, label) {
  const pkg = readJson(path.join(pkgDir, 'package.json'));
  const script = pkg && pkg.scripts && pkg.scripts.install;
  if (!script) return false;
  log(
    `${label}: running the package's standard install (\`${script}\`): downloads libtensorflow and a prebuilt addon`,
  );
  const res = run('sh', ['-c', script], { cwd: pkgDir, env: buildEnv(), timeoutMs: 20 * 60000 });
  if (res.timedOut) log(`${label}: standard install timed out after 20 min`);
  else if (!res.ok) log(`${label}: standard install failed (exit ${res.status})`);
  return res.ok;
}

// ---------------------------------------------------------------- offline recipe

function findPython() {
  for (const candidate of [process.env.PYTHON, 'python3', 'python']) {
    if (!candidate) continue;
    const res = run(candidate, ['-c', 'import sys, zipfile; print(sys.version_info[0])'], {
      capture: true,
      timeoutMs: 30000,
    });
    if (res.ok && res.stdout.trim() === '3') return candidate;
  }
  return undefined;
}

/** The wheel, from ECGFLOW_TF_WHEEL or pip (which caches downloads, so a second cold run is quick). */
function obtainWheel(python, cacheDir) {
  if (process.env.ECGFLOW_TF_WHEEL) {
    const given = path.resolve(process.env.ECGFLOW_TF_WHEEL);
    if (!fs.existsSync(given)) throw new Error(`ECGFLOW_TF_WHEEL=${given} does not exist`);
    log(`using the wheel given in ECGFLOW_TF_WHEEL: ${given}`);
    return { file: given, owned: false };
  }
  const dir = path.join(cacheDir, 'wheels');
  fs.mkdirSync(dir, { recursive: true });
  const spec = `${WHEEL.name}==${WHEEL.version}`;
  log(`pip download ${spec} (about 274 MB, served from pip's cache when it has it) -> ${dir}`);
  const res = run(
    python,
    [
      '-m',
      'pip',
      'download',
      '--no-deps',
      '--only-binary=:all:',
      '--disable-pip-version-check',
      '--no-input',
      '--progress-bar',
      process.stderr.isTTY ? 'on' : 'off',
      '-d',
      dir,
      spec,
    ],
    { timeoutMs: 30 * 60000 },
  );
  if (!res.ok) {
    throw new Error(
      `pip download ${spec} failed (exit ${res.status}${res.timedOut ? ', timed out' : ''}); ` +
        'is PyPI (or your pip index) reachable? On an air-gapped network copy the wheel over and set ECGFLOW_TF_WHEEL',
    );
  }
  const stem = `${WHEEL.name.replace(/-/g, '_')}-${WHEEL.version}-`;
  const file = fs.readdirSync(dir).find((f) => f.startsWith(stem) && f.endsWith('.whl'));
  if (!file) throw new Error(`pip reported success but no ${stem}*.whl is in ${dir}`);
  return { file: path.join(dir, file), owned: true };
}

/** Extract the members matching `patterns` (fnmatch, `*` crosses `/`) below `prefix` into `dest`. */
function extractFromWheel(python, wheel, patterns, prefix, dest) {
  const script = [
    'import fnmatch, json, os, shutil, sys, zipfile',
    'wheel, patterns, prefix, dest = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3], sys.argv[4]',
    'count = 0',
    'with zipfile.ZipFile(wheel) as z:',
    '    for info in z.infolist():',
    '        name = info.filename',
    '        if info.is_dir() or not any(fnmatch.fnmatchcase(name, p) for p in patterns):',
    '            continue',
    '        if not name.startswith(prefix) or ".." in name.split("/"):',
    '            continue',
    '        target = os.path.join(dest, name[len(prefix):])',
    '        os.makedirs(os.path.dirname(target), exist_ok=True)',
    '        with z.open(info) as src, open(target, "wb") as out:',
    '            shutil.copyfileobj(src, out, 1 << 22)',
    '        count += 1',
    'print(count)',
  ].join('\n');
  const res = run(python, ['-c', script, wheel, JSON.stringify(patterns), prefix, dest], {
    capture: true,
    timeoutMs: 10 * 60000,
  });
  if (!res.ok) throw new Error(`extracting from ${wheel} failed: ${res.stderr.trim().slice(-400)}`);
  return Number(res.stdout.trim());
}

/**
 * libtensorflow from the wheel, cached as <cache>/native-tf/<wheel>/{lib,include}. Extraction goes to a
 * temporary folder that is renamed at the end, so an interrupted run never leaves a half cache behind.
 */
function ensureTfLibs(python, cacheDir, fullHeaders) {
  const dir = path.join(cacheDir, 'native-tf', `${WHEEL.name}-${WHEEL.version}`);
  const stamp = readJson(path.join(dir, 'complete.json'));
  if (
    stamp &&
    (!fullHeaders || stamp.fullHeaders) &&
    WHEEL_LIBS.every((l) => fs.existsSync(path.join(dir, 'lib', path.basename(l))))
  ) {
    log(`libtensorflow ${WHEEL.version} found in the cache (${dir})`);
    return dir;
  }
  const wheel = obtainWheel(python, cacheDir);
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  log(
    `extracting the two shared libraries (853 MB) and ${fullHeaders ? 'the full' : 'the C API'} header tree from ${path.basename(wheel.file)}`,
  );
  const libs = extractFromWheel(python, wheel.file, WHEEL_LIBS, 'tensorflow/', path.join(tmp, 'lib'));
  const headers = extractFromWheel(
    python,
    wheel.file,
    fullHeaders ? WHEEL_ALL_HEADERS : WHEEL_HEADERS,
    'tensorflow/include/',
    path.join(tmp, 'include'),
  );
  if (libs !== WHEEL_LIBS.length || headers === 0) {
    throw new Error(`the wheel did not contain the expected files (${libs} libraries, ${headers} headers)`);
  }
  fs.writeFileSync(
    path.join(tmp, 'complete.json'),
    JSON.stringify({
      wheel: `${WHEEL.name}==${WHEEL.version}`,
      fullHeaders,
      headers,
      at: new Date().toISOString(),
    }),
  );
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(tmp, dir);
  // The extracted libraries are what is reused; pip keeps its own copy of the download.
  if (wheel.owned && !envFlag('ECGFLOW_KEEP_WHEEL')) fs.rmSync(wheel.file, { force: true });
  log(`cached libtensorflow ${WHEEL.version}: ${libs} libraries, ${headers} headers`);
  return dir;
}

/** Hard link when the cache is on the same file system (instant, survives cache removal), else copy. */
function linkOrCopy(src, dest) {
  fs.rmSync(dest, { force: true });
  try {
    fs.linkSync(src, dest);
  } catch {
    fs.copyFileSync(src, dest);
  }
}

/**
 * Lay out tfjs-node's deps/ the way its installer would have after downloading libtensorflow 2.9.1:
 * libtensorflow.so{,.2} point at TF 2.21's libtensorflow_cc.so.2 (which exports the C API), and the empty
 * marker libtensorflow.so.2.9.1 is the name the installer checks before skipping its download.
 */
function fillDeps(pkgDir, tfDir) {
  const deps = path.join(pkgDir, 'deps');
  const lib = path.join(deps, 'lib');
  fs.rmSync(deps, { recursive: true, force: true });
  fs.mkdirSync(lib, { recursive: true });
  for (const member of WHEEL_LIBS) {
    const name = path.basename(member);
    linkOrCopy(path.join(tfDir, 'lib', name), path.join(lib, name));
  }
  fs.symlinkSync('libtensorflow_cc.so.2', path.join(lib, 'libtensorflow.so'));
  fs.symlinkSync('libtensorflow_cc.so.2', path.join(lib, 'libtensorflow.so.2'));
  fs.symlinkSync('libtensorflow_framework.so.2', path.join(lib, 'libtensorflow_framework.so'));
  let marker = path.join(lib, 'libtensorflow.so.2.9.1');
  try {
    marker = require(path.join(pkgDir, 'scripts', 'deps-constants.js')).depsLibTensorFlowPath || marker;
  } catch {
    // keep the name tfjs-node 4.x uses
  }
  fs.writeFileSync(marker, '');
  fs.cpSync(path.join(tfDir, 'include'), path.join(deps, 'include'), { recursive: true });
}

function addonFiles(pkgDir) {
  const libDir = path.join(pkgDir, 'lib');
  if (!fs.existsSync(libDir)) return [];
  return fs
    .readdirSync(libDir)
    .filter((d) => /^napi-v\d+$/.test(d) && fs.existsSync(path.join(libDir, d, 'tfjs_binding.node')))
    .map((d) => path.join('lib', d, 'tfjs_binding.node'));
}

/** Everything that changes the compiled addon: package version, TF headers, platform and N-API level. */
function addonCacheDir(cacheDir, pkgName, pkgDir) {
  const version = (readJson(path.join(pkgDir, 'package.json')) || {}).version || 'unknown';
  const key = `${pkgName.replace('@tensorflow/', '')}-${version}_${WHEEL.name}-${WHEEL.version}_${process.platform}-${process.arch}_napi${process.versions.napi}`;
  return path.join(cacheDir, 'native-tf', 'addons', key);
}

function buildAddon(pkgDir) {
  log("compiling the addon against the wheel's C API with node-pre-gyp/node-gyp (about 15-60 s)");
  const env = buildEnv();
  let preGyp;
  try {
    preGyp = require.resolve('@mapbox/node-pre-gyp/bin/node-pre-gyp', { paths: [pkgDir] });
  } catch {
    throw new Error('@mapbox/node-pre-gyp (a dependency of tfjs-node) is missing; run `npm install` again');
  }
  // The package's own `build-addon-from-source` script: no attempt to fetch a prebuilt binary.
  const res = run(process.execPath, [preGyp, 'install', '--build-from-source'], {
    cwd: pkgDir,
    env,
    capture: true,
    timeoutMs: 15 * 60000,
  });
  if (!res.ok) {
    const tail = `${res.stdout}\n${res.stderr}`.trim().split('\n').slice(-15).join('\n');
    return { ok: false, detail: tail };
  }
  return { ok: true };
}

function missingTools() {
  const missing = [];
  if (!which('make')) missing.push('make');
  if (!which('g++') && !which('c++')) missing.push('g++');
  return missing;
}

/** The offline recipe for one package directory. Returns the probe of the finished addon. */
function offlineInstall(pkgName, pkgDir) {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(`the offline recipe covers linux-x64 only (this is ${process.platform}-${process.arch})`);
  }
  const python = findPython();
  if (!python)
    throw new Error('python3 with pip is needed to fetch the tensorflow-cpu wheel, and none was found');
  const cacheDir = cacheRoot();
  log(`offline recipe: cache ${cacheDir}`);
  let tfDir = ensureTfLibs(python, cacheDir, false);
  fillDeps(pkgDir, tfDir);
  log(
    `filled ${path.relative(ROOT, path.join(pkgDir, 'deps'))} (libraries linked from the cache, marker, headers)`,
  );

  const cachedAddon = addonCacheDir(cacheDir, pkgName, pkgDir);
  if (!envFlag('ECGFLOW_NATIVE_TF_REBUILD') && fs.existsSync(cachedAddon)) {
    const files = addonFiles(cachedAddon);
    for (const rel of files) {
      fs.mkdirSync(path.dirname(path.join(pkgDir, rel)), { recursive: true });
      fs.copyFileSync(path.join(cachedAddon, rel), path.join(pkgDir, rel));
    }
    if (files.length > 0) {
      const probe = probeAddon(pkgDir);
      if (probe.loads) {
        log(`reused the addon compiled earlier (${cachedAddon})`);
        return probe;
      }
      log(`the cached addon does not load (${probe.reason}); compiling again`);
    }
  }

  const missing = missingTools();
  if (missing.length > 0)
    throw new Error(`compiling the addon needs ${missing.join(' and ')} (apt-get install build-essential)`);
  let build = buildAddon(pkgDir);
  if (!build.ok && /No such file|fatal error/.test(build.detail)) {
    log("the build is missing a header; retrying with the wheel's full include tree");
    tfDir = ensureTfLibs(python, cacheDir, true);
    fillDeps(pkgDir, tfDir);
    build = buildAddon(pkgDir);
  }
  if (!build.ok) throw new Error(`the addon did not compile:\n${build.detail}`);
  const probe = probeAddon(pkgDir);
  if (!probe.loads) throw new Error(`the addon compiled but does not load: ${probe.reason}`);
  fs.rmSync(cachedAddon, { recursive: true, force: true });
  for (const rel of addonFiles(pkgDir)) {
    fs.mkdirSync(path.dirname(path.join(cachedAddon, rel)), { recursive: true });
    fs.copyFileSync(path.join(pkgDir, rel), path.join(cachedAddon, rel));
  }
  log(`compiled; the addon is cached for the next install (${cachedAddon})`);
  return probe;
}

function writeState(pkgDir, state) {
  try {
    fs.mkdirSync(path.join(pkgDir, 'deps'), { recursive: true });
    fs.writeFileSync(path.join(pkgDir, 'deps', STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);
  } catch {
    // informational only
  }
}

function explainFailure(reasons) {
  const bar = '!'.repeat(78);
  const lines = [
    '',
    bar,
    '!! NATIVE TENSORFLOW IS NOT AVAILABLE: ecgflow will train on the pure-JavaScript backend,',
    '!! which is about a thousand times slower (a ResNet-20 epoch takes days instead of minutes).',
    '!!',
    ...reasons.map((r) => `!! - ${r.replace(/\n/g, '\n!!     ')}`),
    '!!',
    '!! What to do:',
    '!!  * check python3 + pip (PyPI reachable, or ECGFLOW_TF_WHEEL=/path/to/tensorflow_cpu-2.21.0-*.whl),',
    '!!    make and g++ are installed, then run:  node scripts/native-tf/setup.js',
    '!!  * check the result with:                  npx ecgflow info',
    '!!  * details and troubleshooting:            docs/native-tensorflow.md',
    '!! npm install itself has NOT failed; everything else is installed.',
    bar,
    '',
  ];
  process.stderr.write(`${lines.join('\n')}\n`);
}

function optionalOmitted() {
  const omit = `${process.env.npm_config_omit || ''}`.split(/[\s,]+/);
  return omit.includes('optional') || process.env.npm_config_optional === 'false';
}

function hasNvidiaDriver() {
  return fs.existsSync('/proc/driver/nvidia/version') || fs.existsSync('/dev/nvidia0');
}

async function setupCpu(reasons) {
  const pkgName = '@tensorflow/tfjs-node';
  // ECGFLOW_NATIVE_TF_PACKAGE_DIR exists for the script's own tests (a stand-in package directory).
  const pkgDir =
    process.env.ECGFLOW_NATIVE_TF_PACKAGE_DIR || path.join(ROOT, 'node_modules', '@tensorflow', 'tfjs-node');
  log(`step 1/3: does ${pkgName}'s addon load already?`);
  let probe = probeAddon(pkgDir);
  if (probe.loads) {
    log(`yes: backend ${probe.backend}, TensorFlow ${probe.tfVersion}`);
    return probe;
  }
  log(`no (${probe.reason})`);
  if (!fs.existsSync(path.join(pkgDir, 'package.json'))) restorePackage(pkgName);

  if (envFlag('ECGFLOW_NATIVE_TF_OFFLINE')) {
    log('step 2/3: standard download skipped (ECGFLOW_NATIVE_TF_OFFLINE is set)');
  } else {
    const host = await downloadHostReachable();
    if (!host.reachable) {
      log(`step 2/3: standard download skipped: ${host.how}`);
    } else {
      log(`step 2/3: standard download (${host.how})`);
      if (standardInstall(pkgDir, pkgName)) {
        probe = probeAddon(pkgDir);
        if (probe.loads) {
          writeState(pkgDir, {
            method: 'standard',
            tfVersion: probe.tfVersion,
            at: new Date().toISOString(),
          });
          log(`standard install done: TensorFlow ${probe.tfVersion}`);
          return probe;
        }
        log(`the standard install finished but the addon does not load (${probe.reason})`);
      }
    }
  }

  log(`step 3/3: offline recipe (${WHEEL.name} ${WHEEL.version} from PyPI, addon compiled here)`);
  try {
    probe = offlineInstall(pkgName, pkgDir);
    writeState(pkgDir, {
      method: 'offline-wheel',
      wheel: `${WHEEL.name}==${WHEEL.version}`,
      tfVersion: probe.tfVersion,
      at: new Date().toISOString(),
    });
    return probe;
  } catch (err) {
    reasons.push(`${pkgName}: ${err.message}`);
    return undefined;
  }
}

async function setupGpu() {
  const pkgName = '@tensorflow/tfjs-node-gpu';
  const pkgDir = path.join(ROOT, 'node_modules', '@tensorflow', 'tfjs-node-gpu');
  if (!fs.existsSync(path.join(pkgDir, 'package.json'))) {
    log(`${pkgName}: not installed (normal without a download host; see docs/native-tensorflow.md for GPUs)`);
    return;
  }
  if (!hasNvidiaDriver()) {
    log(`${pkgName}: skipped, no NVIDIA driver on this machine`);
    return;
  }
  const probe = probeAddon(pkgDir);
  if (probe.loads) {
    log(`${pkgName}: loads (TensorFlow ${probe.tfVersion}, GPU device in use: ${probe.gpu})`);
    return;
  }
  const host = envFlag('ECGFLOW_NATIVE_TF_OFFLINE')
    ? { reachable: false, how: 'offline mode' }
    : await downloadHostReachable();
  if (host.reachable && standardInstall(pkgDir, pkgName) && probeAddon(pkgDir).loads) {
    log(`${pkgName}: standard install done`);
    return;
  }
  log(
    `${pkgName}: NOT available (${host.reachable ? 'standard install failed' : host.how}); ` +
      'the CPU backend is used. GPU needs CUDA 11.2 + cuDNN 8.1 and the standard download: docs/native-tensorflow.md',
  );
}

async function main() {
  if (envFlag('ECGFLOW_SKIP_NATIVE_TF')) {
    log('skipped (ECGFLOW_SKIP_NATIVE_TF is set); the runtime will use whichever backend loads');
    return;
  }
  if (optionalOmitted()) {
    log('skipped: optional dependencies are omitted (--omit=optional), so there is no tfjs-node to set up');
    return;
  }
  const reasons = [];
  const cpu = await setupCpu(reasons);
  await setupGpu();
  if (cpu) {
    log(`native TensorFlow ready: backend ${cpu.backend}, TensorFlow ${cpu.tfVersion} (total ${elapsed()})`);
  } else {
    explainFailure(reasons);
  }
}

main()
  .catch((err) =>
    explainFailure([`unexpected error in scripts/native-tf/setup.js: ${err && err.stack ? err.stack : err}`]),
  )
  .finally(() => {
    process.exitCode = 0;
  });
