// Starts a real `comanda serve` (embedded default, fresh data directory, a free port) and a headless Debian
// Chromium driven by playwright-core. Nothing here downloads a browser.
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, '..', '..');
export const targetDir = process.env.E2E_TARGET_DIR || join(repoRoot, 'target');
export const binary = process.env.E2E_COMANDA_BIN || join(targetDir, 'debug', 'comanda');

export function artifactPath(name) {
  const dir = join(targetDir, 'e2e');
  mkdirSync(dir, { recursive: true });
  return join(dir, name);
}

export async function startServer() {
  const dataDir = mkdtempSync(join(tmpdir(), 'comanda-e2e-'));
  const child = spawn(binary, ['serve', '--listen', '127.0.0.1:0', '--data-dir', join(dataDir, 'data')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const port = await new Promise((resolvePort, reject) => {
    const timer = setTimeout(() => reject(new Error(`comanda did not start within 20 s:\n${output}`)), 20000);
    const onData = (chunk) => {
      output += chunk.toString();
      const match = output.match(/listening on https:\/\/127\.0\.0\.1:(\d+)/);
      if (match) {
        clearTimeout(timer);
        resolvePort(Number(match[1]));
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`comanda exited with ${code}:\n${output}`)));
  });
  return {
    origin: `https://localhost:${port}`,
    dataDir: join(dataDir, 'data'),
    logs: () => output,
    async stop() {
      const exited = new Promise((done) => child.on('exit', done));
      child.kill('SIGTERM');
      await exited;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
