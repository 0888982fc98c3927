/**
 * Grafana is not installable on the development machines, so the provisioned dashboards are checked
 * structurally: raw dashboard JSON (not "export for sharing" files), every query on the provisioned
 * Prometheus data source by its fixed uid, and every metric that a panel, annotation or variable
 * expression names is one the app registers (histogram series by their _bucket/_sum/_count names).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { Metrics } from '../../../src/metrics/registry';
import { projectRoot } from '../../../src/util/projectRoot';

const DOCKER = path.join(projectRoot(), 'docker');
const DASHBOARDS = path.join(DOCKER, 'grafana', 'dashboards');

/** Metric names in a PromQL expression: identifiers that are not functions, keywords or label names. */
function promqlMetricNames(expr: string): string[] {
  let e = expr;
  e = e.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""'); // string literals
  e = e.replace(/\{[^}]*\}/g, ' '); // label matchers
  e = e.replace(/\[[^\]]*\]/g, ' '); // range and subquery durations
  e = e.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' '); // label lists
  e = e.replace(/\b(offset)\s+-?\d+[smhdwy]\w*/g, ' ');
  e = e.replace(/(?<![A-Za-z0-9_:.])\d+(\.\d*)?([eE][+-]?\d+)?/g, ' '); // numbers
  e = e.replace(/\$\{?\w+\}?/g, ' '); // Grafana variables
  const keywords = new Set([
    'by',
    'without',
    'on',
    'ignoring',
    'group_left',
    'group_right',
    'bool',
    'and',
    'or',
    'unless',
    'offset',
    'inf',
    'nan',
  ]);
  const names: string[] = [];
  for (const m of e.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const after = e.slice((m.index ?? 0) + m[0].length);
    if (/^\s*\(/.test(after)) continue; // a function or aggregation
    if (keywords.has(m[0].toLowerCase())) continue;
    names.push(m[0]);
  }
  return [...new Set(names)];
}

interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: { refId: string; expr: string; datasource?: { uid: string } }[];
  panels?: Panel[];
}

interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  annotations: { list: { expr?: string; datasource?: { uid: string }; builtIn?: number }[] };
  templating: { list: { query?: string | { query: string }; definition?: string }[] };
}

function dashboards(): [string, Dashboard][] {
  return fs
    .readdirSync(DASHBOARDS)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => [f, JSON.parse(fs.readFileSync(path.join(DASHBOARDS, f), 'utf8')) as Dashboard]);
}

function allPanels(panels: Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
}

/** Every expression of a dashboard with where it is, for messages. */
function expressions(d: Dashboard): { where: string; expr: string }[] {
  const out: { where: string; expr: string }[] = [];
  for (const p of allPanels(d.panels))
    for (const t of p.targets ?? []) out.push({ where: `panel "${p.title}" ${t.refId}`, expr: t.expr });
  for (const a of d.annotations.list)
    if (a.expr !== undefined) out.push({ where: 'annotation', expr: a.expr });
  for (const v of d.templating.list) {
    const q = typeof v.query === 'string' ? v.query : v.query?.query;
    if (q !== undefined) out.push({ where: 'variable', expr: q.replace(/^label_values\(([^,)]*).*$/, '$1') });
  }
  return out;
}

