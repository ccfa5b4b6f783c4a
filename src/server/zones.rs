//! Time zones inferred from phone numbers: North American area codes, else the country.
//! A compiled-in table: an area code spanning two zones gets the zone most of its people use.
use crate::domain::E164Phone;
use std::collections::HashMap;
use std::sync::LazyLock;

const AREA_CODES: &[(&str, &[u16])] = &[
    ("America/New_York", &[
        203, 475, 860, 959, 302, 202, 239, 305, 321, 352, 386, 407, 561, 727, 754, 772, 786, 813, 863, 904, 941,
        954, 689, 850, 229, 404, 470, 478, 678, 706, 762, 770, 912, 207, 240, 301, 410, 443, 667, 339, 351, 413,
        508, 617, 774, 781, 857, 978, 603, 201, 551, 609, 640, 732, 848, 856, 862, 908, 973, 212, 315, 332, 347,
        516, 518, 585, 607, 631, 646, 680, 716, 718, 838, 845, 914, 917, 929, 934, 252, 336, 704, 743, 828, 910,
        919, 980, 984, 216, 220, 234, 330, 380, 419, 440, 513, 567, 614, 740, 937, 215, 223, 267, 272, 412, 445,
        484, 570, 610, 717, 724, 814, 878, 401, 803, 839, 843, 854, 864, 423, 865, 802, 276, 434, 540, 571, 703,
        757, 804, 304, 681,
    ]),
    ("America/Detroit", &[231, 248, 269, 313, 517, 586, 616, 734, 810, 906, 947, 989]),
    ("America/Indiana/Indianapolis", &[317, 463, 765, 260, 574, 812, 930]),
    ("America/Kentucky/Louisville", &[502, 606, 859]),
    ("America/Toronto", &[
        226, 249, 289, 343, 365, 416, 437, 519, 548, 613, 647, 705, 807, 905, 418, 438, 450, 514, 579, 581, 819, 873,
    ]),
    ("America/Chicago", &[
        219, 270, 205, 251, 256, 334, 938, 479, 501, 870, 217, 224, 309, 312, 331, 618, 630, 708, 773, 779, 815,
        847, 872, 319, 515, 563, 641, 712, 316, 620, 785, 913, 225, 318, 337, 504, 985, 218, 320, 507, 612, 651,
        763, 952, 228, 601, 662, 769, 314, 417, 573, 636, 660, 816, 308, 402, 531, 701, 405, 539, 580, 918, 605,
        615, 629, 731, 901, 931, 210, 214, 254, 281, 325, 346, 361, 409, 430, 432, 469, 512, 682, 713, 726, 737,
        806, 817, 830, 832, 903, 936, 940, 956, 972, 979, 262, 414, 534, 608, 715, 920,
    ]),
    ("America/Winnipeg", &[204, 431]),
    ("America/Regina", &[306, 639]),
    ("America/Denver", &[303, 719, 720, 970, 406, 505, 575, 385, 435, 801, 307, 915]),
    ("America/Boise", &[208]),
    ("America/Phoenix", &[480, 520, 602, 623, 928]),
    ("America/Edmonton", &[403, 587, 780, 825]),
    ("America/Los_Angeles", &[
        209, 213, 279, 310, 323, 341, 408, 415, 424, 442, 510, 530, 559, 562, 619, 626, 628, 650, 657, 661, 669,
        707, 714, 747, 760, 805, 818, 820, 831, 858, 909, 916, 925, 949, 951, 702, 725, 775, 458, 503, 541, 971,
        206, 253, 360, 425, 509, 564,
    ]),
    ("America/Vancouver", &[236, 250, 604, 672, 778]),
    ("America/Anchorage", &[907]),
    ("Pacific/Honolulu", &[808]),
    ("America/Halifax", &[782, 902]),
    ("America/Moncton", &[506]),
    ("America/St_Johns", &[709]),
    ("America/Puerto_Rico", &[787, 939]),
];

/// Calling codes of countries with one time zone.
const COUNTRIES: &[(&str, &str)] = &[
    ("44", "Europe/London"), ("353", "Europe/Dublin"), ("33", "Europe/Paris"), ("49", "Europe/Berlin"),
    ("34", "Europe/Madrid"), ("39", "Europe/Rome"), ("31", "Europe/Amsterdam"), ("32", "Europe/Brussels"),
    ("41", "Europe/Zurich"), ("43", "Europe/Vienna"), ("46", "Europe/Stockholm"), ("47", "Europe/Oslo"),
    ("45", "Europe/Copenhagen"), ("358", "Europe/Helsinki"), ("48", "Europe/Warsaw"), ("351", "Europe/Lisbon"),
    ("30", "Europe/Athens"), ("91", "Asia/Kolkata"), ("81", "Asia/Tokyo"), ("82", "Asia/Seoul"),
    ("86", "Asia/Shanghai"), ("852", "Asia/Hong_Kong"), ("65", "Asia/Singapore"), ("972", "Asia/Jerusalem"),
    ("971", "Asia/Dubai"), ("27", "Africa/Johannesburg"), ("64", "Pacific/Auckland"), ("63", "Asia/Manila"),
    ("234", "Africa/Lagos"), ("254", "Africa/Nairobi"),
];

static BY_AREA: LazyLock<HashMap<u16, &'static str>> =
    LazyLock::new(|| AREA_CODES.iter().flat_map(|(zone, codes)| codes.iter().map(move |c| (*c, *zone))).collect());

/// The zone of a geographic North American area code.
pub fn area_code_zone(area: u16) -> Option<&'static str> {
    BY_AREA.get(&area).copied()
}

/// The zone a number's area code or country points to, if it points to one.
pub fn zone_of(phone: &E164Phone) -> Option<&'static str> {
    let digits = phone.as_str().strip_prefix('+')?;
    if let Some(national) = digits.strip_prefix('1') {
        return national.get(..3)?.parse().ok().and_then(area_code_zone);
    }
    COUNTRIES.iter().find(|(code, _)| digits.starts_with(code)).map(|(_, zone)| *zone)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_zone_is_known_and_codes_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for (zone, codes) in AREA_CODES {
            assert!(zone.parse::<chrono_tz::Tz>().is_ok(), "{zone}");
            for c in *codes {
                assert!(seen.insert(*c), "area code {c} listed twice");
            }
        }
        for (_, zone) in COUNTRIES {
            assert!(zone.parse::<chrono_tz::Tz>().is_ok(), "{zone}");
        }
    }

    #[test]
    fn infers_from_area_code_or_country() {
        let zone = |p: &str| zone_of(&E164Phone::parse(p, "US").unwrap());
        assert_eq!(zone("(312) 555-0198"), Some("America/Chicago"));
        assert_eq!(zone("+1 415 555 0171"), Some("America/Los_Angeles"));
        assert_eq!(zone("+44 20 7946 0958"), Some("Europe/London"));
        assert_eq!(zone("+61 2 9374 4000"), None);
    }
}
