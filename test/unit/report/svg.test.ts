import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { confusionMatrixSvg, lineChartSvg, niceTicks } from '../../../src/report/svg';

describe('report charts', () => {
  it('ticks cover the data at both ends, so no point is drawn outside the axes', () => {
    for (const [min, max] of [
      [1.2, 23.5],
      [0, 8.3],
      [-3.7, 0.02],
      [0.951, 0.987],
      [174_645, 757_941],
    ]) {
      const ticks = niceTicks(min, max);
      assert.ok(ticks[0] <= min && ticks[ticks.length - 1] >= max, `${ticks} for [${min}, ${max}]`);
      assert.ok(ticks.length >= 3 && ticks.length <= 12);
    }
    assert.ok(niceTicks(5, 5).includes(5));
  });

  it('draws series, markers and escaped labels as well-formed SVG', () => {
    const svg = lineChartSvg({
      title: 'error <train & validation>',
      xLabel: 'minutes',
      yLabel: '%',
      series: [
        {
          name: 'a',
          points: [
            [0, 1],
            [1, 2],
            [2, Number.NaN],
          ],
        },
      ],
      markers: [{ x: 1, label: '20->38' }],
    });
    assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.match(svg, /error &lt;train &amp; validation&gt;/);
    assert.match(svg, /<path d="M[\d.]+,[\d.]+L[\d.]+,[\d.]+"/, 'NaN points are skipped');
    assert.match(svg, /20-&gt;38/);
    assert.ok(svg.trimEnd().endsWith('</svg>'));
  });

  it('breaks a line at a non-finite point and keeps the legend out of the plot area', () => {
    const svg = lineChartSvg({
      title: 't',
      xLabel: 'x',
      yLabel: 'y',
      series: [
        {
          name: 'before and after a growth',
          points: [
            [0, 1],
            [1, 2],
            [Number.NaN, Number.NaN],
            [2, 1],
            [3, 2],
          ],
        },
      ],
    });
    const path = /<path d="([^"]+)"/.exec(svg)?.[1] ?? '';
    assert.equal(path.match(/M/g)?.length, 2, path);
    assert.equal(path.match(/L/g)?.length, 2, path);
    const frame = /<rect x="(\d+)" y="(\d+)" width="(\d+)" height="(\d+)" fill="none"/.exec(svg);
    assert.ok(frame !== null);
    const plotBottom = Number(frame[2]) + Number(frame[4]);
    const legend = /<text x="[\d.]+" y="([\d.]+)"[^>]*>before and after a growth</.exec(svg);
    assert.ok(legend !== null && Number(legend[1]) > plotBottom, 'legend under the plot');
  });

  it('shows counts and row percentages in the confusion matrix', () => {
    const svg = confusionMatrixSvg(
      't',
      ['N', 'V'],
      [
        [9, 1],
        [0, 5],
      ],
    );
    assert.match(svg, />N \(10\)</);
    assert.match(svg, />90\.0%</);
    assert.match(svg, />100\.0%</);
  });
});
