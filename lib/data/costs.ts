/**
 * Cost estimates for the bundled outcome data, which records correctness but not token usage.
 * Token counts are estimated from text length (ESTIMATED_CHARS_PER_TOKEN characters per token,
 * rounded up); prices are published list prices in USD per million tokens.
 */
export const ESTIMATED_CHARS_PER_TOKEN = 4;

export function estimateTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / ESTIMATED_CHARS_PER_TOKEN));
}

export interface Price {
  /** USD per million input tokens. */
  input: number;
  /** USD per million output tokens. */
  output: number;
  source: string;
}

/** Published per-token prices of the two RouteLLM models. */
export const ROUTELLM_PRICES: Record<string, Price> = {
  "gpt-4-1106-preview": {
    input: 10,
    output: 30,
    source: "OpenAI list price for gpt-4-1106-preview (2023-11)",
  },
  "mistralai/Mixtral-8x7B-Instruct-v0.1": {
    input: 0.24,
    output: 0.24,
    source: "Mixtral-8x7B price used by the RouteLLM paper (Anyscale endpoints, $0.24/M)",
  },
};

/** Output-token estimates where the data has no response text. */
export const OUTPUT_TOKEN_ESTIMATES = {
  /** MMLU: the model answers with a letter plus a little text. */
  mmlu: 5,
  /** MT-Bench: a typical open-ended answer per turn. */
  mtBench: 400,
  /** LLMRouter tasks: no responses are published; a short-to-medium answer. */
  llmrouter: 100,
} as const;

export function costUsd(price: Price, inputTokens: number, outputTokens: number): number {
  return (price.input * inputTokens + price.output * outputTokens) / 1e6;
}
