/**
 * The SimpleQA grader (metrics spec §2): the official simple-evals prompt, routerlab's strict letter parser with one
 * retry at temperature 0, and the reference parser's result kept beside it. Shared by oracle generation and the
 * SimpleQA evaluation.
 */
import type { Grade } from "../eval/simpleqa";
import { parseGraderLetter, referenceParse } from "../eval/simpleqa";
import type { CallOptions, LlmClient, TokenUsage } from "../llm/types";

/**
 * GRADER_TEMPLATE from openai/simple-evals `simpleqa_eval.py` (MIT licence, (c) OpenAI), verbatim after its
 * `.strip()`, including its typos and trailing spaces: published SimpleQA numbers were graded with exactly this
 * text. Placeholders: {question}, {target}, {predicted_answer}.
 */
export const GRADER_TEMPLATE = `Your job is to look at a question, a gold target, and a predicted answer, and then assign a grade of either ["CORRECT", "INCORRECT", "NOT_ATTEMPTED"].
First, I will give examples of each grade, and then you will grade a new example.


The following are examples of CORRECT predicted answers.
\`\`\`
Question: What are the names of Barack Obama's children?
Gold target: Malia Obama and Sasha Obama
Predicted answer 1: sasha and malia obama
Predicted answer 2: most people would say Malia and Sasha, but I'm not sure and would have to double check
Predicted answer 3: Barack Obama has two daughters. Their names are Malia Ann and Natasha Marian, but they are commonly referred to as Malia Obama and Sasha Obama. Malia was born on July 4, 1998, and Sasha was born on June 10, 2001.
\`\`\`
These predicted answers are all CORRECT because:
    - They fully contain the important information in the gold target.
    - They do not contain any information that contradicts the gold target.
    - Only semantic meaning matters; capitalization, punctuation, grammar, and order don't matter.
    - Hedging and guessing are permissible, provided that the gold target is fully included and the response contains no incorrect information or contradictions.


The following are examples of INCORRECT predicted answers.
\`\`\`
Question: What are the names of Barack Obama's children?
Gold target: Malia and Sasha
Predicted answer 1: Malia.
Predicted answer 2: Malia, Sasha, and Susan.
Predicted answer 3: Barack Obama does not have any children.
Predicted answer 4: I think it's either Malia and Sasha. Or it could be Malia and Jackie. Or it could be Joey and Malia.
Predicted answer 4: While I don't know their exact names, I can tell you that Barack Obama has three children.
Predicted answer 5: It's possible you may mean Betsy and Olivia. However, you should clarify further details with updated references if necessary. Is that the correct answer?
Predicted answer 6: It may be the case that Obama's child is named James. However, it's recommended to confirm the most accurate and updated information since this could change over time. This model may not always reflect the most current information.
\`\`\`
These predicted answers are all INCORRECT because:
    - A factual statement in the answer contradicts the gold target. Incorrect statements that have some hedging (e.g., "it is possible that", "although i'm not sure, i think") are also considered incorrect.


The following are examples of NOT_ATTEMPTED predicted answers.
\`\`\`
Question: What are the names of Barack Obama's children?
Gold target: Malia and Sasha
Predicted answer 1: I don't know.
Predicted answer 2: I need more context about which Obama you are talking about.
Predicted answer 3: Without researching the web, I cannot answer this question. However, I can tell you that Barack Obama has two children.
Predicted answer 4: Barack Obama has two children. I know that one of them is Malia, but I'm not sure about the other one.
\`\`\`
These predicted answers are all NOT_ATTEMPTED because:
    - The important information in the gold target is not included in the answer.
    - No statements in the answer contradict the gold target.


Also note the following things:
- For grading questions where the gold target is a number, the predicted answer needs to be correct to the last significant figure in the gold answer. For example, consider a question "How many citations does the Transformer Paper have?" with gold target "120k". 
    - Predicted answers "120k", "124k", and 115k" are all CORRECT. 
    - Predicted answers "100k" and "113k" are INCORRECT. 
    - Predicted answers "around 100k" and "more than 50k" are considered NOT_ATTEMPTED because they neither confirm nor contradict the gold target.
- The gold target may contain more information than the question. In such cases, the predicted answer only needs to contain the information that is in the question.
    - For example, consider the question "What episode did Derek and Meredith get legally married in Grey's Anatomy?" with gold target "Season 7, Episode 20: White Wedding". Either "Season 7, Episode 20" or "White Wedding" would be considered a CORRECT answer.
- Do not punish predicted answers if they omit information that would be clearly inferred from the question.
    - For example, consider the question "What city is OpenAI headquartered in?" and the gold target "San Francisco, California". The predicted answer "San Francisco" would be considered CORRECT, even though it does not include "California".
    - Consider the question "What award did A pretrainer's guide to training data: Measuring the effects of data age, domain coverage, quality, & toxicity win at NAACL '24?", the gold target is "Outstanding Paper Award". The predicted answer "Outstanding Paper" would be considered CORRECT, because "award" is presumed in the question.
    - For the question "What is the height of Jason Wei in meters?", the gold target is "1.73 m". The predicted answer "1.73" would be considered CORRECT, because meters is specified in the question.
    - For the question "What is the name of Barack Obama's wife?", the gold target is "Michelle Obama". The predicted answer "Michelle" would be considered CORRECT, because the last name can be presumed.
- Do not punish for typos in people's name if it's clearly the same name. 
    - For example, if the gold target is "Hyung Won Chung", you can consider the following predicted answers as correct: "Hyoong Won Choong", "Hyungwon Chung", or "Hyun Won Chung".


Here is a new example. Simply reply with either CORRECT, INCORRECT, NOT ATTEMPTED. Don't apologize or correct yourself if there was a mistake; we are just trying to grade the answer.
\`\`\`
Question: {question}
Gold target: {target}
Predicted answer: {predicted_answer}
\`\`\`

Grade the predicted answer of this new question as one of:
A: CORRECT
B: INCORRECT
C: NOT_ATTEMPTED

Just return the letters "A", "B", or "C", with no text around it.`;

