import { defineConfig, devices } from "@playwright/test";

// Run through scripts/test, which builds target/debug/turnout and target/site, makes the
// turnout_e2e database and sets the server's environment (DATABASE_URL, TURNOUT_ADDR,
// ADMIN_EMAIL, ...); the webServer below inherits it.
// Playwright's own browser downloads are not used: Debian's chromium is
// (CHROMIUM_PATH overrides /usr/bin/chromium).
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
    baseURL: "http://127.0.0.1:3100",
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
    url: "http://127.0.0.1:3100/health",
    reuseExistingServer: false,
    timeout: 120_000,
    stdout: "pipe",
    stderr: "pipe",
  },
});
