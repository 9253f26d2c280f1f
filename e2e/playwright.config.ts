// Playwright for tipy's dashboard: Debian's Chromium (never a downloaded
// browser), tipyweb started on a free port by webServer.
import { defineConfig } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(__dirname, '..');

// A free port, found once by the config and handed to the tests via baseURL.
function freePort(): number {
  if (process.env.TIPY_E2E_PORT) return Number(process.env.TIPY_E2E_PORT);
  const out = execFileSync(process.execPath, ['-e',
    "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"]);
  const port = Number(String(out).trim());
  process.env.TIPY_E2E_PORT = String(port); // the workers load this config again: same port
  return port;
}
const port = freePort();
const base = `http://127.0.0.1:${port}`;

export default defineConfig({
  testDir: './tests',
  outputDir: './test-results',
  timeout: 60_000,
  expect: { timeout: 15_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [['list']],
  use: {
    baseURL: base,
    viewport: { width: 1280, height: 800 },
    acceptDownloads: true,
    screenshot: 'only-on-failure',
    trace: 'off',
    launchOptions: {
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    },
  },
  projects: [{ name: 'chromium', use: { browserName: 'chromium' } }],
  webServer: {
    command: `go build -o bin/tipyweb ./cmd/tipyweb && ./bin/tipyweb --listen 127.0.0.1:${port} --seed 7 --quiet`,
    cwd: root,
    url: `${base}/api/v1/health`,
    timeout: 180_000,
    reuseExistingServer: false,
    stdout: 'ignore',
    stderr: 'pipe',
  },
});
