//! SMS length: which encoding a text needs and how many segments it is sent in.
use serde::{Deserialize, Serialize};

const GSM_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// Characters that take an escape plus a code (two septets).
const GSM_EXTENDED: &str = "^{}\\[~]|€\u{000C}";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum Encoding {
    Gsm7,
    Ucs2,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SmsLength {
    pub encoding: Encoding,
    /// Characters as the carrier counts them: septets for GSM-7, UTF-16 units for UCS-2.
    pub units: usize,
    pub segments: usize,
}

impl SmsLength {
    pub fn of(text: &str) -> SmsLength {
        let septets: Option<usize> = text
            .chars()
            .map(|c| {
                if GSM_BASIC.contains(c) {
                    Some(1)
                } else if GSM_EXTENDED.contains(c) {
                    Some(2)
                } else {
                    None
                }
            })
            .sum();
        let (encoding, units, single, multi) = match septets {
            Some(n) => (Encoding::Gsm7, n, 160, 153),
            None => (Encoding::Ucs2, text.encode_utf16().count(), 70, 67),
        };
        let segments = match units {
            0 => 0,
            n if n <= single => 1,
            n => n.div_ceil(multi),
        };
        SmsLength { encoding, units, segments }
    }

    /// Past three segments a text gets expensive and may arrive out of order.
    pub fn too_long(&self) -> bool {
        self.segments > 3
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_gsm7_segments() {
        assert_eq!(SmsLength::of(""), SmsLength { encoding: Encoding::Gsm7, units: 0, segments: 0 });
        assert_eq!(SmsLength::of(&"a".repeat(160)).segments, 1);
        assert_eq!(SmsLength::of(&"a".repeat(161)).segments, 2);
        assert_eq!(SmsLength::of(&"a".repeat(306)).segments, 2);
        assert_eq!(SmsLength::of(&"a".repeat(307)).segments, 3);
        // An extended character counts twice.
        let euro = SmsLength::of(&format!("{}€", "a".repeat(159)));
        assert_eq!((euro.encoding, euro.units, euro.segments), (Encoding::Gsm7, 161, 2));
    }

    #[test]
    fn counts_ucs2_segments_in_utf16_units() {
        let s = SmsLength::of("Hello 😀");
        assert_eq!((s.encoding, s.units, s.segments), (Encoding::Ucs2, 8, 1));
        assert_eq!(SmsLength::of(&"é€à".repeat(10)).encoding, Encoding::Gsm7);
        assert_eq!(SmsLength::of("ç").encoding, Encoding::Ucs2, "only the capital Ç is in GSM-7");
        assert_eq!(SmsLength::of(&"ş".repeat(70)).segments, 1);
        assert_eq!(SmsLength::of(&"ş".repeat(71)).segments, 2);
        assert_eq!(SmsLength::of(&"ş".repeat(202)).segments, 4);
        assert!(SmsLength::of(&"ş".repeat(202)).too_long());
    }
}
