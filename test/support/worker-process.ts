/**
 * The parent's side of the test child processes (child-harness.mjs is the
 * child's): a Node child started on a script, its stderr, its exit, and the
 * JSON lines it reports on stdout, each kept in order (a line that is not
 * JSON is kept as an error line).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** What every reported line has; `{ type: 'error', where: 'stdout', message }` stands for a line that is not JSON. */
export interface ReportedLine {
  readonly type: string;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class WorkerProcess<L extends ReportedLine> {
  readonly child: ChildProcess;
  readonly lines: L[] = [];
  stderr = '';
  readonly exited: Promise<Exit>;

  /** Starts `script` (a path) from the repository root with `env` added to this process's environment. */
  constructor(script: string, env: Readonly<Record<string, string>>) {
    this.child = spawn(process.execPath, [script], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
    this.child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString('utf8')));
    createInterface({ input: this.child.stdout! }).on('line', (text) => {
      let line: L;
      try {
        line = JSON.parse(text) as L;
      } catch {
        line = { type: 'error', where: 'stdout', message: text } as unknown as L;
      }
      this.lines.push(line);
      this.onLine(line);
    });
  }

  /** Called for each line after it is kept. */
  protected onLine(_line: L): void {}

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }
}