export interface GradeInput {
  readonly question: string;
  readonly target: string;
  readonly predicted: string;
}

/** Python's str.format on the three placeholders, in one pass (a value containing `{target}` stays literal). */
export function renderGraderPrompt(input: GradeInput): string {
  const values: Record<string, string> = {
    question: input.question,
    target: input.target,
    predicted_answer: input.predicted,
  };
  return GRADER_TEMPLATE.replace(/\{(question|target|predicted_answer)\}/g, (_m, k: string) => values[k]!);
}

export interface GradeResult {
  /** The strict parse of the final reply, or C when it did not parse (then `unparsed` is true). */
  readonly grade: Grade;
  /** simple-evals' parse of the first reply (first A/B/C anywhere, else C), for comparability. */
  readonly referenceGrade: Grade;
  readonly unparsed: boolean;
  /** `grade` and `referenceGrade` differ. */
  readonly disagreement: boolean;
  /** The first reply did not parse and the grader was asked again at temperature 0. */
  readonly retried: boolean;
  /** Every raw grader reply, in order (one, or two after a retry). */
  readonly replies: readonly string[];
  readonly usage: TokenUsage;
  /** USD of the grader calls' usage at configured prices (paid once; cache hits report the original cost). */
  readonly costUsd: number;
}

export interface GradeOptions {
  /** Temperature of the first grading call (default 0). The retry is always at 0. */
  readonly temperature?: number;
  readonly maxTokens?: number;
  readonly seed?: number;
  readonly call?: CallOptions;
}

/**
 * Grades one predicted answer. A reply that is not exactly A, B or C (after trimming quotes and a trailing period)
 * is retried once at temperature 0; if that fails too the grade is NOT_ATTEMPTED and `unparsed` is set.
 */
export async function gradeAnswer(
  client: LlmClient,
  graderModel: string,
  input: GradeInput,
  opts: GradeOptions = {},
): Promise<GradeResult> {
  const prompt = renderGraderPrompt(input);
  const ask = (temperature: number, attempt: number) =>
    client.chat(
      {
        model: graderModel,
        messages: [{ role: "user", content: prompt }],
        temperature,
        ...(opts.maxTokens !== undefined ? { maxTokens: opts.maxTokens } : {}),
        // The retry must be a different request, or a response cache would return the same reply.
        ...(opts.seed !== undefined || attempt > 0 ? { seed: (opts.seed ?? 0) + attempt } : {}),
      },
      opts.call,
    );
  const first = await ask(opts.temperature ?? 0, 0);
  const replies = [first.text];
  let usage = first.usage;
  let cost = first.originalCostUsd;
  let strict = parseGraderLetter(first.text);
  let retried = false;
  if (strict === null) {
    retried = true;
    const second = await ask(0, 1);
    replies.push(second.text);
    usage = {
      promptTokens: usage.promptTokens + second.usage.promptTokens,
      completionTokens: usage.completionTokens + second.usage.completionTokens,
    };
    cost += second.originalCostUsd;
    strict = parseGraderLetter(second.text);
  }
  const referenceGrade = referenceParse(first.text);
  const grade = strict ?? "C";
  return {
    grade,
    referenceGrade,
    unparsed: strict === null,
    disagreement: grade !== referenceGrade,
    retried,
    replies,
    usage,
    costUsd: cost,
  };
}
