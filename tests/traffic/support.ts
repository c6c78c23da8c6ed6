import { sendOtlpJson } from "../../lib/collect/client";
import { startReceiver } from "../collect/support";

/** Collects OTLP/JSON `bodies` into the dataset folder `dir` through an in-process receiver; the bodies accepted. */
export async function collectInto(dir: string, bodies: readonly string[]): Promise<number> {
  const receiver = await startReceiver(dir);
  try {
    return await sendOtlpJson(receiver.endpoint, bodies);
  } finally {
    await receiver.stop();
  }
}
