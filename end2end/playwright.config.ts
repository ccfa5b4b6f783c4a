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
// A loopback Google (fake-google.mjs) for the Gmail spec; the server is pointed at it, so
// Settings offers "Connect Google" (no account is connected until a spec connects one).
const googlePort = process.env.FAKE_GOOGLE_PORT || "3190";
const google = `http://127.0.0.1:${googlePort}`;

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
  webServer: [
    {
      command: "node fake-google.mjs",
      url: `${google}/health`,
      reuseExistingServer: false,
      timeout: 10_000,
      env: { FAKE_GOOGLE_PORT: googlePort },
    },
    {
      command: "../target/debug/turnout",
      url: `${baseURL}/health`,
      reuseExistingServer: false,
      timeout: 120_000,
      stdout: "pipe",
      stderr: "pipe",
      env: {
        GOOGLE_CLIENT_ID: "e2e-client.apps.googleusercontent.com",
        GOOGLE_CLIENT_SECRET: "e2e-client-secret",
        GOOGLE_AUTH_URL: `${google}/authorize`,
        GOOGLE_TOKEN_URL: `${google}/token`,
        GOOGLE_REVOKE_URL: `${google}/revoke`,
        GMAIL_API_BASE: google,
        GMAIL_SYNC_INTERVAL_S: "5",
      },
    },
  ],
});
