//! Merge tags: `{{contact.first_name}}`, with fallbacks `{{contact.first_name | "there"}}`.
//! Parsing rejects unknown tags when content is saved; rendering refuses to send a blank
//! where a value is missing and no fallback was given.
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tag {
    ContactName,
    ContactFirstName,
    ContactCompany,
    EventDate,
    EventTime,
    EventVenue,
    OwnerName,
    SenderName,
    Custom(String),
}

/// The tags an author can use, as written.
pub const KNOWN_TAGS: [&str; 9] = [
    "contact.name",
    "contact.first_name",
    "contact.company",
    "event.date",
    "event.time",
    "event.venue",
    "owner.name",
    "sender.name",
    "contact.custom.<field>",
];

impl Tag {
    fn parse(path: &str) -> Result<Tag, String> {
        Ok(match path {
            "contact.name" => Tag::ContactName,
            "contact.first_name" => Tag::ContactFirstName,
            "contact.company" => Tag::ContactCompany,
            "event.date" => Tag::EventDate,
            "event.time" => Tag::EventTime,
            "event.venue" => Tag::EventVenue,
            "owner.name" => Tag::OwnerName,
            "sender.name" => Tag::SenderName,
            _ => match path.strip_prefix("contact.custom.") {
                Some(f) if !f.is_empty() && f.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-') => {
                    Tag::Custom(f.to_string())
                }
                _ => return Err(format!("unknown merge tag {{{{{path}}}}}; known tags: {}", KNOWN_TAGS.join(", "))),
            },
        })
    }

    pub fn path(&self) -> String {
        match self {
            Tag::ContactName => "contact.name".into(),
            Tag::ContactFirstName => "contact.first_name".into(),
            Tag::ContactCompany => "contact.company".into(),
            Tag::EventDate => "event.date".into(),
            Tag::EventTime => "event.time".into(),
            Tag::EventVenue => "event.venue".into(),
            Tag::OwnerName => "owner.name".into(),
            Tag::SenderName => "sender.name".into(),
            Tag::Custom(f) => format!("contact.custom.{f}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Tag { tag: Tag, fallback: Option<String> },
}

/// Content whose merge tags all parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct MergeTemplate {
    pieces: Vec<Piece>,
}

/// The values one message is rendered with; `None` is a missing value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MergeValues {
    pub contact_name: Option<String>,
    pub contact_company: Option<String>,
    pub event_date: Option<String>,
    pub event_time: Option<String>,
    pub event_venue: Option<String>,
    pub owner_name: Option<String>,
    pub sender_name: Option<String>,
    pub custom: BTreeMap<String, String>,
}

impl MergeValues {
    /// A campaign's own values; `local` is the event's start in the event's time zone.
    pub fn for_event(local: chrono::NaiveDateTime, venue: Option<String>, owner: String, sender: String) -> Self {
        MergeValues {
            event_date: Some(local.format("%A, %B %-d").to_string()),
            event_time: Some(local.format("%-I:%M %p").to_string()),
            event_venue: venue,
            owner_name: Some(owner),
            sender_name: Some(sender),
            ..MergeValues::default()
        }
    }

    /// Adds one contact's values: name, company and the custom fields imported with them.
    pub fn with_contact(mut self, name: &str, company: Option<String>, custom: &serde_json::Value) -> Self {
        self.contact_name = Some(name.to_string());
        self.contact_company = company;
        if let serde_json::Value::Object(map) = custom {
            self.custom = map.iter().map(|(k, v)| (k.clone(), v.as_str().map(String::from).unwrap_or_else(|| v.to_string()))).collect();
        }
        self
    }

    fn get(&self, tag: &Tag) -> Option<String> {
        let v = match tag {
            Tag::ContactName => self.contact_name.clone(),
            Tag::ContactFirstName => self.contact_name.as_deref().and_then(|n| n.split_whitespace().next()).map(String::from),
            Tag::ContactCompany => self.contact_company.clone(),
            Tag::EventDate => self.event_date.clone(),
            Tag::EventTime => self.event_time.clone(),
            Tag::EventVenue => self.event_venue.clone(),
            Tag::OwnerName => self.owner_name.clone(),
            Tag::SenderName => self.sender_name.clone(),
            Tag::Custom(f) => self.custom.get(f).cloned(),
        };
        v.filter(|s| !s.trim().is_empty())
    }
}

