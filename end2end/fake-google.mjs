// A loopback stand-in for Google, for the end-to-end tests (the Rust tests have their own,
// tests/common/gmail.rs, which documents the formats and what is guessed). One server is
// both the OAuth endpoints (/authorize consents at once and redirects back, /token, /revoke)
// and one Gmail mailbox (profile, messages.send, history.list, messages.list, messages.get
// format=raw). The tests drive it through /_test/...: deliver mail, read what was sent.
//
// Started by Playwright's webServer (playwright.config.ts) on FAKE_GOOGLE_PORT (3190).
import { createHash, randomBytes } from "node:crypto";
import { createServer } from "node:http";

const port = Number(process.env.FAKE_GOOGLE_PORT || "3190");
const CLIENT_ID = process.env.FAKE_GOOGLE_CLIENT_ID || "e2e-client.apps.googleusercontent.com";
const CLIENT_SECRET = process.env.FAKE_GOOGLE_CLIENT_SECRET || "e2e-client-secret";
const EMAIL = process.env.FAKE_GOOGLE_EMAIL || "ana.reyes.events@gmail.com";

const grants = new Map(); // code -> { redirectUri, challenge, scope, offline, used }
const access = new Map(); // token -> expired?
const refresh = new Map(); // token -> revoked?
const mailbox = []; // { id, threadId, labelIds, historyId, internalDate, raw: Buffer }
const sent = []; // { id, threadId, requestedThreadId, raw }
const revocations = [];
let currentHistory = 4_321_000;
let nextId = 0x18e4a7c000000000n;

const token = (prefix) => prefix + randomBytes(32).toString("base64url");
const json = (res, status, body) => {
  res.writeHead(status, { "content-type": "application/json; charset=UTF-8" });
  res.end(JSON.stringify(body));
};
const apiError = (res, status, message, statusName) =>
  json(res, status, { error: { code: status, message, status: statusName } });
const oauthError = (res, error, description) => json(res, 400, { error, error_description: description });

function header(raw, name) {
  const head = raw.toString("utf8").split(/\r?\n\r?\n/)[0].replace(/\r?\n[ \t]+/g, " ");
  const line = head.split(/\r?\n/).find((l) => l.toLowerCase().startsWith(name.toLowerCase() + ":"));
  return line ? line.slice(name.length + 1).trim() : undefined;
}

function addMail(raw, threadId, labelIds) {
  nextId += BigInt(1 + Math.floor(Math.random() * 200));
  const id = nextId.toString(16).padStart(16, "0");
  currentHistory += 3 + Math.floor(Math.random() * 5);
  const mail = { id, threadId: threadId || id, labelIds, historyId: currentHistory, internalDate: Date.now(), raw };
  mailbox.push(mail);
  return mail;
}

/** The thread of a mailbox message that `raw` answers by In-Reply-To/References. */
function threadAnswered(raw) {
  const refs = [header(raw, "In-Reply-To"), header(raw, "References")].filter(Boolean).join(" ");
  if (!refs) return undefined;
  return mailbox.findLast((m) => {
    const id = header(m.raw, "Message-ID");
    return id && refs.includes(id);
  })?.threadId;
}

async function body(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return Buffer.concat(chunks).toString("utf8");
}

function authorized(req, res) {
  const auth = req.headers.authorization || "";
  const t = auth.startsWith("Bearer ") ? auth.slice(7).trim() : "";
  if (access.get(t) === false) return true;
  res.setHeader("www-authenticate", 'Bearer realm="https://accounts.google.com/", error="invalid_token"');
  apiError(res, 401, "Request had invalid authentication credentials.", "UNAUTHENTICATED");
  return false;
}

function page(items, q) {
  const start = Number(q.get("pageToken") || "0");
  const size = Number(q.get("maxResults") || "100");
  const slice = items.slice(start, start + size);
  return [slice, start + size < items.length ? String(start + size) : undefined];
}

