/**
 * The report of a training run (issue 5, item 9): a JSON summary with the seed paper's columns (PPE,
 * wall-clock time, growth epochs, final depth, accuracies, backend; energy and CO2 when measured) and
 * pictures: training and validation error against wall-clock minutes (the seed paper's Figs. 2-3), mean
 * block Lipschitz (raw and smoothed) and depth over time, and the test confusion matrix. When runs of both
 * modes are compared, one chart overlays their error curves.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ClassificationReport } from '../evaluation/classification';
import type { TrainerState } from '../trainer/adaptiveTrainer';
import { writePicture } from './png';
import { confusionMatrixSvg, lineChartSvg, type Marker, type Series } from './svg';

export interface RunForReport {
  mode: string;
  state: TrainerState;
  test: ClassificationReport | undefined;
}

const minutes = (s: number) => s / 60;

function growthMarkers(state: TrainerState): Marker[] {
  return state.growths.map((g) => {
    const epoch = state.epochs.find((e) => e.epoch === g.epoch);
    return {
      x: minutes(epoch?.elapsedSeconds ?? 0),
      label: `${g.depthBefore}->${g.depthAfter} (${g.trigger})`,
      color: '#777',
    };
  });
}

function errorSeries(run: RunForReport, dashed = false): Series[] {
  const e = run.state.epochs;
  return [
    {
      name: `${run.mode} train error`,
      points: e.map((x) => [minutes(x.elapsedSeconds), 100 * (1 - x.trainAccuracy)]),
      dashed,
    },
    {
      name: `${run.mode} validation error`,
      points: e
        .filter((x) => x.validationAccuracy !== null)
        .map((x) => [minutes(x.elapsedSeconds), 100 * (1 - (x.validationAccuracy ?? 0))]),
      dashed,
    },
  ];
}

/** Pictures of one run into `dir`; returns the files written. */
export function writeRunPictures(dir: string, run: RunForReport): string[] {
  fs.mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  files.push(
    ...writePicture(
      path.join(dir, 'learning-curves'),
      lineChartSvg({
        title: `${run.mode}: error vs wall-clock time`,
        xLabel: 'wall-clock time (minutes)',
        yLabel: 'error (%)',
        series: errorSeries(run),
        markers: growthMarkers(run.state),
      }),
    ),
  );
  if (run.state.lipschitz.length > 0) {
    const at = (epoch: number) =>
      minutes(run.state.epochs.find((e) => e.epoch === epoch)?.elapsedSeconds ?? 0);
    // The bound after a growth belongs to another network (twice the blocks, h halved) and the smoothing
    // restarts, so each series is drawn as one line per network, not joined across the growth.
    const grownAfter = new Set(run.state.growths.map((g) => g.epoch));
    const perNetwork = (value: (l: (typeof run.state.lipschitz)[number]) => number | null) =>
      run.state.lipschitz.flatMap((l): [number, number][] => {
        const v = value(l);
        const point: [number, number][] = v === null ? [] : [[at(l.epoch), v]];
        return grownAfter.has(l.epoch) ? [...point, [Number.NaN, Number.NaN]] : point;
      });
    files.push(
      ...writePicture(
        path.join(dir, 'lipschitz'),
        lineChartSvg({
          title: `${run.mode}: mean block Lipschitz bound`,
          xLabel: 'wall-clock time (minutes)',
          yLabel: 'Lipschitz upper bound',
          series: [
            { name: 'mean over blocks', points: perNetwork((l) => l.mean) },
            {
              name: 'smoothed (moving average over W epochs)',
              points: perNetwork((l) => l.smoothed),
              dashed: true,
            },
          ],
          markers: growthMarkers(run.state),
        }),
      ),
    );
  }
  files.push(
    ...writePicture(
      path.join(dir, 'depth'),
      lineChartSvg({
        title: `${run.mode}: depth and parameters over time`,
        xLabel: 'wall-clock time (minutes)',
        yLabel: 'depth (layers)',
        series: [
          {
            name: 'depth',
            points: run.state.epochs.map((e) => [minutes(e.elapsedSeconds), e.depth]),
            step: true,
          },
        ],
      }),
    ),
  );
  if (run.test !== undefined) {
    files.push(
      ...writePicture(
        path.join(dir, 'confusion-matrix'),
        confusionMatrixSvg(
          `${run.mode}: test confusion (accuracy ${(100 * run.test.accuracy).toFixed(2)} %)`,
          run.test.classes,
          run.test.confusion,
        ),
      ),
    );
  }
  return files;
}

/** The side-by-side chart of adaptive and vanilla error curves from one comparison. */
export function writeComparisonPicture(dir: string, adaptive: RunForReport, vanilla: RunForReport): string[] {
  fs.mkdirSync(dir, { recursive: true });
  return writePicture(
    path.join(dir, 'adaptive-vs-vanilla'),
    lineChartSvg({
      title: 'adaptive vs vanilla: error vs wall-clock time',
      xLabel: 'wall-clock time (minutes)',
      yLabel: 'error (%)',
      series: [...errorSeries(adaptive), ...errorSeries(vanilla, true)],
      markers: growthMarkers(adaptive.state),
    }),
  );
}
