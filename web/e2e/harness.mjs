// Starts a real `comanda serve` (embedded default, fresh data directory, a free port) and a headless Debian
// Chromium driven by playwright-core. Nothing here downloads a browser.
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
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

// `env` adds settings as `COMANDA_*` variables (README, "Configuration"), e.g. a lower refund approval threshold.
export async function startServer({ env = {} } = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'comanda-e2e-'));
  const child = spawn(binary, ['serve', '--listen', '127.0.0.1:0', '--data-dir', join(dataDir, 'data')], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
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

// Accessibility is checked by axe-core (Deque's engine, the reference nobody here wrote) against WCAG 2.0, 2.1 and 2.2
// levels A and AA, on the page as the user sees it at that step. The engine is evaluated through the DevTools
// protocol, which the pages' strict CSP (no inline script) does not govern, so the pages are tested as served.
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const WCAG_AA = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22a', 'wcag22aa'];

export async function accessibilityViolations(page) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) {
    await page.evaluate(axeSource);
  }
  const result = await page.evaluate(
    (tags) => window.axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] }),
    WCAG_AA,
  );
  return result.violations.map((v) => ({
    rule: v.id,
    impact: v.impact,
    help: v.help,
    nodes: v.nodes.map((n) => `${n.target.join(' ')}: ${n.failureSummary.replace(/\s+/g, ' ')}`),
  }));
}

// Fails the test, naming each rule and element, when the page breaks a WCAG A or AA rule axe-core can decide.
export async function assertAccessible(page, where) {
  const violations = await accessibilityViolations(page);
  if (violations.length > 0) {
    throw new Error(`${where} (${page.url()}) breaks WCAG rules:\n${JSON.stringify(violations, null, 2)}`);
  }
}
