import { mlpBench } from "./mlp";
import { mfBench } from "./mf";
import { knnBench } from "./knn";
import { svmBench } from "./svm";
import { dataBench } from "./data";
import { evalBench } from "./eval";
import { embedBench } from "./embed";
import { exportBench } from "./export";
import type { BenchArea } from "./types";

/** Every benchmark area, one line each. `npm run bench -- <prefix>` runs the areas whose prefix matches. */
export const AREAS: BenchArea[] = [
  dataBench,
  knnBench,
  svmBench,
  mlpBench,
  mfBench,
  evalBench,
  embedBench,
  exportBench,
];
