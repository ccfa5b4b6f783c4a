//! What an inbound text asks for, decided from its words alone: opt out, opt back in, help,
//! an RSVP, or a reply for a person to read. Pure, so the server and the browser agree.
use crate::domain::campaign::EnrollmentStatus;

/// Words that, as the whole message, opt the number out of everything.
pub const STOP_WORDS: &[&str] = &["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"];
/// Words that, as the whole message, opt the number back in (YES too, once opted out).
pub const START_WORDS: &[&str] = &["START", "UNSTOP"];
pub const HELP_WORD: &str = "HELP";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    OptOut,
    OptIn,
    Help,
    /// The first configured phrase found in the text.
    Rsvp(String),
    /// Anything else: a person should answer.
    Reply,
    /// A text from an opted-out number that is not START: stored, nothing more.
    Ignore,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classified {
    pub intent: Intent,
    /// Decided by Twilio's Advanced Opt-Out (`OptOutType`), which has already answered the
    /// contact: Turnout sends no confirmation or help of its own.
    pub by_twilio: bool,
    /// Why, in a few words, for the audit log.
    pub rule: String,
}

/// Classifies a text. `opt_out_type` is Twilio's `OptOutType` parameter; `opted_out` whether
/// the sending number is suppressed now.
pub fn classify(body: &str, opt_out_type: Option<&str>, opted_out: bool, rsvp_phrases: &[String]) -> Classified {
    let twilio = match opt_out_type.map(|t| t.trim().to_uppercase()).as_deref() {
        Some("STOP") => Some(Intent::OptOut),
        Some("START") => Some(Intent::OptIn),
        Some("HELP") => Some(Intent::Help),
        _ => None,
    };
    if let (Some(intent), Some(t)) = (twilio, opt_out_type) {
        return Classified { intent, by_twilio: true, rule: format!("Twilio OptOutType {}", t.trim().to_uppercase()) };
    }
    let word = keyword(body);
    let ours = |intent, rule: String| Classified { intent, by_twilio: false, rule };
    if STOP_WORDS.contains(&word.as_str()) {
        return ours(Intent::OptOut, format!("keyword {word}"));
    }
    if START_WORDS.contains(&word.as_str()) || (opted_out && word == "YES") {
        return ours(Intent::OptIn, format!("keyword {word}"));
    }
    if word == HELP_WORD {
        return ours(Intent::Help, format!("keyword {word}"));
    }
    if opted_out {
        return ours(Intent::Ignore, "from an opted-out number".into());
    }
    match rsvp_phrases.iter().find(|p| contains_phrase(body, p)) {
        Some(p) => ours(Intent::Rsvp(p.clone()), format!("RSVP phrase \"{p}\"")),
        None => ours(Intent::Reply, "reply".into()),
    }
}

/// The whole message as a keyword: upper case, without the spaces and punctuation around it.
fn keyword(body: &str) -> String {
    body.trim_matches(|c: char| !c.is_alphanumeric()).to_uppercase()
}

/// Lower-case words, apostrophes dropped so "I'll" and "I’ll" are one word.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '’'))
        .map(|w| w.chars().filter(|c| c.is_alphanumeric()).collect::<String>().to_lowercase())
        .filter(|w| !w.is_empty())
        .collect()
}

/// Whether the phrase's words stand together in the text: whole words, any case.
pub fn contains_phrase(text: &str, phrase: &str) -> bool {
    let needle = words(phrase);
    !needle.is_empty() && words(text).windows(needle.len()).any(|w| w == needle.as_slice())
}

/// How far along a contact is; a reply only ever moves a status up this ladder.
fn rank(s: EnrollmentStatus) -> u8 {
    match s {
        EnrollmentStatus::NoActivity | EnrollmentStatus::Bounced => 0,
        EnrollmentStatus::NeedsBdr => 1,
        EnrollmentStatus::ReceivedRsvp => 2,
        EnrollmentStatus::Attended => 3,
        EnrollmentStatus::OptedOut => 4,
    }
}

/// The statuses an automatic change to `to` may replace: those below it.
pub fn raisable_to(to: EnrollmentStatus) -> Vec<EnrollmentStatus> {
    EnrollmentStatus::ALL.iter().copied().filter(|s| rank(*s) < rank(to)).collect()
}