/// How merge values are written into the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escape {
    Plain,
    Html,
}

impl MergeTemplate {
    pub fn parse(text: &str) -> Result<MergeTemplate, String> {
        let mut pieces = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                pieces.push(Piece::Text(rest[..start].to_string()));
            }
            let after = &rest[start + 2..];
            let end = after.find("}}").ok_or_else(|| "a merge tag is opened with {{ but never closed".to_string())?;
            pieces.push(parse_tag(&after[..end])?);
            rest = &after[end + 2..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_string()));
        }
        Ok(MergeTemplate { pieces })
    }

    /// The tags used, for checks such as "which values must a contact have".
    pub fn tags(&self) -> impl Iterator<Item = (&Tag, bool)> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Tag { tag, fallback } => Some((tag, fallback.is_some())),
            Piece::Text(_) => None,
        })
    }

    /// Renders, or names the first tag with neither a value nor a fallback.
    pub fn render(&self, values: &MergeValues, escape: Escape) -> Result<String, String> {
        let mut out = String::new();
        for p in &self.pieces {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Tag { tag, fallback } => {
                    let v = values
                        .get(tag)
                        .or_else(|| fallback.clone())
                        .ok_or_else(|| format!("{{{{{}}}}} has no value for this contact and no fallback", tag.path()))?;
                    match escape {
                        Escape::Plain => out.push_str(&v),
                        Escape::Html => out.push_str(&escape_html(&v)),
                    }
                }
            }
        }
        Ok(out)
    }
}

fn parse_tag(inner: &str) -> Result<Piece, String> {
    let (path, fallback) = match inner.split_once('|') {
        Some((p, f)) => {
            let f = f.trim();
            let quoted = f.len() >= 2 && f.starts_with('"') && f.ends_with('"');
            if !quoted {
                return Err(format!("the fallback in {{{{{inner}}}}} must be in double quotes"));
            }
            (p.trim(), Some(f[1..f.len() - 1].to_string()))
        }
        None => (inner.trim(), None),
    };
    Ok(Piece::Tag { tag: Tag::parse(path)?, fallback })
}

pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> MergeValues {
        MergeValues {
            contact_name: Some("Maria Gonzalez".into()),
            contact_company: None,
            event_date: Some("Dec 16".into()),
            event_venue: Some("Hall <B> & Co".into()),
            custom: [("loan_officer".to_string(), "Sam".to_string())].into(),
            ..Default::default()
        }
    }

    #[test]
    fn renders_tags_fallbacks_and_custom_fields() {
        let t = MergeTemplate::parse("Hi {{contact.first_name}}, see you {{ event.date }} ({{contact.company | \"your team\"}}) with {{contact.custom.loan_officer}}").unwrap();
        assert_eq!(t.render(&values(), Escape::Plain).unwrap(), "Hi Maria, see you Dec 16 (your team) with Sam");
    }

    #[test]
    fn unknown_tags_and_broken_syntax_are_errors_when_saving() {
        assert!(MergeTemplate::parse("Hi {{contact.nickname}}").unwrap_err().starts_with("unknown merge tag {{contact.nickname}}"));
        assert!(MergeTemplate::parse("Hi {{contact.name").unwrap_err().contains("never closed"));
        assert!(MergeTemplate::parse("Hi {{contact.name | there}}").unwrap_err().contains("double quotes"));
        assert!(MergeTemplate::parse("Hi {{contact.custom.}}").is_err());
    }

    #[test]
    fn a_missing_value_without_fallback_holds_the_message() {
        let t = MergeTemplate::parse("From {{contact.company}}").unwrap();
        assert_eq!(t.render(&values(), Escape::Plain).unwrap_err(), "{{contact.company}} has no value for this contact and no fallback");
        let blank = MergeValues { contact_company: Some("  ".into()), ..values() };
        assert!(t.render(&blank, Escape::Plain).is_err());
    }

    #[test]
    fn html_escapes_merge_values_only() {
        let t = MergeTemplate::parse("<p>At <b>{{event.venue}}</b></p>").unwrap();
        assert_eq!(t.render(&values(), Escape::Html).unwrap(), "<p>At <b>Hall &lt;B&gt; &amp; Co</b></p>");
    }
}
