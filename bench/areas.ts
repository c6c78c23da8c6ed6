import { trackingBench } from "./tracking";
import { knnBench } from "./knn";
import { svmBench } from "./svm";
import { mlpBench } from "./mlp";
import { mfBench } from "./mf";
import { servicesBench } from "./services";
import { evalBench } from "./eval";
import { encoderBench } from "./encoder";
import { embedBench } from "./embed";
import { dataBench } from "./data";
import { exportBench } from "./export";
import { exportFormatsBench } from "./export-formats";
import { llmBench } from "./llm";
import { simBench } from "./sim";
import { collectBench } from "./collect";
import type { BenchArea } from "./types";

/** Every benchmark area, one line each. `npm run bench -- <prefix>` runs the areas whose prefix matches. */
export const AREAS: BenchArea[] = [
  dataBench,
  trackingBench,
  knnBench,
  svmBench,
  mlpBench,
  mfBench,
  servicesBench,
  evalBench,
  encoderBench,
  embedBench,
  exportBench,
  exportFormatsBench,
  llmBench,
  simBench,
  collectBench,
];