describe('Grafana dashboards', () => {
  it('the metric-name extractor ignores functions, labels, strings, durations and numbers', () => {
    assert.deepEqual(
      promqlMetricNames(
        'sum by (class) (rate(ecg_predictions_total{stage="serve", le=~"0.2|x"}[5m])) / ignoring(class) group_left sum(rate(ecg_predictions_total[5m:1m] offset 5m))',
      ),
      ['ecg_predictions_total'],
    );
    assert.deepEqual(
      promqlMetricNames('sum(ecg_energy_joules_total) / 3.6e6 + 1 - ecg_training_accuracy_ratio'),
      ['ecg_energy_joules_total', 'ecg_training_accuracy_ratio'],
    );
    assert.deepEqual(promqlMetricNames('changes(ecg_training_growths_total[30s]) > 0'), [
      'ecg_training_growths_total',
    ]);
    assert.deepEqual(promqlMetricNames('a_metric and on(x) b_metric'), ['a_metric', 'b_metric']);
  });

  it('there are the pipeline, training and inference dashboards, with unique uids', () => {
    const ds = dashboards();
    assert.deepEqual(
      ds.map(([f]) => f),
      ['inference.json', 'pipeline.json', 'training.json'],
    );
    const uids = ds.map(([, d]) => d.uid);
    assert.equal(new Set(uids).size, uids.length);
  });

  it('are raw dashboards on the provisioned data source uid', () => {
    const datasources = fs.readFileSync(
      path.join(DOCKER, 'grafana', 'provisioning', 'datasources', 'prometheus.yml'),
      'utf8',
    );
    const uid = /^\s+uid:\s*(\S+)\s*$/m.exec(datasources)?.[1];
    assert.equal(uid, 'ecgflow-prometheus');
    assert.match(datasources, /url: http:\/\/prometheus:9090/);
    const provider = fs.readFileSync(
      path.join(DOCKER, 'grafana', 'provisioning', 'dashboards', 'ecgflow.yml'),
      'utf8',
    );
    assert.match(provider, /path: \/var\/lib\/grafana\/dashboards/);
    for (const [file, d] of dashboards()) {
      const raw = fs.readFileSync(path.join(DASHBOARDS, file), 'utf8');
      assert.doesNotMatch(raw, /"__inputs"|\$\{DS_/, `${file} is an "export for sharing" file`);
      assert.equal(typeof d.uid, 'string');
      const panels = allPanels(d.panels);
      const ids = panels.map((p) => p.id);
      assert.equal(new Set(ids).size, ids.length, `${file}: panel ids repeat`);
      for (const p of panels) {
        assert.ok(
          p.gridPos.x >= 0 && p.gridPos.x + p.gridPos.w <= 24,
          `${file} "${p.title}" is off the grid`,
        );
        if (p.type === 'row') continue;
        assert.equal(p.datasource?.uid, uid, `${file} "${p.title}" data source`);
        assert.ok((p.targets ?? []).length > 0, `${file} "${p.title}" has no query`);
        for (const t of p.targets ?? []) {
          assert.ok(t.expr.trim() !== '', `${file} "${p.title}" ${t.refId} is empty`);
          assert.equal(t.datasource?.uid ?? uid, uid);
        }
      }
      for (const a of d.annotations.list)
        if (a.builtIn !== 1) assert.equal(a.datasource?.uid, uid, `${file} annotation data source`);
    }
  });

  it('every expression references only metrics the app registers', () => {
    const metrics = new Metrics();
    const registered = new Map(metrics.registry.getMetricsAsArray().map((m) => [m.name, String(m.type)]));
    const known = (name: string): boolean => {
      if (registered.has(name)) return true;
      const base = /^(.*)_(bucket|sum|count)$/.exec(name);
      return base !== null && ['histogram', 'summary'].includes(registered.get(base[1]) ?? '');
    };
    const problems: string[] = [];
    let checked = 0;
    for (const [file, d] of dashboards()) {
      for (const { where, expr } of expressions(d)) {
        const names = promqlMetricNames(expr);
        if (names.length === 0) problems.push(`${file} ${where}: no metric in "${expr}"`);
        for (const name of names) {
          checked++;
          if (!known(name)) problems.push(`${file} ${where}: ${name} is not exported (in "${expr}")`);
        }
      }
    }
    assert.deepEqual(problems, []);
    assert.ok(checked > 50, `only ${checked} metric references found`);
  });

  it('the dashboards cover throughput, lag, errors, training, energy and inference', () => {
    const used = new Set(
      dashboards().flatMap(([, d]) => expressions(d).flatMap((e) => promqlMetricNames(e.expr))),
    );
    for (const name of [
      'ecg_stage_samples_total',
      'ecg_kafka_consumer_lag_messages',
      'ecg_errors_total',
      'ecg_dead_letter_messages_total',
      'ecg_training_accuracy_ratio',
      'ecg_training_lipschitz_mean',
      'ecg_training_lipschitz_smoothed',
      'ecg_training_depth_layers',
      'ecg_training_growths_total',
      'ecg_training_ppe_parameters',
      'ecg_energy_joules_total',
      'ecg_co2eq_grams_total',
      'ecg_end_to_end_latency_seconds_bucket',
      'ecg_processing_latency_seconds_bucket',
      'ecg_predictions_total',
      'ecg_alerts_total',
    ])
      assert.ok(used.has(name), `no panel shows ${name}`);
  });
});
