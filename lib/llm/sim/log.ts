/**
 * The append-only JSONL request log. Lines are queued and written once per event-loop turn in one write, so the
 * request path never touches the file system synchronously; each line is complete when written (appends of whole
 * lines), and `flush()` resolves once everything queued so far is on disk.
 */
import { createWriteStream, mkdirSync, type WriteStream } from "node:fs";
import path from "node:path";
import { openAppendLog } from "../../util/atomic-write";

export class JsonlLog {
  private readonly stream: WriteStream;
  private queue: string[] = [];
  private scheduled = false;
  private written: Promise<void> = Promise.resolve();
  private error: Error | null = null;

  constructor(readonly file: string) {
    mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    // append-only, never through a symlink; a kill can tear only the last line, which readers skip
    this.stream = createWriteStream(file, { fd: openAppendLog(file) });
    this.stream.on("error", (e) => (this.error = e));
  }

  append(record: unknown): void {
    this.queue.push(JSON.stringify(record) + "\n");
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.drain());
    }
  }

  private drain(): void {
    this.scheduled = false;
    if (this.queue.length === 0) return;
    const chunk = this.queue.join("");
    this.queue = [];
    this.written = new Promise((resolve) => {
      this.stream.write(chunk, (e) => {
        if (e) this.error = e;
        resolve();
      });
    });
  }

  async flush(): Promise<void> {
    this.drain();
    await this.written;
    if (this.error) throw this.error;
  }

  async close(): Promise<void> {
    await this.flush();
    await new Promise<void>((resolve) => this.stream.end(resolve));
  }
}
