//! GUID identifiers of the domain: [`ProjectId`] and [`IterationId`], in the one textual form the
//! service writes (canonical hyphenated 8-4-4-4-12, either hex case; docs/protocol.md §1.5).

use core::fmt;
use core::str::FromStr;

use uuid::Uuid;

/// Why a string is not a GUID in the canonical hyphenated form.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GuidError {
    /// Wrapped in `{...}`: the .NET "B" format, not the one the service writes.
    Braced,
    /// 32 hex digits with no hyphens: the .NET "N" format.
    MissingHyphens,
    /// A `urn:uuid:` prefix.
    Urn,
    /// Not 36 bytes long (and not one of the other known forms).
    WrongLength {
        /// The length seen, in bytes.
        len: usize,
    },
    /// A hyphen missing where the 8-4-4-4-12 grouping needs one, or a hyphen elsewhere.
    MisplacedHyphen {
        /// Byte index inside the GUID text.
        index: usize,
    },
    /// A byte that is not a hex digit.
    NotHex {
        /// Byte index inside the GUID text.
        index: usize,
    },
}

impl fmt::Display for GuidError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Braced => f.write_str("braces around the GUID are not allowed"),
            Self::MissingHyphens => f.write_str("GUID without hyphens; expected 8-4-4-4-12"),
            Self::Urn => f.write_str("`urn:uuid:` prefix is not allowed"),
            Self::WrongLength { len } => {
                write!(f, "{len} bytes long; a GUID in 8-4-4-4-12 form has 36")
            }
            Self::MisplacedHyphen { index } => {
                write!(f, "hyphen expected or misplaced at character {index}")
            }
            Self::NotHex { index } => write!(f, "not a hex digit at character {index}"),
        }
    }
}

/// Positions of the four hyphens in `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
const HYPHENS: [usize; 4] = [8, 13, 18, 23];

/// Parses exactly the canonical hyphenated form; hex digits may be upper or lower case.
fn parse_canonical(text: &str) -> Result<Uuid, GuidError> {
    let bytes = text.as_bytes();
    // At 36 bytes, `uuid` accepts exactly the hyphenated form, hex digits of either case.
    if bytes.len() == 36
        && let Ok(uuid) = Uuid::try_parse_ascii(bytes)
    {
        return Ok(uuid);
    }
    Err(describe_invalid(bytes))
}

/// Says what is wrong with text that is not a canonical GUID (the slow path).
fn describe_invalid(bytes: &[u8]) -> GuidError {
    if bytes.len() != 36 {
        return match bytes {
            [b'{', .., b'}'] => GuidError::Braced,
            _ if bytes
                .get(..9)
                .is_some_and(|p| p.eq_ignore_ascii_case(b"urn:uuid:")) =>
            {
                GuidError::Urn
            }
            _ if bytes.len() == 32 && bytes.iter().all(u8::is_ascii_hexdigit) => {
                GuidError::MissingHyphens
            }
            _ => GuidError::WrongLength { len: bytes.len() },
        };
    }
    for (index, &b) in bytes.iter().enumerate() {
        let hyphen_here = HYPHENS.contains(&index);
        if hyphen_here && b != b'-' || !hyphen_here && b == b'-' {
            return GuidError::MisplacedHyphen { index };
        }
        if !hyphen_here && !b.is_ascii_hexdigit() {
            return GuidError::NotHex { index };
        }
    }
    // Not reached for text `uuid` refused (36 bytes, hyphens in place, hex elsewhere is what it
    // accepts); reported as a length problem rather than a panic.
    GuidError::WrongLength { len: bytes.len() }
}

macro_rules! guid_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(Uuid);

        impl $name {
            /// Parses the canonical hyphenated form (hex digits of either case).
            pub fn parse(text: &str) -> Result<Self, GuidError> {
                parse_canonical(text).map(Self)
            }

            /// Wraps raw bytes (no validation needed: every 128-bit value is a GUID).
            pub const fn from_bytes(bytes: [u8; 16]) -> Self {
                Self(Uuid::from_bytes(bytes))
            }

            /// The 16 bytes, big-endian as written.
            pub const fn as_bytes(&self) -> &[u8; 16] {
                self.0.as_bytes()
            }

            /// The underlying [`Uuid`].
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        /// Lower-case hyphenated, the canonical form.
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0.hyphenated())
            }
        }

        impl FromStr for $name {
            type Err = GuidError;
            fn from_str(s: &str) -> Result<Self, GuidError> {
                Self::parse(s)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
    };
}

guid_newtype!(
    /// The id of a Custom Vision project (`Content.projectId`).
    ProjectId
);
guid_newtype!(
    /// The id of an iteration, the trained model (`Content.iterationId`).
    IterationId
);

#[cfg(test)]
mod tests {
    use super::*;

    const G: &str = "0f5a1c2e-3b4d-4e6f-8a9b-0c1d2e3f4a5b";

    #[test]
    fn accepts_both_hex_cases_and_prints_lower_case() {
        let upper = alloc::string::String::from(G).to_ascii_uppercase();
        let a = ProjectId::parse(G).unwrap();
        let b = ProjectId::parse(&upper).unwrap();
        assert_eq!(a, b);
        assert_eq!(alloc::format!("{b}"), G);
    }

    #[test]
    fn names_each_non_canonical_form() {
        let braced = alloc::format!("{{{G}}}");
        let simple: alloc::string::String = G.chars().filter(|c| *c != '-').collect();
        let urn = alloc::format!("urn:uuid:{G}");
        assert_eq!(ProjectId::parse(&braced), Err(GuidError::Braced));
        assert_eq!(ProjectId::parse(&simple), Err(GuidError::MissingHyphens));
        assert_eq!(ProjectId::parse(&urn), Err(GuidError::Urn));
        assert_eq!(ProjectId::parse(""), Err(GuidError::WrongLength { len: 0 }));
        assert_eq!(
            ProjectId::parse("0f5a1c2e-3b4d-4e6f-8a9b-0c1d2e3f4a5g"),
            Err(GuidError::NotHex { index: 35 })
        );
        assert_eq!(
            ProjectId::parse("0f5a1c2e3-b4d-4e6f-8a9b-0c1d2e3f4a5b"),
            Err(GuidError::MisplacedHyphen { index: 8 })
        );
    }
}
