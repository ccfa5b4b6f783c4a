//! Speech without an account: espeak-ng speaks the script and lame encodes it as MP3, so the
//! sandbox's voicemails are real audio served by the same routes with the same type as
//! ElevenLabs'. Both are Debian packages the start and test commands install.
use super::SendError;
use crate::domain::voicemail::VoiceOption;
use std::process::Stdio;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

/// The voices offered (espeak-ng has many more; these read English scripts well).
const VOICES: [(&str, &str); 6] = [
    ("en-us", "American English"),
    ("en-us+f3", "American English, female"),
    ("en-gb", "British English"),
    ("en-gb+f3", "British English, female"),
    ("en-gb-scotland", "Scottish English"),
    ("es-419", "Latin American Spanish"),
];

pub fn voices() -> Vec<VoiceOption> {
    VOICES.iter().map(|(id, name)| VoiceOption { id: (*id).into(), name: (*name).into() }).collect()
}

/// A voice the local engine knows, or the default for any other (e.g. an ElevenLabs id
/// saved on a step before the key was removed).
pub fn voice_or(voice: Option<&str>, default: &str) -> String {
    match voice {
        Some(v) if VOICES.iter().any(|(id, _)| *id == v) => v.to_string(),
        _ => default.to_string(),
    }
}

/// Slybroadcast takes only audio longer than five seconds: shorter speech is followed by
/// silence up to this.
const MIN_SECONDS: usize = 6;

/// The script as MP3.
pub async fn speak(voice: &str, text: &str) -> Result<Vec<u8>, SendError> {
    let mut wav = run(Command::new("espeak-ng").args(["-v", voice, "--stdout", "--stdin"]), text.as_bytes(), "espeak-ng").await?;
    pad_with_silence(&mut wav, MIN_SECONDS);
    // -b 64: speech needs no more; the file stays small for the drop provider to fetch.
    run(Command::new("lame").args(["--quiet", "-b", "64", "-", "-"]), &wav, "lame").await
}

/// Appends silent samples to espeak-ng's streamed WAV (16-bit PCM, its sizes left open, so
/// lame reads to the end) until it lasts `seconds`.
fn pad_with_silence(wav: &mut Vec<u8>, seconds: usize) {
    const HEADER: usize = 44;
    let byte_rate = wav.get(28..32).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize).filter(|r| *r > 0).unwrap_or(44_100);
    let wanted = HEADER + seconds * byte_rate;
    if wav.len() < wanted {
        // Whole samples only: an odd byte would shift every later sample.
        wav.resize(wanted - (wanted - HEADER) % 2, 0);
    }
}

async fn run(cmd: &mut Command, input: &[u8], name: &str) -> Result<Vec<u8>, SendError> {
    let missing = |e: std::io::Error| SendError::Permanent {
        message: format!("The local voice needs {name} ({e}): install the espeak-ng and lame packages, or set an ElevenLabs key"),
        code: None,
        suppress: false,
    };
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true).spawn().map_err(missing)?;
    let mut stdin = child.stdin.take().ok_or_else(|| missing(std::io::Error::other("no stdin")))?;
    let input = input.to_vec();
    // Written beside the read: a large input would otherwise fill the pipe and stall.
    let writer = tokio::spawn(async move {
        let written = stdin.write_all(&input).await;
        drop(stdin);
        written
    });
    let out = child.wait_with_output().await.map_err(missing)?;
    let written = writer.await.map_err(|e| SendError::Transient { message: format!("{name}: {e}"), retry_after: None })?;
    if !out.status.success() || out.stdout.is_empty() {
        let why = String::from_utf8_lossy(&out.stderr).trim().chars().take(300).collect::<String>();
        return Err(SendError::Permanent { message: format!("{name} failed ({}): {why}", out.status), code: None, suppress: false });
    }
    written.map_err(|e| SendError::Transient { message: format!("{name}: {e}"), retry_after: None })?;
    Ok(out.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_speech_is_followed_by_silence() {
        let mut wav = vec![1u8; 44 + 1000];
        wav[28..32].copy_from_slice(&44_100u32.to_le_bytes());
        pad_with_silence(&mut wav, 6);
        assert_eq!(wav.len(), 44 + 6 * 44_100);
        assert!(wav[44 + 1000..].iter().all(|b| *b == 0));
        let mut long = vec![1u8; 44 + 7 * 44_100];
        long[28..32].copy_from_slice(&44_100u32.to_le_bytes());
        let mut same = long.clone();
        pad_with_silence(&mut same, 6);
        assert_eq!(same, long);
    }

    #[test]
    fn unknown_voices_fall_back_to_the_default() {
        assert_eq!(voice_or(Some("en-gb"), "en-us"), "en-gb");
        assert_eq!(voice_or(Some("21m00Tcm4TlvDq8ikWAM"), "en-us"), "en-us");
        assert_eq!(voice_or(None, "en-us"), "en-us");
    }
}
