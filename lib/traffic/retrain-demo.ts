/**
 * A SIMULATED retrain scenario for the notebook (08_retrain) and the tests, where the routing signal is learnable:
 * two question families; on arithmetic questions the weak tier serves right answers, on expedition-year questions
 * a wrong one; the strong tier always serves a right answer. With the sim models below (every counterfactual
 * answered right), a label says "strong" exactly where the weak tier served a wrong answer. Nothing here is real.
 */
import type { SimFact, SimModel } from "../llm/sim/types";
import { saveRouterState } from "../routers/model-file";
import { createRouter } from "../routers/registry";
import { DEFAULT_SIMULATION, simulateTraffic } from "./simulate";

export interface DemoQuestion {
  question: string;
  answer: string;
  /** The weak tier serves a wrong answer. */
  hard: boolean;
}

const PLACES = ["the Amazon delta", "Lake Baikal", "the Atacama", "Tierra del Fuego", "the Kamchatka coast"];

/** `n` distinct questions, alternating families, with the gold answers the sim server is given. */
export function demoQuestions(n: number): DemoQuestion[] {
  return Array.from({ length: n }, (_, i) =>
    i % 2 === 0
      ? {
          question: `What is ${10 + i} plus ${3 + (i % 17)}?`,
          answer: String(13 + i + (i % 17)),
          hard: false,
        }
      : {
          question: `In which year did the survey expedition number ${i} first reach ${PLACES[i % PLACES.length]}?`,
          answer: String(1700 + ((i * 37) % 250)),
          hard: true,
        },
  );
}

/** The sim server's facts for the questions. */
export function demoFacts(qs: readonly DemoQuestion[]): SimFact[] {
  return qs.map((q) => ({ question: q.question, answer: q.answer, kind: "Number" }));
}

/** Sim models (ids of configs/models.yaml's simulated roles) that answer every known question right. */
export const DEMO_SIM_MODELS: readonly SimModel[] = [
  { id: "sim-weak", kind: "answer", accuracy: 1, notAttemptedRate: 0 },
  { id: "sim-strong", kind: "answer", accuracy: 1, notAttemptedRate: 0 },
  { id: "sim-grader", kind: "grader", noisyRate: 0 },
  { id: "sim-judge", kind: "judge", positionBias: 0 },
];

/** A simulated week (the generator's scripted score drift halfway), one request per question, as OTLP/JSON bodies. */
export function demoTraffic(qs: readonly DemoQuestion[], batch = 100): ReturnType<typeof simulateTraffic> {
  const byQ = new Map(qs.map((q) => [q.question, q]));
  return simulateTraffic(
    {
      requests: qs.length,
      queries: qs.map((q) => q.question),
      errorRate: 0,
      fallbackRate: 0,
      treatmentThreshold: null,
      answer: (_i, q, strong) =>
        strong || !byQ.get(q)!.hard ? `It is ${byQ.get(q)!.answer}.` : "It is definitely Zanzibar.",
    },
    batch,
  );
}

/** Writes a seeded random router as `<base>.router.json`: a champion any trained router should beat. */
export async function writeRandomChampion(
  base: string,
  seed: number,
  tiers: { weak: string; strong: string } = {
    weak: DEFAULT_SIMULATION.weakModel,
    strong: DEFAULT_SIMULATION.strongModel,
  },
): Promise<string> {
  const random = createRouter("random", { seed });
  await random.fit(
    { X: { data: new Float32Array(2 * 384), rows: 2, dim: 384 } },
    { kind: "binary", models: [tiers.weak, tiers.strong], labels: Int32Array.from([0, 1]) },
  );
  return saveRouterState(random.state(), base).json;
}
