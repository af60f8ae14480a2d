#!/usr/bin/env node
/**
 * The `aio` command.  `aio doctor` prints which IO method @aio/auto uses
 * here and why each better one was skipped; `--json` prints the same as one
 * JSON object (see doctor.ts for its contract).
 *
 * Exit status: 0 when a method was chosen, 1 when AIO_METHOD forces one that
 * cannot work (or names no method), 2 for a bad command line.
 */
import { readFileSync } from 'node:fs';
import { doctorJson, doctorReport, formatDoctor } from './doctor.js';

const USAGE = `usage: aio doctor [--json]

  doctor          show every IO method: installed, available, the reason, its capabilities,
                  the one @aio/auto chooses here, and the platform facts behind them
  --json          print {"chosen", "methods": [{"name", "installed", "available", "reason", ...}], "platform"}
  --help          this text
  --version       the version of @aio/auto

environment:
  AIO_METHOD=<name>   force a method (io_uring, iocp, kqueue, posix_aio, threadpool, libuv, sync); doctor shows
                      whether it can work and exits with 1 if not
`;

async function main(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h') || argv[0] === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (argv.includes('--version')) {
    const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    process.stdout.write(`${manifest.version}\n`);
    return 0;
  }
  const [command, ...flags] = argv;
  const unknown = flags.filter((flag) => flag !== '--json');
  if (command !== 'doctor' || unknown.length > 0) {
    const what = command === undefined ? 'no command given' : command !== 'doctor' ? `unknown command ${JSON.stringify(command)}` : `unknown option ${unknown[0]}`;
    process.stderr.write(`aio: ${what}\n${USAGE}`);
    return 2;
  }
  const report = await doctorReport();
  if (flags.includes('--json')) {
    process.stdout.write(`${doctorJson(report)}\n`);
    if (report.error !== undefined) process.stderr.write(`aio: ${report.error}\n`);
  } else {
    process.stdout.write(`${formatDoctor(report)}\n`);
  }
  return report.chosen === null ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (status) => {
    process.exitCode = status;
  },
  (error: unknown) => {
    process.stderr.write(`aio: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
