//! Gmail replies, the pure part: a raw RFC 5322 message (what `users.messages.get?format=raw`
//! returns, base64url-decoded) turned into what Turnout keeps: threading ids, sender, the new
//! text of the reply without the quoted message, and whether it is a person's reply, an
//! automatic one (RFC 3834) or a delivery failure (RFC 3464). No I/O here.
use mail_parser::decoders::html::html_to_text;
use mail_parser::{HeaderValue, Message, MessageParser, MimeHeaders, PartType};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedMail {
    /// Without angle brackets.
    pub message_id: Option<String>,
    /// Message-IDs, without angle brackets.
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    /// Lower-cased address only.
    pub from: Option<String>,
    pub from_name: Option<String>,
    /// Lower-cased addresses.
    pub to: Vec<String>,
    pub subject: Option<String>,
    /// The new text: the text/plain part (else the HTML as text) without the quoted earlier
    /// message, trimmed; the whole text when removing the quote would leave nothing.
    pub text: String,
    pub kind: MailKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailKind {
    Reply,
    AutoReply,
    Bounce(Bounce),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bounce {
    /// The address that failed, lower-cased.
    pub recipient: Option<String>,
    /// 5.x.x (or a failure without a status) vs 4.x.x / `Action: delayed`.
    pub permanent: bool,
    /// e.g. "550 5.1.1 The email account that you tried to reach does not exist ...".
    pub reason: String,
    /// The Message-ID of the message that bounced, without angle brackets.
    pub original_message_id: Option<String>,
}

/// Longest `reason` kept: remote servers can send whole paragraphs.
const MAX_REASON: usize = 1000;

pub fn parse(raw: &[u8]) -> Result<ParsedMail, String> {
    let msg = MessageParser::default().parse(raw).ok_or_else(|| "not an RFC 5322 message".to_string())?;
    if msg.headers().is_empty() {
        return Err("not an RFC 5322 message: no header fields".into());
    }
    let sender = msg.from().and_then(|a| a.first());
    let from = sender.and_then(|a| a.address.as_deref()).map(|a| a.trim().to_lowercase()).filter(|a| !a.is_empty());
    let from_name = sender.and_then(|a| a.name.as_deref()).map(|n| n.trim().to_string()).filter(|n| !n.is_empty());
    let to = msg
        .all_to()
        .flat_map(|a| a.iter())
        .filter_map(|a| a.address.as_deref())
        .map(|a| a.trim().to_lowercase())
        .filter(|a| !a.is_empty())
        .collect();
    let subject = msg.subject().map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let kind = classify(&msg, from.as_deref(), subject.as_deref());
    Ok(ParsedMail {
        message_id: msg.message_id().and_then(clean_id),
        in_reply_to: ids(msg.in_reply_to()),
        references: ids(msg.references()),
        from,
        from_name,
        to,
        subject,
        text: reply_text(&msg),
        kind,
    })
}

fn clean_id(id: &str) -> Option<String> {
    let id = id.trim().trim_start_matches('<').trim_end_matches('>').trim();
    (!id.is_empty()).then(|| id.to_string())
}

fn ids(value: &HeaderValue) -> Vec<String> {
    match value {
        HeaderValue::Text(t) => clean_id(t).into_iter().collect(),
        HeaderValue::TextList(l) => l.iter().filter_map(|t| clean_id(t)).collect(),
        _ => Vec::new(),
    }
}

/// A top-level header field's value as text, folding undone; names compare case-insensitively.
fn header(msg: &Message, name: &str) -> Option<String> {
    let h = msg.headers().iter().find(|h| h.name().eq_ignore_ascii_case(name))?;
    Some(match h.value() {
        HeaderValue::Text(t) => collapse_ws(t),
        HeaderValue::TextList(l) => collapse_ws(&l.join(", ")),
        HeaderValue::Address(a) => a.iter().filter_map(|a| a.address.as_deref()).collect::<Vec<_>>().join(", "),
        _ => String::new(),
    })
}

fn collapse_ws(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

// ---------------------------------------------------------------------------------------------
// Classification

fn classify(msg: &Message, from: Option<&str>, subject: Option<&str>) -> MailKind {
    // Bounces first: DSNs often carry `Auto-Submitted: auto-replied` too (RFC 3464 §2, RFC 3834 §5).
    match delivery_report(msg) {
        Some(Report::Failed(b)) => return MailKind::Bounce(b),
        // A success/relay DSN is machine-made and not a person answering.
        Some(Report::Delivered) => return MailKind::AutoReply,
        None => {}
    }
    if let Some(b) = nonstandard_bounce(msg, from, subject) {
        return MailKind::Bounce(b);
    }
    if is_auto_reply(msg, subject) {
        return MailKind::AutoReply;
    }
    MailKind::Reply
}

/// What decides an automatic reply, from the strongest signal to the weakest.
///
/// Left out on purpose, as a person's reply can carry them too:
/// - `Precedence: bulk|junk|list`: marks list and bulk traffic (a contact answering through a
///   mailing list or a ticket desk); RFC 3834 §3.1.8 only says not to auto-answer it. Real
///   responders that set it also set `Auto-Submitted`.
/// - `X-Auto-Response-Suppress`: Outlook/Exchange put it on ordinary mail; it asks others not to
///   auto-answer, it does not say the message is one.
/// - `X-MS-Exchange-Inbox-Rules-Loop`: set on anything an Exchange inbox rule sent, including a
///   rule forwarding or redirecting a person's real message; Exchange's own automatic replies
///   carry `Auto-Submitted` and an "Automatic reply:" subject, which are caught below.
fn is_auto_reply(msg: &Message, subject: Option<&str>) -> bool {
    // RFC 3834 §5: any value other than "no" means machine-generated.
    if let Some(v) = header(msg, "Auto-Submitted") {
        let v = v.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        if !v.is_empty() && v != "no" {
            return true;
        }
    }
    if header(msg, "X-Autoreply").is_some() || header(msg, "X-Autorespond").is_some() {
        return true;
    }
    if header(msg, "Precedence").is_some_and(|p| p.trim().eq_ignore_ascii_case("auto_reply")) {
        return true;
    }
    // Last resort, for responders that set no header: the subject they put first.
    subject.is_some_and(is_out_of_office_subject)
}

fn is_out_of_office_subject(subject: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "automatic reply",
        "auto reply",
        "auto-reply",
        "autoreply",
        "auto response",
        "auto-response",
        "auto:", // Lotus Notes / HCL
        "out of office",
        "out of the office",
        "abwesenheitsnotiz",
        "automatische antwort",
        "réponse automatique",
        "respuesta automática",
        "risposta automatica",
        "resposta automática",
        "automatisch antwoord",
    ];
    let s = subject.trim().to_lowercase();
    PREFIXES.iter().any(|p| s.starts_with(p))
}

enum Report {
    Failed(Bounce),
    Delivered,
}

/// An RFC 3464 delivery status notification: `multipart/report; report-type=delivery-status`
/// with a `message/delivery-status` part (RFC 6533's `message/global-delivery-status` too).
fn delivery_report(msg: &Message) -> Option<Report> {
    let is_report = msg.content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("multipart")
            && ct.subtype().is_some_and(|s| s.eq_ignore_ascii_case("report"))
            && ct.attribute("report-type").is_some_and(|r| r.eq_ignore_ascii_case("delivery-status"))
    });
    let status_part = msg.parts.iter().find(|p| {
        p.content_type().is_some_and(|ct| {
            ct.ctype().eq_ignore_ascii_case("message")
                && ct
                    .subtype()
                    .is_some_and(|s| s.eq_ignore_ascii_case("delivery-status") || s.eq_ignore_ascii_case("global-delivery-status"))
        })
    });
    if !is_report && status_part.is_none() {
        return None;
    }
    let groups = status_part.map(|p| field_groups(&String::from_utf8_lossy(p.contents()))).unwrap_or_default();
    // Per-recipient groups follow the per-message one (RFC 3464 §2.2, §2.3).
    let recipients: Vec<&Fields> =
        groups.iter().filter(|g| g.get("final-recipient").is_some() || g.get("action").is_some() || g.get("status").is_some()).collect();
    let action = |g: &Fields| g.get("action").map(|a| a.to_ascii_lowercase()).unwrap_or_default();
    let chosen = recipients
        .iter()
        .find(|g| action(g) == "failed")
        .or_else(|| recipients.iter().find(|g| action(g) == "delayed"))
        .or_else(|| recipients.iter().find(|g| g.get("action").is_none()))
        .copied();
    if chosen.is_none() && !recipients.is_empty() {
        // Only delivered / relayed / expanded: a success notice, nothing failed.
        return Some(Report::Delivered);
    }
    let original_message_id = returned_message_id(msg);
    let failed_header = x_failed_recipient(msg);
    let Some(g) = chosen else {
        // A report we cannot read: still a failure report.
        return Some(Report::Failed(Bounce {
            recipient: failed_header,
            permanent: true,
            reason: "delivery failed".into(),
            original_message_id,
        }));
    };
    let status = g.get("status").and_then(|s| s.split_whitespace().next()).unwrap_or("").to_string();
    let delayed = action(g) == "delayed";
    // The status class decides (RFC 3463): a queue that gave up on a 4.x.x error is not a dead
    // address. Without a status, a "failed" report is permanent.
    let permanent = !delayed && !status.starts_with('4');
    let recipient = g
        .get("original-recipient")
        .and_then(|v| typed_address(v))
        .or_else(|| g.get("final-recipient").and_then(|v| typed_address(v)))
        .or(failed_header);
    let reason = g
        .get("diagnostic-code")
        .map(|d| clean_smtp_reason(strip_type(d)))
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| match (status.is_empty(), delayed) {
            (false, _) => format!("status {status}"),
            (true, true) => "delivery delayed".into(),
            (true, false) => "delivery failed".into(),
        });
    Some(Report::Failed(Bounce { recipient, permanent, reason: truncate(reason), original_message_id }))
}