/// Trims and drops empty and repeated phrases (any case).
pub fn clean_phrases(phrases: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in phrases.iter().map(|p| p.trim()).filter(|p| !words(p).is_empty()) {
        if !out.iter().any(|o| words(o) == words(p)) {
            out.push(p.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The organisation's phrases until an admin changes them (the migration's default).
    fn defaults() -> Vec<String> {
        ["yes", "count me in", "RSVP", "I'll be there"].iter().map(|p| p.to_string()).collect()
    }

    fn intent(body: &str) -> Intent {
        classify(body, None, false, &defaults()).intent
    }

    #[test]
    fn every_stop_word_opts_out_in_any_case_with_punctuation_around() {
        for w in STOP_WORDS {
            for body in [w.to_string(), w.to_lowercase(), format!("  {w}. "), format!("\"{}!\"", w.to_lowercase()), format!("{w} 🛑")] {
                assert_eq!(intent(&body), Intent::OptOut, "{body:?}");
            }
        }
        // Only as the whole message.
        assert_eq!(intent("please stop texting me"), Intent::Reply);
        assert_eq!(intent("STOP IT"), Intent::Reply);
        assert_eq!(intent("stopped by yesterday"), Intent::Reply);
    }

    #[test]
    fn start_words_opt_back_in_and_yes_does_only_after_an_opt_out() {
        assert_eq!(intent("start"), Intent::OptIn);
        assert_eq!(intent("Unstop!"), Intent::OptIn);
        assert_eq!(classify("Yes", None, true, &defaults()).intent, Intent::OptIn);
        assert_eq!(intent("Yes"), Intent::Rsvp("yes".into()));
    }

    #[test]
    fn an_opted_out_number_counts_only_for_start_and_help() {
        assert_eq!(classify("count me in", None, true, &defaults()).intent, Intent::Ignore);
        assert_eq!(classify("where is it?", None, true, &defaults()).intent, Intent::Ignore);
        assert_eq!(classify("HELP", None, true, &defaults()).intent, Intent::Help);
        assert_eq!(classify("STOP", None, true, &defaults()).intent, Intent::OptOut);
    }

    #[test]
    fn twilios_opt_out_type_decides_and_has_answered_already() {
        let c = classify("Stop sending these please", Some("STOP"), false, &defaults());
        assert_eq!((c.intent, c.by_twilio, c.rule.as_str()), (Intent::OptOut, true, "Twilio OptOutType STOP"));
        assert_eq!(classify("yes", Some("start"), false, &defaults()).intent, Intent::OptIn);
        let help = classify("info", Some("HELP"), false, &defaults());
        assert_eq!((help.intent, help.by_twilio), (Intent::Help, true));
        // Our own keywords are not Twilio's: we answer them.
        let ours = classify("STOP", None, false, &defaults());
        assert_eq!((ours.intent, ours.by_twilio, ours.rule.as_str()), (Intent::OptOut, false, "keyword STOP"));
        // A value Twilio does not document leaves the words to decide.
        assert_eq!(classify("count me in", Some("OTHER"), false, &defaults()).intent, Intent::Rsvp("count me in".into()));
    }

    #[test]
    fn help_is_the_whole_message() {
        assert_eq!(intent(" help? "), Intent::Help);
        assert_eq!(intent("can you help me find parking"), Intent::Reply);
    }

    #[test]
    fn rsvp_phrases_are_whole_words_in_any_case_anywhere() {
        assert_eq!(intent("YES! Can I bring my partner?"), Intent::Rsvp("yes".into()));
        assert_eq!(intent("Sure, count me IN."), Intent::Rsvp("count me in".into()));
        assert_eq!(intent("I’ll be there at 6"), Intent::Rsvp("I'll be there".into()));
        assert_eq!(intent("please rsvp me"), Intent::Rsvp("RSVP".into()));
        assert_eq!(intent("yesterday was busy"), Intent::Reply);
        assert_eq!(intent("count me out, I'm in Denver"), Intent::Reply);
        assert_eq!(intent("Is there parking? 🚗 & a +1?"), Intent::Reply);
        let custom = vec!["sí".to_string(), "ja gerne".to_string()];
        assert_eq!(classify("¡Sí, claro!", None, false, &custom).intent, Intent::Rsvp("sí".into()));
        assert_eq!(classify("JA GERNE", None, false, &custom).intent, Intent::Rsvp("ja gerne".into()));
    }

    #[test]
    fn a_status_only_goes_up() {
        use EnrollmentStatus as S;
        assert_eq!(raisable_to(S::NeedsBdr), [S::NoActivity, S::Bounced]);
        assert_eq!(raisable_to(S::ReceivedRsvp), [S::NoActivity, S::NeedsBdr, S::Bounced]);
        assert!(!raisable_to(S::ReceivedRsvp).contains(&S::Attended));
        assert!(raisable_to(S::OptedOut).contains(&S::Attended));
        assert!(raisable_to(S::NoActivity).is_empty());
    }

    #[test]
    fn phrases_are_cleaned() {
        let raw: Vec<String> = ["  yes ", "", "YES", "count me in", " ?! "].iter().map(|s| s.to_string()).collect();
        assert_eq!(clean_phrases(&raw), ["yes", "count me in"]);
    }
}
