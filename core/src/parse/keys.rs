//! The documented keys and how a written key is matched to one: exactly, or after case folding
//! (a deviation). Folding is Unicode-aware so that no key can pass as "unknown" here while a
//! case-insensitive reader elsewhere (System.Text.Json's OrdinalIgnoreCase, Java's
//! equalsIgnoreCase) reads it as a documented one: `projectıd` (dotless i) folds to `projectid`.

use core::cmp::Ordering;

/// Compares two keys under case folding (upper-case, then lower-case, each character).
pub(crate) fn fold_cmp(a: &str, b: &str) -> Ordering {
    if a.is_ascii() && b.is_ascii() {
        ascii_fold(a).cmp(ascii_fold(b))
    } else {
        unicode_fold(a).cmp(unicode_fold(b))
    }
}

fn ascii_fold(s: &str) -> impl Iterator<Item = u8> + '_ {
    s.bytes().map(|c| c.to_ascii_lowercase())
}

fn unicode_fold(s: &str) -> impl Iterator<Item = char> + '_ {
    s.chars()
        .flat_map(char::to_uppercase)
        .flat_map(char::to_lowercase)
}

/// Whether `written` is `documented` under case folding.
pub(crate) fn fold_eq(written: &str, documented: &str) -> bool {
    fold_cmp(written, documented) == Ordering::Equal
}

/// How a written key relates to a documented one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Match<T> {
    /// Spelled as documented.
    Exact(T),
    /// Documented key in another letter case.
    Folded(T),
    /// Not a documented key.
    Unknown,
}

/// Finds `written` in a table of documented keys.
pub(crate) fn find<T: Copy>(written: &str, table: &[(&'static str, T)]) -> Match<T> {
    if let Some((_, t)) = table.iter().find(|(k, _)| *k == written) {
        return Match::Exact(*t);
    }
    table
        .iter()
        .find(|(k, _)| fold_eq(written, k))
        .map_or(Match::Unknown, |(_, t)| Match::Folded(*t))
}

/// Top-level keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TopKey {
    Version,
    Type,
    Content,
}

pub(crate) const TOP_KEYS: [(&str, TopKey); 3] = [
    ("version", TopKey::Version),
    ("type", TopKey::Type),
    ("Content", TopKey::Content),
];

/// Keys inside `Content`, across all three documented types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ContentKey {
    ProjectId = 0,
    IterationId = 1,
    TrainingStatus = 2,
    ExportStatus = 3,
    ModelUri = 4,
}

pub(crate) const CONTENT_KEYS: [(&str, ContentKey); 5] = [
    ("projectId", ContentKey::ProjectId),
    ("iterationId", ContentKey::IterationId),
    ("trainingStatus", ContentKey::TrainingStatus),
    ("exportStatus", ContentKey::ExportStatus),
    ("modelUri", ContentKey::ModelUri),
];

impl ContentKey {
    pub(crate) const fn documented(self) -> &'static str {
        match self {
            Self::ProjectId => "projectId",
            Self::IterationId => "iterationId",
            Self::TrainingStatus => "trainingStatus",
            Self::ExportStatus => "exportStatus",
            Self::ModelUri => "modelUri",
        }
    }
}

impl TopKey {
    pub(crate) const fn documented(self) -> &'static str {
        match self {
            Self::Version => "version",
            Self::Type => "type",
            Self::Content => "Content",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_matches_case_variants_including_unicode_ones() {
        assert_eq!(find("Content", &TOP_KEYS), Match::Exact(TopKey::Content));
        assert_eq!(find("content", &TOP_KEYS), Match::Folded(TopKey::Content));
        assert_eq!(find("VERSION", &TOP_KEYS), Match::Folded(TopKey::Version));
        assert_eq!(
            find("projectıd", &CONTENT_KEYS),
            Match::Folded(ContentKey::ProjectId)
        );
        assert_eq!(find("\u{212A}", &[("k", ())]), Match::Folded(()));
        assert_eq!(find("contents", &TOP_KEYS), Match::Unknown);
    }
}