/// Bounces that are not RFC 3464 reports (Exim's, qmail's "failure notice"): an
/// `X-Failed-Recipients` header, which MTAs add only to bounces, or a mailer-daemon/postmaster
/// sender with a delivery-failure subject.
fn nonstandard_bounce(msg: &Message, from: Option<&str>, subject: Option<&str>) -> Option<Bounce> {
    let failed = x_failed_recipient(msg);
    let daemon = from
        .and_then(|f| f.split('@').next())
        .is_some_and(|local| matches!(local, "mailer-daemon" | "postmaster" | "mail-daemon"));
    let subject_lc = subject.unwrap_or("").to_lowercase();
    let failure_subject = [
        "undeliver",
        "delivery status notification",
        "mail delivery failed",
        "delivery failure",
        "failure notice",
        "returned mail",
        "delivery has failed",
        "could not be delivered",
        "delayed mail",
        "delivery delayed",
        "unzustellbar",
        "nicht zustellbar",
        "non remis",
    ]
    .iter()
    .any(|s| subject_lc.contains(s));
    if failed.is_none() && !(daemon && failure_subject) {
        return None;
    }
    let body = all_text(msg);
    let body_lc = body.to_lowercase();
    let permanent = match enhanced_status(&body) {
        Some(s) => s.starts_with('5'),
        None => {
            body_lc.contains("permanent")
                || !(subject_lc.contains("delay") || body_lc.contains("delayed") || body_lc.contains("will continue trying"))
        }
    };
    let reason = body
        .lines()
        .map(str::trim)
        .find(|l| smtp_reply_code(l).is_some())
        .map(clean_smtp_reason)
        .or_else(|| subject.map(str::to_string))
        .unwrap_or_else(|| "delivery failed".into());
    Some(Bounce { recipient: failed, permanent, reason: truncate(reason), original_message_id: returned_message_id(msg) })
}

fn x_failed_recipient(msg: &Message) -> Option<String> {
    header(msg, "X-Failed-Recipients")?
        .split(',')
        .map(|a| a.trim().trim_start_matches('<').trim_end_matches('>').trim().to_lowercase())
        .find(|a| a.contains('@'))
}

/// The returned original's Message-ID: a `message/rfc822` (or RFC 6532 `message/global`) part,
/// a `text/rfc822-headers` part (RFC 6522), else the first `Message-ID:` line in a text part
/// (Exim and qmail paste the original below their text).
fn returned_message_id(msg: &Message) -> Option<String> {
    for p in &msg.parts {
        let Some(ct) = p.content_type() else { continue };
        let sub = ct.subtype().unwrap_or("").to_ascii_lowercase();
        let ty = ct.ctype().to_ascii_lowercase();
        if let PartType::Message(m) = &p.body
            && let Some(id) = m.message_id().and_then(clean_id)
        {
            return Some(id);
        }
        if (ty == "text" && sub == "rfc822-headers") || (ty == "message" && sub == "global-headers") {
            let raw = p.contents();
            if let Some(id) = MessageParser::default().parse_headers(raw).and_then(|h| h.message_id().and_then(clean_id)) {
                return Some(id);
            }
        }
    }
    msg.parts.iter().filter_map(|p| match &p.body {
        PartType::Text(t) => Some(t.as_ref()),
        _ => None,
    })
    .flat_map(str::lines)
    .find_map(|l| {
        let l = l.trim();
        let (name, value) = l.split_once(':')?;
        if !name.trim().eq_ignore_ascii_case("message-id") {
            return None;
        }
        let value = value.trim();
        let inner = value.strip_prefix('<').and_then(|v| v.split_once('>')).map(|(id, _)| id).unwrap_or(value);
        clean_id(inner)
    })
}

type Fields = std::collections::HashMap<String, String>;

/// RFC 3464 §2.1: header-like fields (RFC 5322 folding), groups separated by blank lines.
fn field_groups(body: &str) -> Vec<Fields> {
    let mut groups = Vec::new();
    let mut current = Fields::new();
    let mut last: Option<String> = None;
    for line in body.lines() {
        if line.trim().is_empty() {
            if !current.is_empty() {
                groups.push(std::mem::take(&mut current));
            }
            last = None;
        } else if line.starts_with([' ', '\t']) {
            if let Some(v) = last.as_ref().and_then(|k| current.get_mut(k)) {
                v.push(' ');
                v.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            let name = name.trim().to_ascii_lowercase();
            // The first occurrence wins: a group has one of each field.
            current.entry(name.clone()).or_insert_with(|| value.trim().to_string());
            last = Some(name);
        }
    }
    if !current.is_empty() {
        groups.push(current);
    }
    groups
}

/// `rfc822; Ana@Example.org` → `ana@example.org` (RFC 3464 §2.3.1/2.3.2 address-type prefix).
fn typed_address(v: &str) -> Option<String> {
    let a = strip_type(v).trim().trim_start_matches('<').trim_end_matches('>').trim().to_lowercase();
    a.contains('@').then_some(a)
}

/// Drops a `type;` prefix (`smtp;`, `X-Postfix;`, `rfc822;`).
fn strip_type(v: &str) -> &str {
    match v.split_once(';') {
        Some((ty, rest)) if !ty.trim().is_empty() && !ty.trim().contains(char::is_whitespace) => rest.trim(),
        _ => v.trim(),
    }
}

/// A multi-line SMTP reply (RFC 5321 §4.2.1) as one line:
/// `550-5.1.1 a\n 550-5.1.1 b\n 550 5.1.1 c` → `550 5.1.1 a b c`.
fn clean_smtp_reason(reason: &str) -> String {
    let words: Vec<&str> = reason.split_whitespace().collect();
    let Some(first) = words.first() else { return String::new() };
    let Some(code) = smtp_reply_code(first) else { return words.join(" ") };
    let mut out = vec![code.to_string()];
    let glued = first.get(4..).unwrap_or("");
    let (status, mut i) = if is_enhanced_status(glued) {
        (Some(glued), 1)
    } else if glued.is_empty() && words.get(1).is_some_and(|w| is_enhanced_status(w)) {
        (words.get(1).copied(), 2)
    } else {
        if !glued.is_empty() {
            out.push(glued.to_string());
        }
        (None, 1)
    };
    if let Some(s) = status {
        out.push(s.to_string());
    }
    let dash = format!("{code}-");
    while i < words.len() {
        let w = words[i];
        match status {
            // Continuation prefixes: `550-5.1.1` or `550 5.1.1`.
            Some(s) if w.strip_prefix(&dash) == Some(s) => i += 1,
            Some(s) if w == code && words.get(i + 1) == Some(&s) => i += 2,
            None if w == code || w == dash => i += 1,
            _ => {
                out.push(w.to_string());
                i += 1;
            }
        }
    }
    out.join(" ")
}

/// `550`, `550-…`, `550 …` at the start of a line or word: an RFC 5321 reply code 4xx/5xx.
fn smtp_reply_code(s: &str) -> Option<&str> {
    let code = s.get(..3)?;
    let ok = code.starts_with(['4', '5']) && code.bytes().all(|b| b.is_ascii_digit());
    let next = s.as_bytes().get(3).copied();
    (ok && matches!(next, None | Some(b' ') | Some(b'-'))).then_some(code)
}

/// RFC 3463 `class.subject.detail`, class 2, 4 or 5.
fn is_enhanced_status(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 3
        && matches!(parts[0], "2" | "4" | "5")
        && parts[1..].iter().all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
}

fn enhanced_status(text: &str) -> Option<String> {
    text.split(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | '<' | '>' | ',' | ';' | ':' | '#'))
        .map(|w| w.trim_end_matches('.'))
        .find(|w| is_enhanced_status(w) && !w.starts_with('2'))
        .map(str::to_string)
}

