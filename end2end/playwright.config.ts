import { defineConfig, devices } from "@playwright/test";

// Run through scripts/test, which builds target/debug/turnout and target/site, makes the
// turnout_e2e database and sets the server's environment (DATABASE_URL, TURNOUT_ADDR,
// ADMIN_EMAIL, ...); the webServer below inherits it.
// Playwright's own browser downloads are not used: Debian's chromium is
// (CHROMIUM_PATH overrides /usr/bin/chromium).
// E2E_PORT moves the server and the tests to another port (default 3100, scripts/test's);
// TURNOUT_ADDR must then say the same port.
const port = process.env.E2E_PORT || "3100";
const baseURL = `http://127.0.0.1:${port}`;

export default defineConfig({
  testDir: "./tests",
  fullyParallel: false,
  forbidOnly: !!process.env.CI,
  workers: 1,
  retries: 0,
  reporter: "list",
  timeout: 60_000,
  expect: { timeout: 10_000 },
  outputDir: "./test-results",
  use: {
    baseURL,
    headless: true,
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
  },
  projects: [
    {
      name: "chromium",
      use: {
        ...devices["Desktop Chrome"],
        launchOptions: {
          executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
          args: [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
          ],
        },
      },
    },
  ],
  webServer: {
    command: "../target/debug/turnout",
    url: `${baseURL}/health`,
    reuseExistingServer: false,
    timeout: 120_000,
    stdout: "pipe",
    stderr: "pipe",
  },
});
