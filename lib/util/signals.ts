/** Resolves with the first SIGINT or SIGTERM (then stops listening), after writing `<name>: <signal>, stopping`. */
export function untilStopSignal(name: string): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (sig: NodeJS.Signals): void => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      process.stderr.write(`${name}: ${sig}, stopping\n`);
      resolve(sig);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}
