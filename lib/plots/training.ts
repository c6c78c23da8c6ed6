import type { EpochMetrics } from "../routers/nn/common";
import { barChart, type Figure, type PlotTrace } from "./plotly";

/**
 * The charts of a training run, from what its tracking run records: learning curves (loss and accuracy per epoch,
 * train and validation) when the router trains by epochs, and the share of test queries routed to each model
 * (`test_share.<model>` final metrics). Empty when there is nothing to draw.
 */
export function trainingFigures(
  epochs: readonly EpochMetrics[],
  final: Readonly<Record<string, number>>,
): Figure[] {
  const figs: Figure[] = [];
  if (epochs.length > 0) {
    const x = epochs.map((e) => e.epoch);
    const line = (name: string, y: readonly (number | null)[]): PlotTrace => ({
      type: "scatter",
      mode: "lines+markers",
      name,
      x,
      y: y.map((v) => v ?? Number.NaN),
    });
    const curve = (
      what: string,
      train: (e: EpochMetrics) => number,
      val: (e: EpochMetrics) => number | null,
    ): Figure => ({
      data: [
        line(`train ${what}`, epochs.map(train)),
        ...(epochs.some((e) => val(e) !== null) ? [line(`validation ${what}`, epochs.map(val))] : []),
      ],
      layout: { title: { text: `Learning curve: ${what}` }, xaxis: { title: { text: "epoch" } } },
    });
    figs.push(
      curve(
        "loss",
        (e) => e.loss,
        (e) => e.val_loss,
      ),
      curve(
        "accuracy",
        (e) => e.accuracy,
        (e) => e.val_accuracy,
      ),
    );
  }
  const shares = Object.entries(final).filter(([k]) => k.startsWith("test_share."));
  if (shares.length > 0) {
    const models = shares.map(([k]) => k.slice("test_share.".length));
    figs.push(
      barChart(
        "Per-model decisions on the test split",
        models,
        [{ name: "share routed", y: shares.map(([, v]) => v) }],
        {
          yTitle: "share of test queries",
        },
      ),
    );
  }
  return figs;
}
