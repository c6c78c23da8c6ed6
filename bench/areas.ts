import { mlpBench } from "./mlp";
import { mfBench } from "./mf";
import { knnBench } from "./knn";
import { svmBench } from "./svm";
import type { BenchArea } from "./types";

/** Every benchmark area, one line each. `npm run bench -- <prefix>` runs the areas whose prefix matches. */
export const AREAS: BenchArea[] = [knnBench, svmBench, mlpBench, mfBench];
