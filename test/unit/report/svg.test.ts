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