fn truncate(mut s: String) -> String {
    if s.len() > MAX_REASON {
        let mut end = MAX_REASON;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

// ---------------------------------------------------------------------------------------------
// The reply's own text

/// Every text part of the top-level message (not of returned originals), for bounce scanning.
fn all_text(msg: &Message) -> String {
    msg.parts
        .iter()
        .filter_map(|p| match &p.body {
            PartType::Text(t) => Some(t.to_string()),
            PartType::Html(h) => Some(html_text(h)),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn reply_text(msg: &Message) -> String {
    let part = |i: &u32| msg.parts.get(*i as usize);
    let plain: Vec<&str> = msg
        .text_body
        .iter()
        .filter_map(part)
        .filter_map(|p| match &p.body {
            PartType::Text(t) => Some(t.as_ref()),
            _ => None,
        })
        .collect();
    let whole = normalize(&plain.join("\n"));
    if !whole.is_empty() {
        return or_whole(strip_quotes(&whole), whole);
    }
    // HTML only: cut the quote in the markup, where clients mark it, then again in the text.
    let html: Vec<&str> = msg
        .html_body
        .iter()
        .chain(msg.text_body.iter())
        .filter_map(part)
        .filter_map(|p| match &p.body {
            PartType::Html(h) => Some(h.as_ref()),
            _ => None,
        })
        .collect();
    let Some(first) = html.first() else { return String::new() };
    let whole = normalize(&html_text(first));
    let new = strip_quotes(&normalize(&html_text(cut_html_quote(first))));
    or_whole(new, whole)
}

fn or_whole(new: String, whole: String) -> String {
    if new.trim().is_empty() { whole } else { new }
}

/// CRLF to LF, trailing spaces off, runs of blank lines to one, trimmed.
fn normalize(text: &str) -> String {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let mut out: Vec<&str> = Vec::new();
    for line in text.lines().map(str::trim_end) {
        if line.is_empty() && out.last().is_none_or(|l| l.is_empty()) {
            continue;
        }
        out.push(line);
    }
    while out.last().is_some_and(|l| l.is_empty()) {
        out.pop();
    }
    out.join("\n").trim().to_string()
}

/// The HTML before the first quote marker clients put in: Gmail's `gmail_quote`, Outlook on the
/// web's `appendonsend` / `divRplyFwdMsg`, Thunderbird's `moz-cite-prefix`, Yahoo's
/// `yahoo_quoted`, Proton's `protonmail_quote`, and any `<blockquote>`.
fn cut_html_quote(html: &str) -> &str {
    // ASCII lower-casing keeps byte offsets valid for `html`.
    let lower = html.to_ascii_lowercase();
    let mut cut = html.len();
    for marker in ["gmail_quote", "appendonsend", "divrplyfwdmsg", "moz-cite-prefix", "yahoo_quoted", "protonmail_quote"] {
        if let Some(pos) = lower.find(marker) {
            // Back to the start of the tag that carries the class or id.
            let tag = lower[..pos].rfind('<').unwrap_or(pos);
            cut = cut.min(tag);
        }
    }
    if let Some(pos) = lower.find("<blockquote") {
        cut = cut.min(pos);
    }
    html.get(..cut).unwrap_or(html)
}

/// HTML as text: mail-parser's converter breaks lines only at `<br>` and `</p>`, so block
/// elements get a `<br>` first (Gmail writes one `<div>` per line).
fn html_text(html: &str) -> String {
    const BLOCKS: &[&str] = &["div", "li", "tr", "table", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre"];
    let mut out = String::with_capacity(html.len() + 64);
    let mut rest = html;
    while let Some(pos) = rest.find('<') {
        out.push_str(&rest[..pos]);
        let tag = &rest[pos + 1..];
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        if (closing && BLOCKS.contains(&name.as_str())) || (!closing && name == "hr") {
            out.push_str("<br>");
        }
        out.push('<');
        rest = tag;
    }
    out.push_str(rest);
    html_to_text(&out)
}

enum QuoteStart {
    /// Everything from this line on is the earlier message.
    Cut(usize),
    /// "On … wrote:" over lines `.0..=.1`.
    Attribution(usize, usize),
}

/// The reply without the earlier message: cut at the first attribution line ("On … wrote:",
/// possibly wrapped), Outlook separator ("-----Original Message-----") or Outlook header block
/// ("From: … Sent: … Subject: …"), then drop the remaining `>` lines. When the answer is
/// written between quoted lines, only the attribution and the `>` lines go.
fn strip_quotes(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut cut = lines.len();
    let mut dropped = vec![false; lines.len()];
    let mut i = 0;
    while i < lines.len() {
        match quote_start(&lines, i) {
            Some(QuoteStart::Cut(start)) => {
                cut = start;
                break;
            }
            Some(QuoteStart::Attribution(start, end)) => {
                if interleaved(&lines[end + 1..]) {
                    dropped[start..=end].iter_mut().for_each(|d| *d = true);
                    i = end + 1;
                    continue;
                }
                cut = start;
                break;
            }
            None => i += 1,
        }
    }
    let kept: Vec<&str> = lines[..cut]
        .iter()
        .zip(&dropped)
        .filter(|(l, d)| !**d && !is_quoted(l))
        .map(|(l, _)| *l)
        .collect();
    normalize(&kept.join("\n"))
}

fn is_quoted(line: &str) -> bool {
    line.trim_start().starts_with('>')
}

/// A non-quoted line between two quoted ones: the writer answered inline.
fn interleaved(after: &[&str]) -> bool {
    let mut seen_quote = false;
    let mut text_after_quote = false;
    for l in after {
        if l.trim().is_empty() {
            continue;
        }
        if is_quoted(l) {
            if text_after_quote {
                return true;
            }
            seen_quote = true;
        } else if seen_quote {
            text_after_quote = true;
        } else {
            // Unquoted text right after the attribution (Yahoo, Outlook mobile): a plain quote.
            return false;
        }
    }
    false
}

fn quote_start(lines: &[&str], i: usize) -> Option<QuoteStart> {
    let line = lines[i].trim();
    if line.is_empty() {
        return None;
    }
    if is_original_message_separator(line) {
        return Some(QuoteStart::Cut(i));
    }
    if header_key(line, FROM_KEYS) {
        let window = &lines[i + 1..lines.len().min(i + 8)];
        let sent = window.iter().any(|l| header_key(l.trim(), SENT_KEYS));
        let subject = window.iter().any(|l| header_key(l.trim(), SUBJECT_KEYS));
        if sent && subject {
            // Take the blank lines and the "______" / "-----" rule above it along.
            let mut start = i;
            while start > 0 && is_blank_or_rule(lines[start - 1]) {
                start -= 1;
            }
            return Some(QuoteStart::Cut(start));
        }
    }
    // The attribution, possibly wrapped over up to three lines (Gmail wraps at 78 columns).
    let mut joined = String::new();
    for k in 0..3 {
        let Some(l) = lines.get(i + k) else { break };
        if k > 0 && l.trim().is_empty() {
            break;
        }
        if !joined.is_empty() {
            joined.push(' ');
        }
        joined.push_str(l.trim().trim_start_matches('>').trim());
        if joined.len() > 400 {
            break;
        }
        if ends_with_wrote(&joined) {
            let next_quoted = lines[i + k + 1..].iter().find(|l| !l.trim().is_empty()).is_some_and(|l| is_quoted(l));
            if starts_with_lead(&joined) || next_quoted {
                return Some(QuoteStart::Attribution(i, i + k));
            }
            break;
        }
    }
    None
}

fn is_original_message_separator(line: &str) -> bool {
    if !line.starts_with("--") && !line.starts_with("__") {
        return false;
    }
    let inner = line.trim_matches(|c: char| c == '-' || c == '_' || c.is_whitespace()).to_lowercase();
    [
        "original message",
        "ursprüngliche nachricht",
        "message d'origine",
        "mensaje original",
        "messaggio originale",
        "mensagem original",
        "oorspronkelijk bericht",
        "forwarded message",
    ]
    .contains(&inner.as_str())
}

fn is_blank_or_rule(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || (t.len() >= 5 && t.chars().all(|c| c == '_' || c == '-'))
}

const FROM_KEYS: &[&str] = &["from:", "von:", "de:", "de :", "da:", "van:", "från:", "od:"];
const SENT_KEYS: &[&str] = &[
    "sent:", "date:", "gesendet:", "datum:", "envoyé :", "envoyé:", "enviado:", "enviado el:", "fecha:", "inviato:", "data:", "verzonden:", "skickat:",
];
const SUBJECT_KEYS: &[&str] = &["subject:", "betreff:", "objet :", "objet:", "asunto:", "oggetto:", "assunto:", "onderwerp:", "ämne:", "temat:"];

/// `From: …` or Outlook's bold-as-asterisks `*From:* …`.
fn header_key(line: &str, keys: &[&str]) -> bool {
    let l = line.trim_start_matches('*').to_lowercase();
    keys.iter().any(|k| l.starts_with(k))
}

fn ends_with_wrote(s: &str) -> bool {
    let s = s.trim_end().to_lowercase();
    [
        "wrote:",
        "writes:",
        "schrieb:",
        "a écrit :",
        "a écrit:",
        "escribió:",
        "escreveu:",
        "ha scritto:",
        "schreef:",
        "skrev:",
        "napisał(a):",
        "kirjoitti:",
    ]
    .iter()
    .any(|w| s.ends_with(w))
}

fn starts_with_lead(s: &str) -> bool {
    let s = s.to_lowercase();
    ["on ", "am ", "le ", "el ", "em ", "il ", "op ", "den ", "w dniu ", "dne "].iter().any(|l| s.starts_with(l))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fixtures are written with LF; Gmail's raw form uses CRLF (RFC 5322 §2.1).
    fn parse_crlf(s: &str) -> ParsedMail {
        parse(s.replace('\n', "\r\n").as_bytes()).expect("fixture parses")
    }

    fn bounce(m: &ParsedMail) -> &Bounce {
        match &m.kind {
            MailKind::Bounce(b) => b,
            other => panic!("expected a bounce, got {other:?}"),
        }
    }

    const OUR_ID: &str = "0192d5e8-3b1f-7a2c-8e4d-6f7a8b9c0d1e@turnout.local";

    const GMAIL_REPLY: &str = r#"Delivered-To: ana@turnout.local
Received: by 2002:a05:6a10:9f4b:b0:5a1:2c3d:4e5f with SMTP id k11csp1234567pxb;
        Tue, 2 Mar 2027 10:42:18 -0800 (PST)
MIME-Version: 1.0
References: <0192d5e8-3b1f-7a2c-8e4d-6f7a8b9c0d1e@turnout.local>
In-Reply-To: <0192d5e8-3b1f-7a2c-8e4d-6f7a8b9c0d1e@turnout.local>
From: Sam Lee <Sam.Lee@Example.org>
Date: Tue, 2 Mar 2027 10:42:17 -0800
Message-ID: <CAF3x9kYq1Zr8mB0vT+2wQeP_4nJd7Lh5sXo=OaQ@mail.gmail.com>
Subject: Re: Volunteer shift on Saturday
To: Ana Reyes <ana@turnout.local>
Content-Type: multipart/alternative; boundary="000000000000a1b2c3d4e5f60718"

--000000000000a1b2c3d4e5f60718
Content-Type: text/plain; charset="UTF-8"

Yes, count me in! I can bring two friends.

Sam

On Tue, Mar 2, 2027 at 10:00 AM Ana Reyes <ana@turnout.local> wrote:

> Hi Sam,
>
> Can you help at the phone bank on Saturday?
>
> Ana
>

--000000000000a1b2c3d4e5f60718
Content-Type: text/html; charset="UTF-8"

<div dir="ltr">Yes, count me in! I can bring two friends.<div><br></div><div>Sam</div></div><br><div class="gmail_quote gmail_quote_container"><div dir="ltr" class="gmail_attr">On Tue, Mar 2, 2027 at 10:00 AM Ana Reyes &lt;<a href="mailto:ana@turnout.local">ana@turnout.local</a>&gt; wrote:<br></div><blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;border-left:1px solid rgb(204,204,204);padding-left:1ex">Hi Sam,<br><br>Can you help at the phone bank on Saturday?<br><br>Ana</blockquote></div>

--000000000000a1b2c3d4e5f60718--
"#;

    #[test]
    fn gmail_reply_drops_the_on_wrote_quote() {
        let m = parse_crlf(GMAIL_REPLY);
        assert_eq!(m.message_id.as_deref(), Some("CAF3x9kYq1Zr8mB0vT+2wQeP_4nJd7Lh5sXo=OaQ@mail.gmail.com"));
        assert_eq!(m.in_reply_to, vec![OUR_ID]);
        assert_eq!(m.references, vec![OUR_ID]);
        assert_eq!(m.from.as_deref(), Some("sam.lee@example.org"));
        assert_eq!(m.from_name.as_deref(), Some("Sam Lee"));
        assert_eq!(m.to, vec!["ana@turnout.local"]);
        assert_eq!(m.subject.as_deref(), Some("Re: Volunteer shift on Saturday"));
        assert_eq!(m.text, "Yes, count me in! I can bring two friends.\n\nSam");
        assert_eq!(m.kind, MailKind::Reply);
    }

    #[test]
    fn gmail_html_quote_is_cut_at_gmail_quote() {
        let html = GMAIL_REPLY.split("charset=\"UTF-8\"\n\n").nth(2).unwrap_or_default();
        let text = strip_quotes(&normalize(&html_text(cut_html_quote(html))));
        assert_eq!(text, "Yes, count me in! I can bring two friends.\n\nSam");
    }

    // Outlook (Microsoft 365) plain text: a rule, then a From/Sent/To/Subject block, no '>'.
    // X-Auto-Response-Suppress is on it, as Outlook puts it on ordinary mail: still a reply.
    const OUTLOOK_REPLY: &str = r#"Received: from DM6PR11MB4657.namprd11.prod.outlook.com (2603:10b6:5:2a6::11)
 by DM6PR11MB4657.namprd11.prod.outlook.com with HTTPS; Tue, 2 Mar 2027 18:20:44 +0000
From: Jordan Park <Jordan.Park@contoso.com>
To: Ana Reyes <ana@turnout.local>
Subject: RE: Volunteer shift on Saturday
Thread-Topic: Volunteer shift on Saturday
Thread-Index: AQHZbT1c2vY0l1m2lEKq8C3Qb1c7Nw==
Date: Tue, 2 Mar 2027 18:20:43 +0000
Message-ID: <DM6PR11MB46574C5E2F1A8B9C0D1E2F3A4B5C6D7E8@DM6PR11MB4657.namprd11.prod.outlook.com>
References: <0192d5e8-3b1f-7a2c-8e4d-6f7a8b9c0d1e@turnout.local>
In-Reply-To: <0192d5e8-3b1f-7a2c-8e4d-6f7a8b9c0d1e@turnout.local>
Accept-Language: en-US
Content-Language: en-US
X-MS-Has-Attach:
X-MS-TNEF-Correlator:
X-Auto-Response-Suppress: All
Content-Type: multipart/alternative;
	boundary="_000_DM6PR11MB46574C5E2F1A8B9C0D1E2F3A4B5C6D7E8_"
MIME-Version: 1.0

--_000_DM6PR11MB46574C5E2F1A8B9C0D1E2F3A4B5C6D7E8_
Content-Type: text/plain; charset="us-ascii"
Content-Transfer-Encoding: quoted-printable

Thanks Ana, I'll be there at 9.

Best,
Jordan

________________________________
From: Ana Reyes <ana@turnout.local>
Sent: Tuesday, March 2, 2027 10:00 AM
To: Jordan Park <Jordan.Park@contoso.com>
Subject: Volunteer shift on Saturday

Hi Jordan,

Can you help at the phone bank on Saturday?

Ana

--_000_DM6PR11MB46574C5E2F1A8B9C0D1E2F3A4B5C6D7E8_
Content-Type: text/html; charset="us-ascii"
Content-Transfer-Encoding: quoted-printable

<html><body><div>Thanks Ana, I'll be there at 9.</div><div id=3D"appendonsend"></div><hr><div id=3D"divRplyFwdMsg"><b>From:</b> Ana Reyes</div></body></html>

--_000_DM6PR11MB46574C5E2F1A8B9C0D1E2F3A4B5C6D7E8_--
"#;

    #[test]
    fn outlook_reply_drops_the_header_block() {
        let m = parse_crlf(OUTLOOK_REPLY);
        assert_eq!(
            m.message_id.as_deref(),
            Some("DM6PR11MB46574C5E2F1A8B9C0D1E2F3A4B5C6D7E8@DM6PR11MB4657.namprd11.prod.outlook.com")
        );
        assert_eq!(m.in_reply_to, vec![OUR_ID]);
        assert_eq!(m.from.as_deref(), Some("jordan.park@contoso.com"));
        assert_eq!(m.from_name.as_deref(), Some("Jordan Park"));
        assert_eq!(m.to, vec!["ana@turnout.local"]);
        assert_eq!(m.subject.as_deref(), Some("RE: Volunteer shift on Saturday"));
        assert_eq!(m.text, "Thanks Ana, I'll be there at 9.\n\nBest,\nJordan");
        assert_eq!(m.kind, MailKind::Reply);
    }

    // HTML only, Outlook desktop markup: the quote is only recognisable in the text
    // (<b>From:</b> … <b>Sent:</b> … <b>Subject:</b>), with entities to decode.
    const HTML_ONLY_REPLY: &str = r#"From: Lee Wong <lee.wong@fabrikam.com>
To: "Ana Reyes" <ana@turnout.local>
Subject: RE: Volunteer shift on Saturday
Date: Tue, 2 Mar 2027 13:05:12 -0500
Message-ID: <000601da6c1f$2b3c4d50$81d6e7f0$@fabrikam.com>
In-Reply-To: <0192d5e8-3b1f-7a2c-8e4d-6f7a8b9c0d1e@turnout.local>
MIME-Version: 1.0
Content-Type: text/html; charset="utf-8"
X-Mailer: Microsoft Outlook 16.0

<html xmlns:o="urn:schemas-microsoft-com:office:office"><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"><style><!-- p.MsoNormal {margin:0in;font-size:11.0pt;} --></style></head><body lang="EN-US"><div class="WordSection1"><p class="MsoNormal">Hi Ana,<o:p></o:p></p><p class="MsoNormal"><o:p>&nbsp;</o:p></p><p class="MsoNormal">Sorry, I&#8217;m away that weekend &amp; can&#39;t make it.<o:p></o:p></p><p class="MsoNormal"><o:p>&nbsp;</o:p></p><p class="MsoNormal">Lee<o:p></o:p></p><p class="MsoNormal"><o:p>&nbsp;</o:p></p><div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0in 0in 0in"><p class="MsoNormal"><b>From:</b> Ana Reyes &lt;ana@turnout.local&gt; <br><b>Sent:</b> Tuesday, March 2, 2027 10:00 AM<br><b>To:</b> Lee Wong &lt;lee.wong@fabrikam.com&gt;<br><b>Subject:</b> Volunteer shift on Saturday<o:p></o:p></p></div><p class="MsoNormal"><o:p>&nbsp;</o:p></p><p class="MsoNormal">Hi Lee, can you help at the phone bank on Saturday?<o:p></o:p></p></div></body></html>
"#;

    #[test]
    fn html_only_reply_is_converted_and_unquoted() {
        let m = parse_crlf(HTML_ONLY_REPLY);
        assert_eq!(m.message_id.as_deref(), Some("000601da6c1f$2b3c4d50$81d6e7f0$@fabrikam.com"));
        assert_eq!(m.in_reply_to, vec![OUR_ID]);
        assert!(m.references.is_empty());
        assert_eq!(m.from.as_deref(), Some("lee.wong@fabrikam.com"));
        assert_eq!(m.to, vec!["ana@turnout.local"]);
        assert_eq!(m.text, "Hi Ana,\n\nSorry, I\u{2019}m away that weekend & can't make it.\n\nLee");
        assert_eq!(m.kind, MailKind::Reply);
    }

    #[test]
    fn outlook_web_html_is_cut_at_appendonsend() {
        let html = r#"<html><body><div>Sure &mdash; Saturday works.</div><div>Can I bring my kids?</div><div id="appendonsend"></div><hr style="display:inline-block;width:98%"><div id="divRplyFwdMsg" dir="ltr"><b>From:</b> Ana Reyes</div><div>Hi Lee, can you help?</div></body></html>"#;
        assert_eq!(strip_quotes(&normalize(&html_text(cut_html_quote(html)))), "Sure \u{2014} Saturday works.\nCan I bring my kids?");
    }

    // Gmail's vacation responder: RFC 3834 `Auto-Submitted: auto-replied`, its own subject.
    const GMAIL_VACATION: &str = r#"Delivered-To: ana@turnout.local
MIME-Version: 1.0
From: Maria Lopez <maria.lopez@gmail.com>
Date: Tue, 2 Mar 2027 10:00:09 -0800
Message-ID: <CAJk5v0Yx7TqP8w2Jm=vacation4Lr9sD3f@mail.gmail.com>
Subject: Away until March 10
To: ana@turnout.local
In-Reply-To: <0192d5e8-3b1f-7a2c-8e4d-6f7a8b9c0d1e@turnout.local>
References: <0192d5e8-3b1f-7a2c-8e4d-6f7a8b9c0d1e@turnout.local>
Auto-Submitted: auto-replied
Precedence: bulk
Content-Type: multipart/alternative; boundary="0000000000009c8b7a6f5e4d3c2b"

--0000000000009c8b7a6f5e4d3c2b
Content-Type: text/plain; charset="UTF-8"

Thanks for your email. I'm away until March 10 with limited access to email.

--0000000000009c8b7a6f5e4d3c2b
Content-Type: text/html; charset="UTF-8"

<div dir="ltr">Thanks for your email. I'm away until March 10 with limited access to email.</div>

--0000000000009c8b7a6f5e4d3c2b--
"#;

    #[test]
    fn gmail_vacation_is_an_auto_reply() {
        let m = parse_crlf(GMAIL_VACATION);
        assert_eq!(m.kind, MailKind::AutoReply);
        assert_eq!(m.from.as_deref(), Some("maria.lopez@gmail.com"));
        assert_eq!(m.in_reply_to, vec![OUR_ID]);
        assert_eq!(m.subject.as_deref(), Some("Away until March 10"));
        assert_eq!(m.text, "Thanks for your email. I'm away until March 10 with limited access to email.");
    }

    // Exchange Online out-of-office.
    const EXCHANGE_AUTO_REPLY: &str = r#"From: Jordan Park <jordan.park@contoso.com>
To: Ana Reyes <ana@turnout.local>
Subject: Automatic reply: Volunteer shift on Saturday
Thread-Topic: Volunteer shift on Saturday
Thread-Index: AQHZbT1c2vY0l1m2lEKq8C3Qb1c7N7Ab
Date: Tue, 2 Mar 2027 18:00:05 +0000
Message-ID: <a1b2c3d4e5f6478899aabbccddeeff00@DM6PR11MB4657.namprd11.prod.outlook.com>
In-Reply-To: <0192d5e8-3b1f-7a2c-8e4d-6f7a8b9c0d1e@turnout.local>
References: <0192d5e8-3b1f-7a2c-8e4d-6f7a8b9c0d1e@turnout.local>
Content-Language: en-US
X-MS-Has-Attach:
X-MS-TNEF-Correlator:
X-MS-Exchange-Organization-SCL: -1
Auto-Submitted: auto-generated
X-Auto-Response-Suppress: All
Content-Type: text/plain; charset="us-ascii"
Content-Transfer-Encoding: quoted-printable
MIME-Version: 1.0

I am out of the office until Monday, March 8. For urgent matters please con=
tact Pat Kim.
"#;

    #[test]
    fn exchange_automatic_reply_is_an_auto_reply() {
        let m = parse_crlf(EXCHANGE_AUTO_REPLY);
        assert_eq!(m.kind, MailKind::AutoReply);
        assert_eq!(m.from.as_deref(), Some("jordan.park@contoso.com"));
        assert_eq!(m.in_reply_to, vec![OUR_ID]);
        assert_eq!(m.text, "I am out of the office until Monday, March 8. For urgent matters please contact Pat Kim.");
    }

    fn with_headers(extra: &str, subject: &str) -> ParsedMail {
        parse_crlf(&format!(
            "From: a@example.org\nTo: ana@turnout.local\nSubject: {subject}\nMessage-ID: <x@example.org>\n{extra}Content-Type: text/plain\n\nHello\n"
        ))
    }

    #[test]
    fn auto_reply_signals_and_non_signals() {
        assert_eq!(with_headers("Auto-Submitted: no\n", "Re: hi").kind, MailKind::Reply);
        assert_eq!(with_headers("Auto-Submitted: auto-notified; owner-email=\"x@y\"\n", "Re: hi").kind, MailKind::AutoReply);
        assert_eq!(with_headers("X-Autoreply: yes\n", "Re: hi").kind, MailKind::AutoReply);
        assert_eq!(with_headers("X-Autorespond: yes\n", "Re: hi").kind, MailKind::AutoReply);
        assert_eq!(with_headers("Precedence: auto_reply\n", "Re: hi").kind, MailKind::AutoReply);
        // Not alone: list/bulk mail, Outlook's suppress header and Exchange rule loops.
        assert_eq!(with_headers("Precedence: bulk\n", "Re: hi").kind, MailKind::Reply);
        assert_eq!(with_headers("Precedence: list\n", "Re: hi").kind, MailKind::Reply);
        assert_eq!(with_headers("X-Auto-Response-Suppress: All\n", "Re: hi").kind, MailKind::Reply);
        assert_eq!(with_headers("X-MS-Exchange-Inbox-Rules-Loop: a@example.org\n", "Re: hi").kind, MailKind::Reply);
        // Subjects, the last resort; a person answering one is still a person.
        assert_eq!(with_headers("", "Automatic reply: hi").kind, MailKind::AutoReply);
        assert_eq!(with_headers("", "Out of Office: hi").kind, MailKind::AutoReply);
        assert_eq!(with_headers("", "Abwesenheitsnotiz: hi").kind, MailKind::AutoReply);
        assert_eq!(with_headers("", "AUTO: hi").kind, MailKind::AutoReply);
        assert_eq!(with_headers("", "Re: Automatic reply: hi").kind, MailKind::Reply);
    }

    // Gmail's mailer-daemon: RFC 3464 report with X-Failed-Recipients and Auto-Submitted.
    const GMAIL_DSN: &str = r#"Delivered-To: ana@turnout.local
Return-Path: <>
Received: by 2002:a05:6a10:9f4b:b0:5a1:2c3d:4e5f with SMTP id k11csp1234599pxb;
        Tue, 2 Mar 2027 10:00:07 -0800 (PST)
X-Failed-Recipients: nobody.here@example.com
From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>
To: ana@turnout.local
Auto-Submitted: auto-replied
Subject: Delivery Status Notification (Failure)
References: <0192d5e8-3b1f-7a2c-8e4d-6f7a8b9c0d1e@turnout.local>
In-Reply-To: <0192d5e8-3b1f-7a2c-8e4d-6f7a8b9c0d1e@turnout.local>
Message-ID: <65e2c7a1.050a0220.1b2c3.0000.GMR@mx.google.com>
Date: Tue, 02 Mar 2027 10:00:07 -0800 (PST)
MIME-Version: 1.0
Content-Type: multipart/report; boundary="000000000000b3c4d5e6f7a8b9c0"; report-type=delivery-status

--000000000000b3c4d5e6f7a8b9c0
Content-Type: multipart/related; boundary="000000000000b3c4d5e6f7a8b9c1"

--000000000000b3c4d5e6f7a8b9c1
Content-Type: multipart/alternative; boundary="000000000000b3c4d5e6f7a8b9c2"

--000000000000b3c4d5e6f7a8b9c2
Content-Type: text/plain; charset="UTF-8"


** Address not found **

Your message wasn't delivered to nobody.here@example.com because the address couldn't be found, or is unable to receive mail.

Learn more here: https://support.google.com/mail/?p=NoSuchUser

The response was:

The email account that you tried to reach does not exist. Please try double-checking the recipient's email address for typos or unnecessary spaces. For more information, go to https://support.google.com/mail/?p=NoSuchUser

--000000000000b3c4d5e6f7a8b9c2
Content-Type: text/html; charset="UTF-8"

<html><head></head><body><h2>Address not found</h2><p>Your message wasn't delivered to <a style='color:#212121;text-decoration:none'><b>nobody.here@example.com</b></a> because the address couldn't be found, or is unable to receive mail.</p></body></html>

--000000000000b3c4d5e6f7a8b9c2--

--000000000000b3c4d5e6f7a8b9c1
Content-Type: image/png; name="icon.png"
Content-Disposition: attachment; filename="icon.png"
Content-Transfer-Encoding: base64
Content-ID: <icon.png>

iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==
--000000000000b3c4d5e6f7a8b9c1--

--000000000000b3c4d5e6f7a8b9c0
Content-Type: message/delivery-status

Reporting-MTA: dns; googlemail.com
Received-From-MTA: dns; ana@turnout.local
Arrival-Date: Tue, 02 Mar 2027 10:00:06 -0800 (PST)
X-Original-Message-ID: <0192d5e8-3b1f-7a2c-8e4d-6f7a8b9c0d1e@turnout.local>

Final-Recipient: rfc822; nobody.here@example.com
Action: failed
Status: 5.1.1
Remote-MTA: dns; gmail-smtp-in.l.google.com. (2607:f8b0:4023:1004::1a, the server
 for the domain example.com.)
Diagnostic-Code: smtp; 550-5.1.1 The email account that you tried to reach does
 not exist. Please try
 550-5.1.1 double-checking the recipient's email address for typos or
 550-5.1.1 unnecessary spaces. For more information, go to
 550 5.1.1  https://support.google.com/mail/?p=NoSuchUser d1-20020a05620a0d4100b0078f2.1 - gsmtp
Last-Attempt-Date: Tue, 02 Mar 2027 10:00:07 -0800 (PST)

--000000000000b3c4d5e6f7a8b9c0
Content-Type: message/rfc822

Return-Path: <ana@turnout.local>
Received: from turnout.local ([198.51.100.20]) by smtp.gmail.com with ESMTPSA id d1-20020a05620a0d4100b0078f2;
        Tue, 02 Mar 2027 10:00:06 -0800 (PST)
From: Ana Reyes <ana@turnout.local>
To: nobody.here@example.com
Subject: Volunteer shift on Saturday
Message-ID: <0192d5e8-3b1f-7a2c-8e4d-6f7a8b9c0d1e@turnout.local>
Date: Tue, 02 Mar 2027 18:00:05 +0000
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Hi, can you help at the phone bank on Saturday?

--000000000000b3c4d5e6f7a8b9c0--
"#;

    #[test]
    fn gmail_dsn_is_a_permanent_bounce_despite_auto_submitted() {
        let m = parse_crlf(GMAIL_DSN);
        let b = bounce(&m);
        assert_eq!(b.recipient.as_deref(), Some("nobody.here@example.com"));
        assert!(b.permanent);
        assert!(
            b.reason.starts_with("550 5.1.1 The email account that you tried to reach does not exist."),
            "{}",
            b.reason
        );
        assert!(!b.reason.contains("550-5.1.1"), "{}", b.reason);
        assert!(b.reason.contains("typos or unnecessary spaces"), "{}", b.reason);
        assert_eq!(b.original_message_id.as_deref(), Some(OUR_ID));
        assert_eq!(m.from.as_deref(), Some("mailer-daemon@googlemail.com"));
        assert_eq!(m.message_id.as_deref(), Some("65e2c7a1.050a0220.1b2c3.0000.GMR@mx.google.com"));
        assert!(m.text.starts_with("** Address not found **"), "{}", m.text);
    }

    // Postfix: RFC 3464 report, Original-Recipient, original returned as text/rfc822-headers
    // (RFC 6522), and no In-Reply-To: the original's id comes from the returned headers.
    const POSTFIX_DSN: &str = r#"Return-Path: <>
Delivered-To: ana@turnout.local
Received: by mail.turnout.local (Postfix) id 4Wq1bX3Zk4z9sWd; Tue,  2 Mar 2027 19:00:09 +0100 (CET)
Date: Tue,  2 Mar 2027 19:00:09 +0100 (CET)
From: MAILER-DAEMON@mail.turnout.local (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: ana@turnout.local
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="4Wq1bX3Zk4z9sWd.1804010409/mail.turnout.local"
Content-Transfer-Encoding: 8bit
Message-Id: <20270302180009.4Wq1bX3Zk4z9sWd@mail.turnout.local>

This is a MIME-encapsulated message.

--4Wq1bX3Zk4z9sWd.1804010409/mail.turnout.local
Content-Description: Notification
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

This is the mail system at host mail.turnout.local.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

For further assistance, please send mail to postmaster.

If you do so, please include this problem report. You can
delete your own text from the attached returned message.

                   The mail system

<Old.Member@Example.net>: host mx1.example.net[203.0.113.25] said: 550 5.1.1
    <Old.Member@Example.net>: Recipient address rejected: User unknown in
    virtual mailbox table (in reply to RCPT TO command)

--4Wq1bX3Zk4z9sWd.1804010409/mail.turnout.local
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mail.turnout.local
X-Postfix-Queue-ID: 4Wq1bX3Zk4z9sWd
X-Postfix-Sender: rfc822; ana@turnout.local
Arrival-Date: Tue,  2 Mar 2027 19:00:08 +0100 (CET)

Final-Recipient: rfc822; old.member@example.net
Original-Recipient: rfc822;Old.Member@Example.net
Action: failed
Status: 5.1.1
Remote-MTA: dns; mx1.example.net
Diagnostic-Code: smtp; 550 5.1.1 <Old.Member@Example.net>: Recipient address
    rejected: User unknown in virtual mailbox table

--4Wq1bX3Zk4z9sWd.1804010409/mail.turnout.local
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers
Content-Transfer-Encoding: 8bit

Return-Path: <ana@turnout.local>
Received: from localhost (localhost [127.0.0.1]) by mail.turnout.local (Postfix) with ESMTPSA id 4Wq1bX3Zk4z9sWd
	for <Old.Member@Example.net>; Tue,  2 Mar 2027 19:00:08 +0100 (CET)
From: Ana Reyes <ana@turnout.local>
To: Old.Member@Example.net
Subject: Volunteer shift on Saturday
Message-ID: <0192d5e8-3b1f-7a2c-8e4d-6f7a8b9c0d1e@turnout.local>
Date: Tue, 02 Mar 2027 18:00:05 +0000

--4Wq1bX3Zk4z9sWd.1804010409/mail.turnout.local--
"#;

    #[test]
    fn postfix_dsn_reads_the_delivery_status_part() {
        let m = parse_crlf(POSTFIX_DSN);
        assert!(m.in_reply_to.is_empty());
        assert_eq!(m.from.as_deref(), Some("mailer-daemon@mail.turnout.local"));
        let b = bounce(&m);
        assert_eq!(b.recipient.as_deref(), Some("old.member@example.net"));
        assert!(b.permanent);
        assert_eq!(
            b.reason,
            "550 5.1.1 <Old.Member@Example.net>: Recipient address rejected: User unknown in virtual mailbox table"
        );
        assert_eq!(b.original_message_id.as_deref(), Some(OUR_ID));
    }

    // Postfix's delay warning: Action: delayed, Status 4.4.1, a non-SMTP diagnostic type.
    const DELAYED_DSN: &str = r#"Return-Path: <>
Date: Wed,  3 Mar 2027 19:00:09 +0100 (CET)
From: MAILER-DAEMON@mail.turnout.local (Mail Delivery System)
Subject: Delayed Mail (still being retried)
To: ana@turnout.local
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="5Xr2cY4al5z9tXe.1804096809/mail.turnout.local"
Message-Id: <20270303180009.5Xr2cY4al5z9tXe@mail.turnout.local>

--5Xr2cY4al5z9tXe.1804096809/mail.turnout.local
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mail.turnout.local.

####################################################################
# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #
####################################################################

Your message could not be delivered for more than 24 hour(s).
It will be retried until it is 5 day(s) old.

<slow@example.org>: connect to mx.example.org[198.51.100.7]:25: Connection
    timed out

--5Xr2cY4al5z9tXe.1804096809/mail.turnout.local
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mail.turnout.local
X-Postfix-Queue-ID: 5Xr2cY4al5z9tXe
Arrival-Date: Tue,  2 Mar 2027 19:00:08 +0100 (CET)

Final-Recipient: rfc822; slow@example.org
Original-Recipient: rfc822;slow@example.org
Action: delayed
Status: 4.4.1
Diagnostic-Code: X-Postfix; connect to mx.example.org[198.51.100.7]:25: Connection
    timed out
Will-Retry-Until: Sun,  7 Mar 2027 19:00:08 +0100 (CET)

--5Xr2cY4al5z9tXe.1804096809/mail.turnout.local
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

From: Ana Reyes <ana@turnout.local>
To: slow@example.org
Subject: Volunteer shift on Saturday
Message-ID: <0192d5e8-3b1f-7a2c-8e4d-6f7a8b9c0d1e@turnout.local>

--5Xr2cY4al5z9tXe.1804096809/mail.turnout.local--
"#;

    #[test]
    fn delayed_dsn_is_a_transient_bounce() {
        let b = bounce(&parse_crlf(DELAYED_DSN)).clone();
        assert_eq!(b.recipient.as_deref(), Some("slow@example.org"));
        assert!(!b.permanent);
        assert_eq!(b.reason, "connect to mx.example.org[198.51.100.7]:25: Connection timed out");
        assert_eq!(b.original_message_id.as_deref(), Some(OUR_ID));
    }

    // Exim's classic bounce: text/plain, X-Failed-Recipients, original pasted below.
    const EXIM_BOUNCE: &str = r#"Return-path: <>
Envelope-to: ana@turnout.local
Received: from mail by mx.example.com with local (Exim 4.96)
	id 1rXyZa-0003Bc-2D
	for ana@turnout.local; Tue, 02 Mar 2027 18:00:09 +0000
X-Failed-Recipients: Gone@Example.com
Auto-Submitted: auto-replied
From: Mail Delivery System <Mailer-Daemon@mx.example.com>
To: ana@turnout.local
Content-Type: text/plain; charset=us-ascii
Subject: Mail delivery failed: returning message to sender
Message-Id: <E1rXyZa-0003Bc-2D@mx.example.com>
Date: Tue, 02 Mar 2027 18:00:09 +0000

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  gone@example.com
    host mx.example.com [192.0.2.10]
    SMTP error from remote mail server after RCPT TO:<gone@example.com>:
    550 5.1.1 <gone@example.com>: Recipient address rejected: User unknown

------ This is a copy of the message, including all the headers. ------

Return-path: <ana@turnout.local>
From: Ana Reyes <ana@turnout.local>
To: gone@example.com
Subject: Volunteer shift on Saturday
Message-ID: <0192d5e8-3b1f-7a2c-8e4d-6f7a8b9c0d1e@turnout.local>
Date: Tue, 02 Mar 2027 18:00:05 +0000

Hi, can you help at the phone bank on Saturday?
"#;

    #[test]
    fn exim_bounce_without_a_report_part() {
        let m = parse_crlf(EXIM_BOUNCE);
        let b = bounce(&m);
        assert_eq!(b.recipient.as_deref(), Some("gone@example.com"));
        assert!(b.permanent);
        assert_eq!(b.reason, "550 5.1.1 <gone@example.com>: Recipient address rejected: User unknown");
        assert_eq!(b.original_message_id.as_deref(), Some(OUR_ID));
        assert_eq!(m.from.as_deref(), Some("mailer-daemon@mx.example.com"));
    }

    // iPhone reply in a thread: References lists our first message and our follow-up (folded),
    // In-Reply-To the follow-up; the attribution line is itself quoted.
    const THREADED_REPLY: &str = r#"From: Sam Lee <sam.lee@example.org>
Content-Type: text/plain; charset=us-ascii
Content-Transfer-Encoding: 7bit
Mime-Version: 1.0 (1.0)
Subject: Re: Following up: volunteer shift
Date: Thu, 4 Mar 2027 08:15:02 -0800
Message-Id: <7F3A2B1C-9D8E-4F6A-B5C4-D3E2F1A0B9C8@example.org>
References: <0192d5e8-3b1f-7a2c-8e4d-6f7a8b9c0d1e@turnout.local>
 <0192e0aa-55c1-7d3e-9f01-23456789abcd@turnout.local>
In-Reply-To: <0192e0aa-55c1-7d3e-9f01-23456789abcd@turnout.local>
To: Ana Reyes <ana@turnout.local>, Field Team <field@turnout.local>
X-Mailer: iPhone Mail (21D61)

Sorry for the delay - yes, Saturday works.

Sent from my iPhone

> On Mar 4, 2027, at 8:00 AM, Ana Reyes <ana@turnout.local> wrote:
>
> Hi Sam, just following up on Saturday.
"#;

    #[test]
    fn threaded_reply_keeps_the_reference_chain() {
        let m = parse_crlf(THREADED_REPLY);
        let follow_up = "0192e0aa-55c1-7d3e-9f01-23456789abcd@turnout.local";
        assert_eq!(m.in_reply_to, vec![follow_up]);
        assert_eq!(m.references, vec![OUR_ID, follow_up]);
        assert_eq!(m.message_id.as_deref(), Some("7F3A2B1C-9D8E-4F6A-B5C4-D3E2F1A0B9C8@example.org"));
        assert_eq!(m.to, vec!["ana@turnout.local", "field@turnout.local"]);
        assert_eq!(m.text, "Sorry for the delay - yes, Saturday works.\n\nSent from my iPhone");
        assert_eq!(m.kind, MailKind::Reply);
    }

    // RFC 2047 encoded words in From/To/Subject, a quoted-printable UTF-8 body with a soft
    // line break, and Gmail's Spanish attribution ("El … escribió:").
    const ENCODED_REPLY: &str = r#"From: =?UTF-8?B?Sm9zw6kgR2FyY8OtYQ==?= <Jose.Garcia@Example.es>
To: =?UTF-8?Q?Ana_Reyes?= <ana@turnout.local>
Subject: =?UTF-8?B?UmU6IMKhR3JhY2lhcyBwb3IgbGEgaW52aXRhY2nDs24h?=
Date: Tue, 2 Mar 2027 19:30:00 +0100
Message-ID: <CAE+jose=Qp7@mail.gmail.com>
In-Reply-To: <0192d5e8-3b1f-7a2c-8e4d-6f7a8b9c0d1e@turnout.local>
MIME-Version: 1.0
Content-Type: text/plain; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

=C2=A1Claro que s=C3=AD! Nos vemos el s=C3=A1bado en la oficina de campa=C3=
=B1a.

El mar, 2 mar 2027 a las 10:00, Ana Reyes (<ana@turnout.local>) escribi=C3=
=B3:

> Hola Jos=C3=A9, =C2=BFpuedes ayudar el s=C3=A1bado?
"#;

    #[test]
    fn encoded_words_and_quoted_printable_are_decoded() {
        let m = parse_crlf(ENCODED_REPLY);
        assert_eq!(m.from.as_deref(), Some("jose.garcia@example.es"));
        assert_eq!(m.from_name.as_deref(), Some("Jos\u{e9} Garc\u{ed}a"));
        assert_eq!(m.to, vec!["ana@turnout.local"]);
        assert_eq!(m.subject.as_deref(), Some("Re: \u{a1}Gracias por la invitaci\u{f3}n!"));
        assert_eq!(m.text, "\u{a1}Claro que s\u{ed}! Nos vemos el s\u{e1}bado en la oficina de campa\u{f1}a.");
        assert_eq!(m.in_reply_to, vec![OUR_ID]);
        assert_eq!(m.kind, MailKind::Reply);
    }

    #[test]
    fn quote_stripping_variants() {
        // Outlook desktop plain text.
        let t = "Works for me.\n\n-----Original Message-----\nFrom: Ana Reyes [mailto:ana@turnout.local]\nSent: Tuesday, March 2, 2027 10:00 AM\nSubject: Shift";
        assert_eq!(strip_quotes(t), "Works for me.");
        // German Outlook, bold rendered as asterisks.
        let t = "Passt!\n\n*Von:* Ana Reyes <ana@turnout.local>\n*Gesendet:* Dienstag, 2. März 2027 10:00\n*An:* Kai\n*Betreff:* Schicht\n\nHallo Kai";
        assert_eq!(strip_quotes(t), "Passt!");
        // Gmail wraps a long attribution line.
        let t = "Yes.\n\nOn Tue, Mar 2, 2027 at 10:00 AM Ana Reyes from the Turnout field team <\nana@turnout.local> wrote:\n\n> Can you help?";
        assert_eq!(strip_quotes(t), "Yes.");
        // Answers written between quoted lines are kept.
        let t = "On Tue, Mar 2, 2027 at 10:00 AM Ana Reyes <ana@turnout.local> wrote:\n> Can you help Saturday?\nYes.\n> And Sunday?\nNo, sorry.";
        assert_eq!(strip_quotes(t), "Yes.\nNo, sorry.");
        // A line that merely starts with "From:" is kept.
        assert_eq!(strip_quotes("From: the Oakland office\nwe can send 4 people"), "From: the Oakland office\nwe can send 4 people");
    }

    #[test]
    fn text_falls_back_to_the_whole_message_when_all_of_it_is_quoted() {
        let m = with_headers("", "Re: hi");
        assert_eq!(m.text, "Hello");
        let m = parse_crlf(
            "From: a@example.org\nSubject: Re: hi\nContent-Type: text/plain\n\nOn Tue, Mar 2, 2027 at 10:00 AM Ana <ana@turnout.local> wrote:\n> Hi\n",
        );
        assert_eq!(m.text, "On Tue, Mar 2, 2027 at 10:00 AM Ana <ana@turnout.local> wrote:\n> Hi");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(parse(b"").is_err());
        let _ = parse(b"\xff\xfe\x00garbage");
        let _ = parse(b"Content-Type: multipart/report; report-type=delivery-status; boundary=x\r\n\r\n--x\r\nContent-Type: message/delivery-status\r\n\r\nAction\r\n--x--");
    }
}