function client(req, form) {
  const auth = req.headers.authorization || "";
  if (auth.startsWith("Basic ")) {
    const [id, secret] = Buffer.from(auth.slice(6), "base64").toString("utf8").split(":");
    return [decodeURIComponent(id.replace(/\+/g, " ")), decodeURIComponent((secret || "").replace(/\+/g, " "))];
  }
  return [form.get("client_id"), form.get("client_secret")];
}

const server = createServer(async (req, res) => {
  const url = new URL(req.url, `http://127.0.0.1:${port}`);
  const q = url.searchParams;
  const path = url.pathname;
  try {
    if (path === "/health") return json(res, 200, { ok: true });

    // --- OAuth 2.0 (https://developers.google.com/identity/protocols/oauth2/web-server) ---
    if (req.method === "GET" && path === "/authorize") {
      if (q.get("client_id") !== CLIENT_ID) return json(res, 401, { error: "invalid_client" });
      if (q.get("response_type") !== "code" || !q.get("redirect_uri") || !q.get("scope"))
        return json(res, 400, { error: "invalid_request" });
      if (q.get("code_challenge_method") !== "S256" || (q.get("code_challenge") || "").length < 43)
        return json(res, 400, { error: "invalid_request", error_description: "PKCE S256 required" });
      const code = token("4/0A");
      grants.set(code, {
        redirectUri: q.get("redirect_uri"),
        challenge: q.get("code_challenge"),
        scope: q.get("scope"),
        offline: q.get("access_type") === "offline",
        used: false,
      });
      const back = new URL(q.get("redirect_uri"));
      back.searchParams.set("state", q.get("state") || "");
      back.searchParams.set("code", code);
      back.searchParams.set("scope", q.get("scope"));
      res.writeHead(302, { location: back.toString() });
      return res.end();
    }
    if (req.method === "POST" && path === "/token") {
      const form = new URLSearchParams(await body(req));
      const [id, secret] = client(req, form);
      if (id !== CLIENT_ID || secret !== CLIENT_SECRET) return json(res, 401, { error: "invalid_client", error_description: "Unauthorized" });
      if (form.get("grant_type") === "authorization_code") {
        const grant = grants.get(form.get("code"));
        if (!grant || grant.used) return oauthError(res, "invalid_grant", "Malformed auth code.");
        grant.used = true;
        if (form.get("redirect_uri") !== grant.redirectUri) return oauthError(res, "redirect_uri_mismatch", "Bad Request");
        const verifier = form.get("code_verifier") || "";
        if (createHash("sha256").update(verifier).digest("base64url") !== grant.challenge)
          return oauthError(res, "invalid_grant", "Invalid code verifier.");
        const at = token("ya29.a0");
        access.set(at, false);
        const answer = { access_token: at, expires_in: 3599, scope: grant.scope, token_type: "Bearer" };
        if (grant.offline) {
          answer.refresh_token = token("1//0g");
          refresh.set(answer.refresh_token, false);
        }
        return json(res, 200, answer);
      }
      if (form.get("grant_type") === "refresh_token") {
        if (refresh.get(form.get("refresh_token")) !== false)
          return oauthError(res, "invalid_grant", "Token has been expired or revoked.");
        const at = token("ya29.a0");
        access.set(at, false);
        return json(res, 200, { access_token: at, expires_in: 3599, scope: "https://www.googleapis.com/auth/gmail.send https://www.googleapis.com/auth/gmail.readonly", token_type: "Bearer" });
      }
      return oauthError(res, "unsupported_grant_type", "Invalid grant_type");
    }
    if (req.method === "POST" && path === "/revoke") {
      const t = new URLSearchParams(await body(req)).get("token") || q.get("token");
      if (!t) return oauthError(res, "invalid_request", "Missing required parameter: token");
      revocations.push(t);
      if (refresh.has(t)) {
        refresh.set(t, true);
        for (const k of access.keys()) access.set(k, true);
      }
      if (access.has(t)) access.set(t, true);
      return json(res, 200, {});
    }

    // --- Gmail (https://developers.google.com/gmail/api/reference/rest) ---
    const gmail = path.match(/^\/gmail\/v1\/users\/me\/(.+)$/);
    if (gmail) {
      if (!authorized(req, res)) return;
      const rest = gmail[1];
      if (req.method === "GET" && rest === "profile") {
        return json(res, 200, {
          emailAddress: EMAIL,
          messagesTotal: mailbox.length,
          threadsTotal: new Set(mailbox.map((m) => m.threadId)).size,
          historyId: String(currentHistory),
        });
      }
      if (req.method === "POST" && rest === "messages/send") {
        const request = JSON.parse(await body(req));
        const raw = Buffer.from(String(request.raw || ""), "base64url");
        if (!header(raw, "To")) return apiError(res, 400, "Recipient address required", "INVALID_ARGUMENT");
        if (request.threadId && !mailbox.some((m) => m.threadId === request.threadId))
          return apiError(res, 404, "Requested entity was not found.", "NOT_FOUND");
        const mail = addMail(raw, request.threadId, ["SENT"]);
        sent.push({ id: mail.id, threadId: mail.threadId, requestedThreadId: request.threadId, raw: raw.toString("utf8") });
        return json(res, 200, { id: mail.id, threadId: mail.threadId, labelIds: ["SENT"] });
      }
      if (req.method === "GET" && rest === "history") {
        const start = Number(q.get("startHistoryId"));
        if (!Number.isFinite(start)) return apiError(res, 400, "Invalid startHistoryId", "INVALID_ARGUMENT");
        const [records, next] = page(mailbox.filter((m) => m.historyId > start), q);
        const answer = { historyId: String(currentHistory) };
        if (records.length)
          answer.history = records.map((m) => ({
            id: String(m.historyId),
            messages: [{ id: m.id, threadId: m.threadId }],
            messagesAdded: [{ message: { id: m.id, threadId: m.threadId, labelIds: m.labelIds } }],
          }));
        if (next) answer.nextPageToken = next;
        return json(res, 200, answer);
      }
      if (req.method === "GET" && rest === "messages") {
        const days = Number((q.get("q") || "").match(/newer_than:(\d+)d/)?.[1] || "3650");
        const found = mailbox.filter((m) => m.internalDate >= Date.now() - days * 86_400_000).reverse();
        const [rows, next] = page(found, q);
        const answer = { resultSizeEstimate: found.length };
        if (rows.length) answer.messages = rows.map((m) => ({ id: m.id, threadId: m.threadId }));
        if (next) answer.nextPageToken = next;
        return json(res, 200, answer);
      }
      const one = rest.match(/^messages\/([0-9a-f]+)$/);
      if (req.method === "GET" && one) {
        const m = mailbox.find((x) => x.id === one[1]);
        if (!m) return apiError(res, 404, "Requested entity was not found.", "NOT_FOUND");
        return json(res, 200, {
          id: m.id,
          threadId: m.threadId,
          labelIds: m.labelIds,
          snippet: "",
          sizeEstimate: m.raw.length,
          historyId: String(m.historyId),
          internalDate: String(m.internalDate),
          raw: m.raw.toString("base64url"),
        });
      }
      return apiError(res, 404, "Requested entity was not found.", "NOT_FOUND");
    }

    // --- test controls ---
    if (req.method === "POST" && path === "/_test/deliver") {
      const request = JSON.parse(await body(req));
      const raw = Buffer.from(String(request.raw).replace(/\r?\n/g, "\r\n"), "utf8");
      const mail = addMail(raw, request.threadId || threadAnswered(raw), ["INBOX", "UNREAD"]);
      return json(res, 200, { id: mail.id, threadId: mail.threadId });
    }
    if (req.method === "GET" && path === "/_test/sent") return json(res, 200, sent);
    if (req.method === "GET" && path === "/_test/revocations") return json(res, 200, revocations);
    return json(res, 404, { error: "not found" });
  } catch (e) {
    return json(res, 500, { error: String(e) });
  }
});

server.listen(port, "127.0.0.1", () => console.log(`fake Google on http://127.0.0.1:${port}`));
