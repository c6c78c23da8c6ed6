/**
 * The real services a test may use, as started by the suite runner (tests/harness/run-suite.ts) and handed
 * to the tests through the environment. Call `testServices()` in a test that needs MLflow, S3, Jupyter or the
 * project's Python; it throws a clear error when the test was not started through the runner.
 */
import { z } from "zod";

export interface TestServices {
  /** The project's Python (`.venv/bin/python`), with mlflow, scikit-learn, torch, nbclient, ... */
  python: string;
  /** MLflow tracking server, artifacts proxied to S3 (`mlflow-artifacts:` URIs). */
  mlflowUri: string;
  s3: {
    endpoint: string;
    bucket: string;
    accessKeyId: string;
    secretAccessKey: string;
    region: string;
  };
  /** True when Jupyter with the tslab kernel is provisioned in the project's Python environment. */
  jupyter: boolean;
}

const envSchema = z.object({
  ROUTERLAB_PYTHON: z.string().min(1),
  ROUTERLAB_TEST_MLFLOW_URI: z.url(),
  ROUTERLAB_TEST_S3_ENDPOINT: z.url(),
  ROUTERLAB_TEST_S3_BUCKET: z.string().min(1),
  AWS_ACCESS_KEY_ID: z.string().min(1),
  AWS_SECRET_ACCESS_KEY: z.string().min(1),
  AWS_REGION: z.string().min(1),
  MLFLOW_S3_ENDPOINT_URL: z.url(),
  ROUTERLAB_TEST_JUPYTER: z.enum(["0", "1"]).optional(),
});

export const HOW_TO_RUN =
  "run the suite with `npm test`, or one file with the services: " +
  "`npm run build && node dist/tests/harness/run-suite.js dist/tests/<area>/<file>.test.js`";

/** Reads the services the suite runner started; throws, naming the missing variables, if there are none. */
export function testServices(env: NodeJS.ProcessEnv = process.env): TestServices {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const fields = [...new Set(parsed.error.issues.map((i) => i.path.join(".")))].join(", ");
    throw new Error(
      `this test needs the routerlab test services (environment: ${fields} missing or invalid); ${HOW_TO_RUN}`,
    );
  }
  const e = parsed.data;
  return {
    python: e.ROUTERLAB_PYTHON,
    mlflowUri: e.ROUTERLAB_TEST_MLFLOW_URI,
    s3: {
      endpoint: e.ROUTERLAB_TEST_S3_ENDPOINT,
      bucket: e.ROUTERLAB_TEST_S3_BUCKET,
      accessKeyId: e.AWS_ACCESS_KEY_ID,
      secretAccessKey: e.AWS_SECRET_ACCESS_KEY,
      region: e.AWS_REGION,
    },
    jupyter: e.ROUTERLAB_TEST_JUPYTER === "1",
  };
}
